"""Real Chromium: a class session's pupil screens in the school's language. A young pupil's rule
screen in Welsh (or Polish) reads its own words in the page's language and the rules (written in English) in
English; in Arabic the screens run right to left. axe-core finds nothing on each page."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.classroom import operations as ops
from portal.db import session
from portal.people.models import Person, SchoolClass
from portal.schools.models import School
from tests.schools import in_school
from tests.test_classroom_browser import assert_accessible, school  # noqa: F401  (the class fixture)

pytestmark = pytest.mark.browser

#: Records what the page asks the browser to say. Headless Chromium may have no speechSynthesis at all;
#: then a bare stand-in is put in its place, so that the page's own script (classroom.js) still runs.
CAPTURE_SPEECH = """
window.__spoken = [];
if (!("speechSynthesis" in window) || !("SpeechSynthesisUtterance" in window)) {
  window.SpeechSynthesisUtterance = function (text) { this.text = text; this.lang = ""; };
  Object.defineProperty(window, "speechSynthesis", {value: {cancel: function () {}, speak: function () {}}});
}
window.speechSynthesis.speak = function (u) { window.__spoken.push({lang: u.lang, text: u.text}); };
"""

#: The pupil screens' own words in each language (from the catalogues).
WORDS = {
    "cy": {"join": "Ymuno", "names": "Tapia dy enw", "page": "Tudalen 1 o 6", "read": "Darllen e i mi",
           "rule": "Darllena hwn"},
    "pl": {"join": "Dołącz", "names": "Dotknij swojego imienia", "page": "Strona 1 z 6",
           "read": "Przeczytaj mi to", "rule": "Przeczytaj"},
}


def _open_session(live_app, language: str) -> str:
    with in_school(live_app):
        School.get().default_language = language
        teacher = session.query(Person).filter(Person.email == "tilda@brackenford.example").one()
        cls = session.query(SchoolClass).filter(SchoolClass.code == "2OWL").one()
        code = ops.start_session(teacher, cls).code
        session.commit()
    return code


@pytest.mark.parametrize("language", ["cy", "pl"])
def test_a_young_pupils_rule_screen_reads_aloud_in_the_pages_language(school, live_app, new_page,  # noqa: F811
                                                                      language):
    words = WORDS[language]
    code = _open_session(live_app, language)
    page = new_page()
    page.add_init_script(CAPTURE_SPEECH)
    page.goto(f"/portal/classroom/join?code={code}")
    page.get_by_role("button", name=words["join"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["names"])
    page.get_by_role("link", name="Amy P.").click()
    expect(page.locator("main")).to_contain_text(words["page"])
    html_lang = page.evaluate("document.documentElement.lang")
    assert html_lang == language and page.evaluate("document.documentElement.dir") == "ltr"
    button = page.get_by_role("button", name=words["read"])
    expect(button).to_be_visible()
    button.click()
    spoken = page.evaluate("window.__spoken")
    assert len(spoken) == 1
    # Walk finding: the rules, written in English, were read with a Welsh (or Polish) voice. They are marked
    # English and read in English; the page's own words stay in its language.
    assert spoken[0]["lang"] == "en-GB" and page.get_attribute("#screen-text", "lang") == "en-GB"
    assert spoken[0]["text"].strip() == page.inner_text("#screen-text").strip() != ""
    assert "Read it to me" not in page.inner_text("main")
    assert_accessible(page)
    # On the last page, the prompt and the button (the page's words) follow the rule, in the page's language.
    page.locator("button[data-read-aloud]").click()  # stop (its label now says so)
    while page.locator("nav a.btn-primary").count():
        page.locator("nav a.btn-primary").click()
    page.evaluate("window.__spoken = []")
    page.get_by_role("button", name=words["read"]).click()
    assert [s["lang"] for s in page.evaluate("window.__spoken")] == ["en-GB", language, language]


def test_the_pupil_screens_run_right_to_left_in_arabic(school, live_app, new_page):  # noqa: F811
    code = _open_session(live_app, "ar")
    page = new_page(mobile=True)
    page.goto(f"/portal/classroom/join?code={code}")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    page.get_by_role("button", name="انضم", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("المس اسمك")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert_accessible(page)
    page.get_by_role("link", name="Amy P.").click()
    expect(page.locator("main")).to_contain_text("الصفحة 1 من 6")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert_accessible(page)



def test_the_last_page_reads_out_what_to_do_next_and_can_be_stopped(school, live_app, new_page):  # noqa: F811
    """Finding: on the last page "Read it to me" read only the last rule, not "press the button" nor "I agree",
    so a Reception child who cannot read did not hear what to do; and the button had no way to stop."""
    code = _open_session(live_app, "en_GB")
    page = new_page(mobile=True)
    page.add_init_script(CAPTURE_SPEECH)
    page.goto(f"/portal/classroom/join?code={code}")
    page.get_by_role("button", name="Join", exact=True).click()
    page.get_by_role("link", name="Amy P.").click()
    while page.get_by_role("link", name="Next").count():
        page.get_by_role("link", name="Next").click()
    expect(page.get_by_role("button", name="I agree")).to_be_visible()
    page.get_by_role("button", name="Read it to me").click()
    spoken = page.evaluate("window.__spoken")
    # One part after another, each in its own language (the rule's text is English, the rest the page's).
    assert [s["lang"] for s in spoken] == ["en-GB", "en-GB", "en-GB"]
    rule = page.inner_text("#screen-text").strip()
    assert rule and spoken[0]["text"] == rule
    assert [s["text"] for s in spoken[1:]] == ["If you will try to follow these rules, press the button.", "I agree"]
    stop = page.get_by_role("button", name="Stop reading")
    expect(stop).to_have_attribute("aria-pressed", "true")
    stop.click()
    expect(page.get_by_role("button", name="Read it to me")).to_have_attribute("aria-pressed", "false")
    assert len(page.evaluate("window.__spoken")) == 3  # stopping says nothing more
    assert_accessible(page)
