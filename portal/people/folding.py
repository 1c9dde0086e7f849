"""Names folded for searching: "Łucja", "łucja", "Lucja" and "LUCJA" all become "lucja".

A teacher on an English keyboard types "Zoe" for Zoë and "Lucja" for Łucja, and a parent types a
name in lower case. SQLite's ``lower()`` and a C-locale PostgreSQL fold ASCII letters only, so the
portal folds in Python, the same way for a stored name (:attr:`Person.name_key`) and a typed word:
compatibility-decomposed (NFKD), accents and other combining marks dropped, case-folded, and the
letters that do not decompose (ł, ø, đ, æ, ...) spelt with plain letters. Curly apostrophes (and an acute
accent or a modifier letter typed for one) become straight ones, so O’Brien is found by O'Brien; the
Unicode hyphens become "-". A word of accents alone folds to nothing, and is no word to search for.
"""
from __future__ import annotations

import unicodedata

#: Marks typed for an apostrophe or a hyphen, made plain before NFKD (which would make the acute accent
#: a space and a combining mark).
_MARKS = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u02bb": "'", "\u02b9": "'", "\u00b4": "'", "`": "'",
    "\u2010": "-", "\u2011": "-",
})

#: Letters NFKD leaves whole, spelt as an English keyboard would type them (after casefold).
_PLAIN = str.maketrans({
    "ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ŧ": "t",
    "æ": "ae", "œ": "oe", "þ": "th", "ĸ": "k", "ŋ": "n",
})

#: The longest key :func:`name_key` makes (two names of up to 100 characters can grow when folded).
KEY_LENGTH = 400


def fold(text: str) -> str:
    """*text* compared as typed words are: no accents, no case, plain letters, single spaces."""
    if text.isascii():  # the same result, without the Unicode steps (most names in a roster)
        return " ".join(text.translate(_MARKS).lower().split())
    decomposed = unicodedata.normalize("NFKD", text.translate(_MARKS))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().translate(_PLAIN).split())


def name_key(given_name: str | None, family_name: str | None) -> str:
    """What a person's names are searched by: both names folded, given name first."""
    return fold(f"{given_name or ''} {family_name or ''}")[:KEY_LENGTH]
