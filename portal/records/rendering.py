"""Policy Markdown to safe HTML for the sealed PDF, for a signature recorded without a kept
copy of its text (records normally show the kept text; see ``portal.records.pdf``).

It is the policies' own renderer (raw HTML off, nh3 allow-list); the static-only fetcher refuses
images and other resources anyway.
"""
from __future__ import annotations

from portal.policies.rendering import placeholder_values, render_markdown


def policy_html(body_md: str) -> str:
    """Render policy Markdown to HTML that is safe to show and to print."""
    return str(render_markdown(body_md or "", placeholder_values()))
