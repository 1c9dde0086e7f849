"""School days: weekdays that are not bank holidays in England and Wales and not school closures.

Bank holidays come from the ``holidays`` package (England and Wales, substitute days and one-off holidays
such as a coronation included; a new release of the package brings newly announced ones). Term holidays and
other closures are the school's own :class:`SchoolClosure` rows.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select

from portal.concerns.models import SchoolClosure
from portal.db import session

#: The ``holidays`` subdivision whose bank holidays count. England and Wales share one list (a test
#: checks the package agrees), so a school in Wales needs nothing different; Scotland and Northern Ireland
#: differ and are not supported.
REGION = "ENG"

UK = ZoneInfo("Europe/London")


@functools.lru_cache(maxsize=64)
def _bank_holidays(year: int) -> Mapping[dt.date, str]:
    """The year's bank holidays that fall on a weekday (a holiday on a weekend is moved to a weekday,
    which the package lists as "... (observed)"), with their names."""
    days = holidays.country_holidays("GB", subdiv=REGION, years=year)
    return MappingProxyType({day: name for day, name in sorted(days.items()) if day.weekday() < 5})


def bank_holidays_between(first: dt.date, last: dt.date) -> dict[dt.date, str]:
    """The weekday bank holidays from *first* to *last* (both included), in date order, with their names."""
    out: dict[dt.date, str] = {}
    for year in range(first.year, last.year + 1):
        out.update((day, name) for day, name in _bank_holidays(year).items() if first <= day <= last)
    return out


def upcoming_bank_holidays(today: dt.date, days: int = 365) -> dict[dt.date, str]:
    """The weekday bank holidays from *today* to *days* days ahead, for the school's calendar page."""
    return bank_holidays_between(today, today + dt.timedelta(days=days))


def uk_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in the UK (school days follow the school's clock, not UTC)."""
    from portal.db import utcnow

    return (now or utcnow()).astimezone(UK).date()


def closed_days(first: dt.date, last: dt.date) -> set[dt.date]:
    """Every day between *first* and *last* covered by a :class:`SchoolClosure`."""
    rows = session.scalars(
        select(SchoolClosure).where(SchoolClosure.first_day <= last, SchoolClosure.last_day >= first)
    ).all()
    out: set[dt.date] = set()
    for r in rows:
        d = max(r.first_day, first)
        while d <= min(r.last_day, last):
            out.add(d)
            d += dt.timedelta(days=1)
    return out


def is_bank_holiday(day: dt.date) -> bool:
    """Whether *day* is a weekday bank holiday in England and Wales (one announced after the installed
    ``holidays`` release is not known: add it as a closure, or upgrade the package)."""
    return day in _bank_holidays(day.year)


def is_school_day(day: dt.date, closures: Iterable[dt.date] = ()) -> bool:
    """A weekday that is neither a bank holiday nor one of *closures*."""
    return day.weekday() < 5 and not is_bank_holiday(day) and day not in set(closures)


def add_school_days(start: dt.date, days: int, closures: Iterable[dt.date] | None = None) -> dt.date:
    """The *days*-th school day after *start* (the day itself does not count).

    :param closures: closed days; read from the database when ``None``.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    if closures is None:
        # A generous window: even a long summer holiday fits.
        closures = closed_days(start, start + dt.timedelta(days=days * 3 + 120))
    closed = set(closures)
    d = start
    counted = 0
    while counted < days:
        d += dt.timedelta(days=1)
        if is_school_day(d, closed):
            counted += 1
    return d


def school_days_between(start: dt.date, end: dt.date, closures: Iterable[dt.date] | None = None) -> int:
    """How many school days after *start* up to and including *end* (0 when *end* is not later)."""
    if end <= start:
        return 0
    if closures is None:
        closures = closed_days(start, end)
    closed = set(closures)
    n = 0
    d = start
    while d < end:
        d += dt.timedelta(days=1)
        if is_school_day(d, closed):
            n += 1
    return n
