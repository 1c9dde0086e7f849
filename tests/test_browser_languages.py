"""Real Chromium: a parent switches language, reads the signing page with the school's translation
(right to left for Urdu and Arabic), signs, and downloads a sealed PDF in that language whose text
hash is the one recorded. axe-core must find nothing on every page; screenshots go to docs/screenshots/
with PORTAL_SAVE_SCREENSHOTS=1."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from portal.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in
from tests.schools import demo_installation, in_school

pytestmark = pytest.mark.browser

#: Screenshots are taken, into docs/screenshots/, only when PORTAL_SAVE_SCREENSHOTS=1. An ordinary run takes
#: none: no assertion reads them, a full-page capture costs the browser real work, and the working tree stays clean.
DOCS_SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PARENT_AUP = "Social media agreement for parents and carers"

TRANSLATIONS = {
    "ur": ("والدین کے لیے سوشل میڈیا کا معاہدہ", "## ہمارا وعدہ\n\n- میں اسکول کے بارے میں خدشات اسکول کو بتاؤں گا۔\n"
                                                "- میں دوسرے بچوں کی تصاویر آن لائن نہیں لگاؤں گا۔\n"),
    "ar": ("اتفاقية وسائل التواصل الاجتماعي لأولياء الأمور", "## وعدنا\n\n- سأخبر المدرسة بمخاوفي بشأنها.\n"
                                                          "- لن أنشر صور أطفال آخرين على الإنترنت.\n"),
    "pl": ("Umowa dotycząca mediów społecznościowych", "## Nasza obietnica\n\n- Obawy zgłaszam bezpośrednio szkole.\n"
                                                     "- Nie publikuję zdjęć cudzych dzieci w internecie.\n"),
    "cy": ("Cytundeb cyfryngau cymdeithasol i rieni", "## Ein haddewid\n\n- Dywedaf wrth yr ysgol am bryderon.\n"
                                                     "- Ni fyddaf yn rhannu lluniau o blant eraill ar-lein.\n"),
}
#: The page's own words in each language (from the catalogues).
SIGN_BUTTON = {"ur": "دستخط کریں", "ar": "وقّع", "pl": "Podpisz", "cy": "Llofnodi"}


@pytest.fixture
def parent_email(live_app, server):
    """The demo school with its sealing certificate, a parent with one child, and a published
    translation of the parents' AUP into each language above."""
    from sqlalchemy import select

    from portal.auth.passwords import hash_password
    from portal.db import session
    from portal.people.models import GuardianLink, Person, Role
    from portal.policies.models import Policy
    from portal.policies.operations import published_of
    from portal.policies.translations import publish_translation, save_translation
    from portal.records.keys import init_keys, school_keys_dir
    from portal.schools.models import School

    with demo_installation(live_app):
        init_keys(school_keys_dir(School.get()), School.get().name)
        parent = Person(given_name="Samira", family_name="Haddad", email="samira@larkspur.example",
                        password_hash=hash_password(DEMO_PASSWORD), external_id="T-SAMIRA")
        parent.add_role(Role.PARENT)
        kid = Person(given_name="Yusuf", family_name="Haddad", external_id="T-YUSUF")
        kid.add_role(Role.PUPIL)
        session.add_all([parent, kid])
        session.flush()
        session.add(GuardianLink(parent_id=parent.id, pupil_id=kid.id))
        version = published_of(session.scalar(select(Policy).where(Policy.slug == "aup-parent")))
        for code, (title, body) in TRANSLATIONS.items():
            draft = save_translation(version, language=code, title=title, body_md=body)
            publish_translation(draft, requires_resign=False)
        session.commit()
        return parent.email


def follow(page, locator) -> None:
    with page.expect_navigation():
        locator.click()
    page.wait_for_load_state("load")


def _letters(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isalpha())


@pytest.mark.parametrize("code, mobile", [("ur", False), ("ar", True), ("pl", True), ("cy", False)])
def test_parent_switches_language_signs_and_gets_the_sealed_pdf(parent_email, new_page, live_app, tmp_path,
                                                                code, mobile):
    device = "phone" if mobile else "desktop"

    def shoot(name: str) -> None:
        if os.environ.get("PORTAL_SAVE_SCREENSHOTS") == "1":
            page.screenshot(path=str(DOCS_SCREENSHOTS / f"{name}-{code}-{device}.png"), full_page=True)

    page = new_page(mobile=mobile)
    sign_in(page, parent_email, DEMO_PASSWORD)
    page.wait_for_url("**/portal/parent/")
    # The picker at the foot of every page.
    page.locator("#portal-language-select").select_option(code)
    follow(page, page.locator("form.portal-language button[type=submit]"))
    html = page.locator("html")
    assert html.get_attribute("lang") == code
    assert html.get_attribute("dir") == ("rtl" if code in ("ur", "ar") else "ltr")
    if code in ("ur", "ar"):
        assert page.locator("link[href$='bootstrap.rtl.min.css']").count() == 1
        # Right to left for real: text runs from the right, so the greeting ends at the right edge.
        assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        text, block = page.evaluate("""() => {
            const h1 = document.querySelector("h1"), range = document.createRange();
            range.selectNodeContents(h1);
            const t = range.getBoundingClientRect(), b = h1.getBoundingClientRect();
            return [[t.left, t.right], [b.left, b.right]];
        }""")
        assert abs(text[1] - block[1]) < 2 and text[0] - block[0] > 40, (text, block)
    assert_accessible(page)
    shoot("parent-home")

    # The signing page: the translation first (in its own language and direction), then the English.
    # The task names the policy by its translated title.
    title, _body = TRANSLATIONS[code]
    follow(page, page.locator("a[href*='/portal/policies/versions/']", has_text=title).first)
    assert page.locator("h1").inner_text() == PARENT_AUP
    translation = page.locator("article .policy-translation")
    assert translation.get_attribute("lang") == code and title in translation.inner_text()
    assert page.locator("article .policy-original").get_attribute("lang") == "en-GB"
    assert "The English text is the authoritative version of this policy" in page.locator("article").inner_text()
    assert_accessible(page)
    shoot("sign")

    for group in page.locator("fieldset:has(input[type=radio][value=yes])").all():
        group.locator("input[value=yes]").check()
    page.locator("#agree").check()
    page.locator("#typed_name").fill("Samira Haddad")
    follow(page, page.get_by_role("button", name=SIGN_BUTTON[code], exact=True))
    page.wait_for_url("**/portal/policies/signatures/*")
    assert page.locator("html").get_attribute("lang") == code
    link = page.locator("#sealed-copy a[href$='.pdf']")
    link.wait_for(timeout=20000)
    assert_accessible(page)
    shoot("signed")

    pdf = page.request.get(link.get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf.body())
    tool = shutil.which("pdftotext")
    if not tool:
        from tests.deps import unavailable

        unavailable("pdftotext is not installed (poppler-utils)")
    text = subprocess.run([tool, str(path), "-"], capture_output=True, check=True, text=True).stdout
    with in_school(live_app):
        from sqlalchemy import select

        from portal.db import session
        from portal.policies.models import PolicyVersion
        from portal.policies.rendering import render_version
        from portal.signatures.models import Signature

        sig = session.scalar(select(Signature).order_by(Signature.id.desc()))
        version = session.get(PolicyVersion, sig.version_id)
        assert sig.language == code and sig.text_sha256 == render_version(version, language=code).sha256
    assert sig.text_sha256 in re.sub(r"\s+", "", text)
    letters = _letters(text)
    assert _letters(title) in letters or _letters(title)[::-1] in letters, text[:1500]
