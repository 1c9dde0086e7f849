"""Real-browser checks of the foundation pages: sign-in, each portal's home, phone width, axe."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in, wait_until
from tests.schools import demo_installation, in_school

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(live_app):
    with demo_installation(live_app):
        pass


@pytest.mark.parametrize(
    "email, landing, heading",
    [
        ("parent@larkspur.example", "/portal/parent/", "Hello"),
        ("head@larkspur.example", "/portal/staff/", "Hello, Helen"),
        ("auditor@larkspur.example", "/portal/auditor/", "Signed records"),
        ("office@larkspur.example", "/portal/staff/", "Hello, Aled"),
        ("teacher1@larkspur.example", "/portal/", "Hello, Tamsin"),
        ("pupil029@larkspur.example", "/portal/pupil/", "Hello"),
        ("governor@larkspur.example", "/portal/staff/", "Hello, Gwen"),
    ],
)
def test_each_role_lands_on_its_portal_and_it_is_accessible(demo, new_page, email, landing, heading):
    page = new_page()
    page.goto("/portal/auth/login")
    assert_accessible(page)
    sign_in(page, email, DEMO_PASSWORD)
    assert page.url.endswith(landing), page.url
    assert heading in page.get_by_role("heading", level=1).inner_text()
    assert_accessible(page)


def test_pages_work_on_a_phone_and_pass_axe(demo, new_page):
    page = new_page(mobile=True)
    sign_in(page, "head@larkspur.example", DEMO_PASSWORD)
    menu = page.get_by_role("button", name="Show menu")
    assert menu.is_visible()
    menu.click()
    page.get_by_role("link", name="Staff", exact=True).wait_for(state="visible")
    # No sideways scrolling at phone width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page)
    for path in ("/portal/staff/delegation", "/portal/admin/roster", "/portal/admin/people", "/portal/admin/settings",
                 "/portal/admin/"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        assert_accessible(page)


def test_wrong_password_shows_an_accessible_error(demo, new_page):
    page = new_page()
    sign_in(page, "parent@larkspur.example", "not the password")
    assert page.get_by_role("alert").inner_text().startswith("That email address and password")
    assert_accessible(page)


def test_roster_upload_errors_are_shown_to_an_admin(demo, new_page, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("type,external_id,given_name\npupil,X1,Ann\nalien,X2,Bo\n")
    page = new_page()
    sign_in(page, "office@larkspur.example", DEMO_PASSWORD)
    page.goto("/portal/admin/roster")
    page.get_by_label("Roster CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    alert = page.get_by_role("alert")
    assert "Nothing was imported" in alert.inner_text()
    assert "bad.csv row 3" in alert.inner_text()
    assert_accessible(page)


def test_every_foundation_page_passes_axe(demo, new_page, live_app):
    """Class page, child page, pupil home, invitation and reset pages, errors."""
    from sqlalchemy import select

    from portal.auth.tokens import INVITE, RESET, make_token
    from portal.db import session
    from portal.people.models import Person, SchoolClass

    with live_app.test_request_context(), in_school(live_app):
        cls_id = session.scalar(select(SchoolClass.id).where(SchoolClass.code == "R-ROB"))
        parent = session.scalar(select(Person).where(Person.email == "parent@larkspur.example"))
        child_id = parent and session.scalar(
            select(Person.id).where(Person.family_name == parent.family_name, Person.email.is_(None)))
        volunteer = session.scalar(select(Person).where(Person.email == "volunteer@larkspur.example"))
        invite = make_token(volunteer, INVITE)
        reset = make_token(volunteer, RESET)
    page = new_page()
    for path in (f"/portal/auth/invite/{invite}", f"/portal/auth/reset/{reset}", "/portal/auth/reset/bad-token",
                 "/portal/auth/forgot"):
        page.goto(path)
        assert_accessible(page)
    sign_in(page, "teacher1@larkspur.example", DEMO_PASSWORD)
    assert "Where would you like to go?" in page.content()
    assert_accessible(page)
    page.goto(f"/portal/staff/classes/{cls_id}")
    assert page.get_by_role("table").is_visible()
    assert_accessible(page)
    page.goto("/portal/no-such-page")
    assert_accessible(page)
    page.goto("/portal/auditor/")  # a teacher may not: 403 page
    assert "Not allowed" in page.content()
    assert_accessible(page)
    page2 = new_page()
    sign_in(page2, "parent@larkspur.example", DEMO_PASSWORD)
    page2.goto(f"/portal/parent/children/{child_id}")
    assert_accessible(page2)


def test_the_errors_summary_links_each_error_to_a_control_it_can_use(demo, new_page):
    """form-errors.js links each error of the summary to its control, and leaves as text an error whose
    control the page does not show (a field a forged post filled, a list no longer offered) or that is
    disabled, so no link leads nowhere. A list of checkboxes leads to its first box. The summary is put on
    the sign-in page as a page sent back would have it."""
    page = new_page()
    page.goto("/portal/auth/login")
    control = page.get_by_label("Email address").get_attribute("id")
    page.evaluate(_ADD_SUMMARY, control)
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Email: Give your email address.")).to_have_attribute("href", f"#{control}")
    assert summary.get_by_role("listitem").count() == 4 and summary.get_by_role("link").count() == 2
    # Errors with a control come in the order of their controls on the page, after those without (walk finding:
    # the signing form listed the box and the name before the questions above them).
    assert [t.split(":")[0] for t in summary.get_by_role("listitem").all_inner_texts()] == [
        "Hidden", "Email", "Deputies", "Switched off"]
    assert summary.get_by_role("listitem").nth(3).get_by_role("link").count() == 0  # the disabled box
    summary.get_by_role("link", name="Deputies: Choose at least one.").click()
    expect(page.locator("#boxes-0")).to_be_focused()
    assert "#" not in page.url  # the address keeps no #fragment: a form sent back there is not changed
    # Someone who already chose a field while a slow page loaded keeps it: the summary does not take it.
    page.reload()
    page.get_by_label("Password").focus()
    page.evaluate(_ADD_SUMMARY, control)
    expect(page.get_by_role("alert").get_by_role("link")).to_have_count(2)
    expect(page.get_by_label("Password")).to_be_focused()
    # A field focused by the address's #fragment was not chosen: the summary takes the focus.
    page.goto(f"/portal/auth/login?again=1#{control}")  # a new page, not a jump within this one
    expect(page.get_by_label("Email address")).to_be_focused()
    page.evaluate(_ADD_SUMMARY, control)
    expect(page.get_by_role("alert")).to_be_focused()


_ADD_SUMMARY = """(control) => {
      const summary = document.createElement("div");
      summary.className = "alert alert-danger portal-form-errors";
      summary.setAttribute("role", "alert");
      summary.tabIndex = -1;
      summary.innerHTML = `<ul><li data-portal-control="${control}">Email: Give your email address.</li>`
        + '<li data-portal-control="not-on-this-page">Hidden: Only for another kind of post.</li>'
        + '<li data-portal-control="boxes">Deputies: Choose at least one.</li>'
        + '<li data-portal-control="off">Switched off: Not now.</li></ul>';
      const extra = document.createElement("div");
      extra.innerHTML = '<fieldset><legend>Deputies</legend><ul id="boxes">'
        + '<li><input type="checkbox" id="boxes-0" name="boxes" value="1"> <label for="boxes-0">One</label></li>'
        + '</ul></fieldset><input id="off" disabled aria-label="Switched off">';
      document.querySelector("main").prepend(summary);
      document.querySelector("main").append(extra);
      const script = document.createElement("script");
      script.src = "/portal/static/form-errors.js";
      document.body.append(script);
    }"""


def test_a_table_too_wide_for_the_screen_can_be_scrolled_from_the_keyboard(demo, new_page):
    """scroll-regions.js: a .table-responsive box whose table is wider than the phone becomes a focusable
    region named by the table's caption (axe: scrollable-region-focusable); one that fits stays out of the tab
    order. Found on a phone: the teacher's list of family links could only be scrolled with a finger."""
    page = new_page(mobile=True)
    page.goto("/portal/auth/login")
    page.evaluate("""() => {
        const add = (id, width) => {
          const box = document.createElement("div");
          box.className = "table-responsive";
          box.id = id;
          box.innerHTML = `<table class="table"><caption>Table ${id}</caption>`
            + "<thead><tr><th scope='col'>A</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>";
          box.querySelector("table").style.minWidth = `${width}px`;  // CSSOM: the page's CSP allows it
          document.querySelector("main").append(box);
        };
        add("wide", 900);
        add("narrow", 100);
        window.dispatchEvent(new Event("resize"));
    }""")
    wide = page.get_by_role("region", name="Table wide")
    expect(wide).to_have_attribute("tabindex", "0")
    expect(page.locator("#narrow")).not_to_have_attribute("tabindex", "0")
    wide.focus()
    page.keyboard.press("ArrowRight")
    expect(wide).to_be_focused()
    wait_until(page, "document.getElementById('wide').scrollLeft > 0", "the arrow key scrolls the table")
    assert_accessible(page)
    # Wide enough to show it all, the box leaves the tab order again.
    page.set_viewport_size({"width": 1400, "height": 900})
    expect(page.locator("#wide")).not_to_have_attribute("tabindex", "0")
    expect(page.get_by_role("region", name="Table wide")).to_have_count(0)
