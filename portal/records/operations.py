"""Making, repairing and reading signed records.

Unlike most operations these commit: a record is made *after* the signature has committed,
in its own transactions, so that nothing here can undo a signature. The receiver of
``signature_committed`` writes a pending row and queues the ``records.seal`` job (see
:mod:`portal.records.jobs`); if the queue cannot take it, the row stays pending and the periodic
sweep (or ``flask portal records repair``) finishes it. Everything is idempotent.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.db import rowcount, session, utcnow
from portal.progress import Progress, no_progress
from portal.records.archive import archive_store
from portal.records.models import RecordStatus, SealMode, SignedRecord
from portal.records.pdf import evidence_json, evidence_of, record_html, render_pdf
from portal.records.seal import seal_pdf
from portal.schools.isolation import current_school_id, set_school
from portal.schools.models import School
from portal.signals import handles_batches
from portal.signatures.models import Signature

log = logging.getLogger("portal.records")


@handles_batches
def on_signature_committed(sender: Any, signature: Any = None, school: int | None = None, **_: Any) -> None:
    """Receiver of :data:`portal.signals.signature_committed`: queue the sealed PDF.

    Runs in a fresh application context (its own database session and transactions) and
    never raises: the signature has already been committed and must stand. It writes the
    pending record (marked queued) and hands ``records.seal`` to the queue; when the broker is
    down the record stays pending, never queued, and the sweep queues it once the broker is back.
    """
    if signature is None:
        return
    on_signatures_committed(sender, signatures=[signature], school=school)


def on_signatures_committed(sender: Any, signatures: list[Any] | None = None, school: int | None = None,
                            **_: Any) -> None:
    """Receiver of :data:`portal.signals.signatures_committed` (a class closing): one transaction
    for all the pending records and one job (``records.seal_many``) that queues a seal per record."""
    try:
        app = sender if isinstance(sender, Flask) else current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy, typed as Flask
        sigs = list(signatures or [])
        if not sigs:
            return
        ids = [s if isinstance(s, int) else s.id for s in sigs]
        school_id = school if school is not None else getattr(sigs[0], "school_id", None)
        if school_id is None:
            school_id = current_school_id(session)
        with app.app_context():
            set_school(session, school_id)
            _hand_to_queue(_pending_records(ids, utcnow()), ids, school_id)
    except Exception:  # a failure here must never reach the signer
        log.exception("signed record: could not queue the records of committed signatures")


def _pending_records(signature_ids: list[int], queued_at: dt.datetime) -> list[int]:
    """Pending records (marked queued) for *signature_ids*, made in one transaction; returns their ids."""
    existing = {r.signature_id: r for r in session.scalars(
        select(SignedRecord).where(SignedRecord.signature_id.in_(signature_ids)))}
    new = [SignedRecord(signature_id=i, status=RecordStatus.PENDING.value, attempts=0, queued_at=queued_at)
           for i in signature_ids if i not in existing]
    for record in existing.values():
        if not record.is_sealed:
            record.queued_at = queued_at
    session.add_all(new)
    try:
        session.commit()
    except IntegrityError:  # some made at the same moment by another worker: one by one instead
        session.rollback()
        return [_get_or_create_pending(i, queued_at=queued_at).id for i in signature_ids]
    return [r.id for r in [*existing.values(), *new]]


def _hand_to_queue(record_ids: list[int], signature_ids: list[int], school_id: int | None) -> bool:
    from portal.jobs import QueueUnavailable, enqueue

    try:
        if len(signature_ids) == 1:
            enqueue("records.seal", school_id=school_id, signature_id=signature_ids[0])
        else:
            enqueue("records.seal_many", school_id=school_id, signature_ids=signature_ids)
    except QueueUnavailable:
        # The sweep queues them when the broker is back.
        session.execute(update(SignedRecord).where(SignedRecord.id.in_(record_ids),
                                                   SignedRecord.status == RecordStatus.PENDING.value)
                        .values(queued_at=None).execution_options(synchronize_session=False))
        session.commit()
        log.warning("signed records %s: the queue is unavailable; they stay pending", signature_ids[:5])
        return False
    return True


def queue_seal(record: SignedRecord) -> bool:
    """Hand the sealing of *record* to the job queue (commits). False when the queue is down."""
    record_id, school_id, signature_id = record.id, record.school_id, record.signature_id
    session.execute(update(SignedRecord).where(SignedRecord.id == record_id,
                                               SignedRecord.status == RecordStatus.PENDING.value)
                    .values(queued_at=utcnow()).execution_options(synchronize_session=False))
    session.commit()
    return _hand_to_queue([record_id], [signature_id], school_id)


def queue_pending(*, requeue_after: float | None = None, now: dt.datetime | None = None) -> tuple[int, int]:
    """Queue the sealing of every record of the session's school that waits without a job:
    signatures with no record, pending records never queued, and pending records queued more
    than *requeue_after* seconds ago (``PORTAL_JOBS_REQUEUE_AFTER``). Returns (queued, not queued)."""
    now = now or utcnow()
    if requeue_after is None:
        requeue_after = float(current_app.config["PORTAL_JOBS_REQUEUE_AFTER"])
    stale = now - dt.timedelta(seconds=requeue_after)
    missing = list(session.scalars(
        select(Signature.id).outerjoin(SignedRecord, SignedRecord.signature_id == Signature.id)
        .where(SignedRecord.id.is_(None)).order_by(Signature.id)))
    for signature_id in missing:
        _get_or_create_pending(signature_id)
    waiting = session.scalars(
        select(SignedRecord).where(SignedRecord.status == RecordStatus.PENDING.value,
                                   (SignedRecord.queued_at.is_(None)) | (SignedRecord.queued_at < stale))
        .order_by(SignedRecord.id)).all()
    queued = failed = 0
    for record in waiting:
        if queue_seal(record):
            queued += 1
        else:
            failed += 1
            break  # the broker is down: the rest wait for the next sweep
    return queued, failed + (len(waiting) - queued - failed)


def make_record(signature_id: int) -> SignedRecord | None:
    """Make (or finish) the sealed PDF of one signature; returns its record.

    Commits. Returns ``None`` for an unknown signature. A record already sealed is returned
    unchanged; a failure is written to the record (``attempts``, ``last_error``).
    """
    if session.get(Signature, signature_id) is None:
        return None
    record = _get_or_create_pending(signature_id)
    if record.is_sealed:
        return record
    record_id = record.id
    try:
        signature = session.get_one(Signature, signature_id)  # it exists: checked above
        pdf, mode = build_sealed_pdf(signature)
        sha = archive_store().put(pdf)
        done = rowcount(session.execute(
            update(SignedRecord)
            .where(SignedRecord.id == record_id, SignedRecord.status == RecordStatus.PENDING.value)
            .values(status=RecordStatus.SEALED.value, pdf_sha256=sha, size=len(pdf), seal_mode=mode.value,
                    sealed_at=utcnow(), attempts=SignedRecord.attempts + 1, last_error=None)
            .execution_options(synchronize_session=False)
        ))
        if done:
            audit.record("record.sealed", target=session.get(SignedRecord, record_id), signature_id=signature_id,
                         sha256=sha, size=len(pdf), seal_mode=mode.value)
        # else: another worker sealed it first; its PDF is the record (ours stays unreferenced).
        session.commit()
    except Exception as exc:  # noqa: BLE001 - recorded on the row and retried later
        session.rollback()
        log.warning("signed record %s: %s", signature_id, _describe(exc))
        session.execute(
            update(SignedRecord)
            .where(SignedRecord.id == record_id, SignedRecord.status == RecordStatus.PENDING.value)
            .values(attempts=SignedRecord.attempts + 1, last_error=_describe(exc))
            .execution_options(synchronize_session=False)
        )
        audit.record("record.failed", target=session.get(SignedRecord, record_id), signature_id=signature_id,
                     error=type(exc).__name__)
        session.commit()
    session.expire_all()
    return session.get(SignedRecord, record_id)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _get_or_create_pending(signature_id: int, *, queued_at: dt.datetime | None = None,
                           commit: bool = True) -> SignedRecord:
    record = session.scalar(select(SignedRecord).where(SignedRecord.signature_id == signature_id))
    if record is not None:
        if queued_at is not None and not record.is_sealed:
            record.queued_at = queued_at
        return record
    record = SignedRecord(signature_id=signature_id, status=RecordStatus.PENDING.value, attempts=0,
                          queued_at=queued_at)
    try:
        with session.begin_nested():
            session.add(record)
        if commit:
            session.commit()
    except IntegrityError:  # made at the same moment by another worker
        record = session.scalar(select(SignedRecord).where(SignedRecord.signature_id == signature_id))
        assert record is not None
    return record


def build_sealed_pdf(signature: Signature) -> tuple[bytes, SealMode]:
    """Render and seal the record PDF of *signature* (no database writes)."""
    evidence = evidence_of(signature)
    html = record_html(signature, evidence)
    pdf = render_pdf(html, attachment=evidence_json(evidence))
    settings = School.get()
    verb = "Signed" if signature.decision == "signed" else "Declined"
    return seal_pdf(pdf, reason=f"{verb}: {signature.version.title} (record {signature.id})"[:200],
                    location=settings.name if settings else None)


def repair(limit: int | None = None, progress: Progress = no_progress) -> tuple[int, int]:
    """Make every missing or failed record. Returns (sealed now, still failing).

    :param progress: ``progress(label, total)`` (see :mod:`portal.progress`), updated per record.
    """
    stmt = (
        select(Signature.id)
        .outerjoin(SignedRecord, SignedRecord.signature_id == Signature.id)
        .where((SignedRecord.id.is_(None)) | (SignedRecord.status != RecordStatus.SEALED.value))
        .order_by(Signature.id)
    )
    if limit:
        stmt = stmt.limit(limit)
    ids = list(session.scalars(stmt))
    sealed = failed = 0
    with progress("Sealing records", len(ids)) as bar:
        for signature_id in ids:
            record = make_record(signature_id)
            if record is not None and record.is_sealed:
                sealed += 1
            else:
                failed += 1
            bar.update(1)
    return sealed, failed


def record_for(signature_id: int) -> SignedRecord | None:
    """The record of a signature, making it first if it is missing or failed (retry on access)."""
    record = session.scalar(select(SignedRecord).where(SignedRecord.signature_id == signature_id))
    if record is not None and record.is_sealed:
        return record
    return make_record(signature_id)


def record_pdf(record: SignedRecord) -> bytes:
    """The archived PDF of a sealed record, checked against its SHA-256."""
    return archive_store().get(cast(str, record.pdf_sha256))  # a sealed record has its PDF's SHA-256
