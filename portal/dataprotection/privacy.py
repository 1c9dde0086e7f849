"""The school's privacy notice: the school edits it; until then a default text is shown.

The text is Markdown rendered like policies (raw HTML off, then cleaned), with the placeholders
``{{school_name}}`` and ``{{official_channel}}`` filled from the school's settings. Below it the page
always lists the retention schedule in force, so "how long we keep it" can never fall out of date.

Until the school writes its own notice, parents read the default in their own language: one translated
Markdown file per language in ``portal/dataprotection/notices/<code>.md`` (same sections, same
placeholders; a translation that lost a placeholder is not used, and English is shown instead). A
school's own notice is shown exactly as written, in every language.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from flask import has_request_context
from flask_babel import get_locale, gettext
from markupsafe import Markup
from sqlalchemy import select

from portal import audit
from portal.dataprotection.models import PrivacyNotice
from portal.db import session, utcnow

MAX_BYTES = 60 * 1024

DEFAULT_NOTICE = """\
## Who we are

{{school_name}} is responsible for the information in this portal: in data-protection law we are
its *controller*. If you have a question about your information, or want to use one of your rights
below, contact us through {{official_channel}}. Our data protection officer can be reached the
same way.

## What this portal is for

We use this portal to ask everyone in our community to agree to our rules for using technology
safely (acceptable-use agreements), to record optional permissions such as photos on our website,
to let parents and carers raise concerns with us privately, to keep a register of family links
between adults who work here and pupils, and to record and follow up incidents.

## What we keep, and why

- **Who you are**: your name, email address, the roles you have in the school, and for pupils
  their year group, class and date of birth. We need these to know which rules apply to you and to
  contact you.
- **What you agreed to**: each agreement you sign or decline, with the exact words you were
  shown, the date and time, the device address and browser it came from, and a sealed PDF copy.
  This is evidence that you agreed, which our safeguarding and online-safety duties rely on.
- **Your permissions**: each yes or no you give to optional questions, and every change. We only
  use photos in the ways you have said yes to, and you can change your answer at any time.
- **Concerns you raise**: what you write, files you send, our replies and how we dealt with it.
- **Safeguarding records**: where a child may be at risk we keep what we are told and what we
  did, as the law and statutory guidance (*Keeping children safe in education*) require. These
  records are seen only by our Designated Safeguarding Lead and the few people who must see them.
- **Records about adults who work here**: declared family links, incidents, and concerns or
  allegations about their conduct, handled as *Keeping children safe in education* sets out.
- **A log of actions**: who did what in the portal and when (never the words of a concern), so
  that records can be trusted.

Our lawful bases are our public task and legal obligations as a school (including safeguarding
children), and your consent for the optional permissions. Information about safeguarding and
about health or special educational needs is special-category data; we use it where the law
allows us to, for safeguarding children and for our duties in education.

## Who can see it

Only the people in school who need to: for example the Head Teacher for concerns and the family
links register, the Designated Safeguarding Lead for safeguarding records, class teachers for
their class's agreements, and auditors for signed records. We share information outside school
only when the law requires or allows it, for example with the local authority's safeguarding team,
the police, or your child's next school when they move.

## How long we keep it

We follow a retention schedule based on the Information and Records Management Society's toolkit
for schools and on *Keeping children safe in education*. The schedule in force is listed below.
When a period ends, the portal deletes or anonymises the record, or asks a named person to review
it; records needed for a claim or an investigation are kept until that is over.

## Your rights

You can ask for a copy of the information we hold about you (a *subject access request*); we
answer within one calendar month. A parent or carer can ask on behalf of their child; an older
child may be asked whether they agree. You can also ask us to correct information, and in some
cases to delete it or stop using it. Ask through {{official_channel}}.

If you are unhappy with how we have used your information, please tell us first. You can also
complain to the Information Commissioner's Office (ico.org.uk).
"""


NOTICES_DIR = Path(__file__).resolve().parent / "notices"
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


@functools.lru_cache(maxsize=16)
def default_notice(code: str) -> str:
    """The default notice in the language *code* (``pl``, ``cy``...); English when there is no
    translation, or when the translation does not keep the English placeholders."""
    path = NOTICES_DIR / f"{code}.md"
    if not code.isidentifier() or not path.is_file():
        return DEFAULT_NOTICE
    translated = path.read_text(encoding="utf-8")
    if not translated.strip() or _placeholders(translated) != _placeholders(DEFAULT_NOTICE):
        return DEFAULT_NOTICE
    return translated


def _reader_language() -> str:
    if not has_request_context():
        return "en_GB"
    locale = get_locale()
    return str(locale) if locale is not None else "en_GB"


def current() -> PrivacyNotice | None:
    """The newest saved notice of the current school."""
    return session.scalar(select(PrivacyNotice).order_by(PrivacyNotice.id.desc()).limit(1))


def text() -> str:
    """The school's own notice, or the English default (what the editor starts from)."""
    notice = current()
    return notice.body_md if notice is not None else DEFAULT_NOTICE


def shown_text() -> str:
    """What a reader sees: the school's own notice exactly as written, or the default in their language."""
    notice = current()
    return notice.body_md if notice is not None else default_notice(_reader_language())


def rendered() -> Markup:
    from portal.policies.rendering import placeholder_values, render_markdown

    values = placeholder_values()
    if current() is None:
        # The default notice reads in the reader's language, so the channel the school never changed does
        # too (a school's own notice, and a channel the school wrote, are shown as written).
        values["official_channel"] = _default_channel(values.get("official_channel", ""))
    return render_markdown(shown_text(), values)


def _default_channel(channel: str) -> str:
    """The shipped official channel (``School.official_channel``'s default) in the reader's language."""
    if channel == "the school office by email or telephone":
        return gettext("the school office by email or telephone")
    if channel == "the school office":
        return gettext("the school office")
    return channel


def save(body_md: str, *, actor: Any) -> PrivacyNotice:
    """Save a new version of the notice (audited; the text is kept in the row, not the log)."""
    body = (body_md or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValueError(gettext("The privacy notice cannot be empty."))
    if len(body.encode("utf-8")) > MAX_BYTES:
        raise ValueError(gettext("The privacy notice is too long (at most %(num)s KB).", num=MAX_BYTES // 1024))
    notice = PrivacyNotice(body_md=body + "\n", saved_at=utcnow(), saved_by_id=getattr(actor, "id", None))
    session.add(notice)
    session.flush()
    audit.record("privacy_notice.saved", actor=actor, target=notice, characters=len(body))
    return notice


__all__ = ["DEFAULT_NOTICE", "current", "default_notice", "rendered", "save", "shown_text", "text"]
