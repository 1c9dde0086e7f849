"""The write-once archive, failures that never undo a signature, repair, and the audit chain."""
from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import select, text

from portal.audit.models import AuditEntry
from portal.records.archive import ArchiveError, FilesystemStore, IntegrityError, sha256_hex
from portal.records.models import SignedRecord
from portal.signals import signature_committed
from portal.signatures.models import Signature
from tests.records_support import make_signature, make_version, seal_keys  # noqa: F401  (fixtures)


def test_store_is_content_addressed_write_once_and_checked_on_read(tmp_path):
    store = FilesystemStore(tmp_path / "archive")
    sha = store.put(b"%PDF-1.7 first")
    assert sha == sha256_hex(b"%PDF-1.7 first") and store.exists(sha)
    path = store.path(sha)
    assert path.name == f"{sha}.pdf" and stat.S_IMODE(path.stat().st_mode) == 0o444
    assert store.put(b"%PDF-1.7 first") == sha  # same bytes again: nothing changes
    assert store.get(sha) == b"%PDF-1.7 first"
    assert b"".join(store.iter_verified(sha)) == b"%PDF-1.7 first"

    os.chmod(path, 0o644)
    path.write_bytes(b"%PDF-1.7 forged")
    with pytest.raises(IntegrityError):
        store.get(sha)
    with pytest.raises(IntegrityError):
        b"".join(store.iter_verified(sha))
    with pytest.raises(IntegrityError):  # never overwritten, even to "repair" it
        store.put(b"%PDF-1.7 first")
    assert path.read_bytes() == b"%PDF-1.7 forged"
    with pytest.raises(ArchiveError):
        store.get("0" * 64)
    with pytest.raises(ArchiveError):
        store.path("../../etc/passwd")


def test_a_failure_keeps_the_signature_and_repair_makes_the_pdf_once(app, db, make_signature):
    """No school certificate yet: the signature stands, the record waits with its error."""
    sig = make_signature()
    signature_committed.send(app, signature=sig)  # must not raise
    db.expire_all()
    assert db.get(Signature, sig.id) is not None
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert record.status == "pending" and record.attempts == 1
    assert "keys init" in record.last_error

    runner = app.test_cli_runner()
    failing = runner.invoke(args=["portal", "records", "repair"])
    assert failing.exit_code == 1 and "Still failing: 1" in failing.output

    assert runner.invoke(args=["portal", "keys", "init"]).exit_code == 0
    result = runner.invoke(args=["portal", "records", "repair"])
    assert result.exit_code == 0 and "Records made: 1. Still failing: 0." in result.output
    db.expire_all()
    record = db.get(SignedRecord, record.id)
    assert record.is_sealed and record.attempts == 3 and record.last_error is None
    sha = record.pdf_sha256

    again = runner.invoke(args=["portal", "records", "repair"])
    assert "Records made: 0. Still failing: 0." in again.output
    signature_committed.send(app, signature=sig)  # a repeated signal changes nothing
    db.expire_all()
    assert db.get(SignedRecord, record.id).pdf_sha256 == sha
    assert db.scalar(select(text("count(*)")).select_from(SignedRecord)) == 1
    actions = list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions.count("record.sealed") == 1 and actions.count("record.failed") == 2


def test_opening_a_pending_record_retries_it(app, db, make_signature, make_person, login_as):
    from portal.people.models import Role

    sig = make_signature()
    signature_committed.send(app, signature=sig)
    auditor = make_person(Role.AUDITOR, given="Aud")
    client = login_as(auditor)
    assert client.get(f"/portal/auditor/records/{sig.id}.pdf").status_code == 503
    assert app.test_cli_runner().invoke(args=["portal", "keys", "init"]).exit_code == 0
    resp = client.get(f"/portal/auditor/records/{sig.id}.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF-")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="signature-{sig.id}.pdf"'


def test_a_tampered_archive_file_is_refused_and_audited(app, db, make_signature, make_person, login_as, seal_keys):
    from portal.people.models import Role
    from portal.records.archive import archive_store

    sig = make_signature()
    signature_committed.send(app, signature=sig)
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    path = archive_store().path(record.pdf_sha256)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    resp = login_as(make_person(Role.AUDITOR)).get(f"/portal/auditor/records/{sig.id}.pdf")
    assert resp.status_code == 500 and b"does not" in resp.data
    assert db.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)) == "record.integrity_failed"


def test_audit_verify_names_the_first_broken_entry(app, db, make_signature, seal_keys):
    for _ in range(3):
        signature_committed.send(app, signature=make_signature())
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["portal", "audit", "verify"])
    assert ok.exit_code == 0 and "Audit chain intact" in ok.output
    sealed = list(db.scalars(select(AuditEntry.id).where(AuditEntry.action == "record.sealed").order_by(AuditEntry.id)))
    assert len(sealed) == 3
    victim = sealed[1]
    db.execute(text("UPDATE portal_audit_log SET target_id = '999' WHERE id = :id"), {"id": victim})
    db.commit()
    broken = runner.invoke(args=["portal", "audit", "verify"])
    assert broken.exit_code == 1
    assert f"Audit chain BROKEN at entry {victim}: content does not match its hash" in broken.output


def test_the_signal_from_inside_a_request_leaves_the_request_session_alone(app, db, make_signature, seal_keys):
    """As the signing view does: commit, then send the signal while the request is still open."""
    sig = make_signature()
    with app.test_request_context("/portal/parent/sign", method="POST"):
        from portal.db import session

        before = session._get_current_object()
        signature_committed.send(app, signature=sig)
        assert session._get_current_object() is before and before.get(Signature, sig.id) is not None
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert record.is_sealed and record.attempts == 1


def test_with_the_queue_down_records_stay_pending_and_repair_makes_the_pdfs(app, db, make_signature, seal_keys):
    """The broker is unreachable: the signature and a pending, never-queued record are kept."""
    app.config.update(PORTAL_JOBS_IMMEDIATE=False, PORTAL_JOBS_URL="redis://127.0.0.1:9/0")
    sigs = [make_signature() for _ in range(2)]
    for sig in sigs:
        signature_committed.send(app, signature=sig)
    records = list(db.scalars(select(SignedRecord).order_by(SignedRecord.id)))
    assert [(r.status, r.attempts, r.queued_at) for r in records] == [("pending", 0, None), ("pending", 0, None)]
    result = app.test_cli_runner().invoke(args=["portal", "records", "repair"])
    assert "Records made: 2. Still failing: 0." in result.output
    db.expire_all()
    assert all(r.is_sealed for r in db.scalars(select(SignedRecord)))
