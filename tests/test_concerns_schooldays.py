"""School-day targets: weekends, bank holidays in England and Wales and the school's own closures are skipped."""
from __future__ import annotations

import datetime as dt

import pytest
from babel.dates import format_date

from portal.concerns import operations as ops
from portal.concerns.models import SchoolClosure
from portal.concerns.schooldays import (
    REGION,
    add_school_days,
    bank_holidays_between,
    closed_days,
    is_bank_holiday,
    is_school_day,
    uk_today,
    upcoming_bank_holidays,
)
from tests import concerns_helpers
from tests.concerns_helpers import newest, raise_concern

cast = concerns_helpers.cast  # the fixture

D = dt.date


#: The weekday bank holidays in England and Wales, 2025-2027, as published (substitute days included).
PUBLISHED = {
    D(2025, 1, 1), D(2025, 4, 18), D(2025, 4, 21), D(2025, 5, 5), D(2025, 5, 26), D(2025, 8, 25),
    D(2025, 12, 25), D(2025, 12, 26),
    D(2026, 1, 1), D(2026, 4, 3), D(2026, 4, 6), D(2026, 5, 4), D(2026, 5, 25), D(2026, 8, 31),
    D(2026, 12, 25), D(2026, 12, 28),
    D(2027, 1, 1), D(2027, 3, 26), D(2027, 3, 29), D(2027, 5, 3), D(2027, 5, 31), D(2027, 8, 30),
    D(2027, 12, 27), D(2027, 12, 28),
}


def test_the_bank_holidays_are_the_published_ones():
    found = bank_holidays_between(D(2025, 1, 1), D(2027, 12, 31))
    assert set(found) == PUBLISHED
    assert list(found) == sorted(found), "in date order"
    assert found[D(2026, 12, 28)] == "Boxing Day (observed)"
    # Boxing Day 2026 is a Saturday: not a school day anyway, and not listed as a day off.
    assert not is_bank_holiday(D(2026, 12, 26)) and not is_school_day(D(2026, 12, 26), [])


@pytest.mark.parametrize("day, name", [
    (D(2023, 5, 8), "Coronation"),
    (D(2022, 9, 19), "State Funeral"),
    (D(2022, 6, 3), "Platinum Jubilee"),
    (D(2020, 5, 8), "May Day"),  # moved from Monday 4 May for the 75th anniversary of VE Day
])
def test_one_off_bank_holidays_are_known(day, name):
    assert is_bank_holiday(day)
    assert name in bank_holidays_between(day, day)[day]
    assert not is_school_day(day, [])


def test_a_school_in_wales_has_the_same_bank_holidays():
    import holidays

    assert REGION == "ENG"
    years = range(2000, 2051)
    england = holidays.country_holidays("GB", subdiv="ENG", years=years)
    wales = holidays.country_holidays("GB", subdiv="WLS", years=years)
    assert dict(england) == dict(wales)
    assert D(2020, 5, 4) not in england, "the moved May Day is not a holiday twice"


def test_the_calendar_lists_a_year_of_bank_holidays():
    ahead = upcoming_bank_holidays(D(2026, 11, 27))
    assert list(ahead) == [D(2026, 12, 25), D(2026, 12, 28), D(2027, 1, 1), D(2027, 3, 26), D(2027, 3, 29),
                           D(2027, 5, 3), D(2027, 5, 31), D(2027, 8, 30)]


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
    raised = dt.datetime(2026, 12, 18, 15, 0, tzinfo=dt.UTC)
    assert ops.targets_from(raised) == (D(2027, 1, 8), D(2027, 1, 22))
    app.config.update(PORTAL_CONCERN_ACK_DAYS=2, PORTAL_CONCERN_RESPONSE_DAYS=3)
    assert ops.targets_from(raised) == (D(2027, 1, 5), D(2027, 1, 6))


def test_a_late_evening_in_british_summer_time_counts_as_the_next_day():
    # 23:30 UTC on 30 June is 00:30 on 1 July in London.
    assert uk_today(dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC)) == D(2026, 7, 1)


def test_a_new_concern_gets_school_day_targets(cast, login_as, db):
    raise_concern(login_as(cast.parent))
    c = newest(db)
    today = uk_today()
    assert c.ack_due == add_school_days(today, 5) and c.response_due == add_school_days(today, 15)
    assert c.ack_due.weekday() < 5 and c.response_due.weekday() < 5


def test_a_concern_that_says_a_child_may_be_at_risk_is_acknowledged_by_the_next_school_day(cast, login_as, db):
    """Walk finding: the parent was told "marked urgent, because a child may be at risk" and, on the same page,
    that the school aimed to acknowledge it in 6 days, like any other concern; the DSL's inbox showed that date."""
    parent = login_as(cast.parent)
    raise_concern(parent, at_risk="yes", child_id=str(cast.child.id))
    c = newest(db)
    today = uk_today()
    assert c.at_risk and c.ack_due == add_school_days(today, 1) < add_school_days(today, 5)
    assert c.response_due == add_school_days(today, 15)
    page = parent.get(f"/portal/concerns/{c.id}").get_data(as_text=True)
    due = format_date(c.ack_due, "medium", locale="en_GB")
    assert f'We aim to acknowledge it by</dt><dd class="col-sm-8">{due}' in page
    raise_concern(parent)
    assert newest(db).ack_due == add_school_days(today, 5)
    # A weekend or holiday is not a school day: at-risk targets are never on one.
    friday = dt.datetime(2026, 12, 4, 16, 0, tzinfo=dt.UTC)
    assert ops.targets_from(friday, at_risk=True)[0] == D(2026, 12, 7)


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
    page = head.get("/portal/concerns/calendar").get_data(as_text=True)
    assert page.count('class="list-inline-item"') == len(upcoming_bank_holidays(uk_today())) >= 8
    head.post(f"/portal/concerns/calendar/{closure.id}/delete")
    assert db.scalar(select(func.count()).select_from(SchoolClosure)) == 0
