"""Real Chromium: a teacher runs a class session; two pupils on their own devices join by code
and agree; the teacher watches progress and closes. axe-core checks every page visited."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.auth.passwords import hash_password
from portal.classroom.models import ClassroomSession
from portal.db import session, utcnow
from portal.people.models import ClassTeacher, Person, PupilProfile, Role, SchoolClass
from portal.policies.models import Audience, Policy, PolicyVersion
from portal.schools.models import School
from portal.signatures.models import Signature
from tests.browser import assert_accessible as _axe
from tests.browser import sign_in
from tests.classroom_fixtures import OLDER_RULES, YOUNG_RULES
from tests.schools import in_school

pytestmark = pytest.mark.browser

PASSWORD = "classroom test pw"


def _person(given, family, *roles, email=None):
    p = Person(given_name=given, family_name=family, email=email,
               password_hash=hash_password(PASSWORD) if email else None)
    for r in roles:
        p.add_role(r)
    session.add(p)
    session.flush()
    return p


@pytest.fixture
def school(live_app):
    with in_school(live_app):
        School.get().name = "Brackenford Primary (fictional)"
        teacher = _person("Tilda", "Tutor", Role.TEACHER, email="tilda@brackenford.example")
        cls = SchoolClass(code="2OWL", name="Year 2 Owls", year_group=2)
        cls.teachers.append(ClassTeacher(teacher=teacher))
        session.add(cls)
        session.flush()
        for given, family in [("Amy", "Pryce"), ("Ben", "Quill"), ("Cai", "Rhodes"), ("Dot", "Sable")]:
            p = _person(given, family, Role.PUPIL)
            session.add(PupilProfile(person_id=p.id, year_group=2, date_of_birth=dt.date(2019, 5, 1), class_id=cls.id))
        older = _person("Nell", "Oakes", Role.PUPIL, email="nell@brackenford.example")
        session.add(PupilProfile(person_id=older.id, year_group=9, date_of_birth=dt.date(2012, 5, 1)))
        for audience, body in ((Audience.PUPIL_EYFS_KS1, YOUNG_RULES), (Audience.PUPIL_KS3_4, OLDER_RULES)):
            policy = Policy(slug=f"aup-{audience.value}", title="Online-safety rules", audience=audience.value)
            session.add_all([policy, PolicyVersion(policy=policy, number=1, status="published",
                                                   title="Our online-safety rules", body_md=body,
                                                   published_at=utcnow())])
        session.commit()


def assert_accessible(page):
    """axe after the page has fully loaded: a check that runs while the stylesheets are still
    arriving sees unstyled (small) links and reports target-size."""
    page.wait_for_load_state("load")
    _axe(page)


def _no_sideways_scroll(page):
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def _agree_as(page, name, *, check_read_aloud=False):
    """Tap *name*, step through every screen (axe on each), press "I agree"."""
    page.get_by_role("link", name=name).click()
    expect(page.locator("main")).to_contain_text("Page 1 of 6")
    assert_accessible(page)
    if check_read_aloud:
        button = page.get_by_role("button", name="Read it to me")
        assert button.count() == 1
        if page.evaluate("'speechSynthesis' in window"):
            expect(button).to_be_visible()
            button.click()  # speaks (no audio device here); must not break the page
    for step in range(2, 7):
        page.get_by_role("link", name="Next").click()
        expect(page.locator("main")).to_contain_text(f"Page {step} of 6")
        if step == 3:
            expect(page.get_by_role("heading", name="Rule 2 of 4")).to_be_visible()
            assert page.locator("svg.rule-icon-svg[aria-hidden=true]").count() == 1
        assert_accessible(page)
    expect(page.get_by_role("link", name="Next")).to_have_count(0)
    page.get_by_role("button", name="I agree").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you")
    assert_accessible(page)


def test_teacher_runs_a_session_two_pupils_agree_and_it_is_recorded(school, live_app, new_page):
    teacher = new_page()
    sign_in(teacher, "tilda@brackenford.example", PASSWORD)
    teacher.goto("/portal/staff/")
    teacher.get_by_role("link", name="Classroom acknowledgements").click()
    expect(teacher.get_by_role("heading", level=1)).to_have_text("Classroom acknowledgements")
    assert_accessible(teacher)
    teacher.get_by_label("Class").select_option(label="Year 2 Owls")
    teacher.get_by_role("button", name="Start a session").click()
    expect(teacher.get_by_role("heading", level=1)).to_contain_text("Year 2 Owls")
    assert teacher.get_by_role("img", name=re.compile("QR code")).count() == 1
    assert "0 of 4 pupils have agreed" in teacher.inner_text("main")
    assert_accessible(teacher)
    with in_school(live_app):
        code = session.scalar(select(ClassroomSession.code))
    assert code in teacher.inner_text("main")

    # Pupil 1, a class laptop: types the code.
    amy = new_page()
    amy.goto("/portal/classroom/join")
    assert_accessible(amy)
    amy.get_by_label("Class code").fill(code.lower())
    amy.get_by_role("button", name="Join").click()
    expect(amy.get_by_role("heading", level=1)).to_have_text("Tap your name")
    assert_accessible(amy)
    _agree_as(amy, "Amy P.", check_read_aloud=True)

    # Pupil 2, a phone-sized tablet: comes in through the QR link, code filled in.
    ben = new_page(mobile=True)
    ben.goto(f"/portal/classroom/join?code={code}")
    assert ben.get_by_label("Class code").input_value() == code
    _no_sideways_scroll(ben)
    assert_accessible(ben)
    ben.get_by_role("button", name="Join").click()
    expect(ben.get_by_role("heading", level=1)).to_have_text("Tap your name")
    expect(ben.get_by_role("link", name="Amy P.")).to_have_count(0)  # already agreed
    _no_sideways_scroll(ben)
    _agree_as(ben, "Ben Q.")
    _no_sideways_scroll(ben)

    # The teacher's screen updates itself (polling), without a reload.
    expect(teacher.get_by_text("2 of 4 pupils have agreed")).to_be_visible(timeout=15_000)
    expect(teacher.locator("[data-missing]")).to_have_text(re.compile(r"^\s*Cai R\.\s*Dot S\.\s*$"))
    teacher.reload()
    expect(teacher.locator("main")).to_contain_text("Ben Quill")
    assert_accessible(teacher)
    close = teacher.get_by_role("button", name="Close the session and record")
    # What closing does is said under that button (it sat under the kiosk button beside it) and describes it.
    expect(close).to_have_accessible_description(re.compile("^Closing records each agreement above"))
    button_box, hint_box = close.bounding_box(), teacher.locator("#close-hint").bounding_box()
    assert hint_box["y"] >= button_box["y"] + button_box["height"] and abs(hint_box["x"] - button_box["x"]) < 2
    close.click()
    expect(teacher.get_by_role("status").first).to_contain_text("2 acknowledgements recorded")
    assert_accessible(teacher)

    with in_school(live_app):
        sigs = session.scalars(select(Signature)).all()
        assert sorted(s.signed_name for s in sigs) == ["Amy P.", "Ben Q."]
        assert {s.method for s in sigs} == {"in_class"}
        assert all(s.witness_id is not None and s.ip == "127.0.0.1" and s.user_agent for s in sigs)
    # The pupils' devices are sent back to the join page once the session is closed.
    amy.goto("/portal/classroom/device/")
    expect(amy).to_have_url(re.compile(r"/portal/classroom/join$"))
    assert_accessible(amy)


def test_older_pupil_agrees_from_their_own_page(school, new_page):
    page = new_page(mobile=True)
    sign_in(page, "nell@brackenford.example", PASSWORD)
    page.goto("/portal/pupil/")
    page.get_by_role("link", name="Read and agree to the online-safety rules").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Our online-safety rules")
    assert_accessible(page)
    page.get_by_role("button", name="I agree").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick the box")
    assert_accessible(page)
    page.get_by_label("I have read these rules and I agree to follow them").check()
    page.get_by_role("button", name="I agree").click()
    expect(page.get_by_role("status")).to_contain_text("You have agreed")
    _no_sideways_scroll(page)
    assert_accessible(page)
