"""Translations of policy versions: the minor/major rules, the signing page, the evidence, the text
hash and the sealed PDF in every shipped language (checked with pdftotext), and reminders in the
parent's language."""
from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata

import pytest
from sqlalchemy import func, select

from portal.people.models import Role
from portal.policies import operations, queries
from portal.policies import translations as tr_ops
from portal.policies.models import Audience, PolicyTranslation, SignedText, VersionStatus
from portal.policies.rendering import render_version
from portal.records.archive import archive_store
from portal.records.models import SignedRecord
from portal.signatures.models import Signature
from tests.records_support import *  # noqa: F403 - seal_keys

#: A short policy in each shipped language, using the letters its script needs.
TEXTS = {
    "cy": ("Rheolau ar-lein", "Byddaf yn garedig ar-lein. Mae'r ŵyn a'r ŷd yn yr ysgol."),
    "pl": ("Zasady w internecie", "Będę życzliwy w internecie. Zażółć gęślą jaźń."),
    "ro": ("Reguli online", "Voi fi amabil pe internet. Știință și țară."),
    "ur": ("آن لائن قواعد", "میں آن لائن مہربان رہوں گا۔"),
    "ar": ("قواعد الإنترنت", "سأكون لطيفا على الإنترنت."),
}


@pytest.fixture
def parent_policy(db, school):
    policy = operations.create_policy(slug="online-rules", title="Online rules", audience=Audience.PARENT)
    version = operations.create_draft(policy, title="Online rules", body_md="I will be kind online.")
    operations.add_consent_item(version, key="photos_website", question="Photos on the school website?")
    operations.publish_version(version, requires_resign=True, actor=school.head)
    db.commit()
    return version


def _publish(version, code, *, body=None, actor=None, authoritative=False):
    title, text = TEXTS[code]
    draft = tr_ops.save_translation(version, language=code, title=title, body_md=body or text,
                                    authoritative=authoritative, actor=actor)
    return tr_ops.publish_translation(draft, requires_resign=False, actor=actor)


# ---------------------------------------------------------------- rules


def test_translations_follow_the_minor_and_major_rules(db, school, parent_policy, make_parent, make_pupil):
    head = school.head
    version = parent_policy
    draft = tr_ops.save_translation(version, language="pl", title="Zasady", body_md="Pierwszy tekst.", actor=head)
    assert (draft.revision, draft.status, draft.body_sha256) == (1, "draft", __import__("hashlib").sha256(
        b"Pierwszy tekst.").hexdigest())
    # Saving again changes the same draft.
    again = tr_ops.save_translation(version, language="pl", title="Zasady", body_md="Drugi tekst.", actor=head)
    assert again.id == draft.id and again.body_md == "Drugi tekst."
    first = tr_ops.publish_translation(draft, requires_resign=True, actor=head)  # the first one may be either
    db.commit()
    assert tr_ops.published_translation(version, "pl").id == first.id

    # A parent signs with the Polish text shown.
    parent = make_parent(make_pupil(given="Ola"), given="Marta")
    req = queries.requirement_for(parent, version)
    sig = operations.sign(req, parent, operations.SignRequest(
        shown_sha256=render_version(version, language="pl").sha256, ip="192.0.2.1", user_agent="t",
        typed_name=parent.full_name, agreed=True, answers={version.consent_items[0].id: True}, language="pl"))
    db.commit()
    assert sig.language == "pl"

    # A correction is a new revision; a change of meaning is refused (it needs a new version).
    fix = tr_ops.save_translation(version, language="pl", title="Zasady", body_md="Drugi tekst, poprawiony.")
    assert (fix.revision, fix.status) == (2, "draft")
    with pytest.raises(operations.PolicyError, match="new version of the policy"):
        tr_ops.publish_translation(fix, requires_resign=True)
    with pytest.raises(operations.PolicyError, match="what you corrected"):
        tr_ops.publish_translation(fix, requires_resign=False)
    tr_ops.publish_translation(fix, requires_resign=False, change_note="Przecinek")
    db.commit()
    db.refresh(first)
    assert first.status == VersionStatus.SUPERSEDED.value and tr_ops.published_translation(version, "pl").id == fix.id
    # The signature made on revision 1 still counts.
    assert queries.requirement_for(parent, version).status == "signed"
    # A published translation's row is never edited.
    assert first.body_md == "Drugi tekst."

    # A new version of the policy starts with the translations as drafts.
    v2 = operations.create_draft(version.policy)
    copied = tr_ops.translations_of(v2)
    assert [(t.language, t.status, t.body_md) for t in copied] == [("pl", "draft", "Drugi tekst, poprawiony.")]
    with pytest.raises(operations.PolicyError, match="Publish the English version first"):
        tr_ops.publish_translation(copied[0], requires_resign=False)


@pytest.mark.parametrize("language, title, body, message", [
    ("en_GB", "T", "Text", "not English"),
    ("xx", "T", "Text", "Choose one of the languages"),
    ("pl", "", "Text", "title"),
    ("pl", "x" * 201, "Text", "title"),
    ("pl", "T", "   ", "empty"),
    ("pl", "T", "a" * (100 * 1024 + 1), "100 KB"),
])
def test_bad_translations_are_refused(db, school, parent_policy, language, title, body, message):
    with pytest.raises(operations.PolicyError, match=message):
        tr_ops.save_translation(parent_policy, language=language, title=title, body_md=body)
    db.rollback()
    assert db.scalar(select(func.count(PolicyTranslation.id))) == 0


def test_the_translations_page_saves_a_draft_and_refuses_bad_input(app, db, school, parent_policy, login_as):
    client = login_as(school.head)
    url = f"/portal/policies/manage/versions/{parent_policy.id}/translations"
    page = client.get(url)
    assert page.status_code == 200 and "Translations of Online rules" in page.get_data(as_text=True)
    bad = client.post(url, data={"language": "de", "title": "Regeln", "body_md": "Text"})
    assert bad.status_code == 400
    assert db.scalar(select(func.count(PolicyTranslation.id))) == 0
    ok = client.post(url, data={"language": "cy", "title": "Rheolau", "body_md": "Byddaf yn garedig."})
    assert ok.status_code == 302
    row = db.scalar(select(PolicyTranslation))
    assert (row.language, row.status, row.title) == ("cy", "draft", "Rheolau")
    published = client.post(f"/portal/policies/manage/translations/{row.id}/publish", data={"change": "first"})
    assert published.status_code == 302
    db.expire_all()
    assert db.get(PolicyTranslation, row.id).status == "published"


# ---------------------------------------------------------------- signing in a language, and the sealed PDF


def _hash(page: str) -> str:
    return re.search(r'name="text_hash" type="hidden" value="([0-9a-f]{64})"', page).group(1)


def _pdftotext(pdf: bytes, tmp_path) -> str:
    from tests.deps import unavailable

    tool = shutil.which("pdftotext")
    if not tool:
        unavailable("pdftotext is not installed (poppler-utils)")
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    return subprocess.run([tool, str(path), "-"], capture_output=True, check=True, text=True).stdout


def _words(text: str) -> str:
    """Letters only, in Unicode normal form (Arabic presentation forms become plain letters)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isalpha())


@pytest.mark.parametrize("code", list(TEXTS))
def test_a_parent_signs_in_their_language_and_the_sealed_pdf_keeps_it(
        app, db, school, parent_policy, make_parent, make_pupil, login_as, seal_keys, tmp_path, code):
    version = parent_policy
    _publish(version, code, actor=school.head)
    db.commit()
    parent = make_parent(make_pupil(given="Kit"), given="Dana")
    client = login_as(parent)
    client.post("/portal/auth/language", data={"language": code})
    page = client.get(f"/portal/policies/versions/{version.id}/sign").get_data(as_text=True)
    title, text = TEXTS[code]
    assert str(render_version(version, language=code).html) in page and "I will be kind online." in page
    assert _words(text) in _words(re.sub(r"<[^>]+>|&#39;|&#x27;", "", page))
    assert f'<section class="policy-translation" lang="{code}"' in page
    assert 'name="text_language" value="' + code + '"' in page
    # The note of which text is authoritative, in the reader's language and in English.
    assert "The English text is the authoritative version of this policy" in page
    resp = client.post(f"/portal/policies/versions/{version.id}/sign", data={
        "action": "sign", "text_hash": _hash(page), "text_language": code, "agree": "y",
        "typed_name": parent.full_name, f"consent_{version.consent_items[0].id}": "yes"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    db.expire_all()
    sig = db.scalar(select(Signature))
    shown = render_version(version, language=code)
    assert sig.language == code and sig.text_sha256 == shown.sha256 != render_version(version).sha256
    kept = db.scalar(select(SignedText).where(SignedText.sha256 == sig.text_sha256))
    assert kept.language == code and kept.body_html == str(shown.html) and title in kept.body_html

    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert record is not None and record.is_sealed, getattr(record, "last_error", None)
    pdf = archive_store().get(record.pdf_sha256)
    extracted = _pdftotext(pdf, tmp_path)
    words = _words(extracted)
    for sentence in (text, title, "I will be kind online."):
        expected = _words(sentence)
        assert expected in words or expected[::-1] in words, (sentence, extracted[:2000])
    assert sig.text_sha256 in extracted.replace("\n", "").replace(" ", "")
    # The record's own words are in the signer's language too.
    from flask_babel import force_locale, gettext

    with app.test_request_context("/"), force_locale(code):
        label = gettext("Language of the text shown")
    assert _words(label) in words or _words(label)[::-1] in words
    evidence = __import__("json").loads(_attachment(tmp_path))
    assert evidence["text_language"] == code and evidence["text_sha256"] == sig.text_sha256
    assert evidence["authoritative_text"] == "en_GB"


def _attachment(tmp_path) -> bytes:
    """The evidence JSON attached to the PDF _pdftotext wrote (pdfdetach, poppler-utils)."""
    out = tmp_path / "evidence.json"
    subprocess.run([shutil.which("pdfdetach") or "pdfdetach", "-save", "1", "-o", str(out),
                    str(tmp_path / "record.pdf")], check=True)
    return out.read_bytes()


def test_a_changed_translation_between_reading_and_signing_is_refused(
        app, db, school, parent_policy, make_parent, make_pupil, login_as):
    version = parent_policy
    _publish(version, "ro", actor=school.head)
    db.commit()
    parent = make_parent(make_pupil(given="Ion"), given="Ana")
    client = login_as(parent)
    page = client.get(f"/portal/policies/versions/{version.id}/sign?text=ro").get_data(as_text=True)
    fix = tr_ops.save_translation(version, language="ro", title="Reguli online", body_md="Voi fi foarte amabil.")
    tr_ops.publish_translation(fix, requires_resign=False, change_note="Mai clar")
    db.commit()
    resp = client.post(f"/portal/policies/versions/{version.id}/sign", data={
        "action": "sign", "text_hash": _hash(page), "text_language": "ro", "agree": "y",
        "typed_name": parent.full_name, f"consent_{version.consent_items[0].id}": "yes"})
    assert resp.status_code == 409
    assert db.scalar(select(func.count(Signature.id))) == 0


def test_without_a_translation_the_english_is_shown_never_a_blank(
        app, db, school, parent_policy, make_parent, make_pupil, login_as):
    parent = make_parent(make_pupil(given="Ana"), given="Ioana")
    client = login_as(parent)
    client.post("/portal/auth/language", data={"language": "ro"})
    page = client.get(f"/portal/policies/versions/{parent_policy.id}/sign").get_data(as_text=True)
    assert "I will be kind online." in page and "policy-translation" not in page
    assert 'name="text_language" value=""' in page
    # The page's own words are Romanian; the policy is in English.
    assert "Semnați" in page and 'lang="en-GB"' in page


def test_the_school_can_mark_its_translation_authoritative(db, school, parent_policy):
    _publish(parent_policy, "cy", authoritative=True)
    html = str(render_version(parent_policy, language="cy").html)
    assert "This Welsh translation is the authoritative version of this policy." in html
    assert "Y cyfieithiad hwn yw fersiwn awdurdodol y polisi hwn." in html


def test_reminders_are_written_in_the_parents_language(app, db, school, parent_policy, make_person, mailbox):
    parent = make_person(Role.PARENT, given="Gwen", family="Jones", email="gwen@parents.example")
    parent.account.language = "cy"
    _publish(parent_policy, "cy")
    other = make_person(Role.PARENT, given="Sam", family="Smith", email="sam@parents.example")
    db.commit()
    reqs = [r for p in (parent, other) for r in queries.requirements_for(p)]
    with app.test_request_context("/"):
        result = operations.send_reminders(reqs)
    db.commit()
    assert {p.id for p in result.sent} == {parent.id, other.id}
    welsh = mailbox.to("gwen@parents.example")[0]
    assert welsh["Subject"] == "Llofnodwch bolisïau'r ysgol"
    body = welsh.get_content()
    assert "Annwyl Gwen Jones," in body and "Rheolau ar-lein" in body and "Diolch." in body
    english = mailbox.to("sam@parents.example")[0]
    assert english["Subject"] == "Please sign the school's policies" and "Online rules" in english.get_content()


def test_the_yes_no_questions_can_be_translated_too(app, db, school, parent_policy, make_parent, make_pupil,
                                                     login_as):
    with pytest.raises(operations.PolicyError, match="one translated question per line"):
        tr_ops.save_translation(parent_policy, language="pl", title="Zasady", body_md="Tekst.",
                                questions="Zdjęcia na stronie?\nZdjęcia w gazetce?")
    draft = tr_ops.save_translation(parent_policy, language="pl", title="Zasady", body_md="Tekst.",
                                    questions="  Zdjęcia na stronie szkoły?  \n\n")
    tr_ops.publish_translation(draft, requires_resign=False)
    db.commit()
    assert draft.questions == "Zdjęcia na stronie szkoły?"
    shown = render_version(parent_policy, language="pl")
    assert "<li>Zdjęcia na stronie szkoły?</li>" in str(shown.html)  # so it is in the hash and the record
    parent = make_parent(make_pupil(given="Ola"), given="Ewa")
    page = login_as(parent).get(f"/portal/policies/versions/{parent_policy.id}/sign?text=pl").get_data(as_text=True)
    assert '<p class="mb-1" lang="pl" dir="auto">Zdjęcia na stronie szkoły?</p>' in page
    # A new version keeps them (same number of questions).
    v2 = operations.create_draft(parent_policy.policy)
    assert tr_ops.translations_of(v2)[0].questions == "Zdjęcia na stronie szkoły?"
