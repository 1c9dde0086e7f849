"""Roster CSV import: CLI and upload page, errors by file and row, idempotent, all or nothing."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from portal.people.models import ClassTeacher, GuardianLink, Person, PupilProfile, Role, SchoolClass

HEADER = ("type,external_id,given_name,family_name,email,year_group,date_of_birth,class_code,class_name,send,roles,"
          "children,teachers\n")
GOOD = HEADER + """staff,S1,Tilly,Teachwell,tilly@test.example,,,,,,teacher,,
staff,S2,Gil,Governson,gil@test.example,,,,,,governor;volunteer,,
class,1K,,,,1,,,Year 1 Kingfishers,,,,S1
pupil,P1,Ada,Brook,,1,2019-10-02,1K,,no,,,
pupil,P2,Ben,Brook,,R,2021-01-20,1K,,yes,,,
parent,G1,Gail,Brook,gail@test.example,,,,,,,P1;P2,
"""


def _counts(db):
    return (
        db.scalar(select(func.count(Person.id))),
        db.scalar(select(func.count(SchoolClass.id))),
        db.scalar(select(func.count(GuardianLink.id))),
        db.scalar(select(func.count(PupilProfile.person_id))),
    )


def _run(app, tmp_path, text, name="roster.csv"):
    path = tmp_path / name
    path.write_text(text)
    return app.test_cli_runner().invoke(args=["portal", "import-roster", str(path)])


def test_cli_import_then_reimport_changes_nothing(app, db, tmp_path):
    result = _run(app, tmp_path, GOOD)
    assert result.exit_code == 0, result.output
    assert "Created 1 class, 2 pupil, 1 parent, 2 staff" in result.output
    db.expire_all()
    assert _counts(db) == (5, 1, 2, 2)
    gail = db.scalar(select(Person).where(Person.external_id == "G1"))
    assert gail.has_role(Role.PARENT) and gail.email == "gail@test.example"
    gil = db.scalar(select(Person).where(Person.external_id == "S2"))
    assert gil.role_set == {Role.GOVERNOR, Role.VOLUNTEER}
    ben = db.scalar(select(Person).where(Person.external_id == "P2"))
    assert ben.pupil.year_group == 0 and ben.pupil.send is True
    cls = db.scalar(select(SchoolClass))
    assert [t.teacher.external_id for t in cls.teachers] == ["S1"]

    again = _run(app, tmp_path, GOOD)
    assert again.exit_code == 0
    assert "nothing new; updated nothing; 6 row(s) already up to date" in again.output
    db.expire_all()
    assert _counts(db) == (5, 1, 2, 2)


def test_reimport_updates_changed_rows(app, db, tmp_path):
    _run(app, tmp_path, GOOD)
    changed = (GOOD.replace("Year 1 Kingfishers", "Year 1 Kites")
               .replace("Ada,Brook,,1,2019-10-02", "Ada,Brooke,,1,2019-10-02"))
    result = _run(app, tmp_path, changed)
    assert "updated 1 class, 1 pupil" in result.output
    db.expire_all()
    assert db.scalar(select(SchoolClass.name)) == "Year 1 Kites"


@pytest.mark.parametrize(
    "bad_row, message",
    [
        ("pupil,P9,Cy,Dale,,14,2015-01-01,1K,,,,,", "row 8: year_group must be N, R or 1 to 13"),
        ("pupil,P9,Cy,Dale,,3,2015-13-01,1K,,,,,", "row 8: date_of_birth '2015-13-01' is not a date written"),
        ("pupil,P9,Cy,Dale,,3,2015-01-01,ZZ,,,,,", "row 8: class_code ZZ is not a class"),
        ("parent,G9,Di,Dale,not-an-email,,,,,,,P1,", "row 8: email 'not-an-email' is not an email address"),
        ("parent,G9,Di,Dale,di@test.example,,,,,,,P404,", "row 8: child P404 is not a pupil"),
        ("staff,S9,Ed,Eve,ed@test.example,,,,,,wizard,,", "row 8: unknown role(s) wizard"),
        ("staff,S1,Tilly,Again,t2@test.example,,,,,,teacher,,", "row 8: external_id S1 already used on row 2"),
        ("parent,G9,Di,Dale,gail@test.example,,,,,,,P1,", "row 8: email gail@test.example already used on row 7"),
        ("robot,R1,,,,,,,,,,,", "row 8: type must be class, pupil, parent or staff"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_written(app, db, tmp_path, bad_row, message):
    result = _run(app, tmp_path, GOOD + bad_row + "\n", name="school.csv")
    assert result.exit_code != 0
    assert f"school.csv {message}" in result.output
    assert "Nothing was imported" in result.output
    db.expire_all()
    assert _counts(db) == (0, 0, 0, 0)


def test_every_problem_in_a_file_is_reported_at_once(app, db, tmp_path):
    """Walk finding: the first upload named the bad email address; only after fixing it did the next upload name the
    unknown class and the unknown child. A reference to a row that is itself refused is not reported twice."""
    bad = (GOOD + "parent,G9,Di,Dale,not-an-email,,,,,,,P1,\n"
           + "pupil,P9,Cy,Dale,,3,2015-01-01,ZZ,,,,,\n"
           + "parent,G10,Eli,Dale,eli@test.example,,,,,,,P404,\n"
           + "pupil,P10,Fay,Dale,,3,2015-13-01,1K,,,,,\n"
           + "parent,G11,Gus,Dale,gus@test.example,,,,,,,P10,\n")
    result = _run(app, tmp_path, bad, name="school.csv")
    assert result.exit_code != 0
    out = result.output
    for expected in ("school.csv row 8: email 'not-an-email' is not an email address",
                     "school.csv row 9: class_code ZZ is not a class",
                     "school.csv row 10: child P404 is not a pupil",
                     "school.csv row 11: date_of_birth '2015-13-01' is not a date"):
        assert expected in out, (expected, out)
    assert "row 12" not in out  # its child P10 is the refused row 11: that row is the problem
    db.expire_all()
    assert _counts(db) == (0, 0, 0, 0)


def test_staff_roles_are_read_in_any_case(app, db, tmp_path):
    """Walk finding: "Teacher" was refused as an unknown role only because of its capital letter."""
    result = _run(app, tmp_path, GOOD + "staff,S9,Ed,Eve,ed@test.example,,,,,,Teacher; Governor,,\n")
    assert result.exit_code == 0, result.output
    db.expire_all()
    ed = db.scalar(select(Person).where(Person.external_id == "S9"))
    assert {Role.TEACHER.value, Role.GOVERNOR.value} <= {r.role for r in ed.roles}


def test_a_long_value_names_the_limit_with_the_readers_digit_grouping(app):
    """Review finding: the limit was written "131,072" in every language."""
    import csv

    from portal.messages import shown
    from portal.people.roster import csv_problem

    problem = csv_problem(csv.Error("field larger than field limit (131072)"), "roster.csv row 3")
    assert problem == "roster.csv row 3: a value is longer than 131,072 characters."
    with app.test_request_context(headers={"Accept-Language": "ro"}):
        assert "131.072" in shown(problem)


def test_header_and_encoding_errors(app, tmp_path):
    result = _run(app, tmp_path, "type,external_id,shoe_size\nstaff,S1,9\n")
    assert "roster.csv row 1: unknown column(s) shoe_size" in result.output
    result = _run(app, tmp_path, "type,external_id," + "x" * 140_000 + "\nstaff,S1,9\n")
    assert "roster.csv row 1: a value is longer than 131,072 characters." in result.output, result.output[-300:]
    path = tmp_path / "latin1.csv"
    path.write_bytes("type,external_id,given_name\nstaff,S1,Zo\xe9\n".encode("latin-1"))
    result = app.test_cli_runner().invoke(args=["portal", "import-roster", str(path)])
    assert "not UTF-8" in result.output


def test_a_column_named_twice_is_refused(app, db, tmp_path):
    """Finding: with two email columns the reader silently kept the second."""
    result = _run(app, tmp_path, "type,external_id,given_name,family_name,email,email\n"
                                 "parent,G1,Gail,Brook,gail@test.example,other@test.example\n")
    assert result.exit_code != 0
    assert "roster.csv row 1: column(s) email appear more than once." in result.output
    assert "Nothing was imported" in result.output
    db.expire_all()
    assert _counts(db) == (0, 0, 0, 0)
    # A name with spaces around it is the same column.
    result = _run(app, tmp_path, "type,external_id, given_name,given_name ,family_name\n")
    assert "roster.csv row 1: column(s) given_name appear more than once." in result.output


@pytest.mark.parametrize("separator, words", [(";", "semicolons (;)"), ("\t", "tabs")])
def test_a_file_separated_by_semicolons_or_tabs_is_named_as_such(app, db, tmp_path, separator, words):
    """Finding: Excel's "CSV" in much of Europe is separated by semicolons, and was refused as one long
    unknown column "type;external_id;…"."""
    rows = list(csv.reader(io.StringIO(GOOD)))
    out = io.StringIO()
    csv.writer(out, delimiter=separator, lineterminator="\r\n").writerows(rows)  # as Excel writes it
    result = _run(app, tmp_path, out.getvalue())
    assert result.exit_code != 0
    assert (f"roster.csv: the values are separated by {words}, not commas. In Excel, save the file as "
            "'CSV UTF-8 (comma delimited)' and import it again.") in result.output
    assert "unknown column" not in result.output and "Nothing was imported" in result.output
    db.expire_all()
    assert _counts(db) == (0, 0, 0, 0)


def test_a_one_column_file_that_is_not_ours_is_still_an_unknown_column(app, tmp_path):
    result = _run(app, tmp_path, "name;age\nAda;7\n")
    assert "roster.csv row 1: unknown column(s) name;age." in result.output
    assert "separated by" not in result.output


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_quotation_mark_left_open_is_named_on_its_row(app, db, tmp_path, newline):
    """Finding: a row with an unclosed quotation mark swallowed the rows after it, and the only message was
    about a control character (U+000D) in family_name."""
    text = (GOOD + 'parent,G9,Bob,"Unterminated,bob@test.example,,,,,,,P1,\n'
            "parent,G8,Cy,Dale,cy@test.example,,,,,,,P2,\n").replace("\n", newline)
    path = tmp_path / "school.csv"
    path.write_bytes(text.encode())
    result = app.test_cli_runner().invoke(args=["portal", "import-roster", str(path)])
    assert result.exit_code != 0
    assert ('school.csv row 8: a quotation mark (") in family_name seems not to be closed, so the value runs on '
            "over the lines after it. Close or remove the quotation mark and import the file again.") in result.output
    assert "control" not in result.output and "Nothing was imported" in result.output
    db.expire_all()
    assert _counts(db) == (0, 0, 0, 0)


def test_upload_page_imports_and_reports_errors(app, db, make_person, login_as):
    admin = make_person(Role.ADMIN)
    client = login_as(admin)
    bad = GOOD + "pupil,P9,Cy,Dale,,3,2015-01-01,ZZ,,,,,\n"
    resp = client.post("/portal/admin/roster", data={"file": (io.BytesIO(bad.encode()), "upload.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    assert b"Nothing was imported" in resp.data and b"upload.csv row 8: class_code ZZ" in resp.data
    db.expire_all()
    assert _counts(db)[1:] == (0, 0, 0)
    resp = client.post("/portal/admin/roster", data={"file": (io.BytesIO(GOOD.encode()), "upload.csv")},
                       content_type="multipart/form-data", follow_redirects=True)
    assert resp.status_code == 200 and b"Created 1 class" in resp.data
    db.expire_all()
    assert db.scalar(select(func.count(ClassTeacher.id))) == 1


def test_upload_without_file_and_oversize_file_are_refused(app, make_person, login_as):
    client = login_as(make_person(Role.ADMIN))
    resp = client.post("/portal/admin/roster", data={}, content_type="multipart/form-data")
    assert resp.status_code == 400 and b"Choose a CSV file" in resp.data
    app.config["PORTAL_MAX_ROSTER_BYTES"] = 100
    resp = client.post("/portal/admin/roster", data={"file": (io.BytesIO(GOOD.encode()), "big.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400 and b"big.csv: the file is larger than" in resp.data


def test_the_portal_sets_flasks_body_limit_unless_the_host_did(app_config):
    """Flask's defaults hold MAX_CONTENT_LENGTH = None, which once kept the portal's limit from being set:
    a 110 MB upload was read in full before any form refused it."""
    from portal.app import create_app

    app = create_app({**app_config, "PORTAL_MAX_UPLOAD_BYTES": 2000})
    assert app.config["MAX_CONTENT_LENGTH"] == 2000
    resp = app.test_client().post("/portal/auth/login", data={"file": (io.BytesIO(b"x" * 5000), "big.bin")},
                                  content_type="multipart/form-data")
    assert resp.status_code == 413 and b"too large" in resp.data
    app.extensions["portal"].engine.dispose()
    host = create_app({**app_config, "PORTAL_MAX_UPLOAD_BYTES": 2000, "MAX_CONTENT_LENGTH": 9000})
    assert host.config["MAX_CONTENT_LENGTH"] == 9000
    host.extensions["portal"].engine.dispose()


def test_request_over_the_global_limit_gets_a_clear_413(app, make_person, login_as):
    client = login_as(make_person(Role.ADMIN))
    app.config["MAX_CONTENT_LENGTH"] = 1000
    resp = client.post("/portal/admin/roster", data={"file": (io.BytesIO(b"x" * 5000), "huge.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 413 and b"too large" in resp.data


@pytest.mark.parametrize("bad_row, message", [
    # Finding: a 100,000-character class name and NUL bytes were accepted.
    ("class,2W,,,,2,,,Year 2 " + "W" * 100_000 + ",,,,", "row 8: class_name is longer than 100 characters (100007)"),
    ("pupil,P9,Cy\x00,Dale,,3,2015-01-01,1K,,,,,", "row 8: given_name contains a control or invisible formatting "
                                                  "character (U+0000)"),
    ("staff,S9,Ed,Eve\u202egnirts,ed@test.example,,,,,,teacher,,", "row 8: family_name contains a control or "
                                                                    "invisible formatting character (U+202E)"),
    ("pupil,P9," + "C" * 101 + ",Dale,,3,2015-01-01,1K,,,,,", "row 8: given_name is longer than 100 characters"),
    ("class," + "K" * 51 + ",,,,2,,,Year 2,,,,", "row 8: external_id is longer than 50 characters"),
    ("parent,G9,Di,Dale,di@test.example,,,,,,,P1;P 2,", "row 8: children has an identifier with characters"),
    ("parent,G9,Di,Dale," + "d" * 250 + "@test.example,,,,,,,P1,", "row 8: email is longer than 254 characters"),
    # Finding: a value over the csv module's limit was "row 1: field larger than field limit (131072)".
    ("class,2W,,,,2,,,Year 2 " + "W" * 140_000 + ",,,,", "row 8: a value is longer than 131,072 characters."),
])
def test_over_long_values_and_control_characters_are_row_errors(app, db, tmp_path, bad_row, message):
    """Every value is checked for length and characters with a row-level error; nothing is written
    (on PostgreSQL these used to fail inside the database instead)."""
    path = tmp_path / "school.csv"
    path.write_bytes((GOOD + bad_row + "\n").encode("utf-8"))
    result = app.test_cli_runner().invoke(args=["portal", "import-roster", str(path)])
    assert result.exit_code != 0
    assert f"school.csv {message}" in result.output
    assert "Nothing was imported" in result.output
    assert len(result.output) < 2000  # the message names the problem, it does not echo the value
    db.expire_all()
    assert _counts(db) == (0, 0, 0, 0)


def test_the_page_explains_the_file_with_an_example_that_imports(app, db, tmp_path, make_person, login_as):
    """Finding: the page sent office staff to "the portal's README", which they cannot see. It now lists the
    columns and offers an example file; the example itself imports as it is."""
    page = login_as(make_person(Role.ADMIN)).get("/portal/admin/roster").get_data(as_text=True)
    assert "README" not in page and "What each column is for" in page
    assert "admin, auditor, contractor, governor, support_staff, teacher, visitor, volunteer, separated by ;" in page
    link = re.search(r'<a href="([^"]+roster-example\.csv)" download', page)
    assert link and "Download an example file (CSV)" in page
    example = app.test_client().get(link.group(1))
    assert example.status_code == 200
    text = example.get_data(as_text=True)
    example.close()  # a static file is sent from an open file
    result = _run(app, tmp_path, text, name="roster-example.csv")
    assert result.exit_code == 0, result.output
    assert "Created 1 class, 2 pupil, 1 parent, 3 staff" in result.output


def test_an_unknown_role_is_named_with_the_roles_there_are(app, tmp_path):
    result = _run(app, tmp_path, "type,external_id,given_name,family_name,email,roles\n"
                                 "staff,S9,Ed,Eve,ed@test.example,wizard\n")
    assert ("roster.csv row 2: unknown role(s) wizard. The roles are admin, auditor, contractor, governor, "
            "support_staff, teacher, visitor, volunteer.") in result.output
