"""Sealed checkpoints of the audit chains: deleting the newest entries is reported by
`flask portal audit verify` (it was not before), the seal is the school's certificate, with a
time stamp where a TSA is set, and a forged or edited checkpoint does not count."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

from portal import audit
from portal.audit.checkpoints import AuditCheckpoint, checkpoint_store
from tests.records_support import seal_keys, tsa  # noqa: F401  (fixtures; tsa: a real RFC 3161 server on 127.0.0.1)


def _entries(db, n):
    for i in range(n):
        audit.record("test.event", n=i)
    db.commit()


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["portal", "audit", *args])


@pytest.mark.usefixtures("seal_keys")
def test_deleting_the_newest_entries_is_reported(app, db):
    """Finding: deleting the newest audit entries was not detected by `audit verify`."""
    _entries(db, 5)
    result = _cli(app, "checkpoint")
    assert result.exit_code == 0, result.output
    assert "checkpoint of entry 5 sealed" in result.output  # then the checkpoint's own entry (6)
    _entries(db, 2)
    assert _cli(app, "verify").exit_code == 0
    # Someone with database access removes the newest entries; what is left still chains.
    db.execute(text("DELETE FROM portal_audit_log WHERE seq > 4"))
    db.commit()
    assert audit.verify_chain().ok
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "TRUNCATED: the sealed checkpoint of" in result.output
    assert "saw 5 entries" in result.output and "now ends at entry 4" in result.output


@pytest.mark.usefixtures("seal_keys")
def test_deleting_the_checkpoint_rows_too_does_not_hide_it(app, db):
    """The archive is the record: the database's list of checkpoints is not trusted."""
    _entries(db, 3)
    assert _cli(app, "checkpoint").exit_code == 0
    db.execute(text("DELETE FROM portal_audit_log WHERE seq > 2"))
    db.execute(text("DELETE FROM portal_audit_checkpoints"))
    db.commit()
    result = _cli(app, "verify")
    assert result.exit_code == 1 and "TRUNCATED" in result.output


@pytest.mark.usefixtures("seal_keys")
def test_a_rewritten_chain_after_the_checkpoint_is_reported(app, db):
    from portal.audit.models import AuditEntry

    _entries(db, 3)
    assert _cli(app, "checkpoint").exit_code == 0
    _entries(db, 1)
    # Rebuild the whole chain consistently from entry 2 on (only possible without the checkpoint).
    rows = db.scalars(select(AuditEntry).where(AuditEntry.chain == 1).order_by(AuditEntry.seq)).all()
    prev = rows[0].hash
    for row in rows[1:]:
        row.data = {**row.data, "forged": True}
        row.prev_hash = prev
        row.hash = row.compute_hash()
        prev = row.hash
    db.commit()
    assert audit.verify_chain().ok
    result = _cli(app, "verify")
    assert result.exit_code == 1 and "REWRITTEN: entry 3" in result.output


@pytest.mark.usefixtures("seal_keys")
def test_the_checkpoint_is_sealed_with_the_schools_certificate(app, db):
    from asn1crypto import cms
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    from portal.records import aio
    from portal.records.keys import load_cert

    _entries(db, 2)
    assert _cli(app, "checkpoint").exit_code == 0
    row = db.scalar(select(AuditCheckpoint))
    path = Path(app.config["PORTAL_ARCHIVE_DIR"]) / "audit-checkpoints" / row.object_sha256[:2] / \
        f"{row.object_sha256}.json"
    assert path.is_file() and not (path.stat().st_mode & 0o222)  # written once, read-only
    document = json.loads(path.read_bytes())
    payload = json.loads(document["payload"])
    assert payload["seq"] == row.seq == 2 and payload["head"] == row.head and payload["previous"] is None
    cert = load_cert(Path(app.config["PORTAL_KEYS_DIR"]) / "school-seal.cert.pem")
    signed = cms.ContentInfo.load(base64.b64decode(document["cms"]))["content"]
    status = aio.run(lambda: async_validate_detached_cms(
        document["payload"].encode(), signed,
        signer_validation_context=ValidationContext(trust_roots=[cert], allow_fetching=False)))
    assert status.intact and status.valid
    # The next checkpoint names this one.
    assert _cli(app, "checkpoint").exit_code == 0
    newest = db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())).first()
    nxt = json.loads(json.loads(checkpoint_store(1).get(newest.object_sha256))["payload"])
    assert nxt["previous"] == row.object_sha256


@pytest.mark.usefixtures("seal_keys")
def test_a_forged_checkpoint_does_not_count(app, db, tmp_path):
    """A checkpoint sealed with another key (or edited) is reported, and the real one still rules."""

    _entries(db, 4)
    assert _cli(app, "checkpoint").exit_code == 0
    real = db.scalar(select(AuditCheckpoint))
    store = checkpoint_store(1)
    document = json.loads(store.get(real.object_sha256))
    payload = json.loads(document["payload"])
    payload["seq"] = 2  # claims the log was shorter
    forged = {"payload": json.dumps(payload, sort_keys=True, separators=(",", ":")), "cms": document["cms"]}
    store.put(json.dumps(forged, sort_keys=True).encode())
    result = _cli(app, "verify")
    assert result.exit_code == 1 and "its seal does not verify" in result.output
    # A checkpoint properly sealed, but by a stranger's own certificate, is not the school's either.
    from pyhanko.sign import signers

    from portal.records import aio

    key, cert = _stranger_certificate(tmp_path)
    stranger = signers.SimpleSigner.load(str(key), str(cert))
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    sealed = aio.run(lambda: stranger.async_sign_general_data(body, "sha256", detached=True))
    store.put(json.dumps({"payload": body.decode(), "cms": base64.b64encode(sealed.dump()).decode()},
                         sort_keys=True).encode())
    result = _cli(app, "verify")
    assert result.output.count("its seal does not verify") == 2
    assert "matches the sealed checkpoint" not in result.output and "TRUNCATED" not in result.output


def test_with_a_tsa_the_checkpoint_is_time_stamped(app, db, tsa):
    _entries(db, 1)
    result = _cli(app, "checkpoint")
    assert result.exit_code == 0 and "(time-stamped)" in result.output, result.output
    assert len(tsa.hits) == 1  # the fixture set PORTAL_TSA_URL to this server
    assert db.scalar(select(AuditCheckpoint)).timestamped
    assert ", time-stamped)" in _cli(app, "verify").output


def test_no_certificate_no_checkpoint_and_verify_says_there_is_none(app, db):
    _entries(db, 1)
    result = _cli(app, "checkpoint")
    assert result.exit_code == 1 and "no checkpoint made" in result.output
    assert db.scalar(select(AuditCheckpoint)) is None
    result = _cli(app, "verify")
    assert result.exit_code == 0 and "no sealed checkpoint yet" in result.output


@pytest.mark.usefixtures("seal_keys")
def test_each_school_has_its_own_checkpoints(app, db, make_school):
    from tests.schools import as_school

    other = make_school("second-school")
    assert app.test_cli_runner().invoke(args=["portal", "keys", "init", "--school", "second-school"]).exit_code == 0
    with as_school(other.id):
        _entries(db, 3)
    _entries(db, 2)
    result = _cli(app, "checkpoint")
    assert result.exit_code == 0, result.output
    assert result.output.count("sealed") == 3  # both schools and the installation's chain
    db.execute(text("DELETE FROM portal_audit_log WHERE chain = :c AND seq > 1"), {"c": other.id})
    db.commit()
    result = _cli(app, "verify")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "TRUNCATED" in line]
    assert len(lines) == 1 and lines[0].startswith(other.name)


@pytest.mark.usefixtures("seal_keys")
def test_the_hourly_job_checkpoints_moved_chains_once(app, db):
    """The scheduled job seals a chain whose head moved, and nothing when only its own
    checkpoint entry came after (running it twice changes nothing more)."""
    _entries(db, 3)
    run = app.test_cli_runner().invoke(args=["portal", "jobs", "run", "audit.checkpoint"])
    assert run.exit_code == 0, run.output
    made = db.scalars(select(AuditCheckpoint.seq).where(AuditCheckpoint.chain == 1)).all()
    assert made == [3]
    again = app.test_cli_runner().invoke(args=["portal", "jobs", "run", "audit.checkpoint"])
    assert again.exit_code == 0, again.output
    db.expire_all()
    assert db.scalars(select(AuditCheckpoint.seq).where(AuditCheckpoint.chain == 1)).all() == [3]
    _entries(db, 1)
    app.test_cli_runner().invoke(args=["portal", "jobs", "run", "audit.checkpoint"])
    db.expire_all()
    assert db.scalars(select(AuditCheckpoint.seq).where(AuditCheckpoint.chain == 1)
                      .order_by(AuditCheckpoint.seq)).all() == [3, 5]
    assert _cli(app, "verify").exit_code == 0


def _stranger_certificate(folder):
    """A self-signed key and certificate that are nobody's in the portal (files: key, cert)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stranger")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_path, cert_path = folder / "stranger.key.pem", folder / "stranger.cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
