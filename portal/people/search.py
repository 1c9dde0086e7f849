"""Finding people by what was typed: every word in a given or family name (or another column).

One rule for every name search in the portal (the inbox's child filter, the family-links pupil search, the
offline-agreement parent search, the data protection forms' person search). Names are compared folded
(:mod:`portal.people.folding`: no accents, no case), so "lucja" and "Łucja" both find Łucja; a typed word
is folded the same way and looked for in :attr:`Person.name_key`. The other columns (a class's name or
code) are compared with ``ilike``. ``%`` and ``_`` are taken literally.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, false, or_
from sqlalchemy.orm import QueryableAttribute

from portal.people.folding import fold
from portal.people.models import Person


def like_pattern(term: str) -> str:
    """``%term%`` for ``ilike(..., escape="\\\\")``, with LIKE's wildcards in *term* taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_words(text: str, limit: int | None = None) -> list[str]:
    """The words typed in *text* that are something once folded (an accent alone is no word), at most *limit*."""
    words = [w for w in text.split() if fold(w)]
    return words[:limit] if limit is not None else words


def folded_length(words: Iterable[str]) -> int:
    """How many characters *words* have once folded: what a search's minimum length is measured in."""
    return sum(len(fold(w)) for w in words)


def words_match(words: Iterable[str], *also: QueryableAttribute[str]) -> ColumnElement[bool]:
    """True where each of *words* is in the person's given or family name (or in one of the columns *also*).

    A word that folds to nothing (an accent alone) is left out; with no word left, nothing matches. A person
    stored without a key (written by a release before migration 0014, during a rolling upgrade) is compared
    with ``ilike`` on the names, as before, until an update or the roster import makes their key."""
    no_key = Person.name_key == ""
    clauses = []
    for word in words:
        folded = fold(word)  # once per word
        if not folded:
            continue
        as_typed = like_pattern(word)
        clauses.append(or_(Person.name_key.like(like_pattern(folded), escape="\\"),
                           and_(no_key, or_(Person.given_name.ilike(as_typed, escape="\\"),
                                            Person.family_name.ilike(as_typed, escape="\\"))),
                           *(c.ilike(as_typed, escape="\\") for c in also)))
    return and_(*clauses) if clauses else false()
