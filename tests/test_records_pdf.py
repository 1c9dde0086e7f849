"""The sealed PDF of a signature: content, PDF/A-3b, evidence attachment, and real validators
(pdfsig with an NSS trust store, pyHanko with the installation's root certificate as the only anchor)."""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

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
    root_cert,
    seal_keys,
    tsa,
)

# These tests check a PDF, its seal and its certificates, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend


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


def test_rules_numbered_on_across_sections_keep_their_numbers_in_the_pdf(
        app, db, make_signature, make_version, seal_keys, tmp_path):
    """Walk finding: on the page the parents' rules run 1 to 9 across sections; in the sealed PDF each section
    started again at 1 (WeasyPrint ignores <ol start>), so "rule 5" meant two things."""
    body = ("## Online\n\n1. Be kind online.\n2. Ask before posting.\n\n## Photos\n\n"
            "3. Keep photos of other children private.\n4. Tell the school about worries.\n\n## Later\n\n"
            + "".join(f"{n}. Rule number {n}.\n" for n in range(5, 13)))
    _sig, _record, pdf = _sealed(app, db, make_signature, version=make_version(body_md=body))
    path = tmp_path / "numbered.pdf"
    path.write_bytes(pdf)
    text = subprocess.run([_tool("pdftotext"), str(path), "-"], capture_output=True, check=True, text=True).stdout
    flat = " ".join(text.split())
    for expected in ("1. Be kind online.", "2. Ask before posting.", "3. Keep photos of other children private.",
                     "4. Tell the school about worries.", "5. Rule number 5.", "12. Rule number 12."):
        assert expected in flat, expected
    assert "1. Keep photos" not in flat and "1. Rule number 5." not in flat


def test_signature_yields_a_sealed_pdf_with_the_exact_text_and_evidence(
        app, db, make_signature, make_pupil, make_person, seal_keys, tmp_path):
    pupil = make_pupil(year_group=3, given="Juniper")
    parent = make_person(Role.PARENT, given="Rowan", family="Quill")
    teacher = make_person(Role.TEACHER, given="Wilma", family="Witness")
    sig, record, pdf = _sealed(app, db, make_signature, signer=parent, on_behalf_of=pupil, witness=teacher,
                               answers=(False,))
    assert record.seal_mode == "B-LT" and record.size == len(pdf) and record.attempts == 1
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)

    text = subprocess.run([_tool("pdftotext"), str(path), "-"], capture_output=True, check=True, text=True).stdout
    for expected in ("Using the school's computers", "I will keep my password to myself", "Rowan Quill",
                     pupil.full_name, "Photos on the school website?", "192.0.2.10", "TestBrowser/1.0",
                     sig.text_sha256, "2026-09-14 08:30:05", "Wilma Witness", "Certificate of completion",
                     "online", "How to check this record", record.public_id, record.cert_sha256,
                     f"http://portal.test/portal/verify/r/{record.public_id}"):
        # pdftotext wraps table cells, so compare without whitespace.
        assert "".join(expected.split()) in "".join(text.split()), expected
    assert "Page 1 of 3" in text
    # Walk finding: the evidence said "online (Online)"; the words alone where they say the same.
    assert "MethodOnline" in "".join(text.split()) and "online(Online)" not in "".join(text.split())
    # The check block is on the last page.
    last = subprocess.run([_tool("pdftotext"), "-f", "3", "-l", "3", str(path), "-"], capture_output=True,
                          check=True, text=True).stdout
    assert "Howtocheckthisrecord" in "".join(last.split()) and record.public_id in "".join(last.split())

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


def test_a_long_unbroken_word_is_kept_whole_in_the_record(app, db, make_signature, make_version, seal_keys, tmp_path):
    """Probe finding: a 400-character word in a policy (a long hashtag or an id would do) ran off the right edge of
    the page: the sealed record showed 74 of its characters, though the signing page showed them all."""
    word = "Q" * 400
    # (and ordinary words in a policy's table stay whole: review finding on the first fix, which split
    # "Safeguarding" into "Saf / eg / ua / rdi / ng")
    table = ("| Who | Role | What they do |\n|---|---|---|\n| Designated lead | Safeguarding | "
             + "Responsibilities for every child's safety online and offline, " * 6 + "|\n")
    version = make_version(body_md=f"## Rules\n\n1. Our tag is #{word} in every post.\n\n{table}")
    _, _, pdf = _sealed(app, db, make_signature, version=version)
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf)
    text = subprocess.run([_tool("pdftotext"), str(path), "-"], capture_output=True, check=True, text=True).stdout
    # pdftotext reads only what lies on the page: every character must be there (split over lines).
    assert "".join(text.split()).count(word) == 1
    assert "Safeguarding" in text.split() and "Responsibilities" in text.split()


def test_emoji_in_a_policy_and_a_reason_print_in_the_record(app, db, make_signature, make_version, seal_keys,
                                                            tmp_path):
    """Noted in earlier walks: emoji (a young pupils' policy uses them; a parent may type one in a reason) printed
    as empty boxes. They come from Symbola (.ci/run installs fonts-symbola), embedded like the other fonts."""
    version = make_version(body_md="## Rules\n\n1. Ask an adult \U0001F64B before you click.\n"
                                   "2. Keep it locked \U0001F512.\n")
    _, _, pdf = _sealed(app, db, make_signature, version=version)
    path = tmp_path / "emoji.pdf"
    path.write_bytes(pdf)
    fonts = subprocess.run([_tool("pdffonts"), str(path)], capture_output=True, check=True, text=True).stdout
    assert "Symbola" in fonts, fonts
    text = subprocess.run([_tool("pdftotext"), str(path), "-"], capture_output=True, check=True, text=True).stdout
    assert "\U0001F64B" in text and "\U0001F512" in text


def test_pdfsig_and_pyhanko_accept_the_seal_and_catch_one_flipped_byte(
        app, db, make_signature, seal_keys, nss_db, tmp_path):
    _, _, pdf = _sealed(app, db, make_signature)
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    report = pdfsig_text(good, nss_db)
    assert "Signature is Valid." in report, report
    assert "Certificate is Trusted." in report, report
    assert "Total document signed" in report
    status = _pyhanko_status(pdf, root_cert(app))
    assert status.bottom_line and status.intact and status.trusted

    # One byte inside the first page's content, well inside the signed range.
    bad = bytearray(pdf)
    at = pdf.index(b"stream", 200) + 40
    bad[at] ^= 0x01
    bad_path = tmp_path / "bad.pdf"
    bad_path.write_bytes(bytes(bad))
    report = pdfsig_text(bad_path, nss_db)
    assert "Signature is Valid." not in report and "Digest Mismatch" in report, report
    status = _pyhanko_status(bytes(bad), root_cert(app))
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
    _, record, pdf = _sealed(app, db, make_signature)
    assert record.seal_mode == "B-LT"
    status = _pyhanko_status(pdf, tmp_path / "seal.pem")
    assert status.bottom_line, status.pretty_print_details()
    assert status.signing_cert.subject.human_friendly == "Common Name: Fictional Trust Seal"


def test_with_a_tsa_the_seal_is_pades_b_lta(app, db, make_signature, seal_keys, nss_db, tsa, tmp_path):
    _, record, pdf = _sealed(app, db, make_signature)
    assert record.seal_mode == "B-LTA" and tsa.hits and set(tsa.hits) == {"/tsa"}
    status = _pyhanko_status(pdf, root_cert(app))
    assert status.bottom_line and status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.trusted
    path = tmp_path / "blta.pdf"
    path.write_bytes(pdf)
    report = pdfsig_text(path, nss_db)
    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report


def test_an_unreachable_tsa_leaves_the_record_sealed_b_lt_and_queued(app, db, make_signature, seal_keys):
    app.config["PORTAL_TSA_URL"] = "http://127.0.0.1:9/tsa"  # discard port: nothing listens
    sig = make_signature()
    signature_committed.send(app, signature=sig)
    db.expire_all()
    record = db.query(SignedRecord).filter_by(signature_id=sig.id).one()
    assert record.status == "sealed" and record.seal_mode == "B-LT" and record.timestamp_pending
    assert record.timestamped_at is None and record.last_error is None
    assert db.get(type(sig), sig.id) is not None


def _struct_tags(node, out, alts, depth=0):
    """Collect the structure types (and /Alt texts) below *node* of a tagged PDF's structure tree."""
    import pikepdf

    if depth > 200:
        return
    if isinstance(node, pikepdf.Array):
        for kid in node:
            _struct_tags(kid, out, alts, depth + 1)
        return
    if not isinstance(node, pikepdf.Dictionary):
        return
    if "/S" in node:
        out.add(str(node.S))
        if "/Alt" in node:
            alts.append(str(node.Alt))
    if "/K" in node:
        _struct_tags(node.K, out, alts, depth + 1)


def test_the_sealed_pdf_is_tagged_and_keeps_its_pdfa_markers(app, db, make_signature, seal_keys, tsa):
    """Tags for screen readers and the PDF/A-3 markers, read with pikepdf from the final B-LTA file
    (no PDF/A validator is installable here)."""
    import pikepdf

    _, record, pdf = _sealed(app, db, make_signature)
    assert record.seal_mode == "B-LTA"
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        root = doc.Root
        # Tagged: marked content, a structure tree with headings, paragraphs, tables and a described figure.
        assert bool(root.MarkInfo.Marked) is True
        assert str(root.Lang) == "en-GB"
        tags, alts = set(), []
        _struct_tags(root.StructTreeRoot.K, tags, alts)
        assert {"/H1", "/H2", "/P", "/Table", "/TR", "/TH", "/TD", "/Figure"} <= tags, tags
        assert any(a.startswith("QR code of the verification page address") for a in alts), alts
        assert all("/StructParents" in page.obj for page in doc.pages)
        # PDF/A-3 level B identification in the XMP metadata.
        meta = doc.open_metadata()
        assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "B"
        # An sRGB output intent for PDF/A.
        [intent] = list(root.OutputIntents)
        assert str(intent.S) == "/GTS_PDFA1" and "/DestOutputProfile" in intent
        # The evidence JSON is an associated file of the document, with its relationship.
        [spec] = list(root.AF)
        assert str(spec.AFRelationship) == "/Data" and str(spec.F) == "evidence.json"
        names = root.Names.EmbeddedFiles.Names
        assert str(names[0]) == "evidence.json" and names[1].objgen == spec.objgen
        evidence = json.loads(spec.EF.F.read_bytes())
        assert evidence["signature_id"] == record.signature_id


def test_pdfs_made_at_once_in_several_threads_each_come_out_whole():
    """The job worker makes PDFs in several threads at once. Each thread keeps its own WeasyPrint font
    configuration from one PDF to the next (a Pango font map is not for sharing between threads), and
    each PDF carries its own text."""
    import threading

    from portal.records.pdf import _font_config, render_pdf

    page = ("<!doctype html><html lang='en-GB'><head><meta charset='utf-8'><title>Record</title></head>"
            "<body><h1>Computer rules</h1><p>Agreed by Pupil {n} of Wrenfield Class.</p></body></html>")
    made: dict[int, list[bytes]] = {}
    configs: dict[int, object] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def work(n: int) -> None:
        try:
            start.wait(30)
            made[n] = [render_pdf(page.format(n=n)) for _ in range(2)]
            configs[n] = _font_config()
            assert _font_config() is configs[n]
        except BaseException as exc:  # reported below, with the thread that raised it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len({id(c) for c in configs.values()}) == 3 and _font_config() not in configs.values()
    for n, pdfs in made.items():
        for pdf in pdfs:
            text = subprocess.run([_tool("pdftotext"), "-", "-"], input=pdf, capture_output=True, check=True).stdout
            assert f"Agreed by Pupil {n} of Wrenfield Class.".encode() in text, text
