"""The record PDF: what was signed, by whom, and the evidence, as a tagged PDF/A-3b.

The last page says how to check the record without the portal: the sealing certificate's SHA-256
fingerprint, the record's reference, the SHA-256 of the signed text, and the public verification
page's address with a QR code.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

import segno
from flask import render_template
from markupsafe import Markup
from weasyprint import HTML, Attachment
from weasyprint.text.fonts import FontConfiguration

from portal.paths import STATIC_DIR
from portal.people.models import Person, academic_year_label
from portal.policies.models import Audience
from portal.records.fetcher import StaticOnlyFetcher
from portal.records.rendering import policy_html
from portal.schools.models import School
from portal.signatures.models import Signature

EVIDENCE_NAME = "evidence.json"
EVIDENCE_VERSION = 1


def _person_fields(p: Person) -> dict[str, Any]:
    return {"id": p.id, "name": p.full_name, "external_id": p.external_id}


def _person(p: Person | None) -> dict[str, Any] | None:
    return None if p is None else _person_fields(p)


def evidence_of(signature: Signature) -> dict[str, Any]:
    """The machine-readable evidence attached to the PDF (and shown on it)."""
    version = signature.version
    policy = version.policy
    answers = sorted(signature.consent_answers, key=lambda a: (a.consent_item.position, a.consent_item.key))
    settings = School.get()
    return {
        "format": "countersign-evidence",
        "format_version": EVIDENCE_VERSION,
        "school": settings.name if settings else None,
        "signature_id": signature.id,
        "decision": signature.decision,
        "decline_reason": signature.decline_reason,
        "policy": {
            "id": policy.id, "slug": policy.slug, "title": version.title, "audience": policy.audience,
            "version_id": version.id, "version_number": version.number,
            "published_at": version.published_at.isoformat() if version.published_at else None,
        },
        "text_sha256": signature.text_sha256,
        # The language of the translation shown beside the English text (None: English only);
        # the text above the hash is kept whole (portal_signed_texts) and printed in this record.
        "text_language": signature.language,
        "authoritative_text": _authoritative(signature),
        "body_md_sha256": hashlib.sha256((version.body_md or "").encode("utf-8")).hexdigest(),
        "signer": {**_person_fields(signature.signer), "role": signature.signer_role,
                   "typed_name": signature.signed_name},
        "on_behalf_of": _person(signature.on_behalf_of),
        "witness": _person(signature.witness),
        "signed_at": signature.signed_at.isoformat(),
        "ip": signature.ip,
        "user_agent": signature.user_agent,
        "method": signature.method,
        "academic_year": signature.academic_year,
        "offline": _offline(signature),
        "consents": [
            {"key": a.consent_item.key, "question": a.consent_item.question, "answer": bool(a.answer),
             "answered_at": a.answered_at.isoformat()}
            for a in answers
        ],
    }


def _authoritative(signature: Signature) -> str:
    """Which text the school marked authoritative when this was signed: ``en_GB`` or the translation's language."""
    if not signature.language:
        return "en_GB"
    marked = [t for t in _translations(signature.version_id, signature.language) if t.authoritative]
    return signature.language if marked else "en_GB"


def _translations(version_id: int, language: str) -> list[Any]:
    from sqlalchemy import select

    from portal.db import session
    from portal.policies.models import PolicyTranslation, VersionStatus

    return list(session.scalars(select(PolicyTranslation).where(
        PolicyTranslation.version_id == version_id, PolicyTranslation.language == language,
        PolicyTranslation.status != VersionStatus.DRAFT.value)))


def _offline(signature: Signature) -> dict[str, Any] | None:
    """How the office recorded a paper or verbal agreement (None for an e-signature)."""
    offline = getattr(signature, "offline", None)
    if offline is None:
        return None
    return {"how": signature.method, "agreed_on": offline.agreed_on.isoformat(),
            "recorded_by": _person(offline.recorded_by), "recorded_at": offline.recorded_at.isoformat(),
            "note": offline.note, "scan_sha256": offline.scan_sha256, "scan_content_type": offline.scan_content_type,
            "electronic_signature": False}


def evidence_json(evidence: dict[str, Any]) -> bytes:
    return json.dumps(evidence, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class CheckBlock:
    """What the last page prints so that anyone can check the record."""

    #: SHA-256 fingerprint of the certificate that seals it (hex).
    cert_sha256: str
    #: The record's stable reference (``SignedRecord.public_id``) and its number in this installation.
    public_id: str
    record_number: int
    #: The public verification page of this record.
    url: str

    @property
    def qr_data_uri(self) -> str:
        return segno.make(self.url, error="m").svg_data_uri(scale=3, dark="#000", light="#fff", border=2)

    @staticmethod
    def grouped(hex_text: str) -> str:
        """Hex in groups of four for reading aloud and comparing by eye."""
        return " ".join(hex_text[i:i + 4] for i in range(0, len(hex_text), 4))


def record_html(signature: Signature, evidence: dict[str, Any], check: CheckBlock | None = None) -> str:
    """The HTML of the record (rendered with the app's Jinja environment)."""
    from portal.i18n import LANGUAGES, in_language, language_of

    version = signature.version
    try:
        audience = Audience(version.policy.audience).label
    except ValueError:
        audience = version.policy.audience
    # The record is written in the language of the text the signer read (else their own language).
    code = signature.language or language_of(signature.signer)
    with in_language(code):
        return render_template(
            "portal/pdf/record.html",
            sig=signature,
            version=version,
            audience=audience,
            policy_body=_exact_text(signature),
            evidence=evidence,
            academic_year=academic_year_label(signature.academic_year),
            check=check,
            record_language=LANGUAGES.get(code, LANGUAGES["en_GB"]),
            text_language=LANGUAGES.get(signature.language) if signature.language else None,
        )


def _exact_text(signature) -> Markup:
    """The exact text the signer was shown, as kept when they signed (by its SHA-256); only for
    a signature recorded without a kept text is the version's Markdown rendered again."""
    from portal.policies.queries import signed_text

    kept = signed_text(signature)
    if kept is not None:
        return Markup(kept.body_html)
    return Markup(policy_html(signature.version.body_md))


_fonts = threading.local()


def _font_config() -> FontConfiguration:
    """This thread's WeasyPrint font configuration, kept from one PDF to the next.

    Left to itself, WeasyPrint makes a new one for every document, and Pango then loads and measures the
    fonts again: a record took 0.18 s of CPU instead of 0.15 s (five renders, three alternating rounds), and
    the PDF is the same but for its dates and ID. One per thread, because a Pango font map is not safe to
    share between threads (the job worker runs several). Records have no ``@font-face`` (their CSS names
    installed fonts, and policy text cannot carry styles), so nothing of one document stays in it for the next.
    """
    config = getattr(_fonts, "config", None)
    if config is None:
        config = _fonts.config = FontConfiguration()
    return config


def render_pdf(html: str, *, attachment: bytes | None = None, fetcher: StaticOnlyFetcher | None = None,
               files: tuple[tuple[str, bytes, str], ...] = ()) -> bytes:
    """Render *html* to a tagged PDF/A-3b with the static-only fetcher, attaching the evidence JSON
    and any other *files* given as (name, bytes, description).

    Tagged (a structure tree for screen readers) while claiming PDF/A-3 level B only: level A would
    also claim every tagging rule, which no validator here can confirm.
    """
    fetcher = fetcher or StaticOnlyFetcher(STATIC_DIR)
    attachments = []
    if attachment is not None:
        attachments.append(Attachment(string=attachment, name=EVIDENCE_NAME, relationship="Data",
                                      description="Evidence of the signature (JSON)"))
    for name, data, description in files:
        attachments.append(Attachment(string=data, name=name, relationship="Source", description=description))
    return HTML(string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=fetcher).write_pdf(
        pdf_variant="pdf/a-3b", pdf_tags=True, attachments=attachments, uncompressed_pdf=False,
        finisher=_one_af_entry_per_file, font_config=_font_config())


def _one_af_entry_per_file(document, pdf) -> None:
    """WeasyPrint 70 lists each attachment twice in the catalog's /AF (associated files); keep one."""
    af = pdf.catalog.get("AF")
    if af:
        unique = list(dict.fromkeys(af))
        af.clear()
        af.extend(unique)
