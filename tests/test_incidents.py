"""Contact and social-media incidents: routing by real SMTP, covering links, privacy, timelines."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.incidents.models import AppendOnlyError, ContactIncident, IncidentAction, SocialMediaIncident
from portal.links.models import FamilyLinkDeclaration
from portal.people.models import Role

#: Read once when the tests are collected: a "future" date below is a week ahead, so a run that crosses
#: midnight still sends a date in the future.
TODAY = dt.date.today()
SUMMARY = "Friend request seen on the pupil's phone by a classmate."


@pytest.fixture
def cast(db, school, make_person, make_class, make_pupil):
    """A recorder, an adult of the school, a pupil, and the school's Head and DSL with mail addresses."""
    cls = make_class(year_group=8, name="Form 8R")
    return {
        "recorder": make_person(Role.TEACHER, given="Rhian"),
        "adult": make_person(Role.SUPPORT_STAFF, given="Aldo"),
        "pupil": make_pupil(year_group=8, school_class=cls, given="Perry"),
        "head": school.head, "dsl": school.dsl_person,
    }


def _contact(client, cast, **over):
    data = {"q": cast["pupil"].family_name, "pupil_id": cast["pupil"].id, "adult_id": cast["adult"].id,
            "direction": "from_pupil", "kind": "friend_request", "platform": "Photo app",
            "occurred_on": TODAY.isoformat(), "summary": SUMMARY, **over}
    return client.post("/portal/incidents/contact/new", data=data)


def _social(client, **over):
    data = {"author_type": "third_party", "author_description": "an unknown account", "platform": "Video site",
            "seen_on": TODAY.isoformat(), "summary": "A clip filmed at the school gate.", **over}
    return client.post("/portal/incidents/social/new", data=data)


def _count(db, model):
    db.expire_all()
    return db.scalar(select(func.count(model.id)))


def test_pupil_initiated_contact_goes_to_the_dsl_by_email_without_details(app, db, cast, login_as, mailbox):
    resp = _contact(login_as(cast["recorder"]), cast, direction="from_pupil")
    assert resp.status_code == 302
    incident = db.scalar(select(ContactIncident))
    assert incident.routed_to == "dsl" and incident.covered_by_link is False
    to_dsl = mailbox.to(cast["dsl"].email)
    assert len(to_dsl) == 1 and mailbox.to(cast["head"].email) == []
    body = to_dsl[0].get_content()
    assert f"CI-{incident.id:05d}" in body and f"/portal/incidents/contact/{incident.id}" in body
    for secret in (cast["pupil"].given_name, cast["pupil"].family_name, cast["adult"].family_name, "Photo app",
                   "Friend request seen"):
        assert secret not in body and secret not in to_dsl[0]["Subject"]


def test_adult_initiated_contact_goes_to_the_head(app, db, cast, login_as, mailbox):
    assert _contact(login_as(cast["recorder"]), cast, direction="from_adult").status_code == 302
    assert db.scalar(select(ContactIncident)).routed_to == "head"
    assert len(mailbox.to(cast["head"].email)) == 1 and mailbox.to(cast["dsl"].email) == []
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "incident.contact_recorded"))
    assert entry.data == {"direction": "from_adult", "kind": "friend_request", "routed_to": "head",
                          "covered_by_link": False}


def test_an_incident_about_the_head_goes_to_the_dsl_and_the_head_cannot_read_it(app, db, cast, login_as, mailbox):
    resp = _contact(login_as(cast["recorder"]), cast, direction="from_adult", adult_id=cast["head"].id)
    assert resp.status_code == 302
    incident = db.scalar(select(ContactIncident))
    assert incident.routed_to == "dsl"
    assert len(mailbox.to(cast["dsl"].email)) == 1 and mailbox.to(cast["head"].email) == []
    head = login_as(cast["head"])  # holds incidents.manage, but this one is about her
    assert head.get(f"/portal/incidents/contact/{incident.id}").status_code == 404
    assert f"CI-{incident.id:05d}" not in head.get("/portal/incidents/").get_data(as_text=True)
    assert login_as(cast["dsl"]).get(f"/portal/incidents/contact/{incident.id}").status_code == 200
    assert f"CI-{incident.id:05d}" in login_as(cast["dsl"]).get("/portal/incidents/").get_data(as_text=True)


def test_an_approved_link_covers_the_pair_live_for_link_viewers_and_on_the_incident(app, db, cast, login_as,
                                                                                    mailbox):
    head = login_as(cast["head"])  # holds links.view: may read the whole register anyway
    recorder = login_as(cast["recorder"])
    check = f"/portal/incidents/link-check?pupil_id={cast['pupil'].id}&adult_id={cast['adult'].id}"
    assert head.get(check).get_json()["covered"] is False
    link = FamilyLinkDeclaration(source="adult", declared_by_id=cast["adult"].id, adult_id=cast["adult"].id,
                                 pupil_id=cast["pupil"].id, relationship_kind="aunt_uncle", academic_year=2026)
    db.add(link)
    db.commit()
    assert head.get(check).get_json()["covered"] is False  # pending is not approved
    link.status = "approved"
    db.commit()
    data = head.get(check).get_json()
    assert data == {"covered": True, "message": "An approved family link covers this pupil and this adult."}
    # The answer is yes or no: never the relationship or the note.
    assert "aunt" not in str(data).lower()
    assert head.get(f"/portal/incidents/link-check?pupil_id={cast['adult'].id}&adult_id={cast['pupil'].id}"
                    ).status_code == 404
    resp = _contact(recorder, cast)
    incident = db.scalar(select(ContactIncident))
    assert incident.covered_by_link is True and incident.covering_link_id == link.id
    page = recorder.get(resp.headers["Location"]).data
    assert b"A family link the Head Teacher approved covers this pupil" in page
    assert b"An approved family link covers this pupil" in page


def test_a_recorder_without_links_view_cannot_ask_whether_a_link_exists(app, db, cast, login_as, make_person):
    """Finding: support staff read the whole approved register through the yes/no link check.
    Now the check answers only holders of links.view, and the incident form never tells the
    recorder before the incident is saved (and seen by the Head Teacher or DSL)."""
    support = make_person(Role.SUPPORT_STAFF, given="Sid")
    db.add(FamilyLinkDeclaration(source="adult", declared_by_id=cast["adult"].id, adult_id=cast["adult"].id,
                                 pupil_id=cast["pupil"].id, relationship_kind="aunt_uncle", academic_year=2026,
                                 status="approved"))
    db.commit()
    client = login_as(support)
    check = f"/portal/incidents/link-check?pupil_id={cast['pupil'].id}&adult_id={cast['adult'].id}"
    assert client.get(check).status_code == 403
    # A form with a mistake in it is not an oracle either: nothing is saved and nothing is said.
    resp = _contact(client, cast, summary="short")
    assert resp.status_code == 400
    assert b"family link covers" not in resp.data and b"link-status" not in resp.data
    form = client.get(f"/portal/incidents/contact/new?q={cast['pupil'].family_name}").data
    assert b"incidents.js" not in form and b"link-status" not in form
    assert _count(db, ContactIncident) == 0


def test_link_checks_are_limited_and_audited(app, db, cast, login_as):
    app.config["PORTAL_LINK_CHECK_MAX"] = 3
    head = login_as(cast["head"])
    check = f"/portal/incidents/link-check?pupil_id={cast['pupil'].id}&adult_id={cast['adult'].id}"
    assert [head.get(check).status_code for _ in range(4)] == [200, 200, 200, 429]
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action.like("incidents.link_check%"))
                         .order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["incidents.link_checked"] * 3 + ["incidents.link_check_limited"]
    assert entries[0].actor_id == cast["head"].id
    assert entries[0].data == {"pupil_id": cast["pupil"].id, "adult_id": cast["adult"].id, "covered": False}


@pytest.mark.parametrize("over, message", [
    ({"occurred_on": (TODAY + dt.timedelta(days=7)).isoformat()}, "cannot be in the future"),
    ({"occurred_on": "31/02/2026"}, "Not a valid date"),
    ({"occurred_on": ""}, "Enter the date."),
    ({"summary": "short"}, "between 10 and 2,000"),
    ({"summary": "x" * 2001}, "between 10 and 2,000"),
    ({"adult_id": "0"}, "Choose the adult."),
    ({"pupil_id": ""}, "Search for the pupil and choose them."),
    ({"direction": "sideways"}, "Not a valid choice"),
    ({"kind": ""}, "Choose the kind of contact."),
    ({"platform": "p" * 101}, "under 100 characters"),
])
def test_bad_contact_incidents_are_refused_and_nothing_is_written(app, db, cast, login_as, mailbox, over, message):
    resp = _contact(login_as(cast["recorder"]), cast, **over)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert _count(db, ContactIncident) == 0 and _count(db, IncidentAction) == 0
    assert mailbox.messages == []


def _control(page: str, control_id: str) -> str:
    """The opening tag of the input, select or textarea with this id."""
    return re.search(rf'<(?:input|select|textarea)\b[^>]*\bid="{control_id}"[^>]*>', page).group(0)


def _radio_group(page: str, legend: str) -> str:
    """The opening tag of the fieldset of radio buttons with this legend."""
    return re.search(rf'<fieldset\b[^>]*>\s*<legend[^>]*>{re.escape(legend)}</legend>', page).group(0)


def test_controls_with_errors_are_marked_invalid_for_screen_readers(app, db, cast, login_as):
    """aria-invalid="true" on each control with an error (text, select, textarea) and on no other. A radio
    button may not carry it (ARIA 1.2): the group of radio buttons, a radiogroup, does."""
    resp = _contact(login_as(cast["recorder"]), cast, direction="", kind="", summary="short", platform="p" * 101)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    for invalid in ("platform", "kind", "summary"):
        assert 'aria-invalid="true"' in _control(page, invalid), invalid
        assert f"{invalid}-error" in _control(page, invalid), invalid
    for valid in ("adult_id", "occurred_on", "direction-0", "direction-1"):
        assert "aria-invalid" not in _control(page, valid), valid
    direction = _radio_group(page, "Who started the contact?")
    assert 'role="radiogroup"' in direction and 'aria-invalid="true"' in direction
    assert 'aria-describedby="direction-error"' in direction
    pupil = _radio_group(page, "Pupil")
    assert 'role="radiogroup"' in pupil and "aria-invalid" not in pupil


def test_a_pupil_not_found_by_the_search_cannot_be_posted(app, db, cast, make_pupil, login_as, mailbox):
    hidden = make_pupil(year_group=3, given="Quill")
    resp = _contact(login_as(cast["recorder"]), cast, pupil_id=hidden.id)
    assert resp.status_code == 400 and _count(db, ContactIncident) == 0


def test_prevent_flag_goes_to_the_dsl_and_other_posts_to_the_head(app, db, cast, login_as, mailbox):
    client = login_as(cast["recorder"])
    assert _social(client, prevent_flag="y").status_code == 302
    assert len(mailbox.to(cast["dsl"].email)) == 1 and mailbox.to(cast["head"].email) == []
    body = mailbox.to(cast["dsl"].email)[0].get_content()
    assert "Prevent" in body and "school gate" not in body
    mailbox.clear()
    assert _social(client, author_type="community", author_description="a parent",
                   deletion_requested_on=TODAY.isoformat(), deletion_outcome="pending").status_code == 302
    assert len(mailbox.to(cast["head"].email)) == 1 and mailbox.to(cast["dsl"].email) == []
    first, second = db.scalars(select(SocialMediaIncident).order_by(SocialMediaIncident.id)).all()
    assert (first.routed_to, first.prevent_flag, second.routed_to) == ("dsl", True, "head")
    assert second.deletion_outcome == "pending" and second.deletion_requested_on == TODAY


def test_the_form_shows_the_helpline_contact(app, db, cast, login_as):
    from portal.schools.models import School

    settings = db.scalar(select(School))
    settings.helpline_contact = "Online Safety Helpline, 01632 960 123, helpline@helpline.example"
    db.commit()
    page = login_as(cast["recorder"]).get("/portal/incidents/social/new").get_data(as_text=True)
    assert "01632 960 123" in page


@pytest.mark.parametrize("over, message", [
    ({"author_type": ""}, "Choose who posted it."),
    ({"seen_on": (TODAY + dt.timedelta(days=3)).isoformat()}, "cannot be in the future"),
    ({"posted_on": (TODAY + dt.timedelta(days=7)).isoformat()}, "cannot be in the future"),
    ({"posted_on": TODAY.isoformat(), "seen_on": (TODAY - dt.timedelta(days=2)).isoformat()},
     "cannot be posted after the school saw it"),
    ({"deletion_requested_on": TODAY.isoformat()}, "Only for a post by a member of the school community."),
    ({"author_type": "community", "helpline_contacted_on": TODAY.isoformat()}, "Only for a post by someone outside"),
    ({"author_type": "community", "deletion_outcome": "removed"}, "Give the date the deletion was asked for."),
    ({"police_reference": "REF-1"}, "Tick"),
    ({"platform": ""}, "Enter the platform."),
    ({"summary": ""}, "Describe the post briefly."),
    ({"author_description": "a" * 201}, "under 200 characters"),
    ({"seen_on": "1999-12-31"}, "after 2000"),
])
def test_bad_social_incidents_are_refused_and_nothing_is_written(app, db, cast, login_as, mailbox, over, message):
    resp = _social(login_as(cast["recorder"]), **over)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert _count(db, SocialMediaIncident) == 0 and _count(db, IncidentAction) == 0
    assert mailbox.messages == []


def test_recorders_see_only_what_they_recorded(app, db, cast, make_person, login_as, mailbox):
    other = make_person(Role.TEACHER, given="Orla")
    _contact(login_as(cast["recorder"]), cast)
    _social(login_as(other))
    contact = db.scalar(select(ContactIncident))
    social = db.scalar(select(SocialMediaIncident))
    mine = login_as(cast["recorder"]).get("/portal/incidents/").get_data(as_text=True)
    assert contact.reference in mine and social.reference not in mine
    assert login_as(cast["recorder"]).get(f"/portal/incidents/social/{social.id}").status_code == 404
    assert login_as(other).get(f"/portal/incidents/contact/{contact.id}").status_code == 404
    for manager in (cast["head"], cast["dsl"]):
        page = login_as(manager).get("/portal/incidents/").get_data(as_text=True)
        assert contact.reference in page and social.reference in page


def test_people_without_incident_capabilities_never_reach_incidents(app, db, cast, make_person, make_parent,
                                                                    make_pupil, login_as, mailbox):
    _contact(login_as(cast["recorder"]), cast)
    contact = db.scalar(select(ContactIncident))
    pupil = make_pupil(year_group=10, given="Uma", email="uma@test.example", password="pupil password 1")
    outsiders = [make_person(Role.GOVERNOR), make_person(Role.VOLUNTEER), make_person(Role.CONTRACTOR),
                 make_parent(pupil), pupil]
    for who in outsiders:
        client = login_as(who)
        for path in ("/portal/incidents/", "/portal/incidents/contact/new", f"/portal/incidents/contact/{contact.id}",
                     ):
            assert client.get(path).status_code == 403, (who.role_set, path)


def test_timeline_is_append_only_and_managers_add_to_it(app, db, cast, login_as, mailbox):
    _contact(login_as(cast["recorder"]), cast)
    incident = db.scalar(select(ContactIncident))
    url = f"/portal/incidents/contact/{incident.id}/actions"
    assert login_as(cast["recorder"]).post(url, data={"text": "I tried."}).status_code == 403
    dsl = login_as(cast["dsl"])
    resp = dsl.post(url, data={"text": ""})
    assert resp.status_code == 400 and b"Say what was done." in resp.data
    assert dsl.post(url, data={"text": "Spoke to the pupil and parents.", "close": "y"}).status_code == 302
    db.expire_all()
    incident = db.get(ContactIncident, incident.id)
    assert [a.text for a in incident.actions] == ["Incident recorded.", "Spoke to the pupil and parents."]
    assert incident.closed_at is not None
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "incident.action_added"))
    assert "Spoke" not in str(entry.data)
    incident.actions[0].text = "rewritten"
    with pytest.raises(AppendOnlyError):
        db.flush()
    db.rollback()
    db.delete(db.scalar(select(IncidentAction)))
    with pytest.raises(AppendOnlyError):
        db.flush()
    db.rollback()


def test_head_updates_the_deletion_request_and_the_timeline_says_so(app, db, cast, login_as, mailbox):
    _social(login_as(cast["recorder"]), author_type="community", author_description="a parent")
    incident = db.scalar(select(SocialMediaIncident))
    head = login_as(cast["head"])
    url = f"/portal/incidents/social/{incident.id}/follow-up"
    resp = head.post(url, data={"deletion_outcome": "removed",
                                "deletion_requested_on": (TODAY + dt.timedelta(days=7)).isoformat()})
    assert resp.status_code == 400 and b"cannot be in the future" in resp.data
    resp = head.post(url, data={"reported_to_platform_on": TODAY.isoformat()})
    assert resp.status_code == 400 and b"Only for a post by someone outside" in resp.data
    resp = head.post(url, data={"deletion_requested_on": (TODAY - dt.timedelta(days=1)).isoformat(),
                                "deletion_outcome": "removed", "deletion_outcome_on": TODAY.isoformat()})
    assert resp.status_code == 302
    db.expire_all()
    incident = db.get(SocialMediaIncident, incident.id)
    assert incident.deletion_outcome == "removed" and incident.deletion_outcome_on == TODAY
    assert incident.actions[-1].text.startswith("Follow-up updated: deletion requested on")
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "incident.social_updated"))
    assert set(entry.data["fields"]) == {"deletion_requested_on", "deletion_outcome", "deletion_outcome_on"}
    assert login_as(cast["recorder"]).post(url, data={}).status_code == 403


def test_an_incident_is_kept_when_the_mail_server_is_down(app, db, cast, login_as):
    """The record matters more than the email: it is saved and the recorder is told to pass it on."""
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        app.config["PORTAL_SMTP_PORT"] = s.getsockname()[1]
    client = login_as(cast["recorder"])
    resp = _contact(client, cast)
    assert resp.status_code == 302
    assert _count(db, ContactIncident) == 1
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "could not be sent" in page


def test_each_list_shows_open_incidents_first_a_page_at_a_time(app, db, cast, login_as):
    """Closed incidents from past years do not make the page grow: each list is 25 rows a page, open ones
    first, and moving through one list keeps the other's page."""
    for n in range(30):
        closed = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if n % 2 else None
        db.add(ContactIncident(kind="message", direction="from_pupil", pupil_id=cast["pupil"].id,
                               adult_id=cast["adult"].id, occurred_on=dt.date(2025, 10, 1), summary="Fictional.",
                               routed_to="dsl", recorded_by_id=cast["recorder"].id, closed_at=closed))
    for _ in range(27):
        db.add(SocialMediaIncident(author_type="third_party", author_description="An account", platform="Chatter",
                                   seen_on=dt.date(2025, 10, 2), summary="Fictional.", routed_to="head",
                                   recorded_by_id=cast["recorder"].id))
    db.commit()
    head = login_as(cast["head"])
    page = head.get("/portal/incidents/").get_data(as_text=True)
    assert ("<caption>Contact between pupils and adults of the school: 30 incidents, open ones first, "
            "page 1 of 2</caption>") in page
    assert "<caption>Posts on social media: 27 incidents, open ones first, page 1 of 2</caption>" in page
    contact = page[page.index('id="contact-heading"'):page.index('id="social-heading"')]
    statuses = re.findall(r"<td data-label=\"Status\">(Open|Closed)</td>", contact)
    assert statuses == ["Open"] * 15 + ["Closed"] * 10  # 15 open, then the newest closed ones
    # Two lists, two pagers: each link's accessible name says which list it pages ("Next page of contact
    # incidents"); the words on the screen stay "Next page".
    hidden = '<span class="visually-hidden"> of {}</span>'
    assert f'href="/portal/incidents/?contact_page=2">Next page{hidden.format("contact incidents")}</a>' in page
    assert f'href="/portal/incidents/?social_page=2">Next page{hidden.format("social-media incidents")}</a>' in page
    both = head.get("/portal/incidents/?contact_page=2&social_page=2").get_data(as_text=True)
    contact = both[both.index('id="contact-heading"'):both.index('id="social-heading"')]
    assert contact.count(">Closed</td>") == 5 and ">Open</td>" not in contact
    # Each list's link keeps the other list's page.
    previous = 'href="/portal/incidents/?{}_page=2">Previous page' + hidden + "</a>"
    assert previous.format("social", "contact incidents") in both
    assert previous.format("contact", "social-media incidents") in both
    # In Welsh: each caption is one message (the list's name in it), and so is each link's hidden end.
    assert head.post("/portal/auth/language", data={"language": "cy"}).status_code == 303
    welsh = head.get("/portal/incidents/").get_data(as_text=True)
    assert ("<caption>Cyswllt rhwng disgyblion ac oedolion yr ysgol: 30 digwyddiad, y rhai agored yn gyntaf, "
            "tudalen 1 o 2</caption>") in welsh
    assert "<caption>Postiadau ar y cyfryngau cymdeithasol: 27 digwyddiad, y rhai agored yn gyntaf," in welsh
    assert 'Tudalen nesaf<span class="visually-hidden"> o ddigwyddiadau cyswllt</span></a>' in welsh
    assert 'Tudalen nesaf<span class="visually-hidden"> o ddigwyddiadau cyfryngau cymdeithasol</span></a>' in welsh
    assert head.post("/portal/auth/language", data={"language": "en_GB"}).status_code == 303
    # The Head's home counts the open ones without loading them.
    home = head.get("/portal/staff/").get_data(as_text=True)
    assert "Incidents to review" in home and '<span class="visually-hidden">(42)</span>' in home
