"""Languages in text built in Python (core): the capability names on the delegation page, the errors of
adding a school, an LMS connection and a policy, the flashes of the policy translations page, the
"signed out of N other sessions" flash, a parent's signing errors and the page footers of the transfer pack
and the signed record.
Each is shown in the reader's language and stays exactly as before in English; audit and exports keep
the English words."""
from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from portal.dataprotection.models import TransferPack
from portal.i18n import in_language
from portal.lti.models import LtiContext, LtiContextTeacher, LtiMentorLink
from portal.lti.operations import SyncSummary
from portal.people.models import CapabilityGrant, Role
from portal.policies import operations, queries
from portal.policies.models import Audience, PolicyTranslation
from portal.policies.pack import load_default_pack
from portal.policies.rendering import render_version
from portal.records.archive import archive_store
from portal.records.models import SignedRecord
from portal.schools.models import TrustRole
from portal.schools.operations import get_or_create_trust, grant_trust_role
from portal.security import CAPABILITIES
from portal.signals import signature_committed
from portal.templating import css_content, css_counter
from tests.dataprotection_helpers import *  # noqa: F401,F403 - fam
from tests.dataprotection_helpers import raise_concern
from tests.deps import unavailable
from tests.factories import PASSWORD
from tests.i18n_helpers import speaks as _speaks
from tests.records_support import *  # noqa: F401,F403 - seal_keys
from tests.test_lms_settings import registration  # noqa: F401  (fixture)
from tests.test_policy_translations import parent_policy  # noqa: F401  (fixture)

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend


def _text(resp) -> str:
    return re.sub(r"\s+", " ", html.unescape(resp.get_data(as_text=True)))



# ---------------------------------------------------------------- capabilities


def test_the_delegation_page_names_capabilities_in_the_readers_language(db, school, make_person, login_as):
    teacher = make_person(Role.TEACHER, given="Tegan", family="Morgan")
    client = login_as(_speaks(db, school.head, "cy"))
    page = _text(client.get("/portal/staff/delegation"))
    assert "Adolygu pryderon rhieni (nid rhai diogelu)" in page  # an option of the form
    assert "Review parents' concerns" not in page
    resp = client.post("/portal/staff/delegation", data={"person_id": teacher.id, "capability": "concerns.review"},
                       follow_redirects=True)
    page = _text(resp)
    assert "Gallu wedi'i ddirprwyo." in page
    assert f"<td>{teacher.full_name}</td><td>Adolygu pryderon rhieni (nid rhai diogelu)</td>" in page
    # The withdraw button's name for screen readers says the capability in words too.
    assert f"Adolygu pryderon rhieni (nid rhai diogelu) oddi wrth {teacher.full_name}" in page
    # What is stored and audited is the key; the table of words stays English for exports.
    assert db.scalar(select(CapabilityGrant.capability)) == "concerns.review"
    assert CAPABILITIES["concerns.review"] == "Review parents' concerns (not safeguarding ones)"

    english = _text(login_as(_speaks(db, school.head, None)).get("/portal/staff/delegation"))
    assert f"<td>{teacher.full_name}</td><td>Review parents' concerns (not safeguarding ones)</td>" in english
    assert "Write and publish policies" in english and "Adolygu" not in english


# ---------------------------------------------------------------- schools


def test_a_welsh_trust_admin_reads_why_a_school_cannot_be_added(db, school, make_account, login_as):
    trust = get_or_create_trust("hazel-trust", "Hazel Learning Trust (fictional)")
    admin = make_account("admin@hazel.example", name="Trust admin")
    grant_trust_role(admin, trust, TrustRole.ADMIN)
    admin.language = "cy"
    db.commit()
    client = login_as(admin)
    url = f"/portal/trust/{trust.id}/schools/new"
    taken = client.post(url, data={"name": "Again", "slug": school.slug})
    assert taken.status_code == 400
    assert f"Mae ysgol gyda'r enw byr '{school.slug}' eisoes." in _text(taken)
    assert "There is already a school" not in _text(taken)

    admin.language = None
    db.commit()
    taken = client.post(url, data={"name": "Again", "slug": school.slug})
    assert f"There is already a school with the slug '{school.slug}'." in _text(taken)


def test_the_cli_keeps_school_errors_in_english(app, db, school):
    result = app.test_cli_runner().invoke(args=["portal", "schools", "add", "--slug", school.slug, "--name", "Again"])
    assert result.exit_code != 0 and f"There is already a school with the slug '{school.slug}'." in result.output


# ---------------------------------------------------------------- LTI


def test_lms_connection_errors_are_in_the_readers_language(db, make_person, login_as, registration):
    admin = _speaks(db, make_person(Role.ADMIN), "cy")
    client = login_as(admin)
    dup = client.post("/portal/lms/registrations", data={
        "name": "Again", "issuer": registration.issuer, "client_id": "abc", "deployment_ids": "7",
        "auth_login_url": registration.auth_login_url, "auth_token_url": registration.auth_token_url,
        "key_set_url": registration.key_set_url})
    assert dup.status_code == 400
    assert ("Mae cofrestriad ar gyfer y cyhoeddwr https://moodle.fictional.example ac ID y cleient abc yn bodoli "
            "eisoes.") in _text(dup)
    settings = f"/portal/lms/registrations/{registration.id}/settings"
    bad = client.post(settings, data={"role_parameter": "countersign_role", "role_map": "a = pupil\nb = wizard"})
    assert bad.status_code == 400
    assert "Llinell 2: nid yw 'wizard' yn un o pupil" in _text(bad) and "is not one of" not in _text(bad)
    empty = client.post(settings, data={"role_parameter": "countersign_role", "role_map": "a ="})
    assert "Llinell 1: does dim rôl ar ôl yr =; rhowch un o pupil" in _text(empty)

    english = login_as(_speaks(db, admin, None)).post(settings, data={"role_parameter": "countersign_role",
                                                                     "role_map": "a = pupil\nb = wizard"})
    assert "Line 2: 'wizard' is not one of pupil" in _text(english)


def test_an_lms_course_without_a_member_list_and_a_decided_link_answer_in_welsh(
        db, school, make_person, make_class, make_pupil, login_as, registration):
    admin = _speaks(db, make_person(Role.ADMIN, Role.TEACHER), "cy")
    cls = make_class(4, teacher=admin, name="Year 4 Oaks")
    ctx = LtiContext(registration_id=registration.id, context_id="course-1", title="Year 4 Moodle")
    db.add(ctx)
    db.flush()
    db.add(LtiContextTeacher(context_id=ctx.id, person_id=admin.id))
    db.commit()
    client = login_as(admin)
    resp = client.post(f"/portal/lms/courses/{ctx.id}", data={"class_id": cls.id})
    assert resp.status_code == 400
    assert "Ni chynigiodd yr LMS ei restr aelodau (Names and Role Provisioning) ar gyfer y cwrs hwn." in _text(resp)

    link = LtiMentorLink(registration_id=registration.id, parent_id=make_person(Role.PARENT).id,
                         pupil_id=make_pupil(4, cls).id, status="declined")
    db.add(link)
    db.commit()
    head = login_as(_speaks(db, school.head, "cy"))
    again = head.post(f"/portal/lms/parent-links/{link.id}", data={"approve": "Approve"}, follow_redirects=True)
    assert "Mae penderfyniad eisoes wedi'i wneud am y cysylltiad hwn." in _text(again)


def test_the_sync_summary_is_one_sentence_in_each_language(app):
    summary = SyncSummary(created=2, linked=1, moved=0, skipped=["x"])
    with app.app_context():
        assert summary.describe() == ("2 new pupil(s), 1 pupil(s) linked to their LMS account, 0 pupil(s) put in "
                                      "the class. 1 member(s) skipped.")
        with in_language("cy"):
            assert summary.describe() == ("2 disgybl newydd, 1 disgybl wedi'u cysylltu â'u cyfrif LMS, 0 disgybl "
                                          "wedi'u rhoi yn y dosbarth. Hepgorwyd 1 aelod.")


# ---------------------------------------------------------------- policies and their translations


def test_a_new_policy_is_refused_in_welsh(db, school, login_as):
    load_default_pack()
    client = login_as(_speaks(db, school.head, "cy"))
    resp = client.post("/portal/policies/manage/new", data={"title": "Again", "slug": "aup-staff",
                                                            "audience": Audience.STAFF.value})
    assert resp.status_code == 400
    assert "Mae polisi gyda'r enw byr hwnnw'n bodoli eisoes." in _text(resp)
    assert "already exists" not in _text(resp)
    send = client.post("/portal/policies/manage/new", data={"title": "Easy read", "slug": "easy-staff",
                                                            "audience": Audience.STAFF.value, "send_variant": "y"})
    assert "Dim ond polisïau disgyblion sydd â fersiwn ADY." in _text(send)
    english = login_as(_speaks(db, school.head, None)).post(
        "/portal/policies/manage/new", data={"title": "Again", "slug": "aup-staff", "audience": Audience.STAFF.value})
    assert "A policy with that short name already exists." in _text(english)


def test_the_translations_page_speaks_welsh(db, school, login_as, parent_policy):
    client = login_as(_speaks(db, school.head, "cy"))
    url = f"/portal/policies/manage/versions/{parent_policy.id}/translations"
    form = {"language": "pl", "title": "Zasady", "body_md": "Będę życzliwy."}
    wrong = client.post(url, data={**form, "questions": "Zdjęcia?\nDrugie pytanie?"})
    assert wrong.status_code == 400
    assert ("Rhowch un cwestiwn wedi'i gyfieithu ar bob llinell, yn eu trefn: mae gan y fersiwn hon 1 cwestiwn, "
            "rhoesoch chi 2.") in _text(wrong)
    saved = client.post(url, data={**form, "questions": "Zdjęcia na stronie szkoły?"}, follow_redirects=True)
    assert "Cyfieithiad drafft wedi'i gadw (diwygiad 1)." in _text(saved)
    assert "Draft translation saved" not in _text(saved)
    draft = db.scalar(select(PolicyTranslation))
    publish = f"/portal/policies/manage/translations/{draft.id}/publish"
    unchosen = client.post(publish, data={"change": "neither"}, follow_redirects=True)
    assert "Dewiswch pa fath o newid yw hwn." in _text(unchosen)
    done = client.post(publish, data={"change": "first"}, follow_redirects=True)
    assert ("Mae'r cyfieithiad wedi'i gyhoeddi: mae pobl sy'n darllen yn yr iaith honno yn ei weld wrth ochr y "
            "Saesneg.") in _text(done)

    english = login_as(_speaks(db, school.head, None))
    again = english.post(url, data={**form, "title": "Zasady 2"}, follow_redirects=True)
    assert "Draft translation saved (revision 2)." in _text(again)


# ---------------------------------------------------------------- sessions

HOST = "portal.test"


def _sign_in(app, email):
    client = app.test_client()
    resp = client.post("/portal/auth/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 302, resp.data
    return client


@pytest.mark.parametrize(("code", "others", "flash"), [
    (None, 1, "Signed out of 1 other session."),
    ("cy", 7, "Allgofnodwyd o 7 sesiwn arall."),  # the Welsh "other" plural form was missing before
    ("pl", 2, "Wylogowano z 2 innych sesji."),
    ("ar", 2, "تم تسجيل الخروج من جلستين أخريين (2)."),
])
def test_signing_out_of_other_sessions_is_counted_in_the_readers_language(app, db, make_person, code, others,
                                                                          flash):
    parent = _speaks(db, make_person(Role.PARENT, email="rhian@test.example", given="Rhian"), code)
    for _n in range(others):
        _sign_in(app, parent.email)
    here = _sign_in(app, parent.email)
    resp = here.post("/portal/auth/security/sessions/end-others", follow_redirects=True)
    assert flash in _text(resp)
    none_left = here.post("/portal/auth/security/sessions/end-others", follow_redirects=True)
    expected = {None: "There were no other sessions.", "cy": "Nid oedd unrhyw sesiynau eraill.",
                "pl": "Nie było innych sesji.", "ar": "لم تكن هناك جلسات أخرى."}[code]
    assert expected in _text(none_left)


# ---------------------------------------------------------------- a parent's signing errors


def test_a_parents_signing_errors_are_in_their_language(app, db, school, make_pupil, make_parent, make_person,
                                                        parent_policy):
    load_default_pack()
    parent = make_parent(make_pupil(1, given="Ola"), make_pupil(2, given="Iga"), given="Marta")
    teacher = make_person(Role.TEACHER)
    staff_req = next(r for r in queries.requirements_for(teacher)
                     if r.version.policy.audience == Audience.STAFF.value)
    own = queries.requirement_for(parent, parent_policy)
    form = operations.SignRequest(shown_sha256=render_version(parent_policy).sha256, ip="192.0.2.1",
                                  user_agent="t", decline_reason="x" * (operations.MAX_REASON + 1))
    expected = {
        "en_GB": ("Only one policy, countersigned for your own children, can be signed this way.",
                  "This policy cannot be declined.", "Keep the reason to 2000 characters or fewer."),
        "pl": ("W ten sposób można podpisać jako rodzic tylko jedne zasady i tylko za własne dzieci.",
               "Nie można odmówić podpisania tych zasad.", "Powód może mieć najwyżej 2000 znaków."),
        "cy": ("Dim ond un polisi, wedi'i gydlofnodi ar gyfer eich plant eich hun, y gellir ei lofnodi fel hyn.",
               "Ni ellir gwrthod y polisi hwn.", "Cadwch y rheswm i 2000 nod neu lai."),
        "ur": ("اس طرح صرف ایک پالیسی پر، والدین کے طور پر اور صرف اپنے بچوں کے لیے، دستخط کیے جا سکتے ہیں۔",
               "اس پالیسی سے انکار نہیں کیا جا سکتا۔", "وجہ زیادہ سے زیادہ 2000 حروف میں لکھیں۔"),
    }
    for code, (only_one, no_decline, reason) in expected.items():
        with in_language(code):
            with pytest.raises(operations.SigningError) as caught:
                operations.sign_for_children([own], parent, form)
            assert str(caught.value) == only_one
            with pytest.raises(operations.SigningError) as caught:
                operations.decline(staff_req, teacher, form)
            assert str(caught.value) == no_decline
            with pytest.raises(operations.SigningError) as caught:
                operations.decline(own, parent, form)
            assert (str(caught.value), caught.value.field) == (reason, "reason")
            db.rollback()


# ---------------------------------------------------------------- the transfer pack's footer


def test_a_translated_sentence_becomes_css_content_that_cannot_break_the_style_sheet():
    sentence = f'Say "{css_counter("page")}" </style> {css_counter("pages")}'
    assert str(css_content(sentence)) == r'"Say \22 " counter(page) "\22  \3c /style\3e  " counter(pages)'
    # A translator may put the numbers in the other order.
    assert str(css_content(css_counter("pages") + " / " + css_counter("page"))) == 'counter(pages) " / " counter(page)'
    with pytest.raises(ValueError):
        css_content("\x00not a counter\x00")


@pytest.mark.parametrize(("code", "footer"), [
    ("cy", r"Cofnod diogelu cyfrinachol\. Tudalen 1 o [12]"),
    (None, r"Confidential safeguarding record\. Page 1 of [12]"),
])
def test_the_transfer_pack_footer_is_one_sentence_in_the_makers_language(db, fam, login_as, seal_keys, code,
                                                                         footer):
    if shutil.which("pdftotext") is None:
        unavailable("pdftotext (poppler-utils) is not installed")
    raise_concern(db, fam.parent, subject="Bruise noticed", description="Wren had a bruise.", at_risk=True,
                  child=fam.child)
    client = login_as(_speaks(db, fam.dsl, code))
    resp = client.post("/portal/data-protection/transfers", data={
        "pupil_id": fam.child.id, "destination": "Brookfield Academy", "moved_on": dt.date.today().isoformat()})
    assert resp.status_code == 302
    pack = db.scalar(select(TransferPack))
    pdf = client.get(f"/portal/data-protection/transfers/{pack.id}/pack.pdf").data
    text = " ".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                                   check=True).stdout.decode().split())
    assert re.search(footer, text), text[-300:]


# ---------------------------------------------------------------- the signed record's footer


@pytest.mark.parametrize(("code", "footer"), [
    ("cy", r"Tudalen 1 o [2-9]"),
    ("pl", r"Strona 1 z [2-9]"),
    (None, r"Page 1 of [2-9]"),
])
def test_the_signed_record_footer_is_one_sentence_in_the_signers_language(
        app, db, make_signature, make_pupil, make_person, seal_keys, code, footer):
    if shutil.which("pdftotext") is None:
        unavailable("pdftotext (poppler-utils) is not installed")
    parent = _speaks(db, make_person(Role.PARENT, given="Rhodri", family="Pryce"), code)
    sig = make_signature(signer=parent, on_behalf_of=make_pupil(given="Nia"))
    signature_committed.send(app, signature=sig)
    db.expire_all()
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert record.is_sealed, record.last_error
    pdf = archive_store().get(record.pdf_sha256)
    text = " ".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                                   check=True).stdout.decode().split())
    assert re.search(footer, text), text[-300:]
    others = {"cy": "Tudalen 1 o", "pl": "Strona 1 z", None: "Page 1 of"}
    assert not any(words in text for other, words in others.items() if other != code)


def test_pages_show_times_in_uk_time(app):
    """Walk finding: pages said "21:32 UTC", an hour off the school's clocks in British Summer Time."""
    import datetime as dt

    from portal.i18n import format_date, format_datetime

    summer_night = dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC)  # 00:30 on 2 July in London (BST)
    winter = dt.datetime(2026, 11, 28, 21, 32, tzinfo=dt.UTC)  # GMT: the same clock
    with app.test_request_context():
        assert format_datetime(summer_night) == "2 Jul 2026, 00:30"
        assert format_date(summer_night) == "2 Jul 2026"
        assert format_datetime(winter) == "28 Nov 2026, 21:32"
        assert format_datetime(summer_night.replace(tzinfo=None)) == "2 Jul 2026, 00:30"  # naive: UTC


def test_a_utc_time_keeps_its_utc_date(app):
    """Review finding: a receipt read "1 July 2026 at 23:30 UTC" for 23:30 UTC on 30 June (the date was the UK's)."""
    import datetime as dt

    from portal.i18n import format_date

    late = dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC)
    with app.test_request_context():
        assert format_date(late, "long", rebase=False) == "30 June 2026"
        assert format_date(late, "long") == "1 July 2026"
