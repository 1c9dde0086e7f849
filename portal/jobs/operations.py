"""Bookkeeping of jobs in the portal's database: failures and done-marks.

Like the records operations these commit: they run in the worker after (or instead of) the
job's own transaction.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.db import rowcount, session, utcnow
from portal.jobs.models import JobFailure, JobMark
from portal.schools.isolation import school_scope


def _scoped(school_id: Any) -> AbstractContextManager[None]:
    """Scope for a failure row: the job's school, or none for installation-wide jobs."""
    from portal.schools.isolation import all_schools

    if isinstance(school_id, int):
        return school_scope(session, school_id)
    return all_schools(session)  # a periodic job names no school; its row has none either


def job_failed(name: str, arguments: dict[str, Any], exc: BaseException) -> JobFailure:
    """List the job *name* as failed (its retries are spent). Commits."""
    from portal.jobs.registry import spec

    school_id = arguments.get("school_id")
    error = f"{type(exc).__name__}: {exc}"[:1000]
    try:
        attempts = spec(name).retries + 1
    except KeyError:
        attempts = 1
    with _scoped(school_id):
        row = JobFailure(school_id=school_id if isinstance(school_id, int) else None, name=name,
                         arguments=_jsonable(arguments), error=error, attempts=attempts, failed_at=utcnow())
        session.add(row)
        session.flush()
        if isinstance(school_id, int):
            audit.record("job.failed", target=row, job=name, error=type(exc).__name__)
        session.commit()
    return row


def job_succeeded(name: str, arguments: dict[str, Any]) -> int:
    """Mark earlier failures of the same job (same arguments) as resolved. Commits when any."""
    school_id = arguments.get("school_id")
    wanted = _jsonable(arguments)
    with _scoped(school_id):
        rows = session.scalars(select(JobFailure).where(JobFailure.name == name,
                                                         JobFailure.resolved_at.is_(None))).all()
        done = 0
        for row in rows:
            if row.arguments == wanted:
                row.resolved_at, row.resolution = utcnow(), "succeeded"
                done += 1
        if done:
            session.commit()
        else:
            session.rollback()
    return done


def open_failures(limit: int = 200) -> list[JobFailure]:
    """Failures not yet resolved, newest first, in the session's scope."""
    return list(session.scalars(select(JobFailure).where(JobFailure.resolved_at.is_(None))
                                .order_by(JobFailure.failed_at.desc(), JobFailure.id.desc()).limit(limit)))


def requeue(failure: JobFailure, *, actor: Any = None) -> bool:
    """Queue a failed job again and resolve its listing. Commits (like the other operations here).

    The listing is marked ``requeued`` and committed *before* the job is handed to the queue, as
    the signing flow queues its records only after they are committed: a worker that picks the job
    up at once (or this very thread, with ``PORTAL_JOBS_IMMEDIATE``) must find the listing already
    resolved and must not wait on this transaction. Inside a request that transaction already holds
    a write (the spent one-time form token, :mod:`portal.idempotency`); on SQLite that is the
    database's write lock, so a job run in this thread that resolves its listing itself would wait
    on its own request until the busy timeout.

    Returns False (queuing nothing) when the listing was resolved meanwhile (another tab, the CLI).

    :raises portal.jobs.queue.QueueUnavailable: the broker did not take it; the listing is open
        again (committed) and nothing is audited.
    """
    from portal.jobs.queue import QueueUnavailable, enqueue

    failure_id, name = failure.id, failure.name
    args = dict(failure.arguments or {})
    school_id = args.pop("school_id", failure.school_id)
    # Compare-and-set: of two simultaneous retries of one listing, only one queues the job.
    claimed = rowcount(session.execute(
        update(JobFailure).where(JobFailure.id == failure_id, JobFailure.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolution="requeued").execution_options(synchronize_session=False)))
    session.commit()
    if not claimed:
        return False
    try:
        enqueue(name, school_id=school_id, **args)
    except QueueUnavailable:
        session.execute(update(JobFailure).where(JobFailure.id == failure_id, JobFailure.resolution == "requeued")
                        .values(resolved_at=None, resolution=None).execution_options(synchronize_session=False))
        session.commit()
        raise
    audit.record("job.requeued", actor=actor, target=failure, job=name)
    session.commit()
    return True


# ---------------------------------------------------------------- done-marks


def is_done(key: str) -> bool:
    return session.scalar(select(JobMark.id).where(JobMark.key == key[:200])) is not None


def mark_done(key: str) -> bool:
    """Record *key* as done in the session's school (flush). False if it already was."""
    try:
        with session.begin_nested():
            session.add(JobMark(key=key[:200], done_at=utcnow()))
            session.flush()
    except IntegrityError:
        return False
    return True


def _jsonable(arguments: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in arguments.items():
        out[str(k)] = v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else str(v)
    return out
