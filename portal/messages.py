"""Sentences built where no reader is known yet, shown later in the reader's language.

A roster import runs from a page, the command line or a background job, and its problems reach a
person only when a page shows them. Such a problem is a :class:`Message`: a ``str`` holding the
English sentence (what the command line prints, what tests and logs compare) that also remembers
its catalogue entry and values, so :func:`shown` can put it into the page's language. A value may
itself be a :class:`Message` (a place such as "roster.csv row 5"); it is translated too.

Mark the English with ``N_`` where the message is made, so ``make translations`` extracts it::

    Message(N_("%(where)s: class_name is required for a class."), where=place)

The verification rules (:mod:`portal.records.rules`) have their own copy of this shape
(``Finding``), because that file ships alone in ``countersign-verify``; :func:`shown` takes both.
"""
from __future__ import annotations

from typing import Any


def N_(text: str) -> str:
    """Marks *text* for the catalogues; it is translated where it is shown."""
    return text


class Count(int):
    """A number in a :class:`Message` written with its digits grouped the reader's way: "131,072" in
    English, "131.072" in Romanian, and the Arabic page's own separators."""

    def __str__(self) -> str:
        return f"{int(self):,}"


class Message(str):
    """The English sentence, remembering ``msgid`` and ``params`` for :func:`shown`."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Message:
        self = super().__new__(cls, msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params
        return self

    def replace_params(self, **params: Any) -> Message:
        """The same sentence with some values changed."""
        return Message(self.msgid, **{**self.params, **params})


def shown(text: Any) -> str:
    """*text* in the current page's language (English outside a request).

    A :class:`Message` (or a rules ``Finding``) is translated with its values; any other string is
    looked up as a catalogue entry of its own (a constant marked with ``N_``), else shown as it is.
    """
    from flask_babel import gettext

    msgid = getattr(text, "msgid", None)
    if msgid is None:
        return gettext(str(text)) if text else ""
    from flask_babel import format_decimal

    params = {k: shown(v) if getattr(v, "msgid", None) is not None else format_decimal(int(v)) if isinstance(v, Count)
              else v for k, v in getattr(text, "params", {}).items()}
    return gettext(msgid, **params)
