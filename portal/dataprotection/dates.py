"""Date arithmetic for retention periods and statutory deadlines."""
from __future__ import annotations

import calendar
import datetime as dt

from portal.concerns.schooldays import is_bank_holiday

UNITS = ("years", "months", "days")


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day *months* calendar months later; the month's last day when it has no such day
    (31 January + 1 month = 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_period(day: dt.date, period: int, unit: str) -> dt.date:
    """*day* plus *period* years, months or days (29 February + 1 year = 28 February)."""
    if unit == "years":
        return add_months(day, 12 * period)
    if unit == "months":
        return add_months(day, period)
    if unit == "days":
        return day + dt.timedelta(days=period)
    raise ValueError(f"unknown unit {unit!r}")


def is_working_day(day: dt.date) -> bool:
    """A weekday that is not a bank holiday in England."""
    return day.weekday() < 5 and not is_bank_holiday(day)


def one_calendar_month(received: dt.date) -> dt.date:
    """The deadline for answering a subject access request received on *received*.

    UK GDPR Article 12(3) gives one month; the ICO reads it as the corresponding calendar date in
    the next month (the last day of that month when there is no such date), moved to the next
    working day when it falls on a weekend or a bank holiday.
    """
    due = add_months(received, 1)
    while not is_working_day(due):
        due += dt.timedelta(days=1)
    return due
