"""Finding people by what was typed: every word in a given or family name (or another column).

One rule for every name search in the portal (the inbox's child filter, the family-links pupil search, the
offline-agreement parent search, the data protection forms' person search). Words are compared as typed:
``ilike`` folds the case of both sides (SQLite, and PostgreSQL with the C locale, fold ASCII letters only),
and ``%`` and ``_`` are taken literally.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import QueryableAttribute

from portal.people.models import Person


def like_pattern(term: str) -> str:
    """``%term%`` for ``ilike(..., escape="\\\\")``, with LIKE's wildcards in *term* taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def words_match(words: Iterable[str], *also: QueryableAttribute[str]) -> ColumnElement[bool]:
    """True where each of *words* is in the person's given or family name (or in one of the columns *also*)."""
    columns = (Person.given_name, Person.family_name, *also)
    return and_(*(or_(*(c.ilike(like_pattern(w), escape="\\") for c in columns)) for w in words))
