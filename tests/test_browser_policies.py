"""Real Chromium: a parent signs their own AUP and countersigns a Year 2 child's; the Head's
dashboard counts change. axe-core must find nothing on every page visited."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in
from tests.schools import demo_installation, in_school

pytestmark = pytest.mark.browser

PARENT_AUP = "Social media agreement for parents and carers"
KS1_AUP = "Our online rules (Reception to Year 2)"
KS2_AUP = "Our online rules (Years 3 to 6)"


@pytest.fixture
def family(live_app):
    """The demo school plus a parent with two children: Year 2 (KS1) and Year 4 (KS2)."""
    from sqlalchemy import select

    from portal.auth.passwords import hash_password
    from portal.db import session
    from portal.people.models import GuardianLink, Person, PupilProfile, Role, SchoolClass

    with demo_installation(live_app):
        classes = {c.code: c for c in session.scalars(select(SchoolClass))}
        parent = Person(given_name="Robin", family_name="Quillfeather", email="robin@larkspur.example",
                        password_hash=hash_password(DEMO_PASSWORD), external_id="T-ROBIN")
        parent.add_role(Role.PARENT)
        session.add(parent)
        kids = []
        for given, code, year in (("Pip", "Y2-WRE", 2), ("Moss", "Y4-KES", 4)):
            kid = Person(given_name=given, family_name="Quillfeather", external_id=f"T-{given.upper()}")
            kid.add_role(Role.PUPIL)
            session.add(kid)
            session.flush()
            session.add(PupilProfile(person_id=kid.id, year_group=year, date_of_birth=dt.date(2026 - 5 - year, 5, 1),
                                     class_id=classes[code].id))
            session.add(GuardianLink(parent_id=parent.id, pupil_id=kid.id))
            kids.append(kid)
        session.commit()
        return parent.email


def follow(page, locator) -> None:
    """Click a link or submit button and wait until the next page has fully loaded
    (styles applied), so axe never checks a half-loaded page."""
    with page.expect_navigation():
        locator.click()
    page.wait_for_load_state("load")


def _row(page, label: str) -> str:
    row = page.locator("tr", has=page.get_by_role("rowheader", name=label, exact=True)).first
    return re.sub(r"\s+", " ", row.inner_text()).strip()


def test_parent_signs_and_countersigns_and_the_dashboard_changes(family, new_page, live_app):
    head = new_page()
    sign_in(head, "head@larkspur.example", DEMO_PASSWORD)
    follow(head, head.get_by_role("link", name="Who has signed"))
    head.wait_for_load_state()
    assert head.get_by_role("heading", level=1).inner_text() == "Who has signed"
    assert_accessible(head)
    parents_before = _row(head, PARENT_AUP)
    wrens_before = _row(head, "Year 2 Wrens")
    assert parents_before.split()[len(PARENT_AUP.split())] == "0"  # nobody has signed yet
    assert wrens_before.split()[3] == "0"

    page = new_page()
    sign_in(page, family, DEMO_PASSWORD)
    page.wait_for_url("**/portal/parent/")
    assert_accessible(page)
    tasks = page.get_by_role("region", name="To do")
    assert tasks.get_by_role("link", name=f"Read and sign: {KS1_AUP}").count() == 1
    assert tasks.get_by_role("link", name=f"Read and sign: {KS2_AUP}").count() == 1

    # 1. The parent's own AUP, with the two photo questions.
    follow(page, tasks.get_by_role("link", name=f"Read and sign: {PARENT_AUP}"))
    assert page.get_by_role("heading", level=1).inner_text() == PARENT_AUP
    assert "01632 960 000" in page.get_by_role("article").inner_text()  # the official channel
    assert_accessible(page)
    # "Sign" with nothing filled in: the page comes back with the focus on the errors, below the long policy.
    follow(page, page.get_by_role("button", name="Sign", exact=True))
    summary = page.get_by_role("alert").filter(has_text="Please check the form")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    # Everything missing is listed at once: both questions, the box and the name.
    assert summary.inner_text().count("Choose yes or no.") == 2
    assert "Tick the box" in summary.inner_text() and "Type your full name" in summary.inner_text()
    # ...in the order of the page (walk finding: the box and the name came before the questions above them).
    items = summary.locator("li").all_inner_texts()
    where = [next(i for i, text in enumerate(items) if words in text)
             for words in ("Choose yes or no.", "Tick the box", "Type your full name")]
    assert where == sorted(where), items
    # Each error leads to its control: following the name's takes the parent to the name box.
    summary.get_by_role("link", name=re.compile("Type your full name")).click()
    expect(page.get_by_label("Type your full name")).to_be_focused()
    # Sent back again from there, the summary takes the focus again (the link left no #fragment behind).
    follow(page, page.get_by_role("button", name="Sign", exact=True))
    expect(page.get_by_role("alert").filter(has_text="Please check the form")).to_be_focused()
    assert_accessible(page)
    page.get_by_role("radiogroup", name="May the school show photos of my children on the school website?") \
        .get_by_label("Yes").check()
    page.get_by_role("radiogroup", name=re.compile("social media accounts")).get_by_label("No").check()
    page.get_by_label("I have read this policy and I agree to it").check()
    page.get_by_label("Type your full name").fill("robin  QUILLFEATHER")
    follow(page, page.get_by_role("button", name="Sign", exact=True))
    page.wait_for_url("**/portal/policies/signatures/*")
    assert "Your signature has been recorded" in page.get_by_role("status").first.inner_text()
    # The school has no sealing certificate yet, so the sealed copy cannot be made: the page
    # says so and keeps asking (sealed-copy.js). Once the certificate exists and the records are
    # repaired, the link appears on the open page without a reload.
    copy = page.locator("#sealed-copy")
    assert "being made" in copy.inner_text()
    assert_accessible(page)
    with in_school(live_app):
        from portal.records.keys import init_keys, school_keys_dir
        from portal.records.operations import repair
        from portal.schools.models import School

        init_keys(school_keys_dir(School.get()), School.get().name)
        assert repair() == (1, 0)
    copy.get_by_role("link", name="Download the sealed PDF").wait_for(timeout=20000)
    assert_accessible(page)
    # Opened again: sealed without a time stamp (no time-stamping service here), so no "even years from now".
    page.reload()
    assert "check it is genuine on the verification page." in copy.inner_text()
    assert "years from now" not in copy.inner_text()

    # 2. Countersign the Year 2 child's AUP (big text, icons, read aloud).
    page.goto("/portal/parent/")
    follow(page, page.get_by_role("link", name=f"Read and sign: {KS1_AUP}"))
    page.wait_for_load_state()
    assert "Pip Quillfeather" in page.locator(".lead").inner_text()
    if page.evaluate("'speechSynthesis' in window"):
        # read-aloud.js (a static file; no inline script) reveals the button.
        page.get_by_role("button", name="Read aloud").wait_for(state="visible")
    assert page.locator("article .rule-icon[aria-hidden='true']").count() == 8
    assert_accessible(page)
    # A wrong name is refused with an accessible message, and nothing is recorded.
    page.get_by_label("I have read this policy and I agree to it").check()
    page.get_by_label("Type your full name").fill("Pip Quillfeather")
    follow(page, page.get_by_role("button", name="Sign", exact=True))
    assert "Type your full name as it appears on your account" in page.get_by_role("alert").inner_text()
    assert_accessible(page)
    page.get_by_label("I have read this policy and I agree to it").check()
    page.get_by_label("Type your full name").fill("Robin Quillfeather")
    follow(page, page.get_by_role("button", name="Sign", exact=True))
    page.wait_for_url("**/portal/policies/signatures/*")
    page.goto("/portal/policies/history")
    history = page.get_by_role("table").inner_text()
    assert "Pip Quillfeather" in history and "Countersigned online" in history
    # The row's date opens the signature (its "PDF" link is the sealed copy's download).
    follow(page, page.get_by_role("link", name=re.compile(r"^(?!PDF).*" + re.escape(KS1_AUP))))
    page.wait_for_load_state()
    assert "I am kind online" in page.get_by_role("main").inner_text()
    assert_accessible(page)
    page.go_back()
    page.wait_for_load_state()

    follow(page, page.get_by_role("link", name="Your yes/no answers (photos and other permissions)"))
    assert_accessible(page)

    # The home page now lists only the Year 4 child's AUP.
    page.goto("/portal/parent/")
    links = page.get_by_role("region", name="To do").get_by_role("link", name=re.compile("^Read and sign"))
    assert links.all_inner_texts() == [f"Read and sign: {KS2_AUP}"]

    # 3. The Head's dashboard counts have changed.
    head.reload()
    parents_after = _row(head, PARENT_AUP)
    wrens_after = _row(head, "Year 2 Wrens")
    n = len(PARENT_AUP.split())
    assert int(parents_after.split()[n]) == int(parents_before.split()[n]) + 1
    assert int(wrens_after.split()[3]) == int(wrens_before.split()[3]) + 1
    assert_accessible(head)
    follow(head, head.get_by_role("link", name=PARENT_AUP))
    head.wait_for_load_state()
    assert "No response yet" in head.get_by_role("main").inner_text()
    assert_accessible(head)
    head.goto("/portal/policies/manage/")
    assert_accessible(head)
    follow(head, head.get_by_role("link", name=PARENT_AUP))
    head.wait_for_load_state()
    assert head.get_by_role("heading", level=1).inner_text() == PARENT_AUP
    assert_accessible(head)
    follow(head, head.get_by_role("link", name="Version 1"))
    head.wait_for_load_state()
    assert "version 1 (published)" in head.get_by_role("heading", level=1).inner_text()
    assert_accessible(head)


def test_signing_page_fits_a_phone(family, new_page):
    page = new_page(mobile=True)
    sign_in(page, family, DEMO_PASSWORD)
    page.wait_for_url("**/portal/parent/")
    follow(page, page.get_by_role("link", name=f"Read and sign: {KS2_AUP}"))
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == KS2_AUP
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(page)


@pytest.fixture
def demo(live_app):
    with demo_installation(live_app):
        return None


@pytest.mark.parametrize("mobile", [False, True], ids=["desktop", "phone"])
def test_the_head_publishes_what_is_on_the_screen(demo, new_page, mobile):
    """Finding: a new rule typed into a draft and "Publish" pressed without "Save draft" was thrown away, and the
    page said the version was published."""
    page = new_page(mobile=mobile)
    sign_in(page, "head@larkspur.example", DEMO_PASSWORD)
    page.goto("/portal/policies/manage/")
    assert_accessible(page)  # the list of policies stacks on a phone
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    follow(page, page.get_by_role("link", name=KS2_AUP, exact=True))
    assert_accessible(page)
    follow(page, page.get_by_role("button", name="Start a new version"))
    assert_accessible(page)
    text = page.get_by_label("Policy text", exact=True)
    text.fill(text.input_value() + "\n\n- Ask a grown-up before you join a new game online.")
    page.get_by_label("What changed (shown to people asked to sign again)").fill("A rule about online games.")
    page.get_by_label("Minor change: signatures of the previous version still count").check()
    follow(page, page.get_by_role("button", name="Publish version 2"))
    expect(page.get_by_text("Version 2 is published.")).to_be_visible()
    versions = page.get_by_role("table", name="Versions, newest first")
    expect(versions).to_contain_text("A rule about online games.")
    follow(page, versions.get_by_role("link", name="Version 2"))
    expect(page.get_by_role("region", name="As people will see it")).to_contain_text(
        "Ask a grown-up before you join a new game online.")
    assert_accessible(page)
