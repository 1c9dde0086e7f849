"""Small helpers shared by the language tests (tests/test_i18n_*.py)."""
from __future__ import annotations

import html


def speaks(db, person, code: str | None):
    """*person* reads the portal in *code* from now on (their account's language; None: no choice)."""
    person.account.language = code
    db.commit()
    return person


def page_text(resp) -> str:
    """The page's text with entities undone (an apostrophe may be written either way)."""
    return html.unescape(resp.get_data(as_text=True))
