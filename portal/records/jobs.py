"""Jobs of the records area: seal a record, sweep for records waiting without a job, and the
place for the evidence area's periodic re-timestamping."""
from __future__ import annotations

import logging

from huey import crontab

from portal.jobs import RetryLater, job, periodic
from portal.jobs.queue import school_ids

log = logging.getLogger("portal.records")


@job("records.seal", retries=8)
def seal(signature_id: int) -> str:
    """Render, seal and archive the PDF of one signature (idempotent: a sealed record is left
    as it is). A failure (e.g. the object store refused) leaves the record pending and is
    retried with backoff; the record is never lost."""
    from portal.records.operations import make_record

    record = make_record(signature_id)
    if record is None:
        log.info("records.seal: signature %s no longer exists; nothing to do", signature_id)
        return "gone"
    if not record.is_sealed:
        raise RetryLater(record.last_error or "not sealed")
    return "sealed"


@job("records.seal_many", retries=8)
def seal_many(signature_ids: list[int]) -> str:
    """Queue one ``records.seal`` per signature (a class closing hands over all of them at once;
    the worker fans them out so that several workers can seal them side by side)."""
    from portal.db import session
    from portal.jobs import enqueue
    from portal.schools.isolation import current_school_id

    school_id = current_school_id(session)
    for signature_id in signature_ids:
        enqueue("records.seal", school_id=school_id, signature_id=int(signature_id))
    return f"{len(signature_ids)} queued"


@periodic("records.sweep", crontab(minute="*/5"))
def sweep() -> str:
    """Every 5 minutes, in each school: queue the records that wait without a job (the broker
    was down at signing time, or a job was lost)."""
    from portal.db import session
    from portal.records.operations import queue_pending
    from portal.schools.isolation import school_scope

    queued = waiting = 0
    for school_id in school_ids():
        with school_scope(session, school_id):
            q, w = queue_pending()
        queued, waiting = queued + q, waiting + w
    return f"{queued} queued, {waiting} still waiting"


@periodic("records.retimestamp", crontab(minute="40", hour="2"))
def retimestamp() -> str:
    """Nightly, in each school: re-timestamp the records whose time stamps are due (long-term
    evidence). Calls ``portal.records.operations.retimestamp_due()`` when the evidence area
    provides it; until then there is nothing to do."""
    from portal.db import session
    from portal.records import operations
    from portal.schools.isolation import school_scope

    due = getattr(operations, "retimestamp_due", None)
    if due is None:
        return "not available"
    done = 0
    for school_id in school_ids():
        with school_scope(session, school_id):
            done += int(due() or 0)
            session.commit()
    return f"{done} re-timestamped"

