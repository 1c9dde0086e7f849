"""School-day targets: weekends, bank holidays in England and the school's own closures are skipped."""
from __future__ import annotations

import datetime as dt

import pytest

from portal.concerns import operations as ops
from portal.concerns.models import SchoolClosure
from portal.concerns.schooldays import (
    ENGLAND_BANK_HOLIDAYS,
    add_school_days,
    closed_days,
    easter_sunday,
    england_bank_holidays,
    uk_today,
)
from tests import concerns_helpers
from tests.concerns_helpers import newest, raise_concern

cast = concerns_helpers.cast  # the fixture

D = dt.date


def test_the_shipped_bank_holidays_match_the_rules():
    computed = england_bank_holidays(2025) | england_bank_holidays(2026) | england_bank_holidays(2027)
    assert computed == ENGLAND_BANK_HOLIDAYS
    assert len(ENGLAND_BANK_HOLIDAYS) == 24
    assert easter_sunday(2026) == D(2026, 4, 5)


@pytest.mark.parametrize("start, days, expected, why", [
    (D(2026, 11, 27), 1, D(2026, 11, 30), "Friday + 1 skips the weekend"),
    (D(2026, 11, 25), 5, D(2026, 12, 2), "a working week plus the weekend"),
    (D(2026, 8, 28), 1, D(2026, 9, 1), "the August bank holiday Monday is skipped"),
    (D(2026, 4, 2), 1, D(2026, 4, 7), "Good Friday and Easter Monday are skipped"),
    (D(2027, 12, 24), 1, D(2027, 12, 29), "Christmas and Boxing Day substitutes in 2027"),
    (D(2026, 11, 28), 0, D(2026, 11, 28), "zero days is the same day"),
    (D(2028, 4, 13), 1, D(2028, 4, 18), "after the shipped years the rules still skip Easter 2028"),
])
def test_weekends_and_bank_holidays_do_not_count(start, days, expected, why):
    assert add_school_days(start, days, closures=[]) == expected, why


def test_term_holidays_do_not_count():
    half_term = [D(2026, 10, 26) + dt.timedelta(days=i) for i in range(5)]
    # Friday 23 Oct + 1 school day, with half term the next week -> Monday 2 November.
    assert add_school_days(D(2026, 10, 23), 1, closures=half_term) == D(2026, 11, 2)


def test_closures_are_read_from_the_database(app, db):
    db.add(SchoolClosure(first_day=D(2026, 12, 21), last_day=D(2027, 1, 1), label="Christmas holidays"))
    db.add(SchoolClosure(first_day=D(2027, 1, 4), last_day=D(2027, 1, 4), label="Training day"))
    db.commit()
    assert closed_days(D(2026, 12, 30), D(2027, 1, 10)) == {D(2026, 12, 30), D(2026, 12, 31), D(2027, 1, 1),
                                                             D(2027, 1, 4)}
    # Friday 18 December: 5 school days are 5-8 January and 11 January.
    assert add_school_days(D(2026, 12, 18), 5) == D(2027, 1, 11)


def test_targets_use_the_configured_school_days(app, db):
    db.add(SchoolClosure(first_day=D(2026, 12, 21), last_day=D(2027, 1, 1), label="Christmas holidays"))
    db.commit()
    raised = dt.datetime(2026, 12, 18, 15, 0, tzinfo=dt.timezone.utc)
    assert ops.targets_from(raised) == (D(2027, 1, 8), D(2027, 1, 22))
    app.config.update(PORTAL_CONCERN_ACK_DAYS=2, PORTAL_CONCERN_RESPONSE_DAYS=3)
    assert ops.targets_from(raised) == (D(2027, 1, 5), D(2027, 1, 6))


def test_a_late_evening_in_british_summer_time_counts_as_the_next_day():
    # 23:30 UTC on 30 June is 00:30 on 1 July in London.
    assert uk_today(dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.timezone.utc)) == D(2026, 7, 1)


def test_a_new_concern_gets_school_day_targets(cast, login_as, db):
    raise_concern(login_as(cast.parent))
    c = newest(db)
    today = uk_today()
    assert c.ack_due == add_school_days(today, 5) and c.response_due == add_school_days(today, 15)
    assert c.ack_due.weekday() < 5 and c.response_due.weekday() < 5


def test_closures_page_adds_and_removes_and_refuses_bad_dates(cast, login_as, db):
    from sqlalchemy import func, select

    head = login_as(cast.head)
    bad = head.post("/portal/concerns/calendar", data={"label": "Backwards", "first_day": "2027-02-19",
                                                       "last_day": "2027-02-15"})
    assert bad.status_code == 400 and "on or after the first day" in bad.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(SchoolClosure)) == 0
    ok = head.post("/portal/concerns/calendar", data={"label": "February half term", "first_day": "2027-02-15",
                                                      "last_day": "2027-02-19"}, follow_redirects=True)
    assert "February half term" in ok.get_data(as_text=True)
    closure = db.scalar(select(SchoolClosure))
    assert login_as(cast.teacher).get("/portal/concerns/calendar").status_code == 403
    head.post(f"/portal/concerns/calendar/{closure.id}/delete")
    assert db.scalar(select(func.count()).select_from(SchoolClosure)) == 0
