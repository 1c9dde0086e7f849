"""Languages of the text built in Python for forms, verification and roster imports: form
validation messages (ours, and WTForms' own through its catalogues), the findings of the public
verification page, and every problem of a roster import, each in the reader's language, while the
English pages (and the command line) keep today's words."""
from __future__ import annotations

import html
import io
import re

import pytest

from portal.people.models import Role
from tests import concerns_helpers
from tests.concerns_helpers import raise_concern
from tests.records_support import *  # noqa: F403  (the records fixtures)
from tests.test_records_verify import sealed  # noqa: F401  (fixture)
from tests.test_roster import GOOD

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend

cast = concerns_helpers.cast  # the fixture

WELSH = {"Accept-Language": "cy"}
URDU = {"Accept-Language": "ur"}
POLISH = {"Accept-Language": "pl-PL,pl;q=0.9"}


def _text(resp) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True))))


def _login(client, email: str, password: str, headers: dict):
    return client.post("/portal/auth/login", data={"email": email, "password": password}, headers=headers)


# ------------------------------------------------------------------ forms


def test_the_sign_in_form_says_what_is_missing_in_welsh_urdu_and_english(app, db, school):
    client = app.test_client()
    welsh = _text(_login(client, "", "", WELSH))
    assert "Rhowch eich cyfeiriad e-bost." in welsh and "Rhowch eich cyfrinair." in welsh
    assert "Enter your email address." not in welsh and "This field is required." not in welsh
    assert "Rhowch gyfeiriad e-bost fel enw@example.org." in _text(_login(client, "not-an-address", "x", WELSH))
    # Urdu: WTForms ships no Urdu catalogue, so the sign-in form gives its own messages.
    urdu = _text(_login(client, "", "", URDU))
    assert "اپنا ای میل پتہ لکھیں۔" in urdu and "اپنا پاس ورڈ لکھیں۔" in urdu
    english = _text(_login(client, "", "", {"Accept-Language": "en-GB"}))
    assert "Enter your email address." in english and "Enter your password." in english
    assert "Enter an email address like name@example.org." in _text(
        _login(client, "not-an-address", "x", {"Accept-Language": "en-GB"}))


def test_a_concern_forms_length_and_wtforms_own_messages_follow_the_parents_language(cast, db, login_as):
    cast.parent.account.language = "cy"
    db.commit()
    client = login_as(cast.parent)
    text = _text(raise_concern(client, subject="x" * 201))
    assert "Defnyddiwch ddim mwy na 200 nod." in text and "Use at most" not in text
    # A message of WTForms itself (a child who is not the parent's), from WTForms' Welsh catalogue.
    text = _text(raise_concern(client, child_id="999999"))
    assert "Nid yw hwn yn ddewis dilys" in text and "Not a valid choice" not in text
    cast.parent.account.language = "pl"
    db.commit()
    text = _text(raise_concern(client, subject="x" * 201, child_id="999999"))
    assert "Użyj najwyżej 200 znaków." in text and "Nieprawidłowy wybór" in text
    # Every label of the form is in the parent's language, "Who is it about?" too.
    assert "Kogo to dotyczy?" in text and "Who is it about?" not in text
    cast.parent.account.language = "en_GB"
    db.commit()
    text = _text(raise_concern(client, subject="x" * 201, child_id="999999"))
    assert "Use at most 200 characters." in text and "Not a valid choice." in text


def test_the_password_rules_are_told_in_the_readers_language(app, db, school):
    from flask_babel import force_locale

    from portal.auth.passwords import check_password_rules

    with app.test_request_context():
        minimum = app.config["PORTAL_PASSWORD_MIN_LENGTH"]
        with force_locale("cy"):
            assert check_password_rules("x") == f"Defnyddiwch o leiaf {minimum} nod."
            assert check_password_rules(" a long enough password ") == (
                "Peidiwch â dechrau na gorffen y cyfrinair gyda bwlch.")
        with force_locale("ar"):
            assert check_password_rules("y" * 201) == "استخدم 200 حرفًا على الأكثر."
        assert check_password_rules("x") == f"Use at least {minimum} characters."


# ------------------------------------------------------------------ verification


def _upload(client, data: bytes, headers: dict, url="/portal/verify/"):
    return client.post(url, data={"file": (io.BytesIO(data), "record.pdf")}, content_type="multipart/form-data",
                       headers=headers)


def test_the_public_verification_findings_are_in_the_readers_language(app, sealed):  # noqa: F811
    _sig, record, pdf = sealed
    client = app.test_client()
    until = re.search(r"\(until (\d{4}-\d\d-\d\d)\)", _text(_upload(client, pdf, {"Accept-Language": "en-GB"})))
    assert until, "the English page names the certificate's expiry"
    date = until.group(1)
    # A finding with a value (the expiry date), in Welsh and in Arabic.
    welsh = _text(_upload(client, pdf, WELSH))
    assert ("Does dim stamp amser ar y ffeil: dim ond tra bo'r dystysgrif yn ddilys "
            f"(tan {date}) y gellir ei chadarnhau.") in welsh
    assert "The file has no time stamp" not in welsh
    arabic = _text(_upload(client, pdf, {"Accept-Language": "ar"}))
    assert f"لا يحمل الملف طابعًا زمنيًا: لا يمكن تأكيده إلا ما دامت الشهادة صالحة (حتى {date})." in arabic
    # Files that cannot be checked, and the form's own message.
    assert "Ten plik jest pusty." in _text(_upload(client, b"", POLISH))
    assert "Mae'r ffeil hon yn wag." in _text(_upload(client, b"", WELSH))
    assert "Acest PDF este incomplet" in _text(_upload(client, b"%PDF-1.7\nno end", {"Accept-Language": "ro"}))
    resp = client.post("/portal/verify/", data={}, content_type="multipart/form-data", headers=URDU)
    assert resp.status_code == 400 and "جانچنے کے لیے PDF فائل منتخب کریں۔" in _text(resp)
    # The record's own page answers the same way (English here).
    english = _text(_upload(client, b"", {"Accept-Language": "en-GB"}, url=f"/portal/verify/r/{record.public_id}"))
    assert "This file is empty." in english


def test_the_command_line_and_the_verdict_keep_the_english_findings(app, sealed):  # noqa: F811
    from portal.records.verify import verify_pdf
    from portal.schools.models import School

    _sig, _record, pdf = sealed
    with app.app_context():
        from portal.db import session
        from portal.schools.isolation import all_schools

        with all_schools(session):
            verdict = verify_pdf(pdf, schools=list(session.query(School)))
    texts = [str(p) for p in verdict.problems]
    assert any(t.startswith("The file has no time stamp: it can be confirmed only while the certificate is valid "
                            "(until ") for t in texts), texts


# ------------------------------------------------------------------ roster import


def test_roster_problems_are_whole_welsh_sentences_on_the_import_page(app, db, make_person, login_as):
    admin = make_person(Role.ADMIN)
    admin.account.language = "cy"
    db.commit()
    client = login_as(admin)
    bad = (GOOD + "pupil,P9,Cy,Dale,,3,2015-01-01,ZZ,,,,,\n" + "class,2K,,,,2,,,,,,,\n"
           + "pupil,P1,Ada,Again,,1,2019-10-02,1K,,no,,,\n")
    resp = client.post("/portal/admin/roster", data={"file": (io.BytesIO(bad.encode()), "upload.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    text = _text(resp)
    assert "upload.csv rhes 9: mae angen class_name ar gyfer dosbarth." in text
    assert "upload.csv rhes 10: mae external_id P1 eisoes wedi'i ddefnyddio ar rhes 5." in text
    assert "row 9" not in text
    # The reference problems (found after the rows are read) too.
    resp = client.post("/portal/admin/roster", data={"file": (io.BytesIO((GOOD + "pupil,P9,Cy,Dale,,3,2015-01-01,"
                                                                          "ZZ,,,,,\n").encode()), "upload.csv")},
                       content_type="multipart/form-data")
    assert ("upload.csv rhes 8: nid yw class_code ZZ yn ddosbarth yn y ffeil hon nac yn y porth."
            in _text(resp))
    # An English-speaking administrator sees today's words.
    admin.account.language = "en_GB"
    db.commit()
    text = _text(client.post("/portal/admin/roster", data={"file": (io.BytesIO(bad.encode()), "upload.csv")},
                             content_type="multipart/form-data"))
    assert "upload.csv row 9: class_name is required for a class." in text
    assert "upload.csv row 10: external_id P1 already used on row 5." in text


def test_oneroster_relabels_a_roster_problem_and_it_stays_translatable(app):
    from flask_babel import force_locale

    from portal.lti.oneroster_convert import relabel
    from portal.messages import N_, Message, shown
    from portal.people.roster import place, row_ref

    problem = Message(N_("%(where)s: email %(email)s already used on %(other)s."), where=place("oneroster", 7),
                      email="kit@test.example", other=row_ref(3))
    origin = {7: place("users.csv", 5), 3: place("users.csv", 2)}
    moved = relabel(problem, origin)
    assert moved == "users.csv row 5: email kit@test.example already used on users.csv row 2."
    with app.test_request_context(), force_locale("cy"):
        assert shown(moved) == ("users.csv rhes 5: mae'r e-bost kit@test.example eisoes wedi'i ddefnyddio ar "
                                "users.csv rhes 2.")
    # A place the export does not know keeps its row, under the name OneRoster.
    assert relabel(Message(N_("%(where)s: more values than columns."), where=place("oneroster", 99)),
                   origin) == "OneRoster row 99: more values than columns."


def test_a_oneroster_exports_problems_are_welsh_sentences_on_the_import_page(db, make_person, login_as):
    from tests.test_oneroster import USERS, files, make_zip, upload

    admin = make_person(Role.ADMIN, given="Ada")
    admin.account.language = "cy"
    make_person(Role.PARENT, email="pam@fictional.example")
    db.commit()
    client = login_as(admin)
    # A roster-import problem, named by the OneRoster file and row it came from (relabelled).
    text = _text(upload(client, make_zip(files())))
    assert ("users.csv rhes 5: mae'r e-bost pam@fictional.example eisoes yn perthyn i rywun arall yn y porth."
            in text)
    # Problems of the export itself.
    text = _text(upload(client, make_zip(files(**{"users.csv": USERS.replace("org-1,parent", "org-9,parent")}))))
    assert "users.csv rhes 5: mae orgSourcedIds yn enwi org-9, nad yw yn orgs.csv." in text
    assert "Nid ffeil zip yw'r ffeil (neu mae wedi'i difrodi)." in _text(upload(client, b"not a zip"))
    assert "Mae enrollments.csv ar goll" in _text(upload(client, make_zip(files(**{"enrollments.csv": None}))))
    admin.account.language = "en_GB"
    db.commit()
    text = _text(upload(client, make_zip(files(**{"users.csv": USERS.replace("org-1,parent", "org-9,parent")}))))
    assert "users.csv row 5: orgSourcedIds names org-9, which is not in orgs.csv." in text


def test_a_form_sent_twice_is_told_in_the_parents_language(cast, db, login_as):
    from portal.idempotency import new_token

    cast.parent.account.language = "cy"
    db.commit()
    client = login_as(cast.parent)
    token = new_token()
    first = raise_concern(client, child_id=str(cast.child.id), _once=token)
    assert first.status_code == 302, _text(first)[:500]
    again = raise_concern(client, child_id=str(cast.child.id), _once=token)
    assert again.status_code in (302, 303)
    text = _text(client.get(again.headers["Location"]))
    assert "Roedd y ffurflen hon wedi'i hanfon yn barod" in text and "already been sent" not in text
