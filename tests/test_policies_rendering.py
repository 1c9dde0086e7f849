"""Policy Markdown is rendered without raw HTML and cleaned; placeholders and icons are safe."""
from __future__ import annotations

import pytest

from portal.policies.rendering import MAX_BODY_BYTES, render_markdown, text_digest

# These tests check rendered Markdown, which does not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend

HOSTILE = [
    ("<script>alert(1)</script>", "<script"),
    ('<img src="x" onerror="alert(1)">', "<img"),
    ("[click](javascript:alert(1))", 'href="javascript'),
    ("[click](JaVaScRiPt:alert(1))", "href=\"javascript"),
    ('<a href="javascript:alert(1)">x</a>', "<a href"),
    ("<iframe src=//evil.example></iframe>", "<iframe"),
    ("<style>body{display:none}</style>", "<style"),
    ('<div onclick="x()">hi</div>', "<div"),
    ("![pic](http://evil.example/p.png)", "<img"),
    ("[data](data:text/html;base64,PHNjcmlwdD4=)", 'href="data:'),
    ("<!-- hidden -->", "<!--"),
    ("<svg onload=alert(1)>", "<svg"),
]


@pytest.mark.parametrize("source, forbidden", HOSTILE)
def test_hostile_markdown_is_neutralised(source, forbidden):
    out = str(render_markdown(f"Before\n\n{source}\n\nAfter"))
    assert forbidden.lower() not in out.lower(), out
    assert "Before" in out and "After" in out


def test_raw_html_is_shown_as_text_not_passed_through():
    out = str(render_markdown("<b>bold?</b> and <script>x()</script>"))
    assert "&lt;b&gt;" in out and "<b>" not in out
    assert "&lt;script&gt;" in out


def test_markdown_features_survive():
    md = "# Title\n\n## Part\n\n- one\n- **two**\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n[site](https://example.org)"
    out = str(render_markdown(md))
    assert "<h1" not in out and "<h2>Title</h2>" in out and "<h2>Part</h2>" in out
    assert "<strong>two</strong>" in out and "<table>" in out and "<td>1</td>" in out
    assert 'href="https://example.org"' in out and 'rel="noopener noreferrer"' in out


def test_placeholders_are_filled_and_escaped():
    out = str(render_markdown("Contact {{official_channel}} at {{ school_name }}.",
                              {"official_channel": '<script>x</script> "office"', "school_name": "Oak & Ash"}))
    assert "&lt;script&gt;x&lt;/script&gt; &quot;office&quot;" in out
    assert "Oak &amp; Ash" in out and "<script>" not in out


def test_icons_are_decorative_and_unknown_ones_vanish():
    out = str(render_markdown("- [[icon:heart]] Be kind\n- [[icon:nope]] Unknown"))
    assert '<span class="rule-icon" aria-hidden="true"><svg' in out and 'focusable="false"' in out
    assert "[[icon" not in out and "Unknown" in out
    assert out.count("<svg") == 1


def test_digest_covers_title_body_and_questions():
    base = text_digest("T", "<p>x</p>", ["Q?"])
    assert len(base) == 64
    assert base != text_digest("T2", "<p>x</p>", ["Q?"])
    assert base != text_digest("T", "<p>y</p>", ["Q?"])
    assert base != text_digest("T", "<p>x</p>", ["Q2?"])
    assert base == text_digest("T", "<p>x</p>", ("Q?",))


def test_size_limit_is_100_kb():
    assert MAX_BODY_BYTES == 100 * 1024


def test_young_rules_get_an_icon_each_from_their_words():
    from portal.policies.rendering import add_rule_icons, icon_for

    assert icon_for("I ask before I take a photo") == "camera"
    assert icon_for("I keep my password secret") == "lock"
    assert icon_for("If I feel worried, I tell an adult") == "tell"
    assert icon_for("Something else entirely") == "star"
    out = add_rule_icons(str(render_markdown("- I am kind online.\n- [[icon:stop]] Stop.\n\nNot a rule.")))
    assert out.count('<span class="rule-icon" aria-hidden="true">') == 2
    assert "Not a rule" in out and out.count("<svg") == 2
