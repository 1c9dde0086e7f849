"""Real Chromium, on a phone (390x844) and a desktop, following each everyday journey of issue 17
by the words on the screen: parents, the office, teachers in class, the Head and staff.
axe-core must find nothing on every page visited."""
from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in
from tests.schools import demo_installation, in_school

pytestmark = pytest.mark.browser

KS1_AUP = "Our online rules (Reception to Year 2)"
KS2_AUP = "Our online rules (Years 3 to 6)"
PARENT_AUP = "Social media agreement for parents and carers"
PARENT = "harriet@larkspur.example"
FORMS = [pytest.param(False, id="desktop"), pytest.param(True, id="phone")]


@pytest.fixture
def family(live_app):
    """The demo school (people and classes only) plus the Brimble-Okafor family: two KS2 children
    and a Year 12 who signs her own policy."""
    from sqlalchemy import select

    from portal.auth.passwords import hash_password
    from portal.db import session
    from portal.people.models import GuardianLink, Person, PupilProfile, Role, SchoolClass

    with demo_installation(live_app):
        classes = {c.code: c for c in session.scalars(select(SchoolClass))}
        parent = Person(given_name="Harriet", family_name="Okafor", email=PARENT,
                        password_hash=hash_password(DEMO_PASSWORD), external_id="T-HARRIET")
        parent.add_role(Role.PARENT)
        session.add(parent)
        for given, code, year in (("Amara", "Y4-KES", 4), ("Bilal", "Y6-FAL", 6), ("Cerys", "12S", 12)):
            kid = Person(given_name=given, family_name="Okafor", external_id=f"T-{given.upper()}",
                         email=f"{given.lower()}.okafor@larkspur.example" if year >= 7 else None)
            kid.add_role(Role.PUPIL)
            session.add(kid)
            session.flush()
            session.add(PupilProfile(person_id=kid.id, year_group=year, date_of_birth=dt.date(2026 - 5 - year, 5, 1),
                                     class_id=classes[code].id))
            session.add(GuardianLink(parent_id=parent.id, pupil_id=kid.id))
        session.commit()


def follow(page, locator) -> None:
    """Click and wait for the next page to load fully (so axe never checks half a page)."""
    with page.expect_navigation():
        locator.click()
    page.wait_for_load_state("load")


def fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"sideways scroll: {page.url}"


def card(page, name: str):
    return page.get_by_role("region", name=name)


# ---------------------------------------------------------------- parents


@pytest.mark.parametrize("mobile", FORMS)
def test_parent_sees_each_child_and_signs_for_two_in_one_step(family, new_page, mobile):
    page = new_page(mobile=mobile)
    sign_in(page, PARENT, DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Harriet")
    for name in ("Amara Okafor", "Bilal Okafor", "Cerys Okafor"):
        expect(card(page, name)).to_be_visible()
    expect(card(page, "Amara Okafor")).to_contain_text("Not signed yet")
    expect(card(page, "Cerys Okafor")).to_contain_text("signs their own policy")
    expect(card(page, "Cerys Okafor")).to_contain_text("Cerys agrees to this themselves")
    fits(page)
    assert_accessible(page)

    # One task for both KS2 children; one step signs for both.
    follow(page, page.get_by_role("link", name=f"Read and sign: {KS2_AUP}"))
    group = page.get_by_role("group", name="Sign for")
    expect(group.get_by_label("Amara Okafor (Year 4)")).to_be_checked()
    expect(group.get_by_label("Bilal Okafor (Year 6)")).to_be_checked()
    fits(page)
    assert_accessible(page)
    page.get_by_label("I have read this policy and I agree to it").check()
    page.get_by_label("Type your full name").fill("harriet  okafor")
    follow(page, page.get_by_role("button", name="Sign for the children ticked"))
    expect(page.get_by_role("status").first).to_contain_text("You have signed for Amara and Bilal: 2 signatures")
    # The history names the person on file, not what was typed.
    history = page.get_by_role("table", name=re.compile("Signatures and decisions"))
    expect(history).to_contain_text("Signed by Harriet Okafor")
    expect(history).not_to_contain_text("harriet  okafor")
    fits(page)
    assert_accessible(page)

    page.goto("/portal/parent/")
    expect(card(page, "Amara Okafor")).to_contain_text("Signed by you on")
    expect(card(page, "Bilal Okafor")).to_contain_text("Signed by you on")

    # Their own agreement, with the photo questions; then a change of mind.
    follow(page, page.get_by_role("link", name=f"Read and sign: {PARENT_AUP}"))
    for question in page.get_by_role("radiogroup").all():
        label = question.get_by_role("radio", name="Yes")
        if label.count():
            label.check()
    page.get_by_label("I have read this policy and I agree to it").check()
    page.get_by_label("Type your full name").fill("Harriet Okafor")
    follow(page, page.get_by_role("button", name="Sign", exact=True))
    follow(page, page.get_by_role("link", name="Your yes/no answers (photos and other permissions)"))
    first = page.get_by_role("radiogroup").first
    first.get_by_role("radio", name="No").check()
    follow(page, page.get_by_role("button", name="Save answers"))
    answers = page.get_by_role("table", name=re.compile("Your answers, newest first"))
    expect(answers.get_by_role("row").nth(1)).to_contain_text("No")
    expect(answers.get_by_role("row").nth(1)).to_contain_text("Current")
    expect(answers).to_contain_text("Replaced")
    expect(answers).not_to_contain_text("changed later")
    fits(page)
    assert_accessible(page)


def test_the_office_records_a_paper_slip_and_everyone_sees_it_as_such(family, new_page, tmp_path):
    from portal.demo_term import slip_png

    office = new_page()
    sign_in(office, "office@larkspur.example", DEMO_PASSWORD)
    follow(office, office.get_by_role("link", name="Record a paper or verbal agreement"))
    expect(office.get_by_role("heading", level=1)).to_have_text("Paper and verbal agreements")
    assert_accessible(office)
    office.get_by_label("Parent's name").fill("okafor")
    follow(office, office.get_by_role("button", name="Find"))
    follow(office, office.get_by_role("link", name="Harriet Okafor"))
    assert_accessible(office)
    follow(office, office.get_by_role("link", name=f"Record agreement to {KS2_AUP} for Amara"))
    expect(office.get_by_role("heading", level=1)).to_have_text("Record Harriet's agreement")
    assert_accessible(office)
    office.get_by_label("They signed the paper slip").check()
    follow(office, office.get_by_role("button", name="Record the agreement"))
    expect(office.get_by_role("alert")).to_contain_text("Attach the scan (or a photo) of the signed slip")
    assert_accessible(office)
    slip = tmp_path / "slip.png"
    slip.write_bytes(slip_png())
    office.get_by_label("They signed the paper slip").check()
    office.get_by_label("Scan or photo of the signed slip (needed for paper)").set_input_files(str(slip))
    office.get_by_label("How it reached the office (optional)").fill("Returned in the book bag")
    follow(office, office.get_by_role("button", name="Record the agreement"))
    expect(office.get_by_role("status").first).to_contain_text("Recorded: Harriet Okafor agreed to")
    expect(office.get_by_role("status").first).to_contain_text("not as an electronic signature")
    assert_accessible(office)

    parent = new_page(mobile=True)
    sign_in(parent, PARENT, DEMO_PASSWORD)
    expect(card(parent, "Amara Okafor")).to_contain_text("(on paper, recorded by the office)")
    expect(card(parent, "Bilal Okafor")).to_contain_text("Not signed yet")
    assert_accessible(parent)

    head = new_page()
    sign_in(head, "head@larkspur.example", DEMO_PASSWORD)
    head.goto("/portal/policies/compliance/")
    follow(head, head.get_by_role("link", name=KS2_AUP))
    expect(head.get_by_role("heading", name=re.compile("Recorded by the office"))).to_be_visible()
    expect(head.get_by_role("table", name="Paper and verbal agreements")).to_contain_text("On paper")
    assert_accessible(head)


# ---------------------------------------------------------------- teachers in class


def _agree_through(page) -> None:
    """Step through a young pupil's screens and press "I agree"."""
    while page.get_by_role("link", name="Next").count():
        follow(page, page.get_by_role("link", name="Next"))
    follow(page, page.get_by_role("button", name="I agree"))


def test_teacher_class_session_live_progress_join_by_qr_and_kiosk(family, live_app, new_page):
    teacher = new_page()
    sign_in(teacher, "teacher1@larkspur.example", DEMO_PASSWORD)
    teacher.goto("/portal/staff/")  # (a teacher who is also a parent chooses a portal first)
    follow(teacher, teacher.get_by_role("link", name="Classroom acknowledgements"))
    teacher.get_by_label("Class").select_option(label="Year 2 Wrens")
    follow(teacher, teacher.get_by_role("button", name="Start a session"))
    expect(teacher.get_by_role("heading", level=1)).to_contain_text("Year 2 Wrens")
    expect(teacher.get_by_role("img", name=re.compile("QR code that joins this class session"))).to_be_visible()
    assert_accessible(teacher)
    main = teacher.inner_text("main")
    qr_url = re.search(r"It opens (\S+)", main).group(1)
    assert re.search(r"/portal/join$", re.search(r"open (\S+) and type this code", main).group(1))

    # A pupil's phone: the sign-in page leads to the join page; the messages fit the mistake.
    pupil = new_page(mobile=True)
    pupil.goto("/portal/auth/login")
    follow(pupil, pupil.get_by_role("link", name="Join your class"))
    expect(pupil.get_by_role("heading", level=1)).to_have_text("Join your class")
    pupil.get_by_label("Class code").fill("AB")
    follow(pupil, pupil.get_by_role("button", name="Join"))
    expect(pupil.get_by_role("alert")).to_contain_text("The code has 6 letters and numbers")
    expect(pupil.get_by_role("alert")).not_to_contain_text("does not match")
    code = qr_url.rsplit("/", 1)[1]
    wrong = "ACDEFH" if code != "ACDEFH" else "ACDEFJ"
    pupil.get_by_label("Class code").fill(wrong)
    follow(pupil, pupil.get_by_role("button", name="Join"))
    expect(pupil.get_by_role("alert")).to_contain_text("does not match an open class session")
    expect(pupil.get_by_role("alert")).not_to_contain_text("The code has 6 letters")
    fits(pupil)
    assert_accessible(pupil)
    # The QR code's address joins straight away.
    pupil.goto(qr_url)
    expect(pupil.get_by_role("heading", level=1)).to_have_text("Tap your name")
    fits(pupil)
    first_name = pupil.get_by_role("list").get_by_role("link").first
    name = first_name.inner_text().strip()
    follow(pupil, first_name)
    _agree_through(pupil)
    expect(pupil.get_by_role("status").first).to_contain_text("Thank you")

    # The teacher's screen shows it without a reload: the count and the table.
    entries = teacher.get_by_role("region", name=re.compile("Agreed in this session"))
    expect(entries.get_by_role("table")).to_contain_text(name.split()[0], timeout=15_000)
    expect(teacher.get_by_text(re.compile(r"^1 of \d+ pupils have agreed$"))).to_be_visible()
    expect(teacher.get_by_role("button", name=re.compile(f"Remove {name.split()[0]}"))).to_be_visible()
    assert_accessible(teacher)

    # Kiosk: the teacher's device handed round shows nothing of the teacher's account.
    teacher.get_by_label("Choose a PIN to get back to this screen (optional)").fill("2468")
    follow(teacher, teacher.get_by_role("button", name="Use this device for pupils (kiosk)"))
    expect(teacher.get_by_role("heading", level=1)).to_have_text("Tap your name")
    assert "Tamsin" not in teacher.content() and "Rowe" not in teacher.content()
    expect(teacher.get_by_role("button", name="Sign out")).to_have_count(0)
    assert_accessible(teacher)
    teacher.goto("/portal/staff/")
    expect(teacher.get_by_role("heading", level=1)).to_have_text("Tap your name")
    teacher.go_back()
    teacher.wait_for_load_state("load")
    assert "Tamsin" not in teacher.content()
    follow(teacher, teacher.get_by_role("link", name="Back to the teacher screen"))
    expect(teacher.get_by_role("heading", level=1)).to_have_text("Back to the teacher screen")
    teacher.get_by_label("Teacher's PIN or password").fill("1111")
    follow(teacher, teacher.get_by_role("button", name="Back to the teacher screen"))
    expect(teacher.get_by_role("alert")).to_contain_text("not the PIN or the teacher's password")
    assert_accessible(teacher)
    teacher.get_by_label("Teacher's PIN or password").fill("2468")
    follow(teacher, teacher.get_by_role("button", name="Back to the teacher screen"))
    expect(teacher.get_by_role("heading", level=1)).to_contain_text("Year 2 Wrens")
    follow(teacher, teacher.get_by_role("button", name="Close the session and record"))
    expect(teacher.get_by_role("status").first).to_contain_text("1 acknowledgement recorded")
    assert_accessible(teacher)


def _pdf_pages(pdf: bytes, tmp_path) -> list[list[str]]:
    path = tmp_path / "print.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True).stdout.decode()
    return [[ln.strip() for ln in page.splitlines() if ln.strip()] for page in text.split("\f") if page.strip()]


def _headings_alone(pages: list[list[str]], headings: set[str]) -> list[str]:
    """Pages that end with a heading, or hold nothing but headings (the footer line is ignored)."""
    bad = []
    for n, lines in enumerate(pages, 1):
        body = [ln for ln in lines if ln]
        if body and body[-1] in headings:
            bad.append(f"page {n} ends with the heading {body[-1]!r}")
        if body and all(ln in headings for ln in body):
            bad.append(f"page {n} holds only headings")
    return bad


def test_printed_ks2_rules_keep_headings_with_their_rules(family, new_page, tmp_path):
    """The KS2 text printed from the browser at many page heights: no page ends with a heading or
    holds only a heading. A control run without the print rules shows the check would notice."""
    page = new_page()
    sign_in(page, PARENT, DEMO_PASSWORD)
    follow(page, page.get_by_role("link", name=f"Read and sign: {KS2_AUP}"))
    headings = {h.strip() for h in page.locator("#policy-text h2").all_inner_texts()}
    assert headings == {"Being kind", "Staying safe", "Getting help"}
    sizes = [f"{h}mm" for h in range(110, 200, 6)]
    problems = []
    for height in sizes:
        pages = _pdf_pages(page.pdf(width="105mm", height=height, print_background=False), tmp_path)
        problems += [f"{height}: {p}" for p in _headings_alone(pages, headings)]
    assert not problems, problems
    # Control: the same pages without the rules that keep headings with what follows. They are
    # overridden through the CSSOM of the page's own stylesheet: an added <style> element would be
    # (rightly) refused by the page's Content-Security-Policy, which allows no inline style.
    page.evaluate("""() => {
        const sheet = [...document.styleSheets].find(s => s.href && s.href.endsWith("/policies.css"));
        sheet.insertRule("@media print { .policy-text h2 { break-after: auto !important; } "
                         + ".policy-text li, .policy-text p { break-inside: auto !important; } }",
                         sheet.cssRules.length);
    }""")
    control = []
    for height in sizes:
        control += _headings_alone(_pdf_pages(page.pdf(width="105mm", height=height), tmp_path), headings)
    assert control, "without the print rules a heading should end some page; the check is not looking"


# ---------------------------------------------------------------- the Head and staff


@contextlib.contextmanager
def lived_in(app):
    """The demo school a month into term (as `flask portal demo` makes it)."""
    from sqlalchemy import text

    from portal.db import session
    from portal.demo import load_demo
    from portal.schools.isolation import set_school

    # As `make run` sets it: the demo issues certificates (their CRL address) and seals records (a few
    # here: the pages need some sealed records, not the demo's 24 sealed PDFs).
    if not app.config.get("PORTAL_PUBLIC_URL"):
        app.config["PORTAL_PUBLIC_URL"] = "https://portal.larkspur.example"
    with app.app_context():
        session.execute(text("DELETE FROM portal_schools"))
        session.commit()
        school = load_demo(lived_in=True, seal=3)
        set_school(session, school.id)
        yield


@pytest.fixture
def month(live_app):
    with lived_in(live_app):
        pass


def test_heads_dashboard_charts_inbox_and_stacked_tables(month, new_page):
    head = new_page()
    sign_in(head, "head@larkspur.example", DEMO_PASSWORD)
    attention = head.get_by_role("region", name="What needs your attention")
    for tile in ("New concerns", "Overdue concerns", "Family links to decide", "Incidents to review",
                 "Reminders due"):
        expect(attention.get_by_role("link", name=re.compile(rf"^{tile} \(\d+\)$"))).to_be_visible()
    rates = head.get_by_role("table", name=re.compile("Signed so far, by who the policy is for"))
    expect(rates.get_by_role("rowheader", name="Parents and carers")).to_be_visible()
    expect(rates.get_by_role("img", name=re.compile("week by week")).first).to_be_visible()
    assert_accessible(head)

    # New concerns: open one from its subject, acknowledge it with one button.
    follow(head, attention.get_by_role("link", name=re.compile(r"^New concerns")))
    expect(head.get_by_role("heading", level=1)).to_have_text("Parents' concerns")
    assert_accessible(head)
    follow(head, head.get_by_role("link", name="Homework website will not let us log in"))
    expect(head.get_by_role("heading", level=1)).to_have_text("Homework website will not let us log in")
    follow(head, head.get_by_role("button", name="Acknowledge", exact=True))
    expect(head.get_by_role("status").first).to_contain_text("Status changed to acknowledged")
    assert_accessible(head)
    # Overdue ones are one click from home.
    head.goto("/portal/staff/")
    follow(head, head.get_by_role("region", name="What needs your attention")
           .get_by_role("link", name=re.compile(r"^Overdue concerns")))
    expect(head.get_by_role("table")).to_contain_text("overdue")

    # Charts, with their numbers in tables.
    head.goto("/portal/staff/")
    follow(head, head.get_by_role("link", name="Charts: the school year so far").first)
    expect(head.get_by_role("heading", level=1)).to_have_text("The school year so far")
    for chart in ("Percent signed over the school year, one line per audience",
                  "Concerns raised this school year, by category", "Concerns raised each month this school year",
                  re.compile("School days taken to acknowledge a concern")):
        expect(head.get_by_role("img", name=chart)).to_be_visible()
    for table in ("Percent signed at the end of each week", "Percent of each class signed at the end of each week",
                  "Concerns raised each month", "How many school days it took to acknowledge each concern"):
        expect(head.get_by_role("table", name=table)).to_be_visible()
    assert_accessible(head)

    # On a phone, the long tables become stacked cards (no sideways scrolling).
    phone = new_page(mobile=True)
    sign_in(phone, "head@larkspur.example", DEMO_PASSWORD)
    fits(phone)
    assert_accessible(phone)
    for path, table in (("/portal/concerns/inbox", re.compile(r"concerns?")),
                        ("/portal/auditor/", re.compile("records", re.I)),
                        ("/portal/links/register", "Approved family links"),
                        ("/portal/policies/compliance/", "Signatures for each published policy")):
        phone.goto(path)
        phone.wait_for_load_state("load")
        fits(phone)
        assert "not given" not in phone.content(), path  # the demo declares links as its pages do
        shown = phone.get_by_role("table", name=table).first
        assert shown.evaluate("t => getComputedStyle(t.querySelector('tbody tr')).display") == "block", path
        assert_accessible(phone)

    # A teacher's home: their to-dos and their class's outstanding signatures.
    teacher = new_page(mobile=True)
    sign_in(teacher, "teacher2@larkspur.example", DEMO_PASSWORD)
    classes = teacher.get_by_role("region", name="Your classes")
    expect(classes).to_contain_text("Year 4 Kestrels")
    expect(classes).to_contain_text("Parents: ")
    expect(classes).to_contain_text("agreed in class")
    follow(teacher, classes.get_by_role("link", name="Year 6 Falcons"))
    expect(teacher.get_by_role("table")).to_contain_text("Not signed yet")
    fits(teacher)
    assert_accessible(teacher)


def test_demo_parent_home_on_a_phone(month, new_page):
    page = new_page(mobile=True)
    sign_in(page, "parent@larkspur.example", DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")
    expect(page.get_by_role("region", name=re.compile("Reception|Robins|Brimble")).first).to_be_visible()
    fits(page)
    assert_accessible(page)


__all__ = ["in_school"]
