"""The per-LMS settings page and the parent-link decisions: bad input writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.lti.models import LtiMentorLink, LtiRegistration
from portal.people.models import GuardianLink, Role


@pytest.fixture
def registration(db):
    row = LtiRegistration(name="School Moodle", issuer="https://moodle.fictional.example", client_id="abc",
                          auth_login_url="https://moodle.fictional.example/mod/lti/auth.php",
                          auth_token_url="https://moodle.fictional.example/mod/lti/token.php",
                          key_set_url="https://moodle.fictional.example/mod/lti/certs.php", deployment_ids=["1"])
    db.add(row)
    db.commit()
    return row


def test_new_registrations_ask_for_approval_and_have_no_role_parameter(registration):
    assert registration.approve_mentor_links is True
    assert (registration.role_parameter, registration.role_map) == (None, {})


def test_settings_page_saves_the_role_parameter_and_approval(db, make_person, login_as, registration):
    client = login_as(make_person(Role.ADMIN))
    page = client.get(f"/portal/lms/registrations/{registration.id}/settings")
    assert page.status_code == 200 and "Role parameter name" in page.get_data(as_text=True)
    resp = client.post(f"/portal/lms/registrations/{registration.id}/settings", data={
        "role_parameter": "countersign_role",
        "role_map": "Student = pupil\nteacher=support_staff\n\n editingteacher = teacher\nguest = none\n"
                    "staff-* = teacher",
    })
    assert resp.status_code == 302
    db.expire_all()
    row = db.get(LtiRegistration, registration.id)
    assert row.approve_mentor_links is False  # an unticked box
    assert row.role_parameter == "countersign_role"
    assert row.role_map == {"student": "pupil", "teacher": "support_staff", "editingteacher": "teacher",
                            "guest": "none", "staff-*": "teacher"}
    listing = client.get("/portal/lms/registrations").get_data(as_text=True)
    assert "countersign_role" in listing and "Linked at once" in listing
    again = client.get(f"/portal/lms/registrations/{registration.id}/settings").get_data(as_text=True)
    assert "editingteacher = teacher" in again


@pytest.mark.parametrize(("data", "message"), [
    ({"role_parameter": "countersign_role", "role_map": "student = wizard"}, "is not one of pupil"),
    ({"role_parameter": "countersign_role", "role_map": "student pupil"}, "Line 1: write it as value = role"),
    ({"role_parameter": "countersign_role", "role_map": "a = pupil\nA = teacher"}, "Line 2: the value"),
    ({"role_parameter": "countersign_role", "role_map": "st*ff = teacher"}, "Line 1: a * may only end a value"),
    ({"role_parameter": "", "role_map": "student = pupil"}, "Give the name of the role parameter"),
    ({"role_parameter": "countersign_role", "role_map": ""}, "Say what at least one value"),
    ({"role_parameter": "Countersign Role", "role_map": "student = pupil"}, "lower-case letters"),
])
def test_settings_page_refuses_bad_input_and_changes_nothing(db, make_person, login_as, registration, data,
                                                             message):
    client = login_as(make_person(Role.ADMIN))
    resp = client.post(f"/portal/lms/registrations/{registration.id}/settings",
                       data={"approve_mentor_links": "y", **data})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True).replace("&#39;", "'")
    db.expire_all()
    row = db.get(LtiRegistration, registration.id)
    assert (row.role_parameter, row.role_map, row.approve_mentor_links) == (None, {}, True)


def test_unknown_registration_settings_is_404(make_person, login_as):
    assert login_as(make_person(Role.ADMIN)).get("/portal/lms/registrations/999/settings").status_code == 404


@pytest.fixture
def pending(db, school, make_pupil, make_person, registration):
    pupil = make_pupil(year_group=2, given="Ivy")
    parent = make_person(Role.PARENT, given="Olive", email="olive@fictional.example")
    link = LtiMentorLink(registration_id=registration.id, parent_id=parent.id, pupil_id=pupil.id)
    db.add(link)
    db.commit()
    return link


def test_the_approver_cannot_decide_a_link_about_themselves(db, school, make_pupil, login_as, registration):
    pupil = make_pupil(year_group=2, given="Ivy")
    link = LtiMentorLink(registration_id=registration.id, parent_id=school.head.id, pupil_id=pupil.id)
    db.add(link)
    db.commit()
    resp = login_as(school.head).post(f"/portal/lms/parent-links/{link.id}", data={"approve": "Approve"},
                                      follow_redirects=True)
    assert "cannot decide a link about yourself" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(LtiMentorLink, link.id).status == "pending"
    assert db.scalar(select(GuardianLink)) is None


@pytest.mark.parametrize("data", [{}, {"approve": "Approve", "decline": "Decline"}])
def test_a_decision_needs_exactly_one_button(db, school, login_as, pending, data):
    assert login_as(school.head).post(f"/portal/lms/parent-links/{pending.id}", data=data).status_code == 400
    db.expire_all()
    assert db.get(LtiMentorLink, pending.id).status == "pending"


def test_a_link_is_decided_once(db, school, login_as, pending):
    client = login_as(school.head)
    assert client.post(f"/portal/lms/parent-links/{pending.id}", data={"decline": "Decline"}).status_code == 302
    resp = client.post(f"/portal/lms/parent-links/{pending.id}", data={"approve": "Approve"}, follow_redirects=True)
    assert "already been decided" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(LtiMentorLink, pending.id).status == "declined"
    assert db.scalar(select(GuardianLink)) is None


def test_approving_links_the_parent_and_the_child(db, school, login_as, pending):
    page = login_as(school.head).get("/portal/lms/parent-links").get_data(as_text=True)
    assert "Olive" in page and "Ivy" in page and "School Moodle" in page
    resp = login_as(school.head).post(f"/portal/lms/parent-links/{pending.id}", data={"approve": "Approve"},
                                      follow_redirects=True)
    assert "is now linked to" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(GuardianLink.pupil_id).where(GuardianLink.parent_id == pending.parent_id)) == \
        pending.pupil_id
