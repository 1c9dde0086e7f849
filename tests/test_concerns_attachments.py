"""Attachments: type from content, size and count limits, storage with random names, and no
half-written concern (no rows, no files) when anything fails."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from portal.audit.models import AuditEntry
from portal.concerns.models import Concern, ConcernAttachment
from portal.concerns.storage import sniff
from tests import concerns_helpers
from tests.concerns_helpers import PDF, PNG, newest, raise_concern

cast = concerns_helpers.cast  # the fixture


def files_in(app) -> list[Path]:
    folder = Path(app.config["PORTAL_UPLOAD_DIR"]) / "concerns"
    return sorted(folder.iterdir()) if folder.exists() else []


def nothing_saved(app, db) -> bool:
    return (db.scalar(select(func.count()).select_from(Concern)) == 0
            and db.scalar(select(func.count()).select_from(ConcernAttachment)) == 0
            and files_in(app) == [])


@pytest.mark.parametrize("head, expected", [
    (PNG, "image/png"), (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"), (b"GIF89a....", "image/gif"),
    (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"), (b"\0\0\0\x18ftypheic\0\0\0\0", "image/heic"), (PDF, "application/pdf"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'>", None), (b"<html><script>", None), (b"MZ\x90\0", None),
    (b"PK\x03\x04", None), (b"", None),
])
def test_types_come_from_the_content(head, expected):
    assert sniff(head[:32]) == expected


def test_good_files_are_stored_outside_the_database_with_random_names(app, cast, login_as, db):
    resp = raise_concern(login_as(cast.parent), files=[("../../etc/Photo of note.png", PNG), ("letter.pdf", PDF)])
    assert resp.status_code == 302
    c = newest(db)
    assert [(a.original_name, a.content_type, a.size) for a in c.attachments] == [
        ("Photo of note.png", "image/png", len(PNG)), ("letter.pdf", "application/pdf", len(PDF))]
    stored = files_in(app)
    assert sorted(p.name for p in stored) == sorted(a.stored_name for a in c.attachments)
    assert all("note" not in p.name and "letter" not in p.name and len(p.name) >= 40 for p in stored)
    assert {p.read_bytes() for p in stored} == {PNG, PDF}
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in stored)


def test_a_pdf_named_png_downloads_as_a_pdf(app, cast, login_as, db):
    raise_concern(login_as(cast.parent), files=[("scan.png", PDF)])
    c = newest(db)
    resp = login_as(cast.head).get(f"/portal/concerns/{c.id}/attachments/{c.attachments[0].id}")
    assert resp.headers["Content-Type"] == "application/pdf"
    assert 'filename=scan.pdf' in resp.headers["Content-Disposition"]


def test_wrong_content_with_a_png_name_is_refused(app, cast, login_as, db):
    resp = raise_concern(login_as(cast.parent), files=[("holiday.png", b"<html><script>alert(1)</script></html>")])
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "“holiday” is not a photo" in page and "Only photos and PDFs can be attached" in page
    assert nothing_saved(app, db)


def test_a_file_over_10_mb_is_refused(app, cast, login_as, db):
    big = PNG + b"\0" * (11 * 1024 * 1024)
    resp = raise_concern(login_as(cast.parent), files=[("small.png", PNG), ("big.png", big)])
    assert resp.status_code == 400
    assert "“big” is larger than 10 MB" in resp.get_data(as_text=True)
    assert nothing_saved(app, db)


def test_four_files_are_refused(app, cast, login_as, db):
    resp = raise_concern(login_as(cast.parent), files=[(f"p{i}.png", PNG) for i in range(4)])
    assert resp.status_code == 400
    assert "up to 3 files; you chose 4" in resp.get_data(as_text=True)
    assert nothing_saved(app, db)


def test_an_empty_file_is_refused(app, cast, login_as, db):
    resp = raise_concern(login_as(cast.parent), files=[("blank.pdf", b"")])
    assert resp.status_code == 400 and "is empty" in resp.get_data(as_text=True)
    assert nothing_saved(app, db)


def test_an_unwritable_upload_folder_saves_nothing(app, cast, login_as, db, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    app.config["PORTAL_UPLOAD_DIR"] = str(blocker)
    resp = raise_concern(login_as(cast.parent), files=[("a.png", PNG)])
    assert resp.status_code == 503 and "not</strong> saved" in resp.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Concern)) == 0


def test_a_database_failure_after_the_files_are_written_removes_them(app, cast, login_as, db):
    """A trigger makes the attachment INSERT fail after both files are on disk."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(text("CREATE TRIGGER fail_attach BEFORE INSERT ON portal_concern_attachments "
                        "BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"))
    else:
        db.execute(text("CREATE FUNCTION fail_attach() RETURNS trigger AS $$ BEGIN "
                        "RAISE EXCEPTION 'simulated failure'; END $$ LANGUAGE plpgsql"))
        db.execute(text("CREATE TRIGGER fail_attach BEFORE INSERT ON portal_concern_attachments "
                        "FOR EACH ROW EXECUTE FUNCTION fail_attach()"))
    db.commit()
    resp = raise_concern(login_as(cast.parent), files=[("a.png", PNG), ("b.pdf", PDF)])
    assert resp.status_code == 503
    assert nothing_saved(app, db)
    assert db.scalar(select(AuditEntry.id).where(AuditEntry.action == "concern.raised")) is None
    assert os.path.isdir(Path(app.config["PORTAL_UPLOAD_DIR"]) / "concerns")  # it did get that far


def test_a_form_sent_back_says_its_files_must_be_chosen_again(app, cast, login_as, db):
    """Finding: a parent attached a photo, forgot a field, and the form came back with the file box empty and
    nothing said; fixing the field and sending would have left the evidence behind."""
    client = login_as(cast.parent)
    resp = raise_concern(client, subject="", files=[("note.png", PNG)])
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and nothing_saved(app, db)
    again = "Attachments are not kept when a form is sent back: choose your photos or PDFs again before you send."
    assert page.count(again) == 2  # in the summary at the top, and under the file box
    assert 'data-portal-control="attachments"' in page
    assert 'aria-describedby="attachments-hint attachments-error"' in page
    # Without files, nothing to choose again.
    page = raise_concern(client, subject="").get_data(as_text=True)
    assert again not in page
    # A refused file has its own message instead.
    page = raise_concern(client, files=[("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'>")]).get_data(as_text=True)
    assert again not in page and "attachments-error" in page
