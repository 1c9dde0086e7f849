"""Row ids read from addresses, query strings, forms and launch claims.

Every table's id is an ``integer`` column: PostgreSQL's stops at 2,147,483,647, and SQLite cannot take
a number beyond 64 bits. A larger number sent to the database fails there, as a server error, so input
is checked here first: a number that no row can have is treated like an id that does not exist.
"""
from __future__ import annotations

#: The largest id an ``integer`` column holds on PostgreSQL (and so on every backend we run on).
MAX_ROW_ID = 2**31 - 1


def row_id(value: object) -> int | None:
    """The id *value* names, as an int from 1 to :data:`MAX_ROW_ID`, or ``None`` when it cannot name a
    row: empty, not a whole number in decimal digits (``"²"`` and ``"1.5"`` are not), 0, negative, too large.

    Where a lookup must then find nothing, write ``row_id(text) or 0``: no row has id 0."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isdecimal() and len(value) <= 10:
        number = int(value)
    else:
        return None
    return number if 1 <= number <= MAX_ROW_ID else None


def form_id(value: str | int) -> int:
    """The ``coerce`` of a form field whose choices are row ids: ``int`` (so anything that is not a whole
    number is refused as before, "could not coerce"), except that a number no row can have, negative or
    too large for the database, becomes 0, which every such field reads as "nothing chosen"."""
    number = int(value)
    return number if 0 <= number <= MAX_ROW_ID else 0
