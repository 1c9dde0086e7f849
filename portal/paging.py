"""Long lists a page at a time: the concerns inbox, the family links register, the incidents lists.

A list that keeps every row ever recorded (closed concerns, incidents from past years) would make its
page grow with the school. :func:`paginate` counts the rows in one statement and loads one page of
them in another, so a page costs the same however many rows there are; ``templates/portal/_pager.html``
draws the links to the previous and next pages, keeping the list's own filters.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask import request
from sqlalchemy import Select, func, select

from portal.db import session

T = TypeVar("T")

#: The most digits of a page number read from an address; a longer number is taken as the last page.
_MAX_DIGITS = 6


@dataclass
class Page(Generic[T]):
    """One page of a list: its rows, which page it is (from 1), how many pages and rows there are,
    and the query argument that chooses the page."""

    items: list[T]
    number: int
    pages: int
    total: int
    param: str = "page"
    #: The list's own query arguments (its filters) in this request, kept by the links to other pages.
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def args_for(self, number: int) -> dict[str, Any]:
        """The query arguments of the link to page *number* (page 1 has no page argument)."""
        out = {k: v for k, v in self.args.items() if k != self.param}
        if number > 1:
            out[self.param] = number
        return out


def page_number(param: str, last: int) -> int:
    """The page asked for in the query argument *param*, within 1 and *last* (not a number: page 1)."""
    raw = request.args.get(param, "1")
    if not raw.isdecimal():
        return 1
    wanted = int(raw) if len(raw) <= _MAX_DIGITS else last
    return max(1, min(wanted, last))


def paginate(stmt: Select[Any], per_page: int, *, param: str = "page", keep: Iterable[str] = ()) -> Page[Any]:
    """One page of *stmt* (already ordered), chosen by the query argument *param*, in two statements:
    a count and the page. A page past the last is the last page. The links to other pages keep the
    query arguments named in *keep* (a list's filters; only those, so that no argument of the address
    can become one of ``url_for``'s own). The page's items are the objects of *stmt*'s first column."""
    total = int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    pages = max(1, -(-total // per_page))
    number = page_number(param, pages)
    result = session.execute(stmt.limit(per_page).offset((number - 1) * per_page))
    items = list(result.scalars().unique())
    args = {k: v for k in keep if (v := request.args.get(k))}
    return Page(items, number, pages, total, param, args)
