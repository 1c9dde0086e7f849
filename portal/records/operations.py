"""Making, repairing, re-time-stamping and reading signed records, and the emailed receipt.

Unlike most operations these commit: a record is made *after* the signature has committed,
in its own transactions, so that nothing here can undo a signature. The receiver of
``signature_committed`` writes a pending row and queues the ``records.seal`` job (see
:mod:`portal.records.jobs`); if the queue cannot take it, the row stays pending with ``last_error``
and the periodic sweep (or ``flask portal records repair``, or opening the record) finishes it.
Everything is idempotent, so the jobs may call :func:`make_record`, :func:`send_receipt` and
:func:`retimestamp_due` again.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app
from sqlalchemy import Select, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.db import rowcount, session, utcnow
from portal.progress import Progress, no_progress
from portal.records.archive import archive_store
from portal.records.models import RecordFile, RecordStatus, SignedRecord
from portal.schools.isolation import current_school_id, set_school
from portal.schools.models import School
from portal.signals import handles_batches
from portal.signatures.models import Signature
from portal.urls import public_url

if TYPE_CHECKING:
    from portal.records.seal import SealResult

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
    unchanged; a failure (an expired or revoked certificate, a stale CRL, a broken render) is
    written to the record (``attempts``, ``last_error``) and the record stays pending. A record
    sealed now gets its emailed receipt (:func:`send_receipt`).
    """
    if session.get(Signature, signature_id) is None:
        return None
    record = _get_or_create_pending(signature_id)
    if record.is_sealed:
        return record
    record_id = record.id
    sealed_now = False
    try:
        signature = cast(Signature, session.get(Signature, signature_id))  # there: checked above
        result, unsealed_size = build_sealed_pdf(signature, record)
        sha = archive_store().put(result.pdf)
        done = rowcount(session.execute(
            update(SignedRecord)
            .where(SignedRecord.id == record_id, SignedRecord.status == RecordStatus.PENDING.value)
            .values(status=RecordStatus.SEALED.value, pdf_sha256=sha, size=len(result.pdf),
                    seal_mode=result.mode.value, sealed_at=utcnow(), attempts=SignedRecord.attempts + 1,
                    last_error=None, unsealed_size=unsealed_size, cert_sha256=result.cert_sha256,
                    timestamped_at=result.timestamped_at, renew_by=result.renew_by,
                    timestamp_pending=result.timestamp_pending)
            .execution_options(synchronize_session=False)
        ))
        if done:
            session.add(RecordFile(record_id=record_id, sha256=sha, size=len(result.pdf), seal_mode=result.mode.value,
                                   reason="sealed"))
            audit.record("record.sealed", target=session.get(SignedRecord, record_id), signature_id=signature_id,
                         sha256=sha, size=len(result.pdf), seal_mode=result.mode.value,
                         timestamp_pending=result.timestamp_pending)
            sealed_now = True
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
    if sealed_now and current_app.config["PORTAL_RECEIPTS"]:
        # The receipt is its own job (retried with backoff when the mail server refuses it); if
        # the queue cannot take it, it is sent here and now.
        from portal.jobs import QueueUnavailable, enqueue

        try:
            enqueue("records.receipt", school_id=current_school_id(session), record_id=record_id)
        except QueueUnavailable:
            try:
                send_receipt(record_id)
            except Exception:  # noqa: BLE001 - the record is sealed; the receipt can be sent again
                session.rollback()
                log.exception("signed record %s: the receipt could not be sent", signature_id)
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


def build_sealed_pdf(signature: Signature, record: SignedRecord) -> tuple[SealResult, int]:
    """Render and seal the record PDF of *signature* (no database writes).

    Returns the seal and the size of the unsealed document (the sealed file starts with it).

    :raises SealingCertUnusable: before rendering, when the certificate must not seal.
    """
    # WeasyPrint and pyHanko are imported on first use: a web process or a CLI command that never seals
    # starts sooner (about half a second here, with the same deferral in records.keys).
    from portal.records.pdf import CheckBlock, evidence_json, evidence_of, record_html, render_pdf
    from portal.records.seal import current_identity, seal_pdf

    identity = current_identity()
    check = CheckBlock(cert_sha256=identity.fingerprint, public_id=record.public_id, record_number=record.id,
                       url=public_url("portal.verify.record", public_id=record.public_id))
    evidence = evidence_of(signature)
    html = record_html(signature, evidence, check)
    pdf = render_pdf(html, attachment=evidence_json(evidence))
    return seal_pdf(pdf, reason=_reason(signature), location=_location(), identity=identity), len(pdf)


def _reason(signature: Signature) -> str:
    verb = "Signed" if signature.decision == "signed" else "Declined"
    return f"{verb}: {signature.version.title} (record {signature.id})"[:200]


def _location() -> str | None:
    school = School.get()
    return school.name if school else None


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
    return archive_store().get(cast(str, record.pdf_sha256))  # a sealed record has its PDF


# ---------------------------------------------------------------- keeping records verifiable


@dataclass
class RetimestampReport:
    #: Records that got a new document time stamp.
    timestamped: int = 0
    #: Records sealed again (same document bytes) because they had no time stamp yet.
    resealed: int = 0
    #: Records that are due but failed this time (TSA down, certificate unusable...); kept due.
    failed: int = 0
    #: Records that are due but no TSA is configured.
    waiting_for_tsa: int = 0


def due_records_query(margin: dt.timedelta) -> Select[SignedRecord]:
    """Sealed records that need a time stamp now: queued ones (the TSA was down), and those whose
    newest time stamp's certificate, or sealing certificate when they have none, expires within *margin*."""
    cutoff = utcnow() + margin
    return (
        select(SignedRecord)
        .where(SignedRecord.status == RecordStatus.SEALED.value,
               or_(SignedRecord.timestamp_pending.is_(True), SignedRecord.renew_by <= cutoff))
        .order_by(SignedRecord.renew_by, SignedRecord.id)
    )


def retimestamp_due(margin: dt.timedelta | None = None, *, limit: int | None = None) -> RetimestampReport:
    """Add a time stamp to every record of the current school that needs one (see :func:`due_records_query`).

    A record with a time stamp gets a new document time stamp, after the validation data of its
    newest one (PAdES B-LTA renewal). A record with none (sealed while the TSA was down, or before a
    TSA was configured) is sealed again over exactly the same document bytes, now at B-LTA. Each
    new version is archived next to the old ones, which stay genuine. Commits per record.

    :param margin: default ``PORTAL_RETIMESTAMP_MARGIN_DAYS``.
    """
    # Imported on first use, as in build_sealed_pdf.
    from portal.records.seal import add_document_timestamp, current_identity, seal_pdf, timestamper

    if margin is None:
        margin = dt.timedelta(days=int(current_app.config["PORTAL_RETIMESTAMP_MARGIN_DAYS"]))
    report = RetimestampReport()
    stmt = due_records_query(margin)
    if limit:
        stmt = stmt.limit(limit)
    ids = [r.id for r in session.scalars(stmt)]
    if timestamper() is None:
        report.waiting_for_tsa = len(ids)
        return report
    store = archive_store()
    for record_id in ids:
        record = cast(SignedRecord, session.get(SignedRecord, record_id))  # just listed by the query
        try:
            data = store.get(cast(str, record.pdf_sha256))  # the query lists sealed records only
            if record.timestamped_at is None:
                if not record.unsealed_size:
                    raise RuntimeError("the size of the unsealed document is unknown (sealed by an older version)")
                identity = current_identity()
                if record.cert_sha256 and identity.fingerprint != record.cert_sha256:
                    # The page prints the fingerprint of the certificate that sealed it: sealing the same bytes
                    # with the new certificate would contradict it. It stays B-LT (valid while that certificate is).
                    session.execute(update(SignedRecord).where(SignedRecord.id == record_id)
                                    .values(timestamp_pending=False, renew_by=None)
                                    .execution_options(synchronize_session=False))
                    session.commit()
                    raise RuntimeError("sealed with a certificate that has since been replaced; it keeps its B-LT "
                                       "seal and is not tried again")
                result = seal_pdf(data[:record.unsealed_size], reason=_reason(record.signature),
                                  location=_location(), identity=identity)
                if result.timestamp_pending:
                    raise RuntimeError("the time-stamping authority could not be reached")
                reason = "resealed"
            else:
                result = add_document_timestamp(data)
                reason = "timestamped"
            sha = store.put(result.pdf)
            record.pdf_sha256, record.size, record.seal_mode = sha, len(result.pdf), result.mode.value
            record.timestamped_at, record.renew_by = result.timestamped_at, result.renew_by
            record.cert_sha256, record.timestamp_pending, record.last_error = result.cert_sha256, False, None
            session.add(RecordFile(record_id=record.id, sha256=sha, size=len(result.pdf), seal_mode=result.mode.value,
                                   reason=reason))
            audit.record("record.timestamped", target=record, sha256=sha, reason=reason,
                         timestamped_at=result.timestamped_at.isoformat() if result.timestamped_at else None)
            session.commit()
            if reason == "resealed":
                report.resealed += 1
            else:
                report.timestamped += 1
        except Exception as exc:  # noqa: BLE001 - kept due; tried again on the next run
            session.rollback()
            log.warning("signed record %s: no time stamp added: %s", record_id, _describe(exc))
            session.execute(update(SignedRecord).where(SignedRecord.id == record_id)
                            .values(last_error=_describe(exc)).execution_options(synchronize_session=False))
            audit.record("record.timestamp_failed", target=session.get(SignedRecord, record_id),
                         error=type(exc).__name__)
            session.commit()
            report.failed += 1
    return report


# ---------------------------------------------------------------- the emailed receipt


def send_receipt(record_id: int) -> bool:
    """Email the signer their sealed record: the PDF attached, or a link to it when it is larger
    than ``PORTAL_RECEIPT_MAX_ATTACHMENT_BYTES``. Commits.

    Sent once (``receipt_sent_at``); a signer with no email address gets none. Returns whether a
    message went out.

    :raises portal.mail.MailError: the mail server refused it (nothing is marked; try again).
    """
    from portal.mail import send_mail

    record = session.get(SignedRecord, record_id)
    if record is None or not record.is_sealed or record.receipt_sent_at is not None:
        return False
    sig = record.signature
    signer = sig.signer
    address = signer.email or (signer.account.email if signer.account is not None else None)
    if not address:
        return False
    pdf = record_pdf(record)
    limit = int(current_app.config["PORTAL_RECEIPT_MAX_ATTACHMENT_BYTES"])
    attach = len(pdf) <= limit
    school = School.get()
    subject, body = _receipt_text(record, sig, attach, school.name if school else "Countersign")
    send_mail(address, subject[:150], body,
              attachments=[(f"signed-record-{sig.id}.pdf", pdf, "application/pdf")] if attach else None)
    session.execute(update(SignedRecord).where(SignedRecord.id == record_id, SignedRecord.receipt_sent_at.is_(None))
                    .values(receipt_sent_at=utcnow()).execution_options(synchronize_session=False))
    audit.record("record.receipt_sent", target=record, attached=attach)
    session.commit()
    return True


def _receipt_text(record: SignedRecord, sig: Signature, attach: bool, school_name: str) -> tuple[str, str]:
    """The receipt's subject and body in the signer's language (the policy's title in that language
    too, when the school has published a translation)."""
    from flask_babel import gettext as _

    from portal.i18n import format_date, in_language, language_of
    from portal.policies.translations import published_translation

    code = language_of(sig.signer)
    with in_language(code):
        translated = published_translation(sig.version, code)
        title = translated.title if translated is not None else sig.version.title
        hours = f"{sig.signed_at:%H:%M}"
        # The date of the UTC time it gives (review: the page's UK calendar made 23:30 UTC on 30 June "1 July").
        when = _("%(date)s at %(time)s UTC", date=format_date(sig.signed_at, "long", rebase=False), time=hours)
        values = {"title": title, "number": sig.version.number, "when": when,
                  "name": sig.on_behalf_of.full_name if sig.on_behalf_of is not None else ""}
        if sig.decision == "signed":
            if sig.on_behalf_of is not None:
                receipt = _('This is your receipt: you signed "%(title)s" (version %(number)s) for %(name)s '
                            "on %(when)s.", **values)
            else:
                receipt = _('This is your receipt: you signed "%(title)s" (version %(number)s) on %(when)s.', **values)
        elif sig.on_behalf_of is not None:
            receipt = _('This is your receipt: you declined "%(title)s" (version %(number)s) for %(name)s '
                        "on %(when)s.", **values)
        else:
            receipt = _('This is your receipt: you declined "%(title)s" (version %(number)s) on %(when)s.', **values)
        lines = [_("Dear %(name)s,", name=sig.signer.given_name), "", receipt, ""]
        if attach:
            lines.append(_("The sealed record is attached as a PDF. Keep it: anyone can check that it is genuine "
                           "and unchanged, now or in years to come."))
        else:
            lines += [_("The sealed record is too large to attach. Download it from your signing history:"),
                      public_url("portal.policies.signature_pdf", signature_id=sig.id)]
        lines += ["", _("To check a copy, open the verification page:"),
                  public_url("portal.verify.record", public_id=record.public_id),
                  "", _("Record reference: %(reference)s", reference=record.public_id), "", school_name]
        return _("Your signed record: %(title)s", title=title), "\n".join(lines)
