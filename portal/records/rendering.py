"""Policy Markdown to safe HTML for the sealed PDF.

Raw HTML in the Markdown is not passed through (markdown-it with ``html`` off) and the result
is cleaned again with nh3 to a small allow-list. Images are kept out altogether: a policy in a
sealed record must read the same wherever it is opened, and the fetcher refuses them anyway.
"""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}


def policy_html(body_md: str) -> str:
    """Render policy Markdown to HTML that is safe to show and to print."""
    html = _md.render(body_md or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"https", "http", "mailto"},
        link_rel="noopener noreferrer",
    )
