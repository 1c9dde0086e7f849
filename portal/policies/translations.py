"""Translations of policy versions (writes flush and audit; the caller commits).

A translation belongs to one version and one language. It follows the English text's rules:

* a draft translation can be changed freely; it is published once its version is published;
* a published translation is never edited: saving new text starts the next revision as a draft;
* publishing a later revision is a *minor* change (a typo, a clearer word): the signatures made
  on the earlier revision still count, and the earlier revision becomes superseded;
* a change to the meaning (people must sign again) needs a new version of the policy, as for
  the English text; starting a new version copies the published translations as drafts.
"""
from __future__ import annotations

import hashlib

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal import audit
from portal.db import session, utcnow
from portal.i18n import DEFAULT, LANGUAGES, normalise
from portal.people.models import Person
from portal.policies.models import PolicyTranslation, PolicyVersion, VersionStatus
from portal.policies.operations import MAX_CHANGE_NOTE, MAX_TITLE, PolicyError
from portal.policies.rendering import MAX_BODY_BYTES


def translation_languages() -> list[tuple[str, str]]:
    """(code, English name) of the languages a policy can be translated into."""
    return [(code, f"{lang.english} ({lang.name})") for code, lang in LANGUAGES.items() if code != DEFAULT]


def _language(code: str) -> str:
    lang = normalise(code)
    if lang is None or lang == DEFAULT:
        raise PolicyError(_("Choose one of the languages in the list (not English: the English text is the policy)."))
    return lang


def _rows(version: PolicyVersion, language: str) -> list[PolicyTranslation]:
    return list(session.scalars(select(PolicyTranslation).where(
        PolicyTranslation.version_id == version.id, PolicyTranslation.language == language,
    ).order_by(PolicyTranslation.revision)))


def published_translation(version: PolicyVersion, language: str | None) -> PolicyTranslation | None:
    """The published translation of *version* into *language* (None when there is none)."""
    lang = normalise(language)
    if lang is None or lang == DEFAULT or version.id is None:
        return None
    return session.scalar(select(PolicyTranslation).where(
        PolicyTranslation.version_id == version.id, PolicyTranslation.language == lang,
        PolicyTranslation.status == VersionStatus.PUBLISHED.value))


def published_languages(version: PolicyVersion) -> list[str]:
    """Codes of the languages *version* has a published translation in, in the shipped order."""
    have = set(session.scalars(select(PolicyTranslation.language).where(
        PolicyTranslation.version_id == version.id, PolicyTranslation.status == VersionStatus.PUBLISHED.value)))
    return [code for code in LANGUAGES if code in have]


def translations_of(version: PolicyVersion) -> list[PolicyTranslation]:
    """Every translation row of *version* (all languages, all revisions)."""
    return list(session.scalars(select(PolicyTranslation).where(PolicyTranslation.version_id == version.id)
                                .order_by(PolicyTranslation.language, PolicyTranslation.revision)))


def _check(title: str, body_md: str, change_note: str) -> None:
    if not title.strip() or len(title.strip()) > MAX_TITLE:
        raise PolicyError(_("The translated title must be 1 to %(max)s characters.", max=MAX_TITLE))
    if not body_md.strip():
        raise PolicyError(_("The translated text is empty."))
    if len(body_md.encode("utf-8")) > MAX_BODY_BYTES:
        raise PolicyError(_("The translated text is larger than %(size)s KB.", size=MAX_BODY_BYTES // 1024))
    if len(change_note) > MAX_CHANGE_NOTE:
        raise PolicyError(_("The change note must be at most %(max)s characters.", max=MAX_CHANGE_NOTE))


def question_lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def save_translation(version: PolicyVersion, *, language: str, title: str, body_md: str,
                     authoritative: bool = False, change_note: str = "", questions: str = "",
                     actor: Person | None = None) -> PolicyTranslation:
    """Write the draft translation of *version* into *language* (a new revision when the
    language's translation is already published).

    :param questions: the version's yes/no questions in that language, one per line in order
        (empty: they are shown in English only).
    """
    if version.status == VersionStatus.SUPERSEDED.value:
        raise PolicyError(_("This version has been replaced; translate the current version instead."))
    lang = _language(language)
    change_note = (change_note or "").strip()
    _check(title, body_md, change_note)
    lines = question_lines(questions)
    if lines and len(lines) != len(version.consent_items):
        raise PolicyError(_("Give one translated question per line, in order: this version has %(count)s "
                            "question(s), you gave %(given)s.", count=len(version.consent_items), given=len(lines)))
    if any(len(line) > 300 for line in lines):
        raise PolicyError(_("Each translated question must be at most %(max)s characters.", max=300))
    rows = _rows(version, lang)
    draft = next((r for r in rows if r.status == VersionStatus.DRAFT.value), None)
    if draft is None:
        revision = (session.scalar(select(func.max(PolicyTranslation.revision)).where(
            PolicyTranslation.version_id == version.id, PolicyTranslation.language == lang)) or 0) + 1
        draft = PolicyTranslation(version_id=version.id, language=lang, revision=revision,
                                  status=VersionStatus.DRAFT.value, title="", body_md="", body_sha256="")
        session.add(draft)
    draft.title = title.strip()
    draft.body_md = body_md
    draft.body_sha256 = hashlib.sha256(body_md.encode("utf-8")).hexdigest()
    draft.authoritative = bool(authoritative)
    draft.change_note = change_note
    draft.questions = "\n".join(lines)
    session.flush()
    audit.record("policy.translation_saved", actor=actor, target=draft, version_id=version.id, language=lang,
                 revision=draft.revision, body_sha256=draft.body_sha256)
    return draft


def publish_translation(translation: PolicyTranslation, *, requires_resign: bool, change_note: str = "",
                        actor: Person | None = None) -> PolicyTranslation:
    """Publish a draft translation of a published version.

    :param requires_resign: True when the change alters the meaning. Allowed for the first
        translation into a language only; a later revision that needs people to sign again is
        refused (start a new version of the policy, as for the English text).
    """
    version = translation.version
    if translation.status != VersionStatus.DRAFT.value:
        raise PolicyError(_("This translation is not a draft."))
    if version.status != VersionStatus.PUBLISHED.value:
        raise PolicyError(_("Publish the English version first; its translations follow it."))
    change_note = (change_note or translation.change_note or "").strip()
    _check(translation.title, translation.body_md, change_note)
    previous = published_translation(version, translation.language)
    if previous is not None:
        if requires_resign:
            raise PolicyError(_("A change to the meaning of a published translation needs a new version of the "
                                "policy, exactly as for the English text: start a new version, change the English "
                                "and the translation there, and publish it as a major change."))
        if not change_note:
            raise PolicyError(_("Say in a few words what you corrected in the translation."))
        previous.status = VersionStatus.SUPERSEDED.value
        session.flush()
    translation.status = VersionStatus.PUBLISHED.value
    translation.change_note = change_note
    translation.published_at = utcnow()
    translation.published_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record("policy.translation_published", actor=actor, target=translation, version_id=version.id,
                 language=translation.language, revision=translation.revision,
                 minor=previous is not None, superseded_id=previous.id if previous else None)
    return translation


def copy_translations(source: PolicyVersion, target: PolicyVersion) -> list[PolicyTranslation]:
    """Start *target*'s translations as drafts from *source*'s published ones (a new version)."""
    copied = []
    for lang in published_languages(source):
        tr = published_translation(source, lang)
        assert tr is not None
        copied.append(PolicyTranslation(version_id=target.id, language=lang, revision=1,
                                        status=VersionStatus.DRAFT.value, title=tr.title, body_md=tr.body_md,
                                        body_sha256=tr.body_sha256, authoritative=tr.authoritative,
                                        questions=tr.questions if len(question_lines(tr.questions)) == len(
                                            target.consent_items) else ""))
    session.add_all(copied)
    session.flush()
    return copied
