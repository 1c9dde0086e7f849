"""Jobs of the records area: seal a record, email its receipt, sweep for records waiting without
a job, and re-timestamp records nightly (long-term evidence)."""
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
    """Nightly, in each school: add a document time stamp to the records whose newest time stamp
    (or certificate) runs out within the margin, and seal again with a time stamp the records that
    were sealed while the time-stamping authority was down (long-term evidence; idempotent)."""
    from portal.db import session
    from portal.records.operations import retimestamp_due
    from portal.schools.isolation import school_scope

    stamped = resealed = failed = 0
    for school_id in school_ids():
        with school_scope(session, school_id):
            report = retimestamp_due()
            session.commit()
        stamped, resealed, failed = stamped + report.timestamped, resealed + report.resealed, failed + report.failed
    if failed:
        raise RetryLater(f"{failed} record(s) could not be time-stamped")
    return f"{stamped} time-stamped, {resealed} sealed again"


@job("records.receipt", retries=8)
def receipt(record_id: int) -> str:
    """Email the signer the receipt of their sealed record (sent once: running it again sends
    nothing more). A mail server that refuses it is tried again with backoff."""
    from portal.mail import MailError
    from portal.records.operations import send_receipt

    try:
        return "sent" if send_receipt(record_id) else "nothing to send"
    except MailError as exc:
        raise RetryLater(str(exc)) from exc
