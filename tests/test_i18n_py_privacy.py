"""Languages in data protection, second part: the default privacy notice is shown in the reader's language
until the school writes its own (which is then shown exactly as written, in every language), and the
retention schedule's "what it covers" and "source" explanations are shown in Welsh to Welsh staff."""
from __future__ import annotations

import re

import pytest

from portal.dataprotection import privacy
from tests.dataprotection_helpers import *  # noqa: F401,F403
from tests.i18n_helpers import page_text
from tests.i18n_helpers import speaks as _speaks
from tests.records_support import *  # noqa: F401,F403

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend

BASE = "/portal/data-protection"



def _page(resp) -> str:
    """The page's text with entities undone (an apostrophe may be written either way)."""
    assert resp.status_code == 200
    return page_text(resp)


def _notice(page: str) -> str:
    """The notice's own body (the part above the retention schedule), tags stripped, spaces folded."""
    body = page.split('class="policy-body"', 1)[1].split('aria-labelledby="schedule-heading"', 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


# ------------------------------------------------------------------ the default notice (parents)


def test_a_polish_and_an_arabic_parent_read_the_default_notice_in_their_language(app, db, fam, login_as):
    english = _notice(_page(login_as(fam.other_parent).get(f"{BASE}/privacy")))
    assert "Who we are" in english and "Your rights" in english
    assert "You can ask for a copy of the information we hold about you" in english
    assert f"{fam.school.name} is responsible for the information in this portal" in english

    polish = _notice(_page(login_as(_speaks(db, fam.parent, "pl")).get(f"{BASE}/privacy")))
    assert "Kim jesteśmy" in polish and "Państwa prawa" in polish
    assert f"{fam.school.name} odpowiada za informacje w tym portalu" in polish
    assert "Mogą Państwo poprosić o kopię informacji, które o Państwu przechowujemy" in polish
    assert "Who we are" not in polish and "Your rights" not in polish and "{{" not in polish
    # The channel the school never changed reads in Polish too.
    assert "prosimy o kontakt przez sekretariat szkoły (e-mailem lub telefonicznie)" in polish
    assert "the school office by email or telephone" in english

    arabic = _notice(_page(login_as(_speaks(db, fam.parent, "ar")).get(f"{BASE}/privacy")))
    assert "من نحن" in arabic and "حقوقك" in arabic
    assert "يمكنك طلب نسخة من المعلومات التي نحتفظ بها عنك" in arabic
    assert f"{fam.school.name} مسؤولة عن المعلومات الموجودة في هذه البوابة" in arabic
    assert "Who we are" not in arabic and "{{" not in arabic

    # The English reader still gets today's text, word for word.
    assert "Our lawful bases are our public task and legal obligations as a school" in english
    assert "Kim jesteśmy" not in english and "من نحن" not in english


@pytest.mark.parametrize("code", ["cy", "pl", "ro", "ur", "ar"])
def test_every_translated_default_keeps_the_structure_and_the_placeholders(code):
    translated = privacy.default_notice(code)
    assert translated is not privacy.DEFAULT_NOTICE
    for marker in ("## ", "{{school_name}}", "{{official_channel}}", "\n- **", "ico.org.uk"):
        assert translated.count(marker) == privacy.DEFAULT_NOTICE.count(marker), marker
    from portal.policies.rendering import render_markdown

    def shape(md: str) -> tuple[int, ...]:
        out = str(render_markdown(md, {"school_name": "S", "official_channel": "C"}))
        return tuple(out.count(tag) for tag in ("<h2", "<p>", "<li>", "<em>", "<strong>"))

    assert shape(translated) == shape(privacy.DEFAULT_NOTICE) == (6, 7, 7, 5, 7)
    assert privacy.default_notice("en_GB") is privacy.DEFAULT_NOTICE
    assert privacy.default_notice("../cy") is privacy.DEFAULT_NOTICE


def test_a_school_s_own_notice_is_shown_as_written_in_every_language(app, db, fam, login_as):
    own = "## About this notice\n\nThe governors of {{school_name}} wrote this notice in March."
    resp = login_as(fam.head).post(f"{BASE}/privacy/edit", data={"body": own})
    assert resp.status_code == 302
    expected = f"The governors of {fam.school.name} wrote this notice in March."
    for code in ("en_GB", "cy", "pl", "ro", "ur", "ar"):
        text = _notice(_page(login_as(_speaks(db, fam.parent, code)).get(f"{BASE}/privacy")))
        assert "About this notice" in text and expected in text, code
        assert "Kim jesteśmy" not in text and "من نحن" not in text and "Who we are" not in text, code


# ------------------------------------------------------------------ the schedule's explanations (staff)


def test_the_welsh_schedule_and_rule_pages_explain_in_welsh(app, db, fam, login_as):
    english = _page(login_as(fam.head).get(f"{BASE}/retention"))
    assert ("Keeping children safe in education (DfE), Part four: keep until the adult reaches normal pension age"
            in english)
    assert "Portal default: six years after the incident is closed (Limitation Act 1980)." in english
    rule = _page(login_as(fam.head).get(f"{BASE}/retention/concerns_behaviour"))
    assert ("Informal concerns raised by parents in the category “Behaviour or bullying” (not safeguarding "
            "concerns" in rule)
    assert "which the IRMS Information Management Toolkit for Schools keeps until resolution + 6 years." in rule

    welsh = _page(login_as(_speaks(db, fam.head, "cy")).get(f"{BASE}/retention"))
    assert ("Keeping children safe in education (DfE), Part four: cadw nes i'r oedolyn gyrraedd oedran pensiwn "
            "arferol" in welsh)
    assert "Diofyn y porth: chwe blynedd ar ôl i'r digwyddiad gael ei gau (Deddf Cyfyngiadau 1980)." in welsh
    assert "Portal default" not in welsh and "normal pension age" not in welsh

    rule = _page(login_as(fam.head).get(f"{BASE}/retention/concerns_behaviour"))
    assert "Pryderon anffurfiol a godwyd gan rieni yn y categori “Ymddygiad" in rule
    assert "y mae'r IRMS Information Management Toolkit for Schools yn eu cadw nes eu datrys + 6 blynedd." in rule
    assert "Informal concerns raised by parents" not in rule and "Portal default" not in rule


def test_a_channel_the_school_wrote_is_kept_as_written_in_the_translated_default(app, db, fam, login_as):
    fam.school.official_channel = "the office at Larkspur Lane (office@larkspur.example)"
    db.commit()
    polish = _notice(_page(login_as(_speaks(db, fam.parent, "pl")).get(f"{BASE}/privacy")))
    assert "prosimy o kontakt przez the office at Larkspur Lane (office@larkspur.example)" in polish
    assert "sekretariat szkoły" not in polish
