"""Languages for the small words built in Python: the roster and OneRoster import summaries (whole
sentences, one per kind of change, counted with ngettext), role names on staff pages, and the
concern and family-link statuses in the subject-access copy's index. Welsh for staff, Polish for a
parent's copy, and the English page still in today's English."""
from __future__ import annotations

import html
import io
import json
import zipfile

import pytest

from portal.people.models import Role
from tests.dataprotection_helpers import *  # noqa: F401,F403
from tests.dataprotection_helpers import D, raise_concern
from tests.i18n_helpers import page_text as _page
from tests.i18n_helpers import speaks as _speaks
from tests.records_support import *  # noqa: F401,F403
from tests.test_roster import GOOD

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend

ROSTER = "/portal/admin/roster"



def _upload(client, text: str, name: str = "roster.csv"):
    return client.post(ROSTER, data={"file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data", follow_redirects=True)


# ------------------------------------------------------------------ roster import summary


def test_a_welsh_admin_reads_the_roster_summary_in_welsh(db, make_person, login_as):
    admin = _speaks(db, make_person(Role.ADMIN, given="Alaw"), "cy")
    client = login_as(admin)
    page = _page(_upload(client, GOOD))
    assert "Crëwyd 1 dosbarth. Crëwyd 2 disgybl. Crëwyd 1 rhiant neu ofalwr. Crëwyd 2 aelod o staff." in page
    assert "Created" not in page
    again = _page(_upload(client, GOOD))
    assert "Ni chafodd dim ei greu na'i ddiweddaru. Roedd 6 rhes eisoes yn gyfredol." in again
    changed = GOOD.replace("Year 1 Kingfishers", "Year 1 Kestrels").replace("Gail,Brook", "Gail,Brooke")
    page = _page(_upload(client, changed))
    assert "Diweddarwyd 1 dosbarth. Diweddarwyd 1 rhiant neu ofalwr. Roedd 4 rhes eisoes yn gyfredol." in page


def test_the_english_roster_summary_is_whole_english_sentences(app, db, make_person, login_as, tmp_path):
    client = login_as(make_person(Role.ADMIN, given="Ada"))
    page = _page(_upload(client, GOOD))
    assert "Created 1 class. Created 2 pupils. Created 1 parent or carer. Created 2 members of staff." in page
    assert "Nothing was created or updated. 6 rows were already up to date." in _page(_upload(client, GOOD))
    # the command line keeps its one English line
    path = tmp_path / "roster.csv"
    path.write_text(GOOD)
    result = app.test_cli_runner().invoke(args=["portal", "import-roster", str(path)])
    assert "Created nothing new; updated nothing; 6 row(s) already up to date." in result.output


def test_a_welsh_admin_reads_the_oneroster_summary_in_welsh(db, make_person, login_as):
    from tests.test_oneroster import files, make_zip
    from tests.test_oneroster_interop import upload

    client = login_as(_speaks(db, make_person(Role.ADMIN, given="Alaw"), "cy"))
    page = _page(upload(client, make_zip(files(**{"demographics.csv": None}))))
    assert "Nid oedd dyddiad geni gan 2 disgybl" in page and "Crëwyd" in page
    assert "Dim pobl na dosbarthiadau" not in page and "had no birth date" not in page
    english = _page(upload(login_as(make_person(Role.ADMIN, given="Ada")), make_zip(files())))
    assert "Updated 2 pupils." in english, english[english.find("alert"):][:400]


# ------------------------------------------------------------------ role names


def test_role_names_are_welsh_on_the_staff_people_page(db, make_person, login_as):
    make_person(Role.GOVERNOR, Role.VOLUNTEER, given="Gil", family="Governson", email="gil@test.example")
    admin = make_person(Role.ADMIN, given="Alaw", email="alaw@test.example")
    english = _page(login_as(admin).get("/portal/admin/people"))
    assert "Governor, Volunteer" in english and "Portal administrator" in english
    welsh = _page(login_as(_speaks(db, admin, "cy")).get("/portal/admin/people"))
    assert "Llywodraethwr, Gwirfoddolwr" in welsh and "Gweinyddwr y porth" in welsh
    assert "Governor" not in welsh


# ------------------------------------------------------------------ the subject-access copy


def test_the_copys_index_shows_statuses_in_the_requesters_language(app, db, fam):
    from portal.concerns.models import Stage, Status
    from portal.dataprotection import sar
    from portal.links.models import FamilyLinkDeclaration

    concern = raise_concern(db, fam.parent, subject="Reading scheme pace", description="Wren finds it easy.",
                            child=fam.child)
    concern.status, concern.stage = Status.IN_PROGRESS.value, Stage.STAGE_1.value
    db.add(FamilyLinkDeclaration(source="adult", declared_by_id=fam.assistant.id, adult_id=fam.assistant.id,
                                 pupil_id=fam.child.id, relationship_kind="aunt_uncle", academic_year=2026,
                                 status="pending"))
    db.commit()
    parent_req = sar.create_request(fam.parent, fam.parent, received_on=D(2026, 11, 2), actor=fam.head)
    staff_req = sar.create_request(fam.assistant, fam.assistant, received_on=D(2026, 11, 2), actor=fam.head)
    db.commit()

    def index_and_data(req) -> tuple[str, dict]:
        with zipfile.ZipFile(io.BytesIO(sar.build_zip(req))) as zf:
            return html.unescape(zf.read("index.html").decode()), json.loads(zf.read("data.json"))

    with app.test_request_context():
        index, data = index_and_data(parent_req)
        assert "Status: In progress, Formal complaint, stage 1." in index and "Parent or carer" in index
        assert data["concerns"][0]["status"] == "in_progress"  # the data file keeps the keys

        _speaks(db, fam.parent, "pl")
        index, data = index_and_data(parent_req)
        assert "W toku" in index and "Skarga formalna, etap 1" in index and "Rodzic lub opiekun" in index
        assert "in_progress" not in index and "stage_1" not in index
        assert data["concerns"][0]["stage"] == "stage_1"

        index, _data = index_and_data(staff_req)
        assert "Waiting for a decision" in index and "Support staff" in index
        _speaks(db, fam.assistant, "cy")
        index, _data = index_and_data(staff_req)
        assert "Yn aros am benderfyniad" in index and "Staff cymorth" in index and ">pending<" not in index
