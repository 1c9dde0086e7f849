"""Who may read a concern: the routing rules in one place.

* General concerns: the Head Teacher and staff holding ``concerns.review``.
* A child may be at risk: only holders of ``concerns.safeguarding`` (the DSL). If the concern is
  about the DSL, the Head Teacher instead; if it is about the Head Teacher, the chair of governors too.
* About the Head Teacher: only the chair of governors.
* About another member of staff: only the Head Teacher (not staff the Head delegated to).
* A formal complaint at stage 2 (heard by a governors' panel): the chair of governors as well,
  unless it is a safeguarding concern.
* Never the member of staff the concern is about, nor a member of staff who raised it as a parent.
"""
from __future__ import annotations

from sqlalchemy import and_, case, false, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from portal.concerns.models import About, Concern, Route, Stage
from portal.db import session
from portal.people.models import Account, Person, Role
from portal.schools.models import DeputyDsl, School
from portal.security import capabilities_of, designations, prime_capabilities

REVIEW = "concerns.review"
SAFEGUARDING = "concerns.safeguarding"


def route_for(*, at_risk: bool, about: About) -> Route:
    if at_risk:
        return Route.SAFEGUARDING
    if about == About.HEAD_TEACHER:
        return Route.CHAIR
    if about == About.STAFF:
        return Route.HEAD_ONLY
    return Route.GENERAL


def visible_clause(person: Person) -> ColumnElement[bool]:
    """A WHERE clause selecting the concerns *person* may handle as staff (or chair)."""
    caps = capabilities_of(person)
    held = designations(person)
    settings = School.get()
    conds: list[ColumnElement[bool]] = []
    if REVIEW in caps:
        conds.append(Concern.route == Route.GENERAL.value)
    if SAFEGUARDING in caps:
        conds.append(Concern.route == Route.SAFEGUARDING.value)
    if "head_teacher" in held:
        conds.append(Concern.route == Route.HEAD_ONLY.value)
        if settings is not None and settings.dsl_id is not None:
            conds.append(and_(Concern.route == Route.SAFEGUARDING.value,
                              Concern.about_person_id == settings.dsl_id))
    if "chair_of_governors" in held:
        conds.append(Concern.route == Route.CHAIR.value)
        conds.append(and_(Concern.route == Route.SAFEGUARDING.value,
                          Concern.about == About.HEAD_TEACHER.value))
        conds.append(and_(Concern.stage == Stage.STAGE_2.value,
                          Concern.route.in_([Route.GENERAL.value, Route.HEAD_ONLY.value])))
    if not conds:
        return false()
    not_about_them = or_(Concern.about_person_id.is_(None), Concern.about_person_id != person.id)
    if "head_teacher" in held:
        # Whoever is Head now never handles a concern about the Head (even as DSL).
        not_about_them = and_(not_about_them, Concern.about != About.HEAD_TEACHER.value)
    # A member of staff who is also a parent never handles their own concern.
    not_theirs = Concern.raised_by_id != person.id
    return and_(or_(*conds), not_about_them, not_theirs)


def may_handle(person: Person, concern: Concern) -> bool:
    """True if *person* may read and act on *concern* from the staff side."""
    return session.scalar(select(Concern.id).where(Concern.id == concern.id, visible_clause(person))) is not None


def may_use_inbox(person: Person) -> bool:
    """Reviewers, the DSL, the Head Teacher and the chair of governors have an inbox."""
    return bool(capabilities_of(person) & {REVIEW, SAFEGUARDING}) or bool(
        designations(person) & {"head_teacher", "chair_of_governors"}
    )


def handlers_of(concern: Concern) -> list[Person]:
    """Everyone who may handle *concern* (for notifications and assignment), by name."""
    from portal.people.models import CapabilityGrant, PersonRole

    settings = School.get()
    ids: set[int] = set()
    if settings is not None:
        ids |= {i for i in (settings.head_teacher_id, settings.dsl_id, settings.chair_of_governors_id) if i}
    ids |= set(session.scalars(select(CapabilityGrant.person_id).where(
        CapabilityGrant.capability.in_([REVIEW, SAFEGUARDING]), CapabilityGrant.revoked_at.is_(None))
        # Deputy DSLs handle safeguarding concerns as the DSL does (review finding: they were never listed, so
        # the at-risk banner, the assignment list and the emails left them out).
        .union(select(DeputyDsl.person_id))))
    # Roles never grant these capabilities on their own today, but stay correct if one does.
    from portal.security import ROLE_CAPABILITIES

    role_values = {x.value for x in Role}
    roles = [r for r, caps in ROLE_CAPABILITIES.items() if caps & {REVIEW, SAFEGUARDING} and r in role_values]
    if roles:
        ids |= set(session.scalars(select(PersonRole.person_id).where(PersonRole.role.in_(roles))))
    people = session.scalars(select(Person).where(Person.id.in_(ids), Person.active)
                             .options(joinedload(Person.account).lazyload(Account.trust_roles))
                             .order_by(Person.family_name, Person.given_name)).all()
    if not people:
        return []
    prime_capabilities(people)
    # One query for everyone: a column per person, their id when their clause matches.
    row = session.execute(select(*[case((visible_clause(p), p.id)) for p in people])
                          .where(Concern.id == concern.id)).first()
    allowed = {v for v in row if v is not None} if row is not None else set()
    return [p for p in people if p.id in allowed]
