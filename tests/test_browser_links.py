"""Real browser: a teacher declares a family link, the Head Teacher approves it, and another
member of staff records a contact incident and sees, live, that the link covers the pair."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.db import session
from portal.demo import DEMO_PASSWORD
from portal.people.models import Person, PupilProfile, SchoolClass
from tests.browser import assert_accessible, sign_in, wait_until
from tests.schools import demo_installation, in_school

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_pupil(live_app):
    with demo_installation(live_app):
        pupil = session.scalars(
            select(Person).join(PupilProfile, PupilProfile.person_id == Person.id)
            .join(SchoolClass, SchoolClass.id == PupilProfile.class_id)
            .where(SchoolClass.code == "Y4-KES").order_by(Person.id)).first()
        name = pupil.full_name
        return name


def _follow(page, locator) -> None:
    """Click something that loads a new page and wait until that page (with its CSS) has loaded,
    so axe never looks at a half-loaded or the previous page."""
    page.evaluate("window.__previousPage = true")
    locator.click()
    wait_until(page, "window.__previousPage === undefined", "the next page has loaded")
    page.wait_for_load_state("load")


def _sign_in(page, email: str) -> None:
    sign_in(page, email, DEMO_PASSWORD)
    wait_until(page, "!location.pathname.endsWith('/auth/login')", "signed in")
    page.wait_for_load_state("load")


def _sign_out(page):
    _follow(page, page.get_by_role("button", name="Sign out"))


def test_declare_approve_and_record_a_covered_contact(demo_pupil, new_page, mailbox):
    label = f"{demo_pupil} (Year 4 Kestrels)"
    page = new_page()

    # 1. A teacher declares the link from the task on their home page.
    _sign_in(page, "teacher2@larkspur.example")
    assert_accessible(page)
    _follow(page, page.get_by_role("link", name="Declare any family links with pupils, or confirm you have none"))
    assert page.get_by_role("heading", level=1).inner_text() == "Your family links"
    assert_accessible(page)
    page.get_by_label("Find the pupil by name or class").fill(demo_pupil)
    _follow(page, page.get_by_role("button", name="Search"))
    page.get_by_label(label).check()
    page.get_by_label("Relationship", exact=True).select_option("aunt_uncle")
    page.get_by_label("Note (if the relationship is not in the list, say what it is here)").fill("My sister's child.")
    assert_accessible(page)
    _follow(page, page.get_by_role("button", name="Declare this link"))
    assert "sent to the Head Teacher" in page.get_by_role("status").first.inner_text()
    assert "Waiting for a decision" in page.locator("table").inner_text()
    assert_accessible(page)
    _sign_out(page)

    # 2. The Head Teacher approves it.
    _sign_in(page, "head@larkspur.example")
    _follow(page, page.get_by_role("link", name="Family links to decide (1)"))  # a tile on the Head's dashboard
    assert_accessible(page)
    _follow(page, page.get_by_role("link", name="Review"))
    assert "Callum Fairweather" in page.locator("dl").inner_text()
    assert_accessible(page)
    page.get_by_label("Approve").check()
    _follow(page, page.get_by_role("button", name="Record decision"))
    register = page.get_by_role("table", name=re.compile(r"^\d+ approved family links?$"))
    assert demo_pupil in register.inner_text() and "Aunt or uncle" in register.inner_text()
    assert_accessible(page)
    _sign_out(page)

    # 3. The DSL (who holds links.view) sees, live, whether an approved link covers a pair.
    _sign_in(page, "dsl@larkspur.example")
    page.goto(f"/portal/incidents/contact/new?q={demo_pupil.replace(' ', '+')}")
    status = page.locator("#link-status")
    assert "Choose a pupil and an adult" in status.inner_text()
    page.get_by_label(label).check()
    page.get_by_label("Adult of the school").select_option(label="Owen Blackthorn")
    expect(status).to_have_attribute("data-covered", "no")
    assert "No approved family link" in status.inner_text()
    page.get_by_label("Adult of the school").select_option(label="Callum Fairweather")
    expect(status).to_have_attribute("data-covered", "yes")
    assert status.inner_text() == "An approved family link covers this pupil and this adult."
    assert_accessible(page)
    _sign_out(page)

    # 4. Another member of staff records a friend request: the form does not say whether a link
    # exists; the incident page does, once it is recorded (and the DSL sees it too).
    _sign_in(page, "teacher3@larkspur.example")
    _follow(page, page.get_by_role("link", name="Incidents"))
    assert_accessible(page)
    _follow(page, page.get_by_role("link", name="Record contact between a pupil and an adult"))
    assert_accessible(page)
    page.get_by_label("Find the pupil by name or class").fill(demo_pupil)
    _follow(page, page.get_by_role("button", name="Search"))
    assert page.locator("#link-status").count() == 0
    page.get_by_label(label).check()
    page.get_by_label("Adult of the school").select_option(label="Callum Fairweather")
    page.get_by_label("The pupil contacted the adult").check()
    page.get_by_label("Kind of contact").select_option("friend_request")
    page.get_by_label("Platform or app (if online)").fill("Photo app")
    page.get_by_label("Date it happened").fill(dt.date.today().isoformat())
    page.get_by_label("What happened").fill("A friend request from the pupil to their uncle.")
    assert_accessible(page)
    _follow(page, page.get_by_role("button", name="Record incident"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Contact incident CI-")
    assert "An approved family link covers this pupil" in page.get_by_test_id("covered").inner_text()
    assert "Designated Safeguarding Lead has been told" in page.get_by_role("status").first.inner_text()
    assert_accessible(page)
    assert len(mailbox.to("dsl@larkspur.example")) == 1
    assert demo_pupil not in mailbox.to("dsl@larkspur.example")[0].get_content()


def test_incident_and_link_forms_show_accessible_errors(demo_pupil, new_page):
    page = new_page()
    _sign_in(page, "support@larkspur.example")
    page.goto("/portal/incidents/social/new")
    assert_accessible(page)
    _follow(page, page.get_by_role("button", name="Record incident"))
    assert "Please check the form" in page.get_by_role("alert").inner_text()
    # Every error leads to its control: each item of the summary is a link.
    items = page.get_by_role("alert").get_by_role("listitem")
    assert items.count() >= 1 and page.get_by_role("alert").get_by_role("link").count() == items.count()
    assert_accessible(page)
    page.goto("/portal/links/")
    page.get_by_label("Find the pupil by name or class").fill(demo_pupil)
    _follow(page, page.get_by_role("button", name="Search"))
    _follow(page, page.get_by_role("button", name="Declare this link"))
    assert "Search for the pupil and choose them." in page.get_by_role("alert").inner_text()
    # That error leads to the pupils found: following it focuses the first one.
    page.get_by_role("alert").get_by_role("link", name=re.compile("Search for the pupil")).click()
    expect(page.locator("#pupil_id-0")).to_be_focused()
    assert_accessible(page)
    _sign_out(page)
    _sign_in(page, "volunteer@larkspur.example")
    page.goto("/portal/links/")
    assert page.get_by_label("Pupil's full name").is_visible()
    assert_accessible(page)
    _sign_out(page)
    _sign_in(page, "parent@larkspur.example")
    page.goto("/portal/links/relative")
    assert_accessible(page)


def test_links_and_incident_pages_fit_a_phone(live_app, demo_pupil, new_page):
    from portal.links import operations as links
    from portal.links.models import LinkSource

    with in_school(live_app):  # a declined declaration, so the register lists it
        head, contractor = (session.scalar(select(Person).where(Person.email == f"{who}@larkspur.example"))
                            for who in ("head", "contractor"))
        pupil = session.scalars(select(Person).join(PupilProfile, PupilProfile.person_id == Person.id)
                                .order_by(Person.id.desc())).first()
        decl = links.declare(declared_by=contractor, source=LinkSource.ADULT, relationship="other",
                             note="A family friend.", adult=contractor, pupil=pupil)
        links.decide(decl, by=head, approve=False,
                     reason="A family friend is not a family link, so the usual rules on contact apply.")
        session.commit()
    page = new_page(mobile=True)
    _sign_in(page, "head@larkspur.example")
    family = demo_pupil.split()[-1]
    for path in ("/portal/links/", f"/portal/links/?q={family}", "/portal/links/register", "/portal/incidents/",
                 f"/portal/incidents/contact/new?q={family}", "/portal/incidents/social/new"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        assert_accessible(page)
        if path == "/portal/links/register":  # the demo's declined declaration, with its reason
            declined = page.get_by_role("table", name="1 declined declaration, newest first")
            assert "A family friend is not a family link" in declined.inner_text()
