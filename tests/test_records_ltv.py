"""Evidence that lasts: the certificate hierarchy, PAdES B-LT / B-LTA seals checked by pyHanko with
only the root certificate as anchor (also after the sealing certificate has expired), a real RFC 3161
TSA on 127.0.0.1, re-time-stamping, and certificates that must not seal."""
from __future__ import annotations

import datetime as dt
import io
import os
import stat
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    REQUIRE_REVINFO,
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager
from sqlalchemy import select

from portal.records import aio
from portal.records.archive import archive_store
from portal.records.models import RecordFile, SignedRecord
from portal.records.operations import make_record, retimestamp_due
from portal.signals import signature_committed
from tests.records_support import *  # noqa: F403  (the records fixtures)
from tests.records_support import TSAServer, make_tsa_cert, pdfsig_text, root_cert

# These tests check a PDF, its seal and its certificates, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend


def _sealed(app, db, make_signature, **kw):
    sig = make_signature(**kw)
    signature_committed.send(app, signature=sig)
    db.expire_all()
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    return sig, record


def _pdf(record) -> bytes:
    return archive_store().get(record.pdf_sha256)


def _root(app, name="installation"):
    return load_cert_from_pemder(str(root_cert(app, name)))


def _plain(pdf: bytes, context: ValidationContext):
    sig = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[0]
    return aio.run(lambda: async_validate_pdf_signature(sig, context))


def _ltv(pdf: bytes, roots, when: dt.datetime | None = None):
    """pyHanko's PAdES long-term validation with only *roots* as anchors, no network, at *when*
    (default now). Revocation data is required for the seal's certificate (it must come from the
    file); a time stamp's certificate is checked for revocation where it names a source (offline,
    nobody can know the newest time stamp's status today)."""
    trust = SimpleTrustManager.build(trust_roots=roots)
    soft = RevocationCheckingPolicy(RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
                                    RevocationCheckingRule.CHECK_IF_DECLARED_SOFT)
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(trust_manager=trust,
                                                        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO)),
        ts_cert_validation_policy=CertValidationPolicySpec(trust_manager=trust,
                                                           revinfo_policy=CertRevTrustPolicy(soft)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY),
    ))
    sig = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[0]
    timing = ValidationTimingInfo(when, when, point_in_time_validation=True) if when else None
    return aio.run(lambda: ades_lta_validation(sig, spec, timing_info=timing))


def _dss(pdf: bytes):
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    dss = DocumentSecurityStore.read_dss(reader)
    return list(dss.load_certs()), [asn1_crl.CertificateList.load(c.get_object().data) for c in dss.crls]


# ---------------------------------------------------------------- the hierarchy


def test_keys_init_makes_a_root_ca_and_a_school_certificate_issued_by_it(app, seal_keys):
    client = app.test_client()
    keys = Path(seal_keys)
    ca = keys / "ca" / "installation"
    for private in (ca / "root.key.pem", keys / "school-seal.key.pem"):
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600, private
    root = x509.load_pem_x509_certificate((ca / "root.cert.pem").read_bytes())
    seal = x509.load_pem_x509_certificate((keys / "school-seal.cert.pem").read_bytes())
    assert seal.issuer == root.subject and seal.issuer != seal.subject
    seal.verify_directly_issued_by(root)
    assert seal.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = seal.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_cert_sign
    # The CRL is named in the certificate, at a stable public address the portal serves.
    [dp] = seal.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    url = dp.full_name[0].value
    assert url == "http://portal.test/portal/verify/ca/installation.crl"
    resp = client.get(url)
    assert resp.status_code == 200 and resp.mimetype == "application/pkix-crl"
    crl = x509.load_der_x509_crl(resp.data)
    assert crl.is_signature_valid(root.public_key()) and crl.next_update_utc > dt.datetime.now(dt.UTC)
    assert client.get("/portal/verify/ca/installation.pem").data == (ca / "root.cert.pem").read_bytes()
    assert client.get("/portal/verify/ca/nothing-here.crl").status_code == 404
    assert client.get("/portal/verify/ca/..%2Fsecret.crl").status_code == 404


def test_schools_of_a_trust_share_the_trust_root(app, db, make_school, seal_keys):
    a = make_school("oak-lane", trust_slug="fernbrook", trust_name="Fernbrook Learning Trust (fictional)")
    b = make_school("kestrel-ridge", trust_slug="fernbrook")
    result = app.test_cli_runner().invoke(args=["portal", "keys", "init", "--if-missing"])
    assert result.exit_code == 0, result.output
    keys = Path(seal_keys)
    trust_root = x509.load_pem_x509_certificate((keys / "ca" / "trust-fernbrook" / "root.cert.pem").read_bytes())
    own_root = x509.load_pem_x509_certificate((keys / "ca" / "installation" / "root.cert.pem").read_bytes())
    for school in (a, b):
        cert = x509.load_pem_x509_certificate((keys / school.keys_path / "school-seal.cert.pem").read_bytes())
        assert cert.issuer == trust_root.subject
    first = x509.load_pem_x509_certificate((keys / "school-seal.cert.pem").read_bytes())
    assert first.issuer == own_root.subject  # the default school has no trust


def test_keys_init_refuses_to_overwrite(app, seal_keys):
    key = Path(seal_keys) / "school-seal.key.pem"
    before = key.read_bytes()
    result = app.test_cli_runner().invoke(args=["portal", "keys", "init"])
    assert result.exit_code != 0 and "already exists" in result.output
    assert key.read_bytes() == before


def test_keys_init_if_missing_succeeds_before_the_first_school(empty_installation, tmp_path):
    """The deploy example's migrate unit runs `keys init --if-missing` at every release, the first one
    before any school exists: that must not fail the unit. Without --if-missing it is still an error."""
    empty_installation.config["PORTAL_KEYS_DIR"] = str(tmp_path / "keys")
    runner = empty_installation.test_cli_runner()
    result = runner.invoke(args=["portal", "keys", "init", "--if-missing"])
    assert result.exit_code == 0, result.output
    assert "There is no school yet, so no certificate was made" in result.output
    assert not (tmp_path / "keys").exists() or not any((tmp_path / "keys").rglob("*.pem"))
    result = runner.invoke(args=["portal", "keys", "init"])
    assert result.exit_code != 0 and "There is no school yet: add one" in result.output


# ---------------------------------------------------------------- B-LT


def test_b_lt_carries_chain_and_crl_and_validates_with_only_the_root(app, db, make_signature, seal_keys, nss_db,
                                                                    tmp_path):
    _, record = _sealed(app, db, make_signature)
    assert record.is_sealed and record.seal_mode == "B-LT" and not record.timestamp_pending
    pdf = _pdf(record)
    root = _root(app)
    # The trust root is the only anchor; nothing is fetched.
    status = _plain(pdf, ValidationContext(trust_roots=[root], allow_fetching=False))
    assert status.bottom_line and status.trusted and status.intact
    # The file itself holds everything needed to check revocation: chain and CRL in the DSS.
    certs, crls = _dss(pdf)
    assert {c.sha256.hex() for c in certs} >= {record.cert_sha256, root.sha256.hex()}
    assert len(crls) == 1 and crls[0]["tbs_cert_list"]["issuer"] == root.subject
    strict = ValidationContext(trust_roots=[root], other_certs=certs, crls=crls, allow_fetching=False,
                               revocation_mode="require")
    assert _plain(pdf, strict).bottom_line
    # Control: the same strict check without the file's CRL fails, so the check above depends on it.
    bare = ValidationContext(trust_roots=[root], other_certs=certs, crls=[], allow_fetching=False,
                             revocation_mode="require")
    assert not _plain(pdf, bare).bottom_line
    path = tmp_path / "blt.pdf"
    path.write_bytes(pdf)
    report = pdfsig_text(path, nss_db)
    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report
    assert "Total document signed" in report


# ---------------------------------------------------------------- B-LTA


def test_b_lta_is_valid_now_and_after_the_sealing_certificate_expires(app, db, make_signature, seal_keys, tsa,
                                                                       nss_db, tmp_path):
    _, record = _sealed(app, db, make_signature)
    assert record.seal_mode == "B-LTA" and record.timestamped_at is not None and not record.timestamp_pending
    assert len(tsa.hits) >= 2  # signature time stamp and document time stamp
    pdf = _pdf(record)
    root = _root(app)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    assert [s.field_name for s in reader.embedded_timestamp_signatures] == ["RecordTimestamp1"]

    now = _ltv(pdf, [root])
    assert now.ades_subindic.status.name == "PASSED", now.failure_msg
    seal_cert = x509.load_pem_x509_certificate((Path(seal_keys) / "school-seal.cert.pem").read_bytes())
    later = seal_cert.not_valid_after_utc + dt.timedelta(days=30)
    after_expiry = _ltv(pdf, [root], later)
    assert after_expiry.ades_subindic.status.name == "PASSED", after_expiry.failure_msg
    assert after_expiry.best_signature_time < seal_cert.not_valid_after_utc
    # Control: without the time stamps, the same moment is past the certificate's life.
    expired = _plain(pdf, ValidationContext(trust_roots=[root], allow_fetching=False, moment=later))
    assert not expired.bottom_line
    # A B-LT record (no time stamp) is not valid after expiry either: the time stamp makes the difference.
    app.config["PORTAL_TSA_URL"] = None
    _, plain_record = _sealed(app, db, make_signature)
    assert _ltv(_pdf(plain_record), [root], later).ades_subindic.status.name != "PASSED"

    path = tmp_path / "blta.pdf"
    path.write_bytes(pdf)
    report = pdfsig_text(path, nss_db)
    seal_part, stamp_part = report.split("Signature #2:")
    assert "Signature is Valid." in seal_part and "Certificate is Trusted." in seal_part, report
    # pdfsig 22 lists the document time stamp (covering the whole file) but does not check RFC 3161 tokens.
    assert "RecordTimestamp1" in stamp_part and "Total document signed" in stamp_part


def test_a_tsa_with_its_own_root_needs_that_root_too(app, db, make_signature, seal_keys, tmp_path):
    cert_pem, key_pem, tsa_root_pem = make_tsa_cert(None, None)
    server = TSAServer(cert_pem, key_pem)
    server.start()
    try:
        (tmp_path / "tsa-root.pem").write_bytes(tsa_root_pem)
        app.config.update(PORTAL_TSA_URL=server.url, PORTAL_TSA_ROOTS=str(tmp_path / "tsa-root.pem"))
        _, record = _sealed(app, db, make_signature)
        assert record.seal_mode == "B-LTA", record.last_error
        pdf = _pdf(record)
        tsa_root = load_cert_from_pemder(str(tmp_path / "tsa-root.pem"))
        assert _ltv(pdf, [_root(app), tsa_root]).ades_subindic.status.name == "PASSED"
        assert _ltv(pdf, [_root(app)]).ades_subindic.status.name != "PASSED"
    finally:
        server.stop()


def test_a_tsa_that_is_down_seals_b_lt_and_the_job_seals_again_with_a_time_stamp(app, db, make_signature, seal_keys,
                                                                                  tsa):
    tsa.stop()
    _, record = _sealed(app, db, make_signature)
    assert record.is_sealed and record.seal_mode == "B-LT" and record.timestamp_pending
    first = _pdf(record)
    # Still down: nothing changes and the record stays queued.
    report = retimestamp_due()
    assert (report.resealed, report.failed) == (0, 1)
    db.expire_all()
    assert db.get(SignedRecord, record.id).timestamp_pending
    tsa.start()
    report = retimestamp_due()
    assert (report.resealed, report.timestamped, report.failed) == (1, 0, 0)
    db.expire_all()
    record = db.get(SignedRecord, record.id)
    assert record.seal_mode == "B-LTA" and not record.timestamp_pending and record.timestamped_at is not None
    second = _pdf(record)
    # The same document bytes, sealed again: only the seal differs.
    assert second[:record.unsealed_size] == first[:record.unsealed_size]
    assert _ltv(second, [_root(app)]).ades_subindic.status.name == "PASSED"
    files = db.scalars(select(RecordFile).where(RecordFile.record_id == record.id).order_by(RecordFile.id)).all()
    assert [(f.reason, f.seal_mode) for f in files] == [("sealed", "B-LT"), ("resealed", "B-LTA")]
    assert retimestamp_due().resealed == 0  # nothing left to do


def test_retimestamp_due_adds_a_document_time_stamp_when_the_newest_nears_expiry(app, db, make_signature, seal_keys,
                                                                               tsa):
    _, record = _sealed(app, db, make_signature)
    first = _pdf(record)
    # The TSA certificate is valid for 10 years: a 1-year margin finds nothing to do.
    report = retimestamp_due(dt.timedelta(days=365))
    assert (report.timestamped, report.resealed) == (0, 0)
    # An 11-year margin: the newest time stamp's certificate expires within it.
    report = retimestamp_due(dt.timedelta(days=365 * 11))
    assert report.timestamped == 1 and report.failed == 0
    db.expire_all()
    record = db.get(SignedRecord, record.id)
    second = _pdf(record)
    assert second.startswith(first) and len(second) > len(first)  # only added to, never rewritten
    reader = PdfFileReader(io.BytesIO(second), strict=False)
    assert [s.field_name for s in reader.embedded_timestamp_signatures] == ["RecordTimestamp1", "RecordTimestamp2"]
    assert _ltv(second, [_root(app)]).ades_subindic.status.name == "PASSED"
    files = db.scalars(select(RecordFile).where(RecordFile.record_id == record.id).order_by(RecordFile.id)).all()
    assert [f.reason for f in files] == ["sealed", "timestamped"]
    # The CLI runs the same operation for each school.
    result = app.test_cli_runner().invoke(args=["portal", "records", "retimestamp", "--margin-days", "4015"])
    assert result.exit_code == 0 and "New document time stamps: 1" in result.output, result.output


def test_retimestamp_without_a_tsa_reports_what_waits(app, db, make_signature, seal_keys):
    _sealed(app, db, make_signature)
    result = app.test_cli_runner().invoke(args=["portal", "records", "retimestamp", "--margin-days", "36500"])
    assert result.exit_code == 1 and "Waiting for a TSA (set PORTAL_TSA_URL): 1" in result.output


# ---------------------------------------------------------------- certificates that must not seal


def _install_cert(app, seal_keys, *, not_before, not_after):
    """Replace the school's certificate by one from the same root with the given validity (test only)."""
    keys = Path(seal_keys)
    ca = keys / "ca" / "installation"
    root = x509.load_pem_x509_certificate((ca / "root.cert.pem").read_bytes())
    root_key = serialization.load_pem_private_key((ca / "root.key.pem").read_bytes(), password=None)
    key = serialization.load_pem_private_key((keys / "school-seal.key.pem").read_bytes(), password=None)
    cert = (x509.CertificateBuilder().issuer_name(root.subject)
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Expired seal")]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(root_key, hashes.SHA384()))
    (keys / "school-seal.cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_an_expired_certificate_refuses_to_seal_and_keeps_the_record_pending(app, db, make_signature, seal_keys):
    now = dt.datetime.now(dt.UTC)
    _install_cert(app, seal_keys, not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1))
    sig, record = _sealed(app, db, make_signature)
    assert record.status == "pending" and "expired" in record.last_error and "keys rotate" in record.last_error
    assert db.get(type(sig), sig.id) is not None  # the signature stands
    assert not list(Path(app.config["PORTAL_ARCHIVE_DIR"]).rglob("*.pdf"))
    result = app.test_cli_runner().invoke(args=["portal", "keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert make_record(sig.id).is_sealed


def test_a_revoked_certificate_refuses_to_seal_until_rotated(app, db, make_signature, seal_keys):
    client = app.test_client()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "keys", "revoke", "--reason", "key_compromise"])
    assert result.exit_code == 0, result.output
    seal = x509.load_pem_x509_certificate((Path(seal_keys) / "school-seal.cert.pem").read_bytes())
    crl = x509.load_der_x509_crl(client.get("/portal/verify/ca/installation.crl").data)
    assert crl.get_revoked_certificate_by_serial_number(seal.serial_number) is not None
    sig, record = _sealed(app, db, make_signature)
    assert record.status == "pending" and "revoked" in record.last_error
    assert runner.invoke(args=["portal", "keys", "rotate"]).exit_code == 0
    record = make_record(sig.id)
    assert record.is_sealed and record.cert_sha256 != seal.fingerprint(hashes.SHA256()).hex()


# ---------------------------------------------------------------- the root key offline


def test_the_root_key_can_leave_the_server(app, db, make_signature, seal_keys, tmp_path):
    runner = app.test_cli_runner()
    ca = Path(seal_keys) / "ca" / "installation"
    out = tmp_path / "usb" / "root.key.pem"
    out.parent.mkdir()
    result = runner.invoke(args=["portal", "keys", "export-root", "--out", str(out)],
                           input="correct horse battery\ncorrect horse battery\n")
    assert result.exit_code == 0, result.output
    assert not (ca / "root.key.pem").exists() and (ca / "root.cert.pem").exists()
    assert out.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # Sealing needs only the school key.
    _, record = _sealed(app, db, make_signature)
    assert record.is_sealed
    # Rotating needs the root key: refused without it, done with it (read from the file, not copied).
    result = runner.invoke(args=["portal", "keys", "rotate"])
    assert result.exit_code != 0 and "not on this server" in result.output
    result = runner.invoke(args=["portal", "keys", "rotate", "--root-key", str(out),
                                 "--root-key-passphrase", "wrong passphrase!"])
    assert result.exit_code != 0 and "could not be opened" in result.output
    result = runner.invoke(args=["portal", "keys", "rotate", "--root-key", str(out),
                                 "--root-key-passphrase", "correct horse battery"])
    assert result.exit_code == 0, result.output
    assert not (ca / "root.key.pem").exists()
    retired = list((Path(seal_keys) / "retired").glob("*.cert.pem"))
    assert len(retired) == 1


def _stale_crl(seal_keys) -> None:
    """Publish a CRL whose next-update time has passed (signed by the real root key)."""
    ca = Path(seal_keys) / "ca" / "installation"
    root = x509.load_pem_x509_certificate((ca / "root.cert.pem").read_bytes())
    root_key = serialization.load_pem_private_key((ca / "root.key.pem").read_bytes(), password=None)
    now = dt.datetime.now(dt.UTC)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(root.subject)
           .last_update(now - dt.timedelta(days=10)).next_update(now - dt.timedelta(days=1))
           .sign(root_key, hashes.SHA384()))
    (ca / "crl.der").write_bytes(crl.public_bytes(serialization.Encoding.DER))


def test_a_stale_crl_stops_sealing_only_while_the_root_key_is_away(app, db, make_signature, seal_keys, tmp_path):
    ca = Path(seal_keys) / "ca" / "installation"
    runner = app.test_cli_runner()
    # Root key on the server: a stale CRL is renewed on the way.
    _stale_crl(seal_keys)
    _, record = _sealed(app, db, make_signature)
    assert record.is_sealed, record.last_error
    assert x509.load_der_x509_crl((ca / "crl.der").read_bytes()).next_update_utc > dt.datetime.now(dt.UTC)
    # Root key away: sealing stops with a clear message until the CRL is renewed with the key.
    _stale_crl(seal_keys)
    out = tmp_path / "root.key.pem"
    assert runner.invoke(args=["portal", "keys", "export-root", "--out", str(out), "--passphrase",
                               "correct horse battery"]).exit_code == 0
    sig, record = _sealed(app, db, make_signature)
    assert record.status == "pending" and "revocation list" in record.last_error and "keys crl" in record.last_error
    result = runner.invoke(args=["portal", "keys", "crl"])
    assert "root key is offline; skipped" in result.output
    result = runner.invoke(args=["portal", "keys", "crl", "--root-key", str(out), "--root-key-passphrase",
                                 "correct horse battery"])
    assert result.exit_code == 0, result.output
    assert make_record(sig.id).is_sealed
    assert not (ca / "root.key.pem").exists()


# ---------------------------------------------------------------- a commercial CA


def test_a_school_can_use_a_commercial_pkcs12_certificate(app, db, make_signature, seal_keys, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Fictional Commercial Root")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Larkspur Hollow e-seal")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(77)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=700))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    p12 = tmp_path / "seal.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"seal", key, cert, [ca_cert],
                                                          BestAvailableEncryption(b"pw-123456")))
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["portal", "keys", "import-p12", str(p12), "--password", "wrong"])
    assert bad.exit_code != 0 and "could not be opened" in bad.output
    result = runner.invoke(args=["portal", "keys", "import-p12", str(p12), "--password", "pw-123456"])
    assert result.exit_code == 0, result.output
    _, record = _sealed(app, db, make_signature)
    assert record.is_sealed and record.seal_mode == "B-LT", record.last_error
    assert record.cert_sha256 == cert.fingerprint(hashes.SHA256()).hex()
    commercial_root = load_cert_from_pemder(str(_write(tmp_path / "ca.pem", ca_cert)))
    status = _plain(_pdf(record), ValidationContext(trust_roots=[commercial_root], allow_fetching=False))
    assert status.bottom_line
    # Nothing else changes: the portal's own check recognises the school's new seal.
    from portal.records.verify import verify_pdf

    assert verify_pdf(_pdf(record)).genuine


def _write(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_keys_status_lists_cas_and_schools(app, seal_keys):
    result = app.test_cli_runner().invoke(args=["portal", "keys", "status"])
    assert result.exit_code == 0, result.output
    assert "CA installation: root" in result.output and "key on this server" in result.output
    assert "records seal; issued by" in result.output


def test_records_without_a_tsa_have_a_renew_by_of_their_certificate(app, db, make_signature, seal_keys):
    _, record = _sealed(app, db, make_signature)
    seal = x509.load_pem_x509_certificate((Path(seal_keys) / "school-seal.cert.pem").read_bytes())
    assert record.renew_by == seal.not_valid_after_utc and record.timestamped_at is None


def test_a_record_sealed_with_a_replaced_certificate_is_not_sealed_again(app, db, make_signature, seal_keys, tsa):
    """Its last page prints the old certificate's fingerprint, so a new seal would contradict the page."""
    tsa.stop()
    _, record = _sealed(app, db, make_signature)
    assert record.timestamp_pending
    assert app.test_cli_runner().invoke(args=["portal", "keys", "rotate"]).exit_code == 0
    tsa.start()
    report = retimestamp_due()
    assert (report.resealed, report.failed) == (0, 1)
    db.expire_all()
    record = db.get(SignedRecord, record.id)
    assert record.seal_mode == "B-LT" and not record.timestamp_pending and "replaced" in record.last_error
    assert retimestamp_due().failed == 0  # not tried again


def test_a_tsa_client_is_kept_per_address_and_per_set_of_anchors(app, tmp_path):
    """pyHanko's client keeps every TSA certificate it has seen and builds a path for each when sealing, so a
    TSA answering at the same address for another installation's keys (or other TSA roots) gets a new client."""
    from portal.records.seal import timestamper

    app.config["PORTAL_TSA_URL"] = "http://127.0.0.1:9/tsa"
    first, again = timestamper(), timestamper()
    app.config["PORTAL_KEYS_DIR"] = str(tmp_path / "other-keys")
    other_keys = timestamper()
    app.config["PORTAL_TSA_ROOTS"] = str(tmp_path / "tsa-roots.pem")
    other_roots = timestamper()
    assert first is again
    assert len({id(first), id(other_keys), id(other_roots)}) == 3
