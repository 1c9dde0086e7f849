"""Languages in data protection and incidents: a Welsh-speaking DSL reads the incidents list and the
data-protection home in Welsh, incident and allegation emails come in the reader's language (real SMTP),
and the sealed transfer pack is written in the language of the person who makes it."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from sqlalchemy import select

from portal.dataprotection.models import TransferPack
from portal.incidents.models import ContactIncident
from portal.people.models import Role
from tests.dataprotection_helpers import *  # noqa: F401,F403
from tests.dataprotection_helpers import raise_concern
from tests.records_support import *  # noqa: F401,F403

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend

TODAY = dt.date.today()


def _welsh(db, person):
    person.account.language = "cy"
    db.commit()
    return person


def _record_contact(client, pupil, adult, direction):
    return client.post("/portal/incidents/contact/new", data={
        "q": pupil.family_name, "pupil_id": pupil.id, "adult_id": adult.id, "direction": direction,
        "kind": "friend_request", "platform": "Photo app", "occurred_on": TODAY.isoformat(),
        "summary": "A friend request seen on a phone."})


def test_a_welsh_speaking_dsl_reads_the_incidents_and_data_protection_pages_in_welsh(db, school, login_as):
    client = login_as(_welsh(db, school.dsl_person))
    incidents = client.get("/portal/incidents/").get_data(as_text=True)
    assert "<h1>Digwyddiadau</h1>" in incidents
    assert "Pob digwyddiad cyswllt a chyfryngau cymdeithasol a gofnodwyd yn yr ysgol." in incidents
    assert "Cofnodi cyswllt rhwng disgybl ac oedolyn" in incidents
    assert "Every contact and social-media incident" not in incidents
    home = client.get("/portal/data-protection/").get_data(as_text=True)
    assert "<h1>Diogelu data</h1>" in home and "Ceisiadau gwrthrych am wybodaeth" in home
    assert "Pecynnau trosglwyddo diogelu" in home and "Subject access requests" not in home
    # The form's labels and choices too.
    form = client.get("/portal/incidents/contact/new?q=zz").get_data(as_text=True)
    assert "Dod o hyd i'r disgybl yn ôl enw neu ddosbarth" in form.replace("&#39;", "'")
    # Someone who chose nothing still reads English.
    english = login_as(school.head).get("/portal/incidents/").get_data(as_text=True)
    assert "Every contact and social-media incident recorded at the school." in english


def test_an_incident_email_reaches_a_welsh_reader_in_welsh_and_an_english_one_in_english(
        db, school, make_person, make_class, make_pupil, login_as, mailbox):
    recorder = make_person(Role.TEACHER, given="Rhian")
    adult = make_person(Role.SUPPORT_STAFF, given="Aldo")
    pupil = make_pupil(year_group=8, school_class=make_class(year_group=8, name="Form 8R"), given="Perry")
    dsl = _welsh(db, school.dsl_person)
    client = login_as(recorder)
    resp = _record_contact(client, pupil, adult, "from_pupil")  # to the DSL, who reads Welsh
    assert resp.status_code == 302
    incident = db.scalar(select(ContactIncident))
    [mail] = mailbox.to(dsl.email)
    assert mail["Subject"] == f"Digwyddiad newydd {incident.reference} i edrych arno"
    body = mail.get_content()
    assert body.startswith("Mae digwyddiad cyswllt a allai fod yn fater diogelu wedi'i gofnodi ym mhorth yr ysgol")
    assert "Nid yw'r neges hon yn cynnwys unrhyw fanylion yn fwriadol." in body
    assert f"/portal/incidents/contact/{incident.id}" in body and "Perry" not in body
    # The recorder reads English, so the page that follows is English.
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Recorded. The Designated Safeguarding Lead has been told by email." in page
    # The Head chose nothing: English.
    assert _record_contact(client, pupil, adult, "from_adult").status_code == 302
    [to_head] = mailbox.to(school.head.email)
    assert to_head["Subject"].startswith("New incident ")
    assert "This message contains no details on purpose." in to_head.get_content()


def test_the_allegation_email_is_written_in_the_case_managers_language(db, fam, login_as, mailbox):
    from portal.concerns.models import About
    from portal.dataprotection.models import StaffAllegation

    fam.head.email = "head@test.example"
    _welsh(db, fam.head)
    concern = raise_concern(db, fam.parent, subject="Risky chat", description="A teacher messaged Wren at night.",
                            about=About.STAFF, about_person=fam.teacher, at_risk=True, child=fam.child)
    resp = login_as(fam.dsl).post(f"/portal/data-protection/allegations/mark/concern/{concern.id}", data={
        "kind": "allegation", "reported_on": TODAY.isoformat(), "notes": ""})
    assert resp.status_code == 302
    allegation = db.scalar(select(StaffAllegation))
    [mail] = mailbox.to(fam.head.email)
    assert mail["Subject"] == f"Honiad {allegation.reference} i'w reoli"
    assert "Chi yw rheolwr yr achos." in mail.get_content() and "Orchard" not in mail.get_content()


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_sealed_transfer_pack_is_in_the_language_of_the_person_who_makes_it(db, fam, login_as, seal_keys):
    from portal.records.verify import verify_pdf

    raise_concern(db, fam.parent, subject="Bruise noticed", description="Wren had a bruise.", at_risk=True,
                  child=fam.child)
    client = login_as(_welsh(db, fam.dsl))
    resp = client.post("/portal/data-protection/transfers", data={
        "pupil_id": fam.child.id, "destination": "Brookfield Academy", "moved_on": TODAY.isoformat()})
    assert resp.status_code == 302
    pack = db.scalar(select(TransferPack))
    pdf = client.get(f"/portal/data-protection/transfers/{pack.id}/pack.pdf").data
    assert verify_pdf(pdf).genuine
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    text = " ".join(text.split())
    assert "Ffeil amddiffyn plant: trosglwyddo i Brookfield Academy" in text
    assert "Cofnod diogelu cyfrinachol. Tudalen 1" in text
    assert "Child-protection file" not in text
