"""Compliance counts from set-based SQL.

The rules are those of :mod:`portal.policies.queries` (who must sign what, and what counts as
signed); :func:`portal.policies.queries.school_requirements` applies them person by person in
Python and stays the reference. Here the same answer comes from a few SQL statements whose number
does not depend on the size of the school (or of the trust): the requirements are a relation
(active people by role, pupils by age band and SEND, joined to the published policies of their
audience), the answers are this academic year's counting signatures grouped by subject and
policy, and the database counts signed, declined and outstanding per group.

The version history (which earlier versions still count for the published one) is small: it is
read once (ids, numbers and flags only) and passed to SQL as a list of version ids.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import typing
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from flask import has_app_context
from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    literal,
    not_,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import aliased, selectinload

from portal.db import session, table_of, utcnow
from portal.people.models import GuardianLink, Person, PersonRole, PupilProfile, Role
from portal.policies.models import Audience, Policy, PolicyReminder, PolicyVersion, VersionStatus
from portal.policies.queries import (
    ROLE_AUDIENCE,
    Requirement,
    _Index,
    _resolve,
    current_academic_year,
)
from portal.schools.isolation import get_scope
from portal.schools.models import School
from portal.signatures.models import OFFLINE_METHODS, Decision, Signature

#: Group keys :func:`tallies` understands.
KEYS = ("school", "policy", "audience", "class")


def percent(part: int, total: int) -> int:
    """*part* of *total* as a whole percentage, rounded the same way on every page (the Head's rates, the
    compliance pages and the trust's comparison): 12 of 14 is 86 everywhere."""
    return round(100 * part / total) if total else 0


@dataclass
class Counts:
    """Signed, declined and outstanding requirements of one group."""

    signed: int = 0
    declined: int = 0
    outstanding: int = 0
    #: Of the signed: paper or verbal agreements the office recorded.
    offline: int = 0

    @property
    def total(self) -> int:
        return self.signed + self.declined + self.outstanding

    def add(self, other: Counts) -> None:
        self.signed += other.signed
        self.declined += other.declined
        self.outstanding += other.outstanding
        self.offline += other.offline

    def as_dict(self) -> dict[str, int]:
        return {"signed": self.signed, "declined": self.declined, "outstanding": self.outstanding,
                "offline": self.offline, "total": self.total}


def _band_audience(year_group):
    """SQL: the pupil audience of a year group (see :func:`portal.people.bands.age_band_for_year`)."""
    return case(
        (year_group <= 2, Audience.PUPIL_EYFS_KS1.value),
        (year_group <= 6, Audience.PUPIL_KS2.value),
        (year_group <= 11, Audience.PUPIL_KS3_4.value),
        else_=Audience.PUPIL_KS5.value,
    )


def _subjects():
    """Everyone asked to sign something, one row per (person, audience): adults by role, pupils
    by band (``countersign`` for EYFS/KS1 and KS2, where a parent signs for the pupil)."""
    audience = case(*[(PersonRole.role == role.value, aud.value) for role, aud in ROLE_AUDIENCE.items()])
    adults = (
        select(Person.school_id.label("school_id"), Person.id.label("subject_id"),
               cast(literal(0), Integer).label("countersign"), cast(audience, String(30)).label("audience"),
               literal(False).label("send"), cast(null(), Person.id.type).label("class_id"))
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(Person.active, PersonRole.role.in_([r.value for r in ROLE_AUDIENCE]))
        .distinct()
    )
    is_pupil = exists().where(PersonRole.person_id == Person.id, PersonRole.role == Role.PUPIL.value)
    pupils = (
        select(Person.school_id, Person.id, cast(case((PupilProfile.year_group <= 6, 1), else_=0), Integer),
               cast(_band_audience(PupilProfile.year_group), String(30)), PupilProfile.send, PupilProfile.class_id)
        .join(PupilProfile, PupilProfile.person_id == Person.id)
        .where(Person.active, is_pupil)
    )
    return union_all(adults, pupils).subquery("subjects")


class _Plan:
    """The published policies in scope and the versions whose signatures count for them (from
    the version history alone: ids, numbers and the "sign again" flags, not the texts)."""

    def __init__(self, today: dt.date | None = None) -> None:
        rows = session.execute(
            select(PolicyVersion.id, PolicyVersion.policy_id, PolicyVersion.number, PolicyVersion.status,
                   PolicyVersion.requires_resign)
            .where(PolicyVersion.status.in_([VersionStatus.PUBLISHED.value, VersionStatus.SUPERSEDED.value]))
            .order_by(PolicyVersion.policy_id, PolicyVersion.number.desc())).all()
        history: dict[int, list] = defaultdict(list)
        for row in rows:
            history[row.policy_id].append(row)
        #: policy id -> id of its published version.
        self.current: dict[int, int] = {}
        #: ids of the versions whose signatures count for their policy's published version.
        self.counting: set[int] = set()
        for policy_id, newest_first in history.items():
            published = [i for i, v in enumerate(newest_first) if v.status == VersionStatus.PUBLISHED.value]
            if not published:
                continue
            start = published[0]
            self.current[policy_id] = newest_first[start].id
            # Walk back from the published version until one that asked everyone to sign again.
            for v in newest_first[start:]:
                self.counting.add(v.id)
                if v.requires_resign:
                    break
        self.current_policy_ids = sorted(self.current)
        self.counting_version_ids = sorted(self.counting)
        self.years = _years(today)

    def year_clause(self):
        years = set(self.years.values())
        if len(years) == 1:
            return Signature.academic_year == years.pop()
        return Signature.academic_year == case(self.years, value=Signature.school_id)

    def counts(self, sig: Signature, current: PolicyVersion, year: int) -> bool:
        """Does *sig* count towards *current* in *year* (as :meth:`Catalogue.counts`)?"""
        return sig.academic_year == year and sig.version_id in self.counting and \
            sig.version.policy_id == current.policy_id


def _years(today: dt.date | None) -> dict[int, int]:
    """school id -> its current academic year, for every school in the session's scope."""
    scope = get_scope(session)
    ids = sorted(scope.schools) if scope is not None and scope.schools is not None else \
        list(session.scalars(select(School.id)))
    today = today or dt.date.today()
    out = {}
    for sid in ids:
        school = session.get(School, sid)
        out[sid] = school.academic_year_of(today) if school is not None else current_academic_year(today)
    return out


def _requirements(plan: _Plan):
    """One row per requirement (school, subject, countersign, audience, send, class, policy), with
    ``signed`` 1 for a counting signature, 0 for only a counting decline, NULL for no answer."""
    subjects = _subjects()
    current = (select(Policy.id.label("policy_id"), Policy.school_id, Policy.audience, Policy.send_variant)
               .where(Policy.id.in_(plan.current_policy_ids)).subquery("current"))
    send_policies = (select(Policy.school_id, Policy.audience)
                     .where(Policy.id.in_(plan.current_policy_ids), Policy.send_variant).distinct()
                     .subquery("send_policies"))
    # Both join keys typed as integers, so SQLite can index the answers by subject.
    subject = cast(func.coalesce(Signature.on_behalf_of_id, Signature.signer_id), Integer)
    on_behalf = cast(case((Signature.on_behalf_of_id.is_not(None), 1), else_=0), Integer)
    answers = (
        select(subject.label("subject_id"), on_behalf.label("countersign"), PolicyVersion.policy_id,
               func.max(case((Signature.decision == Decision.SIGNED.value, 1), else_=0)).label("signed"),
               func.max(case((and_(Signature.decision == Decision.SIGNED.value,
                                   Signature.method.in_([m.value for m in OFFLINE_METHODS])), 1),
                             else_=0)).label("offline"),
               func.min(case((Signature.decision == Decision.SIGNED.value, Signature.signed_at),
                             else_=null())).label("first_signed"))
        .join(PolicyVersion, PolicyVersion.id == Signature.version_id)
        .where(plan.year_clause(), Signature.version_id.in_(plan.counting_version_ids))
        .group_by(subject, on_behalf, PolicyVersion.policy_id)
        .subquery("answers")
    )
    # A SEND pupil gets the SEND variant of their band when the school publishes one.
    gets_send = and_(subjects.c.send == true(), send_policies.c.audience.is_not(None))
    rel = (
        select(subjects, current.c.policy_id, answers.c.signed, answers.c.offline, answers.c.first_signed)
        .select_from(subjects)
        .join(current, and_(current.c.school_id == subjects.c.school_id, current.c.audience == subjects.c.audience))
        .outerjoin(send_policies, and_(send_policies.c.school_id == subjects.c.school_id,
                                       send_policies.c.audience == subjects.c.audience))
        .outerjoin(answers, and_(answers.c.subject_id == subjects.c.subject_id,
                                 answers.c.countersign == subjects.c.countersign,
                                 answers.c.policy_id == current.c.policy_id))
        .where(or_(and_(current.c.send_variant == true(), gets_send),
                   and_(current.c.send_variant == false(), not_(gets_send))))
    )
    return rel


@contextlib.contextmanager
def _hash_joins():
    """On PostgreSQL, plan the block's statements without nested loops.

    Every table carries the school filter (added by the isolation hook) next to filters that are
    correlated with it (the school's policy and version ids), so the planner underestimates the
    derived relations by orders of magnitude and picks nested loops that rescan the answers for
    every requirement (seconds at 2,500 people). These statements always aggregate whole schools,
    where hash joins are right.

    JIT compilation is off in the block too. A plan that still needs a nested loop (a small school's may) carries
    PostgreSQL's cost for a disabled node, ten billion, far above ``jit_above_cost``: each such statement was
    compiled to machine code first, about 0.75 s here for a statement that then ran in 0.2 ms (three of them on
    the staff dashboard). The previous settings are put back after the block (transaction-local).
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    nestloop, jit = session.execute(text("SELECT current_setting('enable_nestloop'), current_setting('jit'), "
                                         "set_config('enable_nestloop', 'off', true), "
                                         "set_config('jit', 'off', true)")).one()[:2]
    try:
        yield
    finally:
        session.execute(text("SELECT set_config('enable_nestloop', :nestloop, true), set_config('jit', :jit, true)"),
                        {"nestloop": nestloop, "jit": jit})


def tallies(by: Iterable[str], today: dt.date | None = None) -> dict[tuple, Counts]:
    """Counts of this academic year's requirements in the session's school (or trust scope),
    grouped by *by* (any of ``school``, ``policy``, ``audience``, ``class``): one statement for
    the counts, plus the catalogue's one, however large the school or trust."""
    by = tuple(by)
    for key in by:
        if key not in KEYS:
            raise ValueError(f"unknown compliance grouping {key!r}")
    plan = _Plan(today)
    if not plan.current_policy_ids:
        return {}
    rel = _requirements(plan).subquery("requirements")
    cols = {"school": rel.c.school_id, "policy": rel.c.policy_id, "audience": rel.c.audience,
            "class": rel.c.class_id}
    group = [cols[k] for k in by]
    stmt = select(*group, func.count().label("total"),
                  func.sum(case((rel.c.signed == 1, 1), else_=0)).label("signed"),
                  func.sum(case((rel.c.signed == 0, 1), else_=0)).label("declined"),
                  func.sum(case((and_(rel.c.signed == 1, rel.c.offline == 1), 1), else_=0)).label("offline"))
    if group:
        stmt = stmt.group_by(*group)
    out: dict[tuple, Counts] = {}
    with _hash_joins():
        rows = session.execute(stmt).all()
    for row in rows:
        group_key = tuple(row[: len(group)])
        total, signed, declined = int(row.total), int(row.signed or 0), int(row.declined or 0)
        out[group_key] = Counts(signed, declined, total - signed - declined, int(row.offline or 0))
    return out


def _day(column):
    """SQL: the UTC calendar day of a timestamp column."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def first_signed_days(today: dt.date | None = None) -> dict[tuple, int]:
    """(school, policy, audience, class, day) -> how many of this academic year's requirements
    were first signed on that day (UTC), in the session's school or trust scope: one statement,
    plus the catalogue's, however large the school or trust."""
    plan = _Plan(today)
    if not plan.current_policy_ids:
        return {}
    rel = _requirements(plan).subquery("requirements")
    day = _day(rel.c.first_signed)
    group = [rel.c.school_id, rel.c.policy_id, rel.c.audience, rel.c.class_id, day]
    with _hash_joins():
        rows = session.execute(select(*group, func.count()).where(rel.c.signed == 1).group_by(*group)).all()
    return {(row[0], row[1], row[2], row[3], _as_date(row[4])): int(row[5]) for row in rows}


def people_to_remind(since: dt.datetime, today: dt.date | None = None) -> int:
    """How many people a reminder could go to now, in the session's scope: everyone with a requirement still
    outstanding this academic year who signs it themselves and has an email address, and the active parents with
    an email address of every other such subject (a pupil a parent countersigns for, or someone without an
    address), less anyone reminded after *since*.

    Who could be reminded is stored with the compliance counts (:func:`_remindable`, worked out again only when
    a school changed), so this counts stored rows: no requirement is worked out on the view."""
    from portal.policies.models import ComplianceRemindable

    if not _freshen(today):
        return 0
    reminded = select(PolicyReminder.recipient_id).where(PolicyReminder.sent_at > since)
    return int(session.scalar(select(func.count(ComplianceRemindable.id))
                              .where(ComplianceRemindable.person_id.not_in(reminded))) or 0)


def _remindable(today: dt.date | None) -> list[tuple[int, int]]:
    """(school, person) of everyone a reminder could go to in the session's scope (see
    :func:`people_to_remind`), in one statement.

    It is :func:`portal.policies.operations.reminder_recipients`'s rule, in SQL: a change to who is reminded
    changes both (``test_reminders_due_equals_the_reference`` compares them)."""
    plan = _Plan(today)
    if not plan.current_policy_ids:
        return []
    rel = _requirements(plan).subquery("requirements")
    subject = aliased(Person, name="subject")
    outstanding = (select(rel.c.subject_id, rel.c.countersign, subject.email)
                   .join(subject, subject.id == rel.c.subject_id).where(rel.c.signed.is_(None))
                   .cte("outstanding"))  # read twice below: a CTE is worked out once
    # (An empty address is no address, as when reminders are sent.)
    has_address = func.coalesce(outstanding.c.email, "") != ""
    themselves = select(outstanding.c.subject_id).where(outstanding.c.countersign == 0, has_address)
    their_parents = (select(GuardianLink.parent_id)
                     .join(outstanding, outstanding.c.subject_id == GuardianLink.pupil_id)
                     .where(or_(outstanding.c.countersign != 0, not_(has_address))))
    stmt = select(Person.school_id, Person.id).where(
        func.coalesce(Person.email, "") != "",
        or_(Person.id.in_(themselves), and_(Person.active, Person.id.in_(their_parents))))
    with _hash_joins():
        return [(int(school_id), int(person_id)) for school_id, person_id in session.execute(stmt)]


def cast_int(value: typing.Any) -> int:
    """A count from a result row (typed as ``object`` by the row's generic columns)."""
    return int(value or 0)


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def policy_requirements(policy_id: int, *, class_id: int | None = None,
                        today: dt.date | None = None) -> list[Requirement]:
    """This academic year's requirements of one policy (optionally one class), with their
    answers, as :class:`~portal.policies.queries.Requirement` objects (the compliance page of a
    policy and its reminders). A fixed number of statements however many people it concerns."""
    plan = _Plan(today)
    if policy_id not in plan.current:
        return []
    # The policy's published version: the plan has just read its id (``cast`` here is SQL's CAST).
    current = typing.cast(PolicyVersion, session.get(PolicyVersion, plan.current[policy_id]))
    rel = _requirements(plan).subquery("requirements")
    where = [rel.c.policy_id == policy_id]
    if class_id is not None:
        where.append(rel.c.class_id == class_id)
    with _hash_joins():
        rows = session.execute(select(rel.c.subject_id, rel.c.countersign).where(*where)).all()
    if not rows:
        return []
    subject_ids = select(rel.c.subject_id).where(*where).scalar_subquery()
    people = {p.id: p for p in session.scalars(
        select(Person).where(Person.id.in_(subject_ids))
        .options(selectinload(Person.pupil).joinedload(PupilProfile.school_class)))}
    year = plan.years.get(current.school_id) or current_academic_year(today)
    sigs = session.scalars(
        select(Signature).join(PolicyVersion, PolicyVersion.id == Signature.version_id)
        .where(PolicyVersion.policy_id == policy_id, Signature.academic_year == year,
               or_(Signature.signer_id.in_(subject_ids), Signature.on_behalf_of_id.in_(subject_ids)))
        .options(selectinload(Signature.version), selectinload(Signature.signer)))
    idx = _Index(sigs)
    reqs = []
    for subject_id, countersign in rows:
        person = people[subject_id]
        candidates = idx.for_pupil.get(subject_id, []) if countersign else idx.own.get(subject_id, [])
        reqs.append(_resolve(Requirement(current, person, bool(countersign), year), candidates, plan))
    reqs.sort(key=lambda r: (r.subject.family_name, r.subject.given_name, r.subject.id))
    return reqs


# ---------------------------------------------------------------- counts kept up to date
#
# Counting a whole trust (130,000 people) takes longer than a page should, so the counts of each
# school are stored (portal_compliance_counts, at the grain school x policy x class; the first-signed
# days for the trends; who could be reminded) and recounted only when something that can change them
# has happened in that school since: every flush that writes a signature, person, role, pupil
# profile, policy, version or parent's link adds a row to portal_compliance_changes (bulk imports
# add one themselves). A school is fresh when it has no
# change rows and its snapshot is of the current academic year. Recounting reads the change rows,
# counts, replaces the stored counts and deletes exactly the change rows it read (by id, so a change
# committed meanwhile by a slower transaction stays and makes the school stale again).

#: Models whose rows decide who must sign what, what has been answered, or who is reminded of it.
TRACKED = ("Signature", "Person", "PersonRole", "PupilProfile", "Policy", "PolicyVersion", "GuardianLink")


def _after_flush(flushed, _context) -> None:
    school_ids: set[int] = set()
    for obj in (*flushed.new, *flushed.deleted, *(o for o in flushed.dirty if flushed.is_modified(o))):
        if type(obj).__name__ in TRACKED and getattr(obj, "school_id", None) is not None:
            school_ids.add(obj.school_id)
    if school_ids:
        note_changes(school_ids, conn=flushed.connection())


def note_changes(school_ids: Iterable[int], *, conn=None) -> None:
    """Mark schools as changed (bulk writers that go around the session call this themselves)."""
    from portal.policies.models import ComplianceChange

    rows = [{"school_id": int(s), "at": utcnow()} for s in sorted(set(school_ids))]
    if rows:
        (conn or session.connection()).execute(insert(table_of(ComplianceChange)), rows)
        if has_app_context():  # a bulk writer may run outside the app (the benchmarks' world builder)
            _forget_fresh(session)


#: ``Session.info`` key: the (scope, day) whose stored counts this transaction has already brought up to date.
_FRESH_KEY = "portal_compliance_fresh"


def _forget_fresh(sess, *_args) -> None:
    sess.info.pop(_FRESH_KEY, None)


def _bulk_changed(_sender, *, school_ids, conn=None, **_kw) -> None:
    note_changes(school_ids, conn=conn)


def register() -> None:
    """Start tracking changes (called by the extension; safe to call again)."""
    from portal.schools.isolation import PortalSession
    from portal.signals import bulk_data_changed

    if not event.contains(PortalSession, "after_flush", _after_flush):
        event.listen(PortalSession, "after_flush", _after_flush)
    for name in ("after_commit", "after_rollback"):
        if not event.contains(PortalSession, name, _forget_fresh):
            event.listen(PortalSession, name, _forget_fresh)
    bulk_data_changed.connect(_bulk_changed)


def cached_tallies(by: Iterable[str], today: dt.date | None = None) -> dict[tuple, Counts]:
    """:func:`tallies` from the stored counts of the schools in scope, recounting (in one
    statement for all of them) only the schools that changed since their counts were stored.

    The request commits what this writes (a view that shows counts commits once)."""
    return cached_trend(by, today, days=False)[0]


def cached_trend(by: Iterable[str], today: dt.date | None = None, *,
                 days: bool = True) -> tuple[dict[tuple, Counts], dict[tuple, list[tuple[dt.date, int]]]]:
    """The stored counts grouped by *by* (as :func:`cached_tallies`) and, for each group, how many
    requirements were first signed on each day, oldest day first (with ``days=False``, no days).
    A fixed number of statements; the schools in scope are recounted first if they changed."""
    from portal.policies.models import ComplianceCount, ComplianceDay

    by = tuple(by)
    for key in by:
        if key not in KEYS:
            raise ValueError(f"unknown compliance grouping {key!r}")
    if not _freshen(today):
        return {}, {}
    out: dict[tuple, Counts] = defaultdict(Counts)
    cols = {"school": ComplianceCount.school_id, "policy": ComplianceCount.policy_id,
            "audience": ComplianceCount.audience, "class": ComplianceCount.class_id}
    for row in session.execute(select(*(cols[k] for k in by), ComplianceCount.signed, ComplianceCount.declined,
                                      ComplianceCount.outstanding, ComplianceCount.offline)):
        out[tuple(row[: len(by)])].add(Counts(row.signed, row.declined, row.outstanding, row.offline))
    trend: dict[tuple, list[tuple[dt.date, int]]] = defaultdict(list)
    if days:
        day_cols = {"school": ComplianceDay.school_id, "policy": ComplianceDay.policy_id,
                    "audience": ComplianceDay.audience, "class": ComplianceDay.class_id}
        group = [day_cols[k] for k in by]
        for row in session.execute(select(*group, ComplianceDay.day, func.sum(ComplianceDay.signed))
                                   .group_by(*group, ComplianceDay.day).order_by(ComplianceDay.day)):
            day, signed = row[len(by)], row[len(by) + 1]
            trend[tuple(row[: len(by)])].append((_as_date(day), int(cast_int(signed))))
    return dict(out), dict(trend)


def _freshen(today: dt.date | None) -> bool:
    """Recount the schools in scope whose stored counts are stale; False when none is in scope.

    Once per transaction for a scope and day: the Head's home reads three kinds of stored counts in one. A
    change noted later in the transaction (:func:`note_changes`), or a commit or rollback, makes the next call
    look again."""
    from portal.policies.models import ComplianceChange, ComplianceSnapshot

    years = _years(today)
    if not years:
        return False
    key = (get_scope(session), today)
    pending = bool(session.new or session.dirty or session.deleted)  # a flush could note a change
    if not pending and session.info.get(_FRESH_KEY) == key:
        return True
    changed: dict[int, list[int]] = defaultdict(list)
    for change_id, school_id in session.execute(select(ComplianceChange.id, ComplianceChange.school_id)):
        changed[school_id].append(change_id)
    snapshots = dict(session.execute(select(ComplianceSnapshot.school_id, ComplianceSnapshot.academic_year)).all())
    stale = sorted(s for s, year in years.items() if s in changed or snapshots.get(s) != year)
    if stale:
        _recount(stale, years, changed, today)
    session.info[_FRESH_KEY] = key
    return True


def _recount(school_ids: list[int], years: dict[int, int], changed: dict[int, list[int]],
             today: dt.date | None) -> None:
    from portal.policies.models import (
        ComplianceChange,
        ComplianceCount,
        ComplianceDay,
        ComplianceRemindable,
        ComplianceSnapshot,
    )
    from portal.schools.isolation import schools_scope

    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # One recount of a school at a time; the next one waits and then replaces it.
        conn.execute(text("SELECT pg_advisory_xact_lock(727275, s) FROM unnest(CAST(:ids AS integer[])) AS s "
                          "ORDER BY s"), {"ids": school_ids})
    scope = get_scope(session)
    with schools_scope(session, school_ids, write=scope.write if scope is not None else None):
        counts = tallies(("school", "policy", "audience", "class"), today)
        days = first_signed_days(today)
        remindable = _remindable(today)
    now = utcnow()
    rows = [{"school_id": s, "academic_year": years[s], "policy_id": p, "audience": a, "class_id": c,
             "signed": n.signed, "declined": n.declined, "outstanding": n.outstanding, "offline": n.offline}
            for (s, p, a, c), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][3] or 0))]
    day_rows = [{"school_id": s, "academic_year": years[s], "policy_id": p, "audience": a, "class_id": c, "day": d,
                 "signed": n} for (s, p, a, c, d), n in sorted(days.items(), key=lambda kv: (kv[0][0], kv[0][4]))]
    remind_rows = [{"school_id": s, "academic_year": years[s], "person_id": p} for s, p in sorted(remindable)]
    count_t, snap_t, change_t = table_of(ComplianceCount), table_of(ComplianceSnapshot), table_of(ComplianceChange)
    day_t, remind_t = table_of(ComplianceDay), table_of(ComplianceRemindable)
    # Core statements naming the schools themselves (the session's hooks do not see them).
    for table in (count_t, day_t, remind_t, snap_t):
        conn.execute(delete(table).where(table.c.school_id.in_(school_ids)))
    for table, table_rows in ((count_t, rows), (day_t, day_rows), (remind_t, remind_rows)):
        if table_rows:
            conn.execute(insert(table), table_rows)
    conn.execute(insert(snap_t), [{"school_id": s, "academic_year": years[s], "computed_at": now}
                                  for s in school_ids])
    seen = [i for s in school_ids for i in changed.get(s, [])]
    if seen:
        conn.execute(delete(change_t).where(change_t.c.id.in_(seen)))
