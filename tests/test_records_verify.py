"""The public verification page: no sign-in, rate limited, no search; genuine / changed / not ours; only
what the PDF itself shows. Records are identified by their SHA-256, not by the id written inside."""
from __future__ import annotations

import io
import re

import pytest
from cryptography import x509
from sqlalchemy import select, update

from portal.people.models import Person, Role
from portal.records.archive import archive_store
from portal.records.models import SignedRecord
from portal.signals import signature_committed
from portal.signatures.models import Signature
from tests.records_support import *  # noqa: F403  (the records fixtures)
from tests.records_support import signed_record_in_school
from tests.test_schools_transfer import new_installation, receiving, run  # noqa: F401  (fixtures)


@pytest.fixture
def sealed(app, db, make_signature, make_person, make_pupil, seal_keys):
    """A parent's sealed record for their child: (signature, record, pdf bytes)."""
    parent = make_person(Role.PARENT, given="Rowan", family="Quill")
    pupil = make_pupil(year_group=3, given="Juniper")
    sig = make_signature(signer=parent, on_behalf_of=pupil)
    signature_committed.send(app, signature=sig)
    db.expire_all()
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert record.is_sealed, record.last_error
    return sig, record, archive_store().get(record.pdf_sha256)


def pupil_name(sig) -> str:
    return sig.on_behalf_of.full_name


def _upload(client, data: bytes, url="/portal/verify/", name="record.pdf"):
    return client.post(url, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def _text(resp) -> str:
    return _text_of(resp.get_data(as_text=True))


def _text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_anyone_can_check_a_genuine_record_without_signing_in(app, sealed):
    sig, record, pdf = sealed
    resp = _upload(app.test_client(), pdf)
    assert resp.status_code == 200
    text = _text(resp)
    assert "Genuine" in text and "Rowan Quill" in text and pupil_name(sig) in text
    assert record.cert_sha256 in text and "PAdES B-LT (long-term: it carries what is needed to check it later)" in text
    # Only what the PDF shows: no IP, email, class, internal ids.
    assert "192.0.2.10" not in text and "@" not in text.replace("&#64;", "")


def test_a_changed_record_and_files_that_are_not_ours(app, sealed, tmp_path):
    _, _, pdf = sealed
    client = app.test_client()
    bad = bytearray(pdf)
    at = pdf.index(b"stream", 200) + 40
    bad[at] ^= 0x01
    assert "Changed" in _text(_upload(client, bytes(bad)))
    # Something appended after sealing (a new page object and revision) is a change too.
    appended = pdf + b"\n99 0 obj\n(an added object)\nendobj\n" + pdf[pdf.rindex(b"xref"):]
    assert "Not ours" not in _text(_upload(client, appended))
    # An unsealed PDF, and one sealed by someone else.
    from portal.records.pdf import render_pdf

    plain = render_pdf("<html lang='en'><title>x</title><p>Hello</p></html>")
    text = _text(_upload(client, plain))
    assert "Not ours" in text and "has no seal" in text
    assert "Not ours" in _text(_upload(client, _foreign_seal(plain)))


def _updated(pdf: bytes, change) -> bytes:
    """*pdf* with an incremental update made by *change(writer)*, as a PDF editor would save it."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_title_changed_after_sealing_is_a_change(app, sealed):
    """Probe finding: an update that only set the file's /Title ("Forged title", which readers show in their
    window) was answered "Genuine: sealed by the school and unchanged since", because pyHanko counts an
    edited /Info as a long-term-validation update."""
    from pyhanko.pdf_utils.generic import NameObject, TextStringObject

    _, _, pdf = sealed
    client = app.test_client()

    def retitle(writer):
        info = writer.trailer["/Info"].get_object()
        info[NameObject("/Title")] = TextStringObject("Forged title")
        writer.update_container(info)

    text = _text(_upload(client, _updated(pdf, retitle)))
    assert "Changed" in text and "title or other details were changed after it was sealed" in text
    assert "unchanged since" not in text
    # An update that changes nothing a reader shows (pyHanko still dates it) stays genuine.
    text = _text(_upload(client, _updated(pdf, lambda writer: writer.update_root())))
    assert "Genuine: sealed by the school and unchanged since." in text


def _xmp_replaced(pdf: bytes, edit) -> bytes:
    """*pdf* with a later revision whose XMP metadata is *edit(the sealed XMP)* (and nothing else changed)."""
    from pyhanko.pdf_utils.generic import NameObject, StreamObject
    from pyhanko.pdf_utils.reader import PdfFileReader

    xml = PdfFileReader(io.BytesIO(pdf), strict=False).root["/Metadata"].data.decode()
    assert edit(xml) != xml

    def change(writer):
        writer._update_meta = lambda: None  # only the forged XMP, not pyHanko's own update of it
        kind = {NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")}
        stream = StreamObject(kind, stream_data=edit(xml).encode())
        writer.root["/Metadata"] = writer.add_object(stream)
        writer.update_root()

    return _updated(pdf, change)


def test_details_a_reader_shows_cannot_be_edited_in_any_other_way(app, sealed):
    """Review findings on the first fix, which compared pyHanko's summary of the details: a repeated /Title (pyHanko
    reads the first, poppler the last), a new /Info key, and a second dc:title or dc:creator entry or a dc:subject
    bag in the XMP (pyHanko reads only the first entry) were all still "Genuine … unchanged since"."""
    from pyhanko.pdf_utils.generic import NameObject, TextStringObject

    _, _, pdf = sealed
    client = app.test_client()

    def info_key(name, value):
        def change(writer):
            writer._update_meta = lambda: None
            info = writer.trailer["/Info"].get_object()
            info[NameObject(name)] = TextStringObject(value)
            writer.update_container(info)
        return change

    repeated = _updated(pdf, info_key("/Xitle", "Forged title ZZ"))
    assert repeated.count(b"/Xitle") == 1
    forged = {
        "a /Title given twice": repeated.replace(b"/Xitle", b"/Title"),
        "a creation date added": _updated(pdf, info_key("/CreationDate", "D:19990101000000Z")),
        "a second XMP title": _xmp_replaced(pdf, lambda x: x.replace(
            "</rdf:li></rdf:Alt></dc:title>",
            '</rdf:li><rdf:li xml:lang="en-GB">Forged title</rdf:li></rdf:Alt></dc:title>')),
        "a second XMP creator": _xmp_replaced(pdf, lambda x: x.replace(
            "</rdf:li></rdf:Seq></dc:creator>", "</rdf:li><rdf:li>Forged co-author</rdf:li></rdf:Seq></dc:creator>")),
        "XMP keywords": _xmp_replaced(pdf, lambda x: x.replace(
            "</rdf:Description>", '<dc:subject xmlns:dc="http://purl.org/dc/elements/1.1/"><rdf:Bag>'
            "<rdf:li>forged keyword</rdf:li></rdf:Bag></dc:subject></rdf:Description>", 1)),
    }
    for what, data in forged.items():
        text = _text(_upload(client, data))
        assert "Changed" in text and "unchanged since" not in text, what
    # XMP written again with the same content (its modification date updated, as pyHanko does) is not a change.
    same = _xmp_replaced(pdf, lambda x: re.sub(r'xmp:ModifyDate="[^"]*"', 'xmp:ModifyDate="2030-01-01T00:00:00+00:00"',
                                                x) if "xmp:ModifyDate" in x else x + " ")
    assert "Genuine: sealed by the school and unchanged since." in _text(_upload(client, same))


def _foreign_seal(pdf: bytes) -> bytes:
    """*pdf* sealed with a stranger's self-signed certificate."""
    import datetime as dt
    import tempfile
    from pathlib import Path

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Larkspur Hollow records seal")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(5).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=9))
            .sign(key, hashes.SHA256()))
    d = Path(tempfile.mkdtemp())
    (d / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    (d / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    signer = signers.SimpleSigner(signing_cert=load_cert_from_pemder(str(d / "c.pem")),
                                  signing_key=load_private_key_from_pemder(str(d / "k.pem"), None),
                                  cert_registry=None)
    meta = signers.PdfSignatureMetadata(field_name="SchoolSeal", subfilter=fields.SigSeedSubFilter.PADES)
    from portal.records import aio

    # pyHanko's sync helper calls asyncio.run, which fails while Playwright's loop runs in this thread.
    out = aio.run(lambda: signers.async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer))
    return out.getvalue()


def _deflated_zeros(size: int) -> bytes:
    import zlib

    packer, chunk = zlib.compressobj(9), b"\0" * (1 << 20)
    return b"".join(packer.compress(chunk) for _ in range(size >> 20)) + packer.flush()


def test_a_malformed_validation_store_is_damaged_not_an_error(app, sealed, caplog):
    """Probe finding: a /DSS whose CRL was garbage, or not an array, made the verification pages answer 500."""
    from pyhanko.pdf_utils.generic import ArrayObject, NameObject, NumberObject, StreamObject

    _, _, pdf = sealed
    client = app.test_client()

    def garbage_crl(writer):
        dss = writer.root["/DSS"].get_object()
        dss[NameObject("/CRLs")] = ArrayObject([writer.add_object(StreamObject(stream_data=b"not a CRL at all"))])
        writer.update_container(dss)

    def not_an_array(writer):
        dss = writer.root["/DSS"].get_object()
        dss[NameObject("/CRLs")] = NumberObject(42)
        writer.update_container(dss)

    for change in (garbage_crl, not_an_array):
        caplog.clear()
        resp = _upload(client, _updated(pdf, change))
        assert resp.status_code == 400 and "This PDF is damaged and cannot be read." in _text(resp), change
        # Logged with its traceback, so a fault of ours answered "damaged" to the public is seen (review).
        [logged] = [r for r in caplog.records if r.getMessage().startswith("PDF could not be checked")]
        assert logged.levelname == "WARNING" and logged.exc_info is not None


def test_an_evidence_stream_that_inflates_hugely_is_not_inflated(app, sealed):
    """Probe finding: a 260 KB upload whose evidence.json inflated to 255 MiB of zeros raised the worker's memory
    by 525 MB (and four at once by 1.5 GB). The evidence is read no further than its 1 MB limit, and no other
    stream of an uploaded file decodes to more than 32 MiB."""
    import tracemalloc

    from pyhanko.pdf_utils.generic import DictionaryObject, NameObject, StreamObject

    from portal.records.rules import EVIDENCE_NAME, check_pdf, read_evidence

    _, _, pdf = sealed
    bomb = _deflated_zeros(128 << 20)

    def inflate_me(writer):
        names = writer.root["/Names"]["/EmbeddedFiles"]["/Names"]
        at = [str(names[i]) for i in range(0, len(names), 2)].index(EVIDENCE_NAME) * 2 + 1
        spec = names[at]
        spec["/EF"][NameObject("/F")] = writer.add_object(StreamObject(
            DictionaryObject({NameObject("/Filter"): NameObject("/FlateDecode")}), encoded_data=bomb))
        writer.update_container(spec)

    forged = _updated(pdf, inflate_me)
    assert len(forged) < len(pdf) + 200_000
    tracemalloc.start()
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader

        assert read_evidence(PdfFileReader(io.BytesIO(forged), strict=False)) is None
        with app.app_context():
            from portal.records.keys import installation_roots

            try:
                check_pdf(forged, trust_roots=installation_roots())
            except Exception as exc:  # noqa: BLE001 - damaged is a fair answer; what it costs is the point
                assert "damaged" in str(exc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 48 << 20, f"{peak >> 20} MiB"
    resp = _upload(app.test_client(), forged)
    assert resp.status_code in (200, 400) and "Genuine" not in _text(resp)


@pytest.mark.parametrize("payload,name,message", [
    (b"", "empty.pdf", "This file is empty"),
    (b"GIF89a not a pdf", "x.pdf", "not a PDF"),
    (b"%PDF-1.7\n1 0 obj", "cut.pdf", "incomplete"),
])
def test_bad_uploads_get_a_clear_error(app, seal_keys, payload, name, message):
    resp = _upload(app.test_client(), payload, name=name)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)


def test_uploads_need_the_csrf_token(app, sealed):
    app.config["WTF_CSRF_ENABLED"] = True
    resp = _upload(app.test_client(), sealed[2])
    assert resp.status_code == 400 and "Genuine" not in _text(resp)


def test_checks_are_rate_limited_per_address(app, sealed):
    app.config["PORTAL_VERIFY_MAX_REQUESTS"] = 3
    client = app.test_client()
    assert [(_upload(client, sealed[2])).status_code for _ in range(3)] == [200, 200, 200]
    assert _upload(client, sealed[2]).status_code == 429
    assert client.get(f"/portal/verify/r/{sealed[1].public_id}").status_code == 429
    # Another address is not affected; the certificate downloads are never limited.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    assert _upload(other, sealed[2]).status_code == 200
    assert client.get("/portal/verify/ca/installation.pem").status_code == 200


def test_the_qr_code_address_shows_the_record_as_its_pdf_shows_it(app, db, sealed):
    sig, record, pdf = sealed
    client = app.test_client()
    resp = client.get(f"/portal/verify/r/{record.public_id}")
    assert resp.status_code == 200
    text = _text(resp)
    assert "Rowan Quill" in text and pupil_name(sig) in text and sig.text_sha256 in text
    assert record.cert_sha256 in text
    # The page shows what the PDF says, not today's database: a later change of name does not show.
    db.execute(update(Person).where(Person.id == sig.signer_id).values(family_name="Renamed"))
    db.commit()
    text = _text(client.get(f"/portal/verify/r/{record.public_id}"))
    assert "Rowan Quill" in text and "Renamed" not in text
    # Uploading a copy on this page compares it with this record.
    assert "Genuine" in _text(_upload(client, pdf, url=f"/portal/verify/r/{record.public_id}"))
    # No search: unknown or malformed references are simply not found.
    assert client.get("/portal/verify/r/" + "f" * 32).status_code == 404
    assert client.get("/portal/verify/r/ROWAN").status_code == 404
    assert client.get("/portal/verify/?q=Quill").status_code == 200
    assert "Rowan" not in client.get("/portal/verify/?q=Quill").get_data(as_text=True)


def test_another_genuine_record_uploaded_on_a_records_page_is_named_as_another(app, db, sealed, make_signature):
    _, record, _ = sealed
    other = make_signature()
    signature_committed.send(app, signature=other)
    db.expire_all()
    other_pdf = archive_store().get(db.scalar(select(SignedRecord.pdf_sha256).where(
        SignedRecord.signature_id == other.id)))
    page = _upload(app.test_client(), other_pdf, url=f"/portal/verify/r/{record.public_id}").get_data(as_text=True)
    # Probe finding: it was a green "Genuine" box, with the warning only as its second point.
    box = re.search(r'<section aria-labelledby="upload-heading" class="alert ([a-z-]+)".*?</section>', page, re.S)
    assert box and box.group(1) == "alert-warning", box
    text = _text_of(box.group(0))
    assert "A different record" in text and "Genuine" not in text
    assert "This file is a genuine record of the school, but not the record this page is about." in text
    assert f"It records signature {other.id}." in text


def test_every_school_of_the_installation_is_recognised(app, db, make_school, sealed):
    other = make_school("oak-lane", name="Oak Lane Primary (fictional)")
    sha = signed_record_in_school(db, other.id)
    from portal.schools.isolation import school_scope

    with school_scope(db, other.id):
        pdf = archive_store(other).get(sha)
    text = _text(_upload(app.test_client(), pdf))
    assert "Genuine" in text and "Oak Lane Primary (fictional)" in text


def _signatures_of_its_own(other_app, n: int) -> None:
    import datetime as dt

    from portal.db import session
    from portal.policies.models import Policy, PolicyVersion
    from portal.schools.isolation import school_scope
    from portal.schools.models import School

    with other_app.app_context():
        own = session.scalar(select(School).where(School.slug == "ashdown-vale"))
        with school_scope(session, own.id):
            person = session.scalar(select(Person).limit(1))
            policy = Policy(slug="ashdown-aup", title="Ashdown agreement", audience="parent")
            version = PolicyVersion(policy=policy, number=1, status="published", title=policy.title, body_md="Be kind.")
            session.add(policy)
            session.flush()
            for _ in range(n):
                session.add(Signature(version_id=version.id, signer_id=person.id, signer_role="parent",
                                      signed_name=person.full_name, text_sha256="0" * 64, ip="192.0.2.1",
                                      user_agent="t", academic_year=2026,
                                      signed_at=dt.datetime(2026, 9, 10, tzinfo=dt.UTC)))
            session.commit()


def test_a_record_moved_to_another_installation_is_found_by_its_sha256(
        app, db, sealed, receiving, tmp_path):  # noqa: F811  (receiving is the imported fixture)
    """Ids change when a school is exported and imported elsewhere; the archive is content-addressed,
    so the record is found by the file's SHA-256 (the id written inside is only a hint)."""
    from portal.db import session
    from portal.records.verify import verify_pdf
    from portal.schools.isolation import school_scope
    from portal.schools.models import School

    sig, record, pdf = sealed
    _signatures_of_its_own(receiving, 5)  # so every imported signature gets another id
    out = tmp_path / "export"
    assert run(app, "schools", "export", "test-school", "--out", str(out)).exit_code == 0
    result = run(receiving, "schools", "import", str(out))
    assert result.exit_code == 0, result.output
    with receiving.app_context():
        school = session.scalar(select(School).where(School.slug == "test-school"))
        with school_scope(session, school.id):
            verdict = verify_pdf(pdf)
            assert verdict.genuine, (verdict.summary, verdict.problems)
            assert verdict.record is not None and verdict.record.public_id == record.public_id
            assert verdict.signature_id != sig.id and verdict.evidence["signature_id"] == sig.id
    # The receiving installation's public page knows it too (the trust's root came with the export).
    text = _text(_upload(receiving.test_client(), pdf))
    assert "Genuine" in text and "Rowan Quill" in text


def test_root_certificates_and_crls_are_listed_and_downloadable(app, sealed):
    client = app.test_client()
    page = client.get("/portal/verify/").get_data(as_text=True)
    assert "/portal/verify/ca/installation.pem" in page and "/portal/verify/ca/installation.crl" in page
    root = x509.load_pem_x509_certificate(client.get("/portal/verify/ca/installation.pem").data)
    crl = x509.load_der_x509_crl(client.get("/portal/verify/ca/installation.crl").data)
    assert crl.is_signature_valid(root.public_key())
    assert root.fingerprint(__import__("cryptography").hazmat.primitives.hashes.SHA256()).hex() in page


@pytest.mark.browser
def test_verification_page_is_accessible(app, sealed, new_page, server):
    page = new_page()
    page.goto(f"/portal/verify/r/{sealed[1].public_id}")
    assert page.get_by_role("heading", name="Sealed record").is_visible()
    from tests.browser import assert_accessible

    assert_accessible(page)
    page.goto("/portal/verify/")
    page.set_input_files("input[type=file]", files=[{"name": "r.pdf", "mimeType": "application/pdf",
                                                     "buffer": sealed[2]}])
    with page.expect_navigation():
        page.get_by_role("button", name="Check this file").click()
    assert page.get_by_role("heading", name="Genuine", exact=True).is_visible()
    assert_accessible(page)


def test_a_welsh_reader_checks_a_record_in_welsh(app, db, sealed, make_person, login_as):
    sig, record, pdf = sealed
    reader = make_person(Role.PARENT, given="Elin", email="elin@family.example")
    reader.account.language = "cy"
    db.commit()
    client = login_as(reader)
    page = _text(client.get("/portal/verify/"))
    assert "Uwchlwythwch gofnod PDF a wnaed gan y porth hwn" in page and "Gwirio’r ffeil hon" in page
    text = _text(_upload(client, pdf))
    assert "Dilys" in text and "Seliwyd gan" in text and "Lefel y sêl" in text
    assert f"Dilys: wedi’i selio gan yr ysgol a heb ei newid ers hynny. Mae’n cofnodi llofnod {sig.id}." in text
    assert "Rowan Quill" in text and "Sealed by" not in text
    text = _text(client.get(f"/portal/verify/r/{record.public_id}"))
    assert "Copi wedi’i selio yr ysgol" in text and "Mae’r ysgol yn cadw’r cofnod hwn" in text
