"""Making, repairing and reading signed records.

Unlike most operations these commit: a record is made *after* the signature has committed,
in its own transactions, so that nothing here can undo a signature. The receiver of
``signature_committed`` catches every error and leaves a pending row with ``last_error``;
``flask portal records repair`` (or opening the record) tries again. Everything is idempotent.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.db import session, utcnow
from portal.progress import Progress, no_progress
from portal.schools.isolation import current_school_id, set_school
from portal.schools.models import School
from portal.records.archive import archive_store
from portal.records.models import RecordStatus, SealMode, SignedRecord
from portal.records.pdf import evidence_json, evidence_of, record_html, render_pdf
from portal.records.seal import seal_pdf
from portal.signatures.models import Signature

log = logging.getLogger("portal.records")


def on_signature_committed(sender: Any, signature: Any = None, school: int | None = None, **_: Any) -> None:
    """Receiver of :data:`portal.signals.signature_committed`: make the sealed PDF.

    Runs in a fresh application context (its own database session and transactions) and
    never raises: the signature has already been committed and must stand. With
    ``PORTAL_RECORDS_DEFERRED`` it only writes the pending row (a class of 30 closing at once
    then costs the teacher no PDF rendering); ``flask portal records repair`` makes the PDFs.
    """
    try:
        app = sender if isinstance(sender, Flask) else current_app._get_current_object()
        signature_id = signature if isinstance(signature, int) else signature.id
        school_id = school if school is not None else getattr(signature, "school_id", None)
        if school_id is None:
            school_id = current_school_id(session)
        with app.app_context():
            set_school(session, school_id)
            if app.config["PORTAL_RECORDS_DEFERRED"]:
                _get_or_create_pending(signature_id)  # `records repair` (e.g. from cron) makes the PDF
            else:
                make_record(signature_id)
    except Exception:  # a failure here must never reach the signer
        log.exception("signed record: could not make the record for a committed signature")


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
        signature = session.get(Signature, signature_id)
        pdf, mode = build_sealed_pdf(signature)
        sha = archive_store().put(pdf)
        done = session.execute(
            update(SignedRecord)
            .where(SignedRecord.id == record_id, SignedRecord.status == RecordStatus.PENDING.value)
            .values(status=RecordStatus.SEALED.value, pdf_sha256=sha, size=len(pdf), seal_mode=mode.value,
                    sealed_at=utcnow(), attempts=SignedRecord.attempts + 1, last_error=None)
            .execution_options(synchronize_session=False)
        ).rowcount
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


def _get_or_create_pending(signature_id: int) -> SignedRecord:
    record = session.scalar(select(SignedRecord).where(SignedRecord.signature_id == signature_id))
    if record is not None:
        return record
    record = SignedRecord(signature_id=signature_id, status=RecordStatus.PENDING.value, attempts=0)
    session.add(record)
    try:
        session.commit()
    except IntegrityError:  # made at the same moment by another worker
        session.rollback()
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
    return archive_store().get(record.pdf_sha256)
