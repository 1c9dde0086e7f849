"""The auditor portal: filtering, one PDF, the streamed ZIP export, and checking an uploaded PDF."""
from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile

import pytest
from sqlalchemy import select, text

from portal.audit.models import AuditEntry
from portal.people.models import Person, Role
from portal.records.models import SignedRecord
from portal.signals import signature_committed
from tests.records_support import make_signature, make_version, seal_keys, tsa  # noqa: F401  (fixtures)


def _seal(app, db, sigs) -> None:
    for sig in sigs:
        signature_committed.send(app, signature=sig)
    db.expire_all()
    assert all(r.is_sealed for r in db.scalars(select(SignedRecord)))


@pytest.fixture
def kit_2026(make_signature, make_version, make_pupil, make_class, make_person, seal_keys):
    """Marigold Fenwick's countersignature of the parents' agreement for Kit (Robins, Reception), not sealed yet."""
    robins = make_class(year_group=0, name="Robins")
    kit = make_pupil(year_group=0, school_class=robins, given="Kit")
    parent_policy = make_version(title="Parents agreement", audience="parent")
    parent = make_person(Role.PARENT, given="Marigold", family="Fenwick")
    sig = make_signature(version=parent_policy, signer=parent, on_behalf_of=kit, year=2026)
    return {"sig": sig, "robins": robins, "parent_policy": parent_policy}


@pytest.fixture
def records(app, db, kit_2026, make_signature, make_version, make_pupil, make_class, make_person):
    """Four sealed records across years, policies, audiences and classes."""
    owls = make_class(year_group=5, name="Owls")
    oli = make_pupil(year_group=5, school_class=owls, given="Oli")
    parent_policy = kit_2026["parent_policy"]
    pupil_policy = make_version(title="Pupil computer rules", audience="pupil_ks2", consents=())
    other = make_person(Role.PARENT, given="Basil", family="Thornby")
    sigs = {
        "kit_2026": kit_2026["sig"],
        "oli_2026": make_signature(version=parent_policy, signer=other, on_behalf_of=oli, year=2026),
        "oli_2025": make_signature(version=parent_policy, signer=other, on_behalf_of=oli, year=2025),
        "oli_self": make_signature(version=pupil_policy, signer=oli, year=2026, answers=()),
    }
    _seal(app, db, sigs.values())
    return {"sigs": sigs, "robins": kit_2026["robins"], "owls": owls, "parent_policy": parent_policy, "oli": oli}


@pytest.fixture
def auditor(make_person, login_as):
    return login_as(make_person(Role.AUDITOR, given="Ada"))


def _ids(html: bytes, sigs) -> set[str]:
    return {name for name, s in sigs.items() if f"/portal/auditor/records/{s.id}.pdf".encode() in html}


FILTER_CASES = [
    ("", {"kit_2026", "oli_2026", "oli_2025", "oli_self"}),
    ("year=2025", {"oli_2025"}),
    ("policy={parent_policy}", {"kit_2026", "oli_2026", "oli_2025"}),
    ("audience=pupil_ks2", {"oli_self"}),
    ("school_class={robins}", {"kit_2026"}),
    ("school_class={owls}&year=2026", {"oli_2026", "oli_self"}),
    ("person=marigold", {"kit_2026"}),
    ("person=Oli", {"oli_2026", "oli_2025", "oli_self"}),
    ("person=%25", set()),  # a LIKE wildcard is matched literally
]


def test_the_person_filter_finds_a_name_typed_without_its_accents_or_case(app, db, records, auditor):
    """The signer's name is compared folded, as stored when it changed: after a new family name, "marigold o
    dalaigh" finds Mărigöld Ó Dálaigh, and the old family name finds nobody."""
    signer = db.get(Person, records["sigs"]["kit_2026"].signer_id)
    signer.given_name, signer.family_name = "Mărigöld", "Ó Dálaigh"
    db.commit()
    for typed in ("marigold", "MĂRIGÖLD Ó DÁLAIGH", "marigold o dalaigh", "dalaigh"):
        resp = auditor.get("/portal/auditor/", query_string={"person": typed})
        assert _ids(resp.data, records["sigs"]) == {"kit_2026"}, typed
    for typed in ("fenwick", "marigold thornby", "¨"):  # an accent alone is no name (it matched everyone)
        resp = auditor.get("/portal/auditor/", query_string={"person": typed})
        assert resp.status_code == 200 and _ids(resp.data, records["sigs"]) == set(), typed


def test_a_signer_stored_without_a_key_is_found_by_their_names(app, db, records, auditor):
    """Rows written by a release before migration 0014 (a rolling upgrade) have the empty key."""
    db.execute(text("UPDATE portal_people SET name_key = ''"))
    db.commit()
    for typed, expected in (("marigold", {"kit_2026"}), ("MARIGOLD FENWICK", {"kit_2026"}),
                            ("basil thornby", {"oli_2026", "oli_2025"}), ("nobody", set())):
        resp = auditor.get("/portal/auditor/", query_string={"person": typed})
        assert _ids(resp.data, records["sigs"]) == expected, typed


def test_filters(app, records, auditor):
    """Each filter narrows the list (one set of records, many queries)."""
    for query, expected in FILTER_CASES:
        query = query.format(parent_policy=records["parent_policy"].policy_id, robins=records["robins"].id,
                             owls=records["owls"].id)
        resp = auditor.get(f"/portal/auditor/?{query}")
        assert resp.status_code == 200, query
        assert _ids(resp.data, records["sigs"]) == expected, query


def test_bad_filter_values_get_a_clear_error(app, auditor):
    for query in ["year=abc", "policy=999999", "audience=martians", "school_class=x", "person=" + "x" * 101]:
        resp = auditor.get(f"/portal/auditor/?{query}")
        assert resp.status_code == 400 and b"Some filter values are not valid" in resp.data, query
        assert auditor.get(f"/portal/auditor/export.zip?{query}").status_code == 400, query


def test_download_one_pdf_is_audited(app, db, records, auditor):
    sig = records["sigs"]["kit_2026"]
    resp = auditor.get(f"/portal/auditor/records/{sig.id}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert hashlib.sha256(resp.data).hexdigest() == record.pdf_sha256
    last = db.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert last.action == "record.downloaded" and last.target_id == str(record.id)
    assert auditor.get("/portal/auditor/records/999999.pdf").status_code == 404


def _check_zip(data: bytes, db, expected_sigs):
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    names = zf.namelist()
    assert names[-2:] == ["manifest.csv", "audit-chain-head.txt"]
    rows = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
    assert {int(r["signature_id"]) for r in rows} == {s.id for s in expected_sigs}
    for row in rows:
        pdf = zf.read(row["file"])
        assert hashlib.sha256(pdf).hexdigest() == row["sha256"] and int(row["size"]) == len(pdf)
        assert row["status"] == "sealed"
    head = zf.read("audit-chain-head.txt").decode()
    return rows, head


def test_zip_export_holds_pdfs_manifest_and_chain_head(app, db, records, auditor):
    resp = auditor.get("/portal/auditor/export.zip?year=2026")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    assert resp.is_streamed
    # Walk finding: the file was named after its audit entry ("signed-records-368.zip"); now the school and day.
    from portal.concerns.schooldays import uk_today
    from portal.schools.models import School

    name = f"signed-records-{School.get().slug}-{uk_today().isoformat()}.zip"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    sigs = records["sigs"]
    rows, head = _check_zip(resp.data, db, [sigs["kit_2026"], sigs["oli_2026"], sigs["oli_self"]])
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "records.exported"))
    assert entry.data == {"filters": {"academic_year": 2026}}
    assert f"Audit chain head (SHA-256 of the newest entry): {entry.hash}" in head  # the export's own entry
    pupil_row = next(r for r in rows if int(r["signature_id"]) == sigs["kit_2026"].id)
    assert pupil_row["class"] == "Robins" and pupil_row["academic_year"] == "2026-27"


def test_cli_export_writes_the_same_zip(app, db, records, tmp_path):
    out = tmp_path / "export.zip"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "records", "export", "--out", str(out), "--person", "oli"])
    assert result.exit_code == 0, result.output
    sigs = records["sigs"]
    _check_zip(out.read_bytes(), db, [sigs["oli_2026"], sigs["oli_2025"], sigs["oli_self"]])
    again = runner.invoke(args=["portal", "records", "export", "--out", str(out)])
    assert again.exit_code != 0 and "already exists" in again.output


def test_a_large_export_is_a_valid_zip64_free_stream(app, db, tmp_path):
    """The streaming writer alone: many entries, read back by Python's zipfile and by `zip -T`."""
    import shutil
    import subprocess

    from portal.records.zipstream import StreamingZip

    z = StreamingZip()
    out = tmp_path / "many.zip"
    with out.open("wb") as fh:
        for i in range(300):
            for chunk in z.entry(f"f/{i}.bin", [bytes([i % 256]) * (i * 37), b"end"]):
                fh.write(chunk)
        for chunk in z.finish():
            fh.write(chunk)
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None and len(zf.namelist()) == 300
        assert zf.read("f/299.bin") == bytes([299 % 256]) * (299 * 37) + b"end"
    if shutil.which("zip"):
        check = subprocess.run(["zip", "-T", str(out)], capture_output=True, check=False, text=True)
        assert check.returncode == 0 and "OK" in check.stdout, check.stdout + check.stderr


# ------------------------------------------------------------------ verification


def _upload(client, data: bytes, name="record.pdf"):
    return client.post("/portal/auditor/verify", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


@pytest.fixture
def archived_pdf(app, db, kit_2026):
    """Kit's record, sealed, and its PDF as archived (the only record these tests need)."""
    from portal.records.archive import archive_store

    sig = kit_2026["sig"]
    _seal(app, db, [sig])
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    return sig, archive_store().get(record.pdf_sha256)


def test_verify_page_recognises_a_genuine_record(app, db, archived_pdf, auditor, make_person, login_as):
    sig, pdf = archived_pdf
    resp = _upload(auditor, pdf)
    assert resp.status_code == 200
    assert f"records signature {sig.id}".encode() in resp.data
    assert b"Genuine record" in resp.data and b"Marigold Fenwick" in resp.data
    # The level in words as well as its name, and "None" in the reader's language (it was an English literal).
    page = resp.get_data(as_text=True)
    assert "PAdES B-LT (long-term: it carries what is needed to check it later)" in page
    assert re.search(r"Trusted time stamp</dt><dd[^>]*>None</dd>", page)
    welsh_auditor = make_person(Role.AUDITOR, given="Elin")
    welsh_auditor.account.language = "cy"
    db.commit()
    page = _upload(login_as(welsh_auditor), pdf).get_data(as_text=True)
    assert re.search(r"<dd[^>]*>Dim</dd>", page) and "hirdymor" in page and ">None<" not in page
    last = db.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert last.action == "record.verified" and last.data["genuine"] is True


def test_verify_page_catches_a_changed_record(app, archived_pdf, auditor):
    _, pdf = archived_pdf
    bad = bytearray(pdf)
    bad[pdf.index(b"stream", 200) + 40] ^= 1
    resp = _upload(auditor, bytes(bad))
    assert resp.status_code == 200 and b"has been changed since" in resp.data
    # A later incremental update (as an editor would save) is outside the seal.
    from pyhanko.pdf_utils.generic import NameObject, TextStringObject
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root[NameObject("/Lang")] = TextStringObject("fr-FR")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    resp = _upload(auditor, out.getvalue())
    assert resp.status_code == 200 and b"Not a genuine, unchanged record" in resp.data
    assert b"Something was added to the file after it was sealed." in resp.data


def test_verify_page_after_a_key_change_and_for_another_school(app, archived_pdf, auditor, tmp_path):
    sig, pdf = archived_pdf
    # The school replaces its key: records sealed with the old one still verify.
    result = app.test_cli_runner().invoke(args=["portal", "keys", "init", "--force"])
    assert result.exit_code == 0, result.output
    resp = _upload(auditor, pdf)
    assert f"records signature {sig.id}".encode() in resp.data

    # Another school (its own keys folder) does not recognise our record.
    app.config["PORTAL_KEYS_DIR"] = str(tmp_path / "other-school-keys")
    assert app.test_cli_runner().invoke(args=["portal", "keys", "init"]).exit_code == 0
    resp = _upload(auditor, pdf)
    assert b"not with this school" in resp.data and b"Genuine record" not in resp.data
    # Walk finding: "Unchanged since sealing: No" read as tampering, for a check that was never made.
    assert b"Not checked (not sealed by this school)" in resp.data


def test_verify_page_bad_uploads(app, auditor):
    for data, message in [
        (None, b"Choose a PDF file to check."),
        (b"", b"This file is empty."),
        (b"hello, not a pdf", b"This file is not a PDF"),
        (b"%PDF-1.7\n1 0 obj <<>> endobj\n", b"This PDF is incomplete"),
        (b"%PDF-1.7\ngarbage garbage\n%%EOF\n", b"damaged"),
    ]:
        resp = _upload(auditor, data) if data is not None else auditor.post("/portal/auditor/verify", data={})
        assert resp.status_code == 400 and message in resp.data, message


def test_verify_page_unsealed_pdf_and_too_large(app, auditor, seal_keys):
    from portal.records.pdf import render_pdf

    plain = render_pdf("<p>Just a letter</p>")
    resp = _upload(auditor, plain)
    assert resp.status_code == 200 and b"this PDF has no seal" in resp.data
    # (A small limit: the test client spools large bodies to files it never closes.)
    app.config["PORTAL_RECORDS_MAX_VERIFY_BYTES"] = 100 * 1024
    resp = _upload(auditor, b"%PDF-1.7\n" + b"0" * (100 * 1024))
    assert resp.status_code == 400 and b"larger than 100 KB" in resp.data


def test_cli_verify(app, archived_pdf, tmp_path):
    sig, pdf = archived_pdf
    good, bad, junk = tmp_path / "good.pdf", tmp_path / "bad.pdf", tmp_path / "junk.pdf"
    good.write_bytes(pdf)
    broken = bytearray(pdf)
    broken[pdf.index(b"stream", 200) + 40] ^= 1
    bad.write_bytes(bytes(broken))
    junk.write_bytes(b"not a pdf")
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["portal", "records", "verify", str(good)])
    assert ok.exit_code == 0 and f"records signature {sig.id}" in ok.output
    assert "Identical to archived record" in ok.output
    changed = runner.invoke(args=["portal", "records", "verify", str(bad)])
    assert changed.exit_code == 1 and "has been changed since" in changed.output
    nopdf = runner.invoke(args=["portal", "records", "verify", str(junk)])
    assert nopdf.exit_code == 1 and "This file is not a PDF" in nopdf.output


def test_manifest_has_witness_seal_level_and_time_stamp_and_neutralises_formulas(app, db, make_signature,
                                                                               make_person, seal_keys, tsa,
                                                                               auditor):
    """Cells a spreadsheet would run (=, +, -, @, tab, CR first) come out as text."""
    teacher = make_person(Role.TEACHER, given="+SUM(A1)", family="Witness")
    parent = make_person(Role.PARENT, given="=HYPERLINK(\"http://x.example\")", family="Fenwick")
    sig = make_signature(signer=parent, witness=teacher, method="in_class")
    signature_committed.send(app, signature=sig)
    db.expire_all()
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    data = auditor.get("/portal/auditor/export.zip").data
    rows = list(csv.DictReader(io.StringIO(zipfile.ZipFile(io.BytesIO(data)).read("manifest.csv").decode())))
    [row] = [r for r in rows if int(r["signature_id"]) == sig.id]
    assert row["seal_level"] == "B-LTA"
    assert row["timestamp_utc"] == record.timestamped_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert row["witness"] == "'+SUM(A1) Witness"
    assert row["signer"] == "'=HYPERLINK(\"http://x.example\") Fenwick"


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(1)", "'@SUM(1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("", ""), (5, 5), (None, None),
])
def test_csv_cells_that_would_run_as_formulas_are_neutralised(value, expected):
    from portal.csvsafe import csv_cell

    assert csv_cell(value) == expected


def test_every_csv_the_portal_writes_goes_through_csvsafe():
    """A new CSV writer must neutralise its cells too (the OneRoster conversion is an internal file
    fed straight back into the roster import, never opened in a spreadsheet)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "portal"
    writers = [p for p in root.rglob("*.py") if "csv.writer(" in p.read_text() or "csv.DictWriter(" in p.read_text()]
    assert writers, "no CSV writers found: this test looks in the wrong place"
    for path in writers:
        if path.name in ("oneroster.py", "oneroster_convert.py"):
            continue
        assert "portal.csvsafe" in path.read_text(), f"{path} writes CSV without portal.csvsafe"
