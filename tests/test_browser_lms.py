"""The LMS pages in real Chromium, checked with axe-core."""

from __future__ import annotations

import pytest

from tests.browser import assert_accessible, sign_in
from tests.schools import demo_installation, in_school

pytestmark = pytest.mark.browser


def test_lms_pages_are_accessible(live_app, new_page):
    from portal.demo import DEMO_PASSWORD

    with demo_installation(live_app):
        pass
    page = new_page()
    sign_in(page, "office@larkspur.example", DEMO_PASSWORD)
    page.goto("/portal/admin/")
    page.get_by_role("link", name="LMS connections (LTI)").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "LMS connections"
    assert_accessible(page)
    page.get_by_role("button", name="Add the platform").click()
    page.wait_for_load_state()
    assert page.get_by_text("The client ID is required.").first.is_visible()
    assert_accessible(page)
    page.goto("/portal/lms/oneroster")
    assert_accessible(page)
    teacher = new_page(mobile=True)
    sign_in(teacher, "teacher2@larkspur.example", DEMO_PASSWORD)
    teacher.goto("/portal/staff/")
    teacher.get_by_role("link", name="LMS courses").click()
    teacher.wait_for_load_state()
    assert_accessible(teacher)


def test_lms_settings_and_parent_link_pages_are_accessible(live_app, new_page):
    """The per-LMS settings (with and without errors), the parent links waiting for approval and
    the OneRoster page with its setting, on a phone and a desktop."""
    from sqlalchemy import select

    from portal.db import session
    from portal.demo import DEMO_PASSWORD
    from portal.lti.models import LtiMentorLink, LtiRegistration
    from portal.people.models import GuardianLink, Person, PupilProfile, Role

    with demo_installation(live_app):
        pass
    with in_school(live_app):
        reg = LtiRegistration(name="Larkspur Moodle", issuer="https://moodle.larkspur.example", client_id="abc",
                              auth_login_url="https://moodle.larkspur.example/mod/lti/auth.php",
                              auth_token_url="https://moodle.larkspur.example/mod/lti/token.php",
                              key_set_url="https://moodle.larkspur.example/mod/lti/certs.php", deployment_ids=["1"])
        session.add(reg)
        session.flush()
        pupil = session.scalars(select(Person).join(PupilProfile, PupilProfile.person_id == Person.id)).first()
        parent = Person(given_name="Odile", family_name="Observer")
        parent.add_role(Role.PARENT)
        session.add(parent)
        session.flush()
        session.add(LtiMentorLink(registration_id=reg.id, parent_id=parent.id, pupil_id=pupil.id))
        session.commit()
        reg_id, link_pupil = reg.id, pupil.id
    admin = new_page()
    sign_in(admin, "office@larkspur.example", DEMO_PASSWORD)
    admin.goto("/portal/lms/registrations")
    admin.get_by_role("link", name="Settings of Larkspur Moodle").click()
    admin.wait_for_load_state()
    assert admin.get_by_role("heading", level=1).inner_text() == "Settings of Larkspur Moodle"
    assert_accessible(admin)
    admin.get_by_label("Role parameter name").fill("Countersign Role")
    admin.get_by_role("button", name="Save settings").click()
    admin.wait_for_load_state()
    assert admin.get_by_text("lower-case letters").first.is_visible()
    assert_accessible(admin)
    head = new_page(mobile=True)
    sign_in(head, "head@larkspur.example", DEMO_PASSWORD)
    head.goto("/portal/lms/parent-links")
    assert head.get_by_role("heading", level=1).inner_text() == "Parent links from the LMS"
    assert_accessible(head)
    head.get_by_role("button", name="Approve Odile Observer").click()
    head.wait_for_load_state()
    assert head.get_by_text("Nothing is waiting.").is_visible()
    assert_accessible(head)
    head.goto("/portal/lms/oneroster")
    assert_accessible(head)
    with in_school(live_app):
        assert session.scalar(select(GuardianLink).where(GuardianLink.pupil_id == link_pupil,
                                                         GuardianLink.parent_id == parent.id)) is not None
    assert reg_id
