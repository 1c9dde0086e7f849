"""Safe HTML from a version's Markdown, and the one-rule-per-screen presentation.

Markdown is rendered with raw HTML switched off, then cleaned with nh3. The SHA-256 stored
with an acknowledgement is taken over the exact HTML shown: the whole text for older pupils,
or the screens (joined by a newline) for young pupils. Both are deterministic, so anyone can
recompute them from the version's ``body_md``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt

from portal.people.bands import EYFS_KS1, KS2, age_band_for_year

_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "h2", "h3", "h4", "blockquote", "a", "code",
         "table", "thead", "tbody", "tr", "th", "td", "hr"}
_ATTRS = {"a": {"href"}, "th": {"scope"}}


def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def clean(html: str) -> str:
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRS, url_schemes={"https", "mailto"})


def _demote_headings(html: str) -> str:
    """The page has its own h1; headings inside a policy start at h2."""
    for n in (5, 4, 3, 2, 1):
        html = html.replace(f"<h{n}>", f"<h{min(n + 1, 4)}>").replace(f"</h{n}>", f"</h{min(n + 1, 4)}>")
    return html


def render_html(body_md: str) -> str:
    """The whole text as safe HTML (for older pupils)."""
    return clean(_demote_headings(_md().render(body_md or "")))


@dataclass(frozen=True)
class Screen:
    html: str
    #: True for one rule (a list item); False for introduction or closing words.
    is_rule: bool
    icon: str = ""


def screens(body_md: str) -> list[Screen]:
    """Split the text into screens for young pupils: each top-level list item is one rule on
    its own screen; the words between lists are grouped into their own screens."""
    md = _md()
    tokens = md.parse(body_md or "")
    out: list[Screen] = []
    pending: list = []

    def flush_pending():
        if pending:
            html = clean(_demote_headings(md.renderer.render(pending, md.options, {})))
            if html.strip():
                out.append(Screen(html=html, is_rule=False))
            pending.clear()

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type in ("bullet_list_open", "ordered_list_open") and tok.level == 0:
            flush_pending()
            close = tok.type.replace("_open", "_close")
            i += 1
            item: list = []
            while i < len(tokens) and not (tokens[i].type == close and tokens[i].level == 0):
                t = tokens[i]
                if t.type == "list_item_open" and t.level == 1:
                    item = []
                elif t.type == "list_item_close" and t.level == 1:
                    for it in item:  # a rule on its own is a paragraph
                        if it.type in ("paragraph_open", "paragraph_close"):
                            it.hidden = False
                    html = clean(md.renderer.render(item, md.options, {}))
                    out.append(Screen(html=html, is_rule=True, icon=icon_for(html)))
                else:
                    item.append(t)
                i += 1
        else:
            pending.append(tok)
        i += 1
    flush_pending()
    return out


def is_young(year_group: int) -> bool:
    """EYFS, Key Stage 1 and Key Stage 2 pupils see the presentation."""
    return age_band_for_year(year_group) in (EYFS_KS1, KS2)


def shown_text(body_md: str, *, young: bool) -> str:
    """The exact HTML shown to a pupil (what the SHA-256 is taken over)."""
    if young:
        return "\n".join(s.html for s in screens(body_md))
    return render_html(body_md)


def sha256_of_shown(body_md: str, *, young: bool) -> str:
    return hashlib.sha256(shown_text(body_md, young=young).encode("utf-8")).hexdigest()


# Words in a rule -> the icon drawn beside it (decorative; see templates/portal/classroom/_icons.html).
_ICON_WORDS = [
    ("lock", ("password", "secret", "private", "address", "personal")),
    ("talk", ("tell", "adult", "worried", "upset", "help", "ask")),
    ("camera", ("photo", "picture", "video", "camera")),
    ("heart", ("kind", "nice", "respect", "polite", "unkind")),
    ("clock", ("time", "minutes", "bed", "break")),
    ("people", ("stranger", "do not know", "don't know", "meet", "friend")),
]


def icon_for(text: str) -> str:
    low = text.lower()
    for icon, words in _ICON_WORDS:
        if any(w in low for w in words):
            return icon
    return "star"
