"""School days: weekdays that are not bank holidays in England and not school closures.

Bank holidays in England for 2025-2027 are shipped below as plain data; :func:`england_bank_holidays`
computes them from the rules (Easter, the May and August Mondays, substitute days) and a test
checks the two agree. Term holidays and other closures are :class:`SchoolClosure` rows.
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal.concerns.models import SchoolClosure
from portal.db import session

D = dt.date
#: Bank holidays in England (and Wales), 2025-2027.
ENGLAND_BANK_HOLIDAYS: frozenset[dt.date] = frozenset({
    D(2025, 1, 1), D(2025, 4, 18), D(2025, 4, 21), D(2025, 5, 5), D(2025, 5, 26), D(2025, 8, 25),
    D(2025, 12, 25), D(2025, 12, 26),
    D(2026, 1, 1), D(2026, 4, 3), D(2026, 4, 6), D(2026, 5, 4), D(2026, 5, 25), D(2026, 8, 31),
    D(2026, 12, 25), D(2026, 12, 28),
    D(2027, 1, 1), D(2027, 3, 26), D(2027, 3, 29), D(2027, 5, 3), D(2027, 5, 31), D(2027, 8, 30),
    D(2027, 12, 27), D(2027, 12, 28),
})

UK = ZoneInfo("Europe/London")


def easter_sunday(year: int) -> dt.date:
    """Western Easter (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month = (h + m - 7 * n + 114) // 31
    day = (h + m - 7 * n + 114) % 31 + 1
    return dt.date(year, month, day)


def _first_monday(year: int, month: int) -> dt.date:
    d = dt.date(year, month, 1)
    return d + dt.timedelta(days=(7 - d.weekday()) % 7)


def _last_monday(year: int, month: int) -> dt.date:
    d = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    return d - dt.timedelta(days=d.weekday())


def england_bank_holidays(year: int) -> set[dt.date]:
    """The usual rules (no one-off extra holidays such as coronations)."""
    easter = easter_sunday(year)
    out = {
        easter - dt.timedelta(days=2),
        easter + dt.timedelta(days=1),
        _first_monday(year, 5),
        _last_monday(year, 5),
        _last_monday(year, 8),
    }
    new_year = dt.date(year, 1, 1)
    out.add(new_year + dt.timedelta(days={5: 2, 6: 1}.get(new_year.weekday(), 0)))
    christmas, boxing = dt.date(year, 12, 25), dt.date(year, 12, 26)
    # A holiday on a weekend moves to the next weekday not already a holiday.
    taken: set[dt.date] = set()
    for day in (christmas, boxing):
        d = day
        while d.weekday() >= 5 or d in taken:
            d += dt.timedelta(days=1)
        taken.add(d)
    return out | taken


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


SHIPPED_YEARS = range(2025, 2028)


@functools.lru_cache(maxsize=32)
def _rule_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(england_bank_holidays(year))


def is_bank_holiday(day: dt.date) -> bool:
    """From the shipped list for 2025-2027; other years follow the usual rules (one-off holidays
    announced later are not known, so add them as closures)."""
    if day.year in SHIPPED_YEARS:
        return day in ENGLAND_BANK_HOLIDAYS
    return day in _rule_holidays(day.year)


def is_school_day(day: dt.date, closures: Iterable[dt.date] = ()) -> bool:
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
