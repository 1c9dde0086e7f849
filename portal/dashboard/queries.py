"""What needs a member of staff's attention, and the numbers behind the charts.

Everything here reads only what the person may see: concerns through
:func:`portal.concerns.access.visible_clause`, incidents through the incidents area's own
filters, and each tile only for a holder of the capability it is about.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.concerns.schooldays import uk_today
from portal.db import session, utcnow
from portal.people.models import Person, SchoolClass
from portal.policies import queries as pq
from portal.policies.compliance import Counts, cached_trend, people_to_remind, percent
from portal.policies.models import Audience, Policy, PolicyVersion, VersionStatus
from portal.schools.models import School
from portal.security import capabilities_of, has_capability

#: How far back the trend of a signing rate looks.
TREND_DAYS = 7


@dataclass
class Tile:
    """One thing that needs attention: a count, words, and where to go."""

    key: str
    title: str
    count: int
    detail: str
    url: str
    #: "danger", "warning" or "ok" (a border colour; the words say the same).
    level: str = "ok"


@dataclass
class Rate:
    """The signing rate of one audience (or class): now, a week ago, and week by week."""

    label: str
    signed: int
    total: int
    week_ago: int
    #: Percent signed at the end of each week since the school year began (the trend).
    weekly: list[tuple[dt.date, float]] = field(default_factory=list)
    url: str = ""
    #: When a version everyone must sign again was published in the last week (the week-ago figure counts
    #: signatures of that version only, so "no change" would hide the fall).
    new_version_on: dt.date | None = None

    @property
    def pct(self) -> int:
        return percent(self.signed, self.total)

    @property
    def change(self) -> int:
        """Percentage points gained in the last week."""
        return self.pct - percent(self.week_ago, self.total)


def year_span(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the academic year containing *today*."""
    today = today or utcnow().date()
    year = pq.current_academic_year(today)
    school = School.get()
    month, day = (school.academic_year_start_month, school.academic_year_start_day) if school else (9, 1)
    start = dt.date(year, month, day)
    return start, dt.date(year + 1, month, day) - dt.timedelta(days=1)


def _weeks(start: dt.date, today: dt.date) -> list[dt.date]:
    """Each week's last day from *start* to *today* (today included)."""
    out, day = [], start + dt.timedelta(days=6)
    while day < today:
        out.append(day)
        day += dt.timedelta(days=7)
    out.append(today)
    return out


def _rates(counts: dict[tuple, Counts], trend: dict[tuple, list[tuple[dt.date, int]]],
           today: dt.date | None) -> dict[object, Rate]:
    """Signing rates from stored counts and first-signed days, keyed like *counts* (one key each)."""
    today = today or utcnow().date()
    start, _end = year_span(today)
    weeks = _weeks(start, today)
    week_ago = today - dt.timedelta(days=TREND_DAYS)
    out: dict[object, Rate] = {}
    for (key,), c in counts.items():
        if key is None or not c.total:
            continue
        days = trend.get((key,), [])
        weekly = [(day, 100 * sum(n for d, n in days if d <= day) / c.total) for day in weeks]
        out[key] = Rate(label="", signed=c.signed, total=c.total, week_ago=sum(n for d, n in days if d <= week_ago),
                        weekly=weekly)
    return out


def audience_rates(today: dt.date | None = None) -> list[Rate]:
    """The signing rate of each audience this school year, with its weekly trend: from the
    stored compliance counts and first-signed days (a fixed number of statements)."""
    counts, trend = cached_trend(("audience",), today)
    order = [a.value for a in Audience]
    since = utcnow() - dt.timedelta(days=TREND_DAYS)
    # New versions (not a first) everyone must sign again, published in the last week: newest per audience.
    renewed = dict(session.execute(
        select(Policy.audience, func.max(PolicyVersion.published_at)).join(Policy, Policy.id == PolicyVersion.policy_id)
        .where(PolicyVersion.requires_resign.is_(True), PolicyVersion.number > 1, PolicyVersion.published_at >= since,
               PolicyVersion.status == VersionStatus.PUBLISHED.value)
        .group_by(Policy.audience)).all())
    out = []
    for key, rate in sorted(_rates(counts, trend, today).items(),
                            key=lambda kr: order.index(kr[0]) if kr[0] in order else len(order)):
        rate.label = _(Audience(key).label)
        rate.url = url_for("portal.policies.compliance") + "#by-audience"
        published = renewed.get(str(key))
        if published is not None:
            rate.new_version_on = uk_today(published)  # the school's date, not UTC's
        out.append(rate)
    return out


def class_rates(today: dt.date | None = None) -> list[Rate]:
    """The signing rate of each class's pupils this school year, with its weekly trend."""
    counts, trend = cached_trend(("class",), today)
    classes = {c.id: c for c in session.scalars(select(SchoolClass))}
    out = []
    for key, rate in _rates(counts, trend, today).items():
        cls = classes.get(key)  # type: ignore[call-overload]
        if cls is None:
            continue
        rate.label = cls.name
        out.append((cls.year_group, cls.code, rate))
    return [rate for _y, _c, rate in sorted(out, key=lambda t: (t[0], t[1]))]


# ---------------------------------------------------------------- tiles


def reminders_due(now: dt.datetime | None = None) -> int:
    """People with something outstanding who could be reminded now (not reminded in 7 days)."""
    from portal.policies.operations import REMINDER_INTERVAL

    return people_to_remind((now or utcnow()) - REMINDER_INTERVAL)


def jobs_failed() -> tuple[int, str]:
    """(background jobs of this school whose retries are spent, the page that lists them)."""
    from portal.jobs.models import JobFailure

    count = session.scalar(select(func.count(JobFailure.id)).where(JobFailure.resolved_at.is_(None))) or 0
    return int(count), url_for("portal.admin.jobs")


def failed_records() -> int:
    """Signatures whose sealed PDF could not be made yet (``records repair`` retries them)."""
    from portal.records.models import RecordStatus, SignedRecord

    return session.scalar(select(func.count(SignedRecord.id)).where(
        SignedRecord.status == RecordStatus.PENDING.value, SignedRecord.last_error.is_not(None))) or 0


def attention(person: Person) -> list[Tile]:
    """The tiles of *person*'s dashboard, each only if they hold what it is about."""
    from portal.concerns.access import may_use_inbox
    from portal.concerns.tasks import open_counts

    caps = capabilities_of(person)
    tiles: list[Tile] = []
    if may_use_inbox(person):
        new, late, at_risk = open_counts(person)  # counted by the database: no concern is loaded
        if "concerns.safeguarding" in caps or at_risk:
            # First, and apart from the others: a parent said a child may be at risk of harm (for the DSL always;
            # for a Head Teacher or chair of governors when they handle one, e.g. about the DSL).
            tiles.append(Tile("concerns_at_risk", _("Child at risk"), at_risk,
                              _("open concerns saying a child may be at risk") if at_risk else _("none open"),
                              url_for("portal.concerns.inbox", at_risk="y"), "danger" if at_risk else "ok"))
        tiles.append(Tile("concerns_new", _("New concerns"), new, _("to acknowledge") if new else _("nothing new"),
                          url_for("portal.concerns.inbox", status="new"), "warning" if new else "ok"))
        tiles.append(Tile("concerns_overdue", _("Overdue concerns"), late,
                          _("past their target") if late else _("none late"),
                          url_for("portal.concerns.inbox", overdue="y"), "danger" if late else "ok"))
    if "links.approve" in caps:
        from portal.links.operations import pending_count

        waiting = pending_count()
        tiles.append(Tile("links_pending", _("Family links to decide"), waiting,
                          _("declarations awaiting approval") if waiting else _("none waiting"),
                          url_for("portal.links.register"), "warning" if waiting else "ok"))
    if "incidents.manage" in caps:
        from portal.incidents.operations import open_count

        n = open_count(person)
        tiles.append(Tile("incidents_open", _("Incidents to review"), n, _("still open") if n else _("all closed"),
                          url_for("portal.incidents.home"), "warning" if n else "ok"))
    if "compliance.view" in caps:
        due = reminders_due()
        tiles.append(Tile("reminders_due", _("Reminders due"), due,
                          _("people not reminded in the last 7 days") if due else _("everyone reminded recently"),
                          url_for("portal.policies.compliance"), "warning" if due else "ok"))
    if "records.view" in caps:
        n = failed_records()
        if n:
            tiles.append(Tile("records_failed", _("Sealed records not made"), n,
                              _("will be retried by records repair"), url_for("portal.auditor.home"), "danger"))
    if has_capability(person, "settings.manage") or "lti.manage" in caps:
        count, url = jobs_failed()
        tiles.append(Tile("jobs_failed", _("Jobs failed"), count, _("background jobs") if count else _("none failed"),
                          url or url_for("portal.staff.home"), "danger" if count else "ok"))
    return tiles


# ---------------------------------------------------------------- concerns in numbers


@dataclass
class ConcernNumbers:
    by_category: list[tuple[str, int]]
    by_month: list[tuple[str, int]]
    #: (school days to acknowledge, how many), 0 .. target + 3, then "more".
    ack_days: list[tuple[str, int]]
    target: int
    within_target: int
    acknowledged: int
    waiting: int


def concern_numbers(person: Person, today: dt.date | None = None) -> ConcernNumbers:
    """Counts of the concerns *person* may handle, raised this school year."""
    from portal.concerns.access import visible_clause
    from portal.concerns.models import CATEGORY_LABELS, Category, Concern, Status
    from portal.concerns.schooldays import closed_days, school_days_between, uk_today
    from portal.dashboard.charts import MONTHS

    today = today or uk_today()
    start, _end = year_span(today)
    since = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    rows = session.scalars(select(Concern).where(visible_clause(person), Concern.created_at >= since)).all()
    cats = Counter(c.category for c in rows)
    by_category = [(CATEGORY_LABELS[Category(k)], cats.get(k.value, 0)) for k in Category]
    months = []
    month = dt.date(start.year, start.month, 1)
    while month <= today:
        months.append(month)
        month = dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    per_month = Counter((c.created_at.year, c.created_at.month) for c in rows)
    by_month = [(f"{MONTHS[m.month - 1]} {m.year % 100:02d}", per_month.get((m.year, m.month), 0)) for m in months]
    target = int(current_app.config["PORTAL_CONCERN_ACK_DAYS"])
    closures = closed_days(start, today)
    buckets: Counter[int] = Counter()
    acknowledged = within = 0
    for c in rows:
        if c.acknowledged_at is None:
            continue
        acknowledged += 1
        days = school_days_between(c.stage_started_at.date(), c.acknowledged_at.date(), closures)
        within += days <= target
        buckets[min(days, target + 4)] += 1
    ack_days = [(str(d), buckets.get(d, 0)) for d in range(0, target + 4)]
    ack_days.append((f"{target + 4}+", buckets.get(target + 4, 0)))
    waiting = sum(1 for c in rows if c.status_enum == Status.NEW)
    return ConcernNumbers(by_category, by_month, ack_days, target, within, acknowledged, waiting)
