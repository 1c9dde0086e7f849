"""The sealed PDF of a signature: content, PDF/A-3b, evidence attachment, and real validators
(pdfsig with an NSS trust store, pyHanko with the school certificate as trust root)."""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from portal.people.models import Role
from portal.records.archive import archive_store
from portal.records.models import SignedRecord
from portal.signals import signature_committed
from tests.records_support import (  # noqa: F401  (fixtures)
    make_signature,
    make_version,
    nss_db,
    pdfsig,
    pdfsig_text,
    seal_keys,
)


def _tool(name):
    from tests.deps import unavailable

    path = shutil.which(name)
    if not path:
        unavailable(f"{name} is not installed")
    return path


def _sealed(app, db, make_signature, **kw):
    """Commit a signature, send the signal as the signing UI does, return (record, pdf bytes)."""
    sig = make_signature(**kw)
    signature_committed.send(app, signature=sig)
    db.expire_all()
    record = db.query(SignedRecord).filter_by(signature_id=sig.id).one()
    assert record.is_sealed, record.last_error
    return sig, record, archive_store().get(record.pdf_sha256)


def _pyhanko_status(pdf: bytes, cert_path, *more_roots):
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from portal.records import aio

    sig = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[0]
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(p)) for p in (cert_path, *more_roots)])
    # (through portal.records.aio: a browser test earlier in the session leaves an event loop running)
    return aio.run(lambda: async_validate_pdf_signature(sig, context))


def test_signature_yields_a_sealed_pdf_with_the_exact_text_and_evidence(
        app, db, make_signature, make_pupil, make_person, seal_keys, tmp_path):
    pupil = make_pupil(year_group=3, given="Juniper")
    parent = make_person(Role.PARENT, given="Rowan", family="Quill")
    teacher = make_person(Role.TEACHER, given="Wilma", family="Witness")
    sig, record, pdf = _sealed(app, db, make_signature, signer=parent, on_behalf_of=pupil, witness=teacher,
                               answers=(False,))
    assert record.seal_mode == "B-B" and record.size == len(pdf) and record.attempts == 1
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)

    text = subprocess.run([_tool("pdftotext"), str(path), "-"], capture_output=True, check=True, text=True).stdout
    for expected in ("Using the school's computers", "I will keep my password to myself", "Rowan Quill",
                     pupil.full_name, "Photos on the school website?", "192.0.2.10", "TestBrowser/1.0",
                     sig.text_sha256, "2026-09-14 08:30:05", "Wilma Witness", "Certificate of completion",
                     "online"):
        # pdftotext wraps table cells, so compare without whitespace.
        assert "".join(expected.split()) in "".join(text.split()), expected
    assert "Page 1 of 3" in text

    # PDF/A-3b identification and the evidence JSON as the one embedded file.
    meta = subprocess.run([_tool("pdfinfo"), "-meta", str(path)], capture_output=True, check=True, text=True).stdout
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="B"' in meta
    listing = subprocess.run([_tool("pdfdetach"), "-list", str(path)],
                             capture_output=True, check=True, text=True).stdout
    assert listing.splitlines() == ["1 embedded files", "1: evidence.json"]
    out = tmp_path / "evidence.json"
    subprocess.run([_tool("pdfdetach"), "-save", "1", "-o", str(out), str(path)], check=True)
    evidence = json.loads(out.read_text())
    assert evidence["signature_id"] == sig.id
    assert evidence["on_behalf_of"]["name"] == pupil.full_name
    assert evidence["witness"]["name"] == "Wilma Witness"
    assert evidence["consents"][0]["answer"] is False
    assert evidence["text_sha256"] == sig.text_sha256

    # Margin boxes use the body font: only DejaVu Sans (and its mono for hashes) are embedded.
    fonts = subprocess.run([_tool("pdffonts"), str(path)], capture_output=True, check=True, text=True).stdout
    assert "Serif" not in fonts and "DejaVu-Sans" in fonts


def test_pdfsig_and_pyhanko_accept_the_seal_and_catch_one_flipped_byte(
        app, db, make_signature, seal_keys, nss_db, tmp_path):
    _, _, pdf = _sealed(app, db, make_signature)
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    report = pdfsig_text(good, nss_db)
    assert "Signature is Valid." in report, report
    assert "Certificate is Trusted." in report, report
    assert "Total document signed" in report
    status = _pyhanko_status(pdf, os.path.join(seal_keys, "school-seal.cert.pem"))
    assert status.bottom_line and status.intact and status.trusted

    # One byte inside the first page's content, well inside the signed range.
    bad = bytearray(pdf)
    at = pdf.index(b"stream", 200) + 40
    bad[at] ^= 0x01
    bad_path = tmp_path / "bad.pdf"
    bad_path.write_bytes(bytes(bad))
    report = pdfsig_text(bad_path, nss_db)
    assert "Signature is Valid." not in report and "Digest Mismatch" in report, report
    status = _pyhanko_status(bytes(bad), os.path.join(seal_keys, "school-seal.cert.pem"))
    assert not status.intact and not status.bottom_line


def test_an_untrusted_certificate_is_not_reported_as_trusted(app, db, make_signature, seal_keys, tmp_path):
    _, _, pdf = _sealed(app, db, make_signature)
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    report = pdfsig_text(path)  # no NSS db: pdfsig does not know the school
    assert "Signature is Valid." in report and "Certificate is Trusted." not in report


def test_keys_init_makes_a_private_key_and_refuses_to_overwrite(app, seal_keys):
    key = os.path.join(seal_keys, "school-seal.key.pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = Path(key).read_bytes()
    result = app.test_cli_runner().invoke(args=["portal", "keys", "init"])
    assert result.exit_code != 0 and "already exists" in result.output
    assert Path(key).read_bytes() == before
    quiet = app.test_cli_runner().invoke(args=["portal", "keys", "init", "--if-missing"])
    assert quiet.exit_code == 0 and "nothing changed" in quiet.output
    assert Path(key).read_bytes() == before


def test_a_configured_pkcs12_certificate_seals_the_record(app, db, make_signature, tmp_path):
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fictional Trust Seal")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    p12 = tmp_path / "seal.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"seal", key, cert, None, BestAvailableEncryption(b"pw-123")))
    (tmp_path / "seal.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    app.config.update(PORTAL_SIGNING_P12=str(p12), PORTAL_SIGNING_P12_PASSWORD="pw-123")
    _, _, pdf = _sealed(app, db, make_signature)
    status = _pyhanko_status(pdf, tmp_path / "seal.pem")
    assert status.bottom_line, status.pretty_print_details()
    assert status.signing_cert.subject.human_friendly == "Common Name: Fictional Trust Seal"


@pytest.fixture
def tsa_url(tmp_path):
    """pyHanko's DummyTimeStamper behind a real HTTP endpoint on 127.0.0.1."""
    import datetime as dt

    from asn1crypto import tsp
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Time Stamps")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(11)
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "tsa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (tmp_path / "tsa.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tsa = DummyTimeStamper(tsa_cert=load_cert_from_pemder(str(tmp_path / "tsa.pem")),
                           tsa_key=load_private_key_from_pemder(str(tmp_path / "tsa.key"), passphrase=None))
    hits = []

    @Request.application
    def endpoint(request):
        hits.append(request.path)
        req = tsp.TimeStampReq.load(request.get_data())
        return Response(tsa.request_tsa_response(req).dump(), content_type="application/timestamp-reply")

    server = make_server("127.0.0.1", 0, endpoint, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/tsa", hits, tmp_path / "tsa.pem"
    server.shutdown()
    thread.join(5)
    server.server_close()


def test_with_a_tsa_the_seal_is_pades_b_t(app, db, make_signature, seal_keys, nss_db, tsa_url, tmp_path):
    url, hits, tsa_cert = tsa_url
    app.config["PORTAL_TSA_URL"] = url
    _, record, pdf = _sealed(app, db, make_signature)
    assert record.seal_mode == "B-T" and hits and set(hits) == {"/tsa"}
    status = _pyhanko_status(pdf, os.path.join(seal_keys, "school-seal.cert.pem"), tsa_cert)
    assert status.bottom_line and status.timestamp_validity is not None
    assert status.timestamp_validity.intact
    path = tmp_path / "bt.pdf"
    path.write_bytes(pdf)
    assert "Signature is Valid." in pdfsig_text(path, nss_db)


def test_an_unreachable_tsa_leaves_a_pending_record_not_a_weaker_seal(app, db, make_signature, seal_keys):
    app.config["PORTAL_TSA_URL"] = "http://127.0.0.1:9/tsa"  # discard port: nothing listens
    sig = make_signature()
    signature_committed.send(app, signature=sig)
    db.expire_all()
    record = db.query(SignedRecord).filter_by(signature_id=sig.id).one()
    assert record.status == "pending" and record.attempts == 1 and record.last_error
    assert db.get(type(sig), sig.id) is not None
