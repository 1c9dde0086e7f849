"""Safe HTML from a version's Markdown, and the one-rule-per-screen presentation.

Markdown is rendered with raw HTML switched off, then cleaned with nh3. The SHA-256 stored
with an acknowledgement is taken over the exact HTML shown: the whole text for older pupils,
or the screens (joined by a newline) for young pupils. Both are deterministic, so anyone can
recompute them from the version's ``body_md``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from markdown_it import MarkdownIt

from portal.people.bands import EYFS_KS1, KS2, age_band_for_year
from portal.policies import rendering as policy_rendering

# One Markdown renderer and one allow-list for every policy text (portal.policies.rendering).
clean = policy_rendering.clean_html


def _md() -> MarkdownIt:
    return policy_rendering._MD


def _demote_headings(html: str) -> str:
    """Kept for the screens' intro text: the shared renderer already makes "#" an h2."""
    return html


def render_html(body_md: str) -> str:
    """The whole text as safe HTML (for older pupils), with the school's placeholders filled."""
    return str(policy_rendering.render_markdown(body_md or "", policy_rendering.placeholder_values()))


@dataclass(frozen=True)
class Screen:
    html: str
    #: True for one rule (a list item); False for introduction or closing words.
    is_rule: bool
    icon: str = ""


def _only_headings(tokens: list) -> bool:
    """True when *tokens* hold nothing but headings (e.g. "## Being kind" before its rules)."""
    kinds = {t.type for t in tokens}
    return bool(kinds) and kinds <= {"heading_open", "inline", "heading_close"}


def screens(body_md: str) -> list[Screen]:
    """Split the text into screens for young pupils: each top-level list item is one rule on
    its own screen; the words between lists are grouped into their own screens.

    A heading is kept with its rules: words that are only a heading (a section title such as
    "Being kind") never make a screen of their own; they open the screen of the first rule that
    follows (or, at the very end, close the last screen).
    """
    md = _md()
    tokens = md.parse(body_md or "")
    out: list[Screen] = []
    pending: list = []
    carried: list[str] = []  # heading HTML waiting for the next rule

    def render(toks: list) -> str:
        return clean(_demote_headings(md.renderer.render(toks, md.options, {})))

    def flush_pending():
        if pending:
            # Headings at the end of the words belong to the rules after them, not to this screen.
            cut = len(pending)
            while cut > 0 and _only_headings(pending[cut - 3:cut]) and pending[cut - 3].type == "heading_open":
                cut -= 3
            body, heads = pending[:cut], pending[cut:]
            html = render(body) if body else ""
            if html.strip():
                out.append(Screen(html=html, is_rule=False))
            if heads:
                carried.append(render(heads))
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
                    icon = icon_for(html)
                    if carried:
                        html = "".join(carried) + html
                        carried.clear()
                    out.append(Screen(html=html, is_rule=True, icon=icon))
                else:
                    item.append(t)
                i += 1
        else:
            pending.append(tok)
        i += 1
    flush_pending()
    if carried:  # a heading with nothing after it: keep it on the last screen, not alone
        if out:
            last = out[-1]
            out[-1] = Screen(html=last.html + "".join(carried), is_rule=last.is_rule, icon=last.icon)
        else:
            out.append(Screen(html="".join(carried), is_rule=False))
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
