"""Turn a policy version's Markdown into the exact HTML people read and sign.

Markdown is rendered with raw HTML switched off (``html=False``) and then cleaned with nh3
against a short allow-list, so a policy author cannot put scripts, images, styles or
``javascript:`` links into a page. Two things are added *after* cleaning, from fixed values
only:

* placeholders ``{{official_channel}}`` and ``{{school_name}}`` are replaced with the
  HTML-escaped values from :class:`~portal.people.models.School`;
* ``[[icon:NAME]]`` markers become one of the portal's own decorative SVG icons
  (``aria-hidden``); unknown names are removed. Young pupils' policies also get an icon on
  every rule (list item) chosen from its words (:func:`add_rule_icons`), so their texts need
  no markup at all.

:func:`render_version` returns the HTML and its SHA-256. The signing page shows exactly
``RenderedVersion.html`` and every signature stores ``RenderedVersion.sha256``; the sealed
PDF should embed the same HTML so the two can be compared.
"""
from __future__ import annotations

import functools
import hashlib
import html
import re
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from portal.policies.icons import ICONS

#: Largest Markdown body accepted for a version (bytes of UTF-8).
MAX_BODY_BYTES = 100 * 1024

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "code", "pre",
    "blockquote", "a", "table", "thead", "tbody", "tr", "th", "td",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto", "tel"})

_ICON = re.compile(r"\[\[icon:([a-z0-9-]{1,30})\]\]\s?")
_PLACEHOLDER = re.compile(r"\{\{\s*(official_channel|school_name)\s*\}\}")


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")

    def heading_open(self, tokens, idx, options, env):
        # The page title is the only h1: a "#" heading in the body becomes h2.
        if tokens[idx].tag == "h1":
            tokens[idx].tag = "h2"
        return self.renderToken(tokens, idx, options, env)

    def heading_close(self, tokens, idx, options, env):
        if tokens[idx].tag == "h1":
            tokens[idx].tag = "h2"
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("heading_open", heading_open)
    md.add_render_rule("heading_close", heading_close)
    return md


_MD = _markdown()


def clean_html(fragment: str) -> str:
    """Sanitise an HTML fragment with the policy allow-list."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(body_md: str, values: dict[str, str] | None = None) -> Markup:
    """Render *body_md* safely; fill placeholders from *values*; add known icons."""
    cleaned = clean_html(_MD.render(body_md))
    values = values or {}

    def fill(match: re.Match[str]) -> str:
        return html.escape(values.get(match.group(1), ""), quote=True)

    def icon(match: re.Match[str]) -> str:
        svg = ICONS.get(match.group(1))
        if svg is None:
            return ""
        return f'<span class="rule-icon" aria-hidden="true">{svg}</span> '

    out = _PLACEHOLDER.sub(fill, cleaned)
    out = _ICON.sub(icon, out)
    return Markup(out)


#: Words in a rule -> the icon drawn beside it (first match wins; "star" otherwise).
ICON_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("screen", ("screen",)),
    ("camera", ("photo", "picture", "video", "image", "film")),
    ("people", ("friend", "follow", "people i know", "real life", "stranger")),
    ("tell", ("tell", "adult", "grown-up", "worried", "upset", "help")),
    ("lock", ("password", "secret", "private", "privacy", "address")),
    ("stop", ("unkind", "mean", "bull", "hate", "older", "13", "16", " age")),
    ("heart", ("kind", "respect", "treat")),
)

_LI = re.compile(r"<li>((?:(?!</?li>|<ul|<ol).)*)</li>", re.DOTALL)


def icon_for(text: str) -> str:
    """The icon name for a rule's words."""
    low = " " + re.sub(r"<[^>]+>", "", text).lower()
    for name, words in ICON_WORDS:
        if any(w in low for w in words):
            return name
    return "star"


def add_rule_icons(fragment: str) -> str:
    """Give every simple list item (one rule) a decorative icon, unless it already has one."""

    def one(match: re.Match[str]) -> str:
        inner = match.group(1)
        if 'class="rule-icon"' in inner:
            return match.group(0)
        icon = f'<span class="rule-icon" aria-hidden="true">{ICONS[icon_for(inner)]}</span> '
        return f"<li>{icon}{inner}</li>"

    return _LI.sub(one, fragment)


def wants_icons(policy) -> bool:
    """Young pupils' policies (Reception to Year 6, and SEND variants) show a picture per rule."""
    return policy.audience in ("pupil_eyfs_ks1", "pupil_ks2") or bool(policy.send_variant)


@dataclass(frozen=True)
class RenderedVersion:
    """What a signer sees: the body HTML and the consent questions, with their hash.

    With a translation, ``html`` holds the translation (with the note of which text is
    authoritative) followed by the English text, and the hash covers both.
    """

    html: Markup
    questions: tuple[str, ...]
    sha256: str
    #: The language of the translation shown beside the English (None: English only).
    language: str | None = None


def placeholder_values(settings=None) -> dict[str, str]:
    """The values placeholders are filled with (from school settings when present)."""
    if settings is None:
        from flask import has_app_context

        from portal.schools.models import School

        settings = School.get() if has_app_context() else None
    if settings is None:
        return {"official_channel": "the school office", "school_name": "the school"}
    return {"official_channel": settings.official_channel or "the school office", "school_name": settings.name}


def text_digest(title: str, body_html: str, questions: tuple[str, ...] | list[str]) -> str:
    """SHA-256 (hex) over the title, the rendered body and the consent questions, as shown."""
    h = hashlib.sha256()
    h.update(title.encode("utf-8"))
    h.update(b"\n\x1e")
    h.update(body_html.encode("utf-8"))
    for q in questions:
        h.update(b"\n\x1f")
        h.update(q.encode("utf-8"))
    return h.hexdigest()


@functools.lru_cache(maxsize=256)
def _body_html(body_md: str, values: tuple[tuple[str, str], ...], icons: bool) -> str:
    """The rendered body: a pure function of its arguments, so each worker renders a given text
    once (the signing page, the history and the sealed records all ask for it)."""
    body = str(render_markdown(body_md, dict(values)))
    return add_rule_icons(body) if icons else body


def render_version(version, settings=None, language: str | None = None) -> RenderedVersion:
    """Render *version* (a :class:`~portal.policies.models.PolicyVersion`) as the signing page shows it.

    :param language: show the published translation into this language (if there is one) above
        the English text.
    """
    values = tuple(sorted(placeholder_values(settings).items()))
    body = _body(version.body_md, version.policy, values)
    questions = tuple(item.question for item in version.consent_items)
    translation = None
    if language:
        from portal.policies.translations import published_translation

        translation = published_translation(version, language)
    if translation is None:
        return RenderedVersion(html=body, questions=questions,
                               sha256=text_digest(version.title, str(body), questions))
    combined = Markup(compose_translated(translation, str(body), _body(translation.body_md, version.policy, values)))
    return RenderedVersion(html=combined, questions=questions,
                           sha256=text_digest(version.title, str(combined), questions), language=translation.language)


def _body(body_md: str, policy, values: tuple[tuple[str, str], ...]) -> Markup:
    return Markup(_body_html(body_md, values, wants_icons(policy)))  # noqa: S704 - cleaned by nh3


def compose_translated(translation, english_html: str, translated_html: str) -> str:
    """The translation (in its language and direction, with the note of which text is
    authoritative) followed by the English text. Only fixed markup and escaped values are added
    to the cleaned bodies."""
    from flask_babel import force_locale, gettext

    from portal.i18n import LANGUAGES

    lang = LANGUAGES[translation.language]
    if translation.authoritative:
        note_en = f"This {lang.english} translation is the authoritative version of this policy."
        with force_locale(lang.code):
            note = gettext("This translation is the authoritative version of this policy.")
    else:
        note_en = ("The English text is the authoritative version of this policy; this translation is to help you "
                   "read it.")
        with force_locale(lang.code):
            note = gettext("The English text is the authoritative version of this policy; this translation is to "
                           "help you read it.")
    title = html.escape(translation.title, quote=True)
    questions = [line.strip() for line in (translation.questions or "").splitlines() if line.strip()]
    asked = ""
    if questions:
        # The yes/no questions in this language (the answers are given to the English ones, in the same order).
        asked = '<ol class="policy-questions">' + "".join(f"<li>{html.escape(q)}</li>" for q in questions) + "</ol>"
    return (
        f'<section class="policy-translation" lang="{lang.tag}" dir="{lang.direction}">'
        f'<p class="policy-authority"><strong>{html.escape(note)}</strong></p>'
        f"<h2>{title}</h2>\n{translated_html}{asked}</section>\n"
        f'<section class="policy-original" lang="en-GB" dir="ltr">'
        f'<p class="policy-authority"><strong>English text. {html.escape(note_en)}</strong></p>\n'
        f"{english_html}</section>"
    )
