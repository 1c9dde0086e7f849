"""Classroom sessions, teacher side, in Welsh (issue 18): a Welsh-speaking teacher's classroom home and
session page, from starting a session to closing it, with no English left on them."""
from __future__ import annotations

import pytest

from portal.people.models import Role
from portal.policies.models import Audience
from tests.classroom_fixtures import make_rules  # noqa: F401

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend


def test_a_welsh_speaking_teacher_runs_a_classroom_session_in_welsh(db, make_person, make_class, make_pupil,
                                                                     make_rules, login_as):
    teacher = make_person(Role.TEACHER, given="Gwen", family="Athro")
    cls = make_class(year_group=2, teacher=teacher, name="Dosbarth Robin")
    make_pupil(2, cls, given="Aled")
    make_pupil(2, cls, given="Bethan")
    make_class(year_group=9, teacher=teacher, name="Blwyddyn 9 Tylluanod")  # no rules for that age group
    make_rules(Audience.PUPIL_EYFS_KS1)
    teacher.account.language = "cy"
    db.commit()
    client = login_as(teacher)

    home = client.get("/portal/classroom/").get_data(as_text=True)
    assert 'lang="cy"' in home
    assert "Ewch drwy’r rheolau diogelwch ar-lein gyda’ch dosbarth." in home
    assert "0 o 2 wedi cytuno yn" in home
    assert "Dim rheolau wedi’u cyhoeddi ar gyfer y grŵp oedran hwn eto" in home
    assert "Dim un ar agor" in home
    for english in ("Go through the online-safety rules", "agreed in", "No rules published", "None open",
                    "This year"):
        assert english not in home

    resp = client.post("/portal/classroom/start", data={"class_id": cls.id})
    assert resp.status_code == 302, resp.data
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Dosbarth Robin: rheolau diogelwch ar-lein" in page
    assert "Sut mae disgyblion yn ymuno" in page and "Neu sganiwch" in page
    assert 'aria-label="Cod QR sy’n ymuno â’r sesiwn ddosbarth hon (' in page
    assert "Mae <span data-done>0</span> o <span data-total>2</span> disgybl wedi cytuno" in page
    assert 'data-nobody="Neb – mae pawb wedi cytuno."' in page  # what classroom.js shows when the list empties
    assert "Cau’r sesiwn a chofnodi" in page and "Defnyddio’r ddyfais hon i ddisgyblion (ciosg)" in page
    for english in ("How pupils join", "Or scan", "QR code that joins", "pupils have agreed", "Still to agree",
                    "Close the session and record", "Use this device for pupils", "4 to 8 digits"):
        assert english not in page

    assert "Sesiwn agored" in client.get("/portal/classroom/").get_data(as_text=True)

    resp = client.post(resp.headers["Location"] + "/close", data={})
    assert resp.status_code == 302, resp.data
    closed = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Sesiwn wedi cau. Cofnodwyd 0 cydnabyddiaeth, gyda chi’n dyst." in closed
    assert "Wedi cau " in closed and "Yn ôl i’ch dosbarthiadau" in closed
    assert "Session closed" not in closed and "Back to your classes" not in closed

    home = client.get("/portal/classroom/").get_data(as_text=True)
    assert "Sesiynau a gaewyd yn ddiweddar" in home and "– 0 wedi’u cofnodi" in home
    assert "Recently closed sessions" not in home and " recorded" not in home
