"""Family-link operations and queries (operations flush; views commit)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload

from portal import audit
from portal.csvsafe import csv_cell
from portal.db import lock_person, session, utcnow
from portal.links.models import FamilyLinkDeclaration, LinkConfirmation, LinkSource, LinkStatus
from portal.people.models import (
    ADULT_ROLES,
    STAFF_ROLES,
    Person,
    PersonRole,
    PupilProfile,
    Role,
    SchoolClass,
    academic_year_label,
)
from portal.people.search import folded_length, search_words, words_match
from portal.schools.models import School

#: Adults who choose a pupil from a search (name and class only). Governors, volunteers and
#: contractors type the name and class instead and the Head Teacher matches it.
SEARCHING_ROLES = STAFF_ROLES
#: Fewest characters of a pupil search, and most results shown.
SEARCH_MIN_CHARS = 2
SEARCH_LIMIT = 15


def current_academic_year(today: dt.date | None = None) -> int:
    """The starting year of the academic year containing *today* (default: today)."""
    today = today or dt.date.today()
    settings = School.get()
    if settings is None:
        return today.year if today >= dt.date(today.year, 9, 1) else today.year - 1
    return settings.academic_year_of(today)


def is_declaring_adult(person: Person) -> bool:
    return bool(person.role_set & ADULT_ROLES)


def searches_pupils(person: Person) -> bool:
    """True for school staff, who pick a pupil from a search; others type the name."""
    return bool(person.role_set & SEARCHING_ROLES)


def search_pupils(query: str, limit: int = SEARCH_LIMIT) -> list[tuple[Person, str]]:
    """Pupils whose name or class matches every word of *query*: (pupil, class name).

    Returns nothing for fewer than :data:`SEARCH_MIN_CHARS` characters, so the search cannot
    be used to list the whole school.
    """
    words = search_words(query, 4)
    if folded_length(words) < SEARCH_MIN_CHARS:
        return []
    stmt = (
        select(Person, SchoolClass.name)
        .join(PupilProfile, PupilProfile.person_id == Person.id)
        .outerjoin(SchoolClass, SchoolClass.id == PupilProfile.class_id)
        .options(contains_eager(Person.pupil))  # the year group, read by year_differs
        .where(Person.active)
    )
    stmt = stmt.where(words_match(words, SchoolClass.name, SchoolClass.code))
    rows = session.execute(stmt.order_by(Person.family_name, Person.given_name, Person.id).limit(limit)).all()
    return [(p, cls or "no class") for p, cls in rows]


def pupil_label(pupil: Person) -> str:
    cls = pupil.pupil.school_class.name if pupil.pupil and pupil.pupil.school_class else "no class"
    return f"{pupil.full_name} ({cls})"


def school_adults(*, staff_and_governors_only: bool = False) -> list[Person]:
    """Active adults of the school, by name."""
    roles = ADULT_ROLES if not staff_and_governors_only else STAFF_ROLES | {Role.GOVERNOR}
    return list(session.scalars(
        select(Person).join(PersonRole).where(PersonRole.role.in_([r.value for r in roles]), Person.active)
        .order_by(Person.family_name, Person.given_name, Person.id).distinct()
    ))


def own_declarations(person: Person) -> list[FamilyLinkDeclaration]:
    """What *person* declared (as an adult or as a parent), newest first."""
    return list(session.scalars(
        select(FamilyLinkDeclaration).where(FamilyLinkDeclaration.declared_by_id == person.id)
        .order_by(FamilyLinkDeclaration.created_at.desc(), FamilyLinkDeclaration.id.desc())
    ))


def adult_answered_clause(person: Person, year: int) -> ColumnElement[bool]:
    """True where the adult has declared a link, or confirmed their list, for academic *year*."""
    confirmed = select(LinkConfirmation.id).where(
        LinkConfirmation.person_id == person.id, LinkConfirmation.context == "adult",
        LinkConfirmation.academic_year == year)
    declared = select(FamilyLinkDeclaration.id).where(
        FamilyLinkDeclaration.declared_by_id == person.id,
        FamilyLinkDeclaration.source == LinkSource.ADULT.value,
        FamilyLinkDeclaration.academic_year == year)
    return or_(confirmed.exists(), declared.exists())


def parent_answered_clause(person: Person) -> ColumnElement[bool]:
    """True where the parent has answered the "is an adult of the school your relative?" question once."""
    confirmed = select(LinkConfirmation.id).where(
        LinkConfirmation.person_id == person.id, LinkConfirmation.context == "parent")
    declared = select(FamilyLinkDeclaration.id).where(
        FamilyLinkDeclaration.declared_by_id == person.id,
        FamilyLinkDeclaration.source == LinkSource.PARENT.value)
    return or_(confirmed.exists(), declared.exists())


def adult_has_answered(person: Person, year: int) -> bool:
    """Has the adult declared a link, or confirmed their list, for academic *year*? (one statement)"""
    return bool(session.scalar(select(adult_answered_clause(person, year))))


def parent_has_answered(person: Person) -> bool:
    """Has the parent answered the "is an adult of the school your relative?" question once?
    (one statement)"""
    return bool(session.scalar(select(parent_answered_clause(person))))


def declare(*, declared_by: Person, source: LinkSource, relationship: str, note: str,
            adult: Person | None = None, pupil: Person | None = None,
            typed_pupil_name: str | None = None, typed_pupil_class: str | None = None,
            typed_adult_name: str | None = None) -> FamilyLinkDeclaration:
    """Record a declaration, waiting for a decision."""
    decl = FamilyLinkDeclaration(
        source=source.value, declared_by_id=declared_by.id,
        adult_id=adult.id if adult else None, pupil_id=pupil.id if pupil else None,
        typed_pupil_name=typed_pupil_name, typed_pupil_class=typed_pupil_class,
        typed_adult_name=typed_adult_name, relationship_kind=relationship, note=note,
        academic_year=current_academic_year(), status=LinkStatus.PENDING.value,
    )
    session.add(decl)
    session.flush()
    audit.record("links.declared", actor=declared_by, target=decl, source=source.value,
                 academic_year=decl.academic_year, pupil_matched=decl.pupil_id is not None,
                 adult_matched=decl.adult_id is not None)
    return decl


def confirm(person: Person, *, context: str, has_links: bool) -> LinkConfirmation:
    """Record that *person*'s list is complete for this academic year (or that they have none)."""
    year = current_academic_year()
    existing = session.scalar(select(LinkConfirmation).where(
        LinkConfirmation.person_id == person.id, LinkConfirmation.context == context,
        LinkConfirmation.academic_year == year))
    if existing is not None:
        return existing
    conf = LinkConfirmation(person_id=person.id, context=context, academic_year=year, has_links=has_links)
    session.add(conf)
    session.flush()
    audit.record("links.confirmed", actor=person, target=conf, context=context, academic_year=year,
                 has_links=has_links)
    return conf


def decide(decl: FamilyLinkDeclaration, *, by: Person, approve: bool, reason: str,
           pupil: Person | None = None, adult: Person | None = None) -> None:
    """Approve or decline *decl*, first matching a typed pupil or adult when given."""
    matched = []
    if pupil is not None and decl.pupil_id is None:
        decl.pupil_id = pupil.id
        matched.append("pupil")
    if adult is not None and decl.adult_id is None:
        decl.adult_id = adult.id
        matched.append("adult")
    session.flush()
    session.refresh(decl)
    decl.decide(approve=approve, by=by, reason=reason)
    session.flush()
    audit.record("links.approved" if approve else "links.declined", actor=by, target=decl,
                 matched=matched, with_reason=bool(reason))


def approved_links(*, with_roles: bool = False) -> list[FamilyLinkDeclaration]:
    """The register: every approved link (see :func:`approved_links_query`), and, *with_roles*, the
    adults' roles in one more statement, for the CSV."""
    return list(session.scalars(approved_links_query(with_roles=with_roles)).unique())


def approved_links_query(*, with_roles: bool = False) -> Select[FamilyLinkDeclaration]:
    """The approved links by the adult's family name, then in the order they were declared, with the
    adult, the pupil (and their class) and the approver joined in the same statement."""
    adult = select(Person.family_name).where(Person.id == FamilyLinkDeclaration.adult_id).scalar_subquery()
    adult_load = joinedload(FamilyLinkDeclaration.adult)
    return (select(FamilyLinkDeclaration).where(FamilyLinkDeclaration.status == LinkStatus.APPROVED.value)
            .options(adult_load.selectinload(Person.roles) if with_roles else adult_load.lazyload(Person.roles),
                     joinedload(FamilyLinkDeclaration.pupil).lazyload(Person.roles),
                     joinedload(FamilyLinkDeclaration.pupil).joinedload(Person.pupil)
                     .joinedload(PupilProfile.school_class),
                     joinedload(FamilyLinkDeclaration.decided_by).lazyload(Person.roles))
            .order_by(adult, FamilyLinkDeclaration.id))


def pending_declarations() -> list[FamilyLinkDeclaration]:
    """Declarations waiting for a decision, oldest first (with the people they name)."""
    return list(session.scalars(
        select(FamilyLinkDeclaration).where(FamilyLinkDeclaration.status == LinkStatus.PENDING.value)
        .options(joinedload(FamilyLinkDeclaration.adult).lazyload(Person.roles),
                 joinedload(FamilyLinkDeclaration.pupil).lazyload(Person.roles))
        .order_by(FamilyLinkDeclaration.created_at, FamilyLinkDeclaration.id)
    ))


#: How far back, and how many, declined declarations the register lists for approvers.
DECLINED_SHOWN_DAYS = 365
DECLINED_SHOWN = 50


def recently_declined() -> list[FamilyLinkDeclaration]:
    """Declarations declined in the last :data:`DECLINED_SHOWN_DAYS` days, newest first (at most
    :data:`DECLINED_SHOWN`), with the people they name, in one statement: so an approver can see what was
    refused and why when the same adult or parent asks again."""
    since = utcnow() - dt.timedelta(days=DECLINED_SHOWN_DAYS)
    return list(session.scalars(
        select(FamilyLinkDeclaration).where(FamilyLinkDeclaration.status == LinkStatus.DECLINED.value,
                                            FamilyLinkDeclaration.decided_at >= since)
        .options(joinedload(FamilyLinkDeclaration.adult).lazyload(Person.roles),
                 joinedload(FamilyLinkDeclaration.pupil).lazyload(Person.roles),
                 joinedload(FamilyLinkDeclaration.declared_by).lazyload(Person.roles),
                 joinedload(FamilyLinkDeclaration.decided_by).lazyload(Person.roles))
        .order_by(FamilyLinkDeclaration.decided_at.desc(), FamilyLinkDeclaration.id.desc())
        .limit(DECLINED_SHOWN)
    ))


def pending_count() -> int:
    """How many declarations wait for a decision."""
    return session.scalar(select(func.count(FamilyLinkDeclaration.id))
                          .where(FamilyLinkDeclaration.status == LinkStatus.PENDING.value)) or 0


def covering_link(pupil_id: int, adult_id: int) -> FamilyLinkDeclaration | None:
    """The approved link between this pupil and this adult, if there is one."""
    return session.scalar(select(FamilyLinkDeclaration).where(and_(
        FamilyLinkDeclaration.status == LinkStatus.APPROVED.value,
        FamilyLinkDeclaration.pupil_id == pupil_id, FamilyLinkDeclaration.adult_id == adult_id,
    )).order_by(FamilyLinkDeclaration.id).limit(1))


def existing_declaration(adult_id: int, pupil_id: int) -> FamilyLinkDeclaration | None:
    """A pending or approved declaration between this adult and this pupil."""
    return session.scalar(select(FamilyLinkDeclaration).where(
        FamilyLinkDeclaration.adult_id == adult_id, FamilyLinkDeclaration.pupil_id == pupil_id,
        FamilyLinkDeclaration.status != LinkStatus.DECLINED.value).limit(1))


#: The lock namespace of a parent telling the school about relatives (:func:`portal.db.lock_person`).
_TELL_LOCK = 727276


def parent_already_told(parent: Person, pupil_id: int, adult_id: int | None, adult_name: str | None) -> bool:
    """*parent* has already told the school about this relative of this child (waiting or approved): the
    same adult chosen from the list, or the same name typed (whatever its case and spaces).

    It first takes the parent's lock for the rest of the transaction, so of two tabs sent at the same
    moment the second reads the first's answer (a typed name has no unique index to stop it)."""
    lock_person(_TELL_LOCK, parent.id)
    query = select(FamilyLinkDeclaration.adult_id, FamilyLinkDeclaration.typed_adult_name).where(
        FamilyLinkDeclaration.declared_by_id == parent.id, FamilyLinkDeclaration.pupil_id == pupil_id,
        FamilyLinkDeclaration.status != LinkStatus.DECLINED.value)
    typed = " ".join((adult_name or "").split()).casefold()
    return any((adult_id and a == adult_id) or (typed and " ".join((t or "").split()).casefold() == typed)
               for a, t in session.execute(query))


def last_confirmed_years(person_ids: Iterable[int | None]) -> dict[int, int]:
    """person id -> the last academic year they confirmed their list as an adult (one query)."""
    ids = sorted({i for i in person_ids if i is not None})
    if not ids:
        return {}
    return dict(session.execute(
        select(LinkConfirmation.person_id, func.max(LinkConfirmation.academic_year))
        .where(LinkConfirmation.person_id.in_(ids), LinkConfirmation.context == "adult")
        .group_by(LinkConfirmation.person_id)).all())


def last_confirmed_year(person_id: int) -> int | None:
    return session.scalar(select(LinkConfirmation.academic_year).where(
        LinkConfirmation.person_id == person_id, LinkConfirmation.context == "adult")
        .order_by(LinkConfirmation.academic_year.desc()).limit(1))


def _cell(value: object) -> str:
    """A CSV cell that spreadsheets will not run as a formula."""
    return csv_cell("" if value is None else str(value))


REGISTER_COLUMNS = ["Adult", "Adult's roles", "Pupil", "Class", "Relationship", "Note", "Declared by",
                    "Declared in", "Approved on", "Approved by", "Adult last confirmed"]


def register_csv(links: list[FamilyLinkDeclaration]) -> str:
    """The register as CSV text (one row per approved link)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REGISTER_COLUMNS)
    confirmed_years = last_confirmed_years(link.adult_id for link in links)
    for link in links:
        pupil = link.pupil
        cls = pupil.pupil.school_class.name if pupil and pupil.pupil and pupil.pupil.school_class else ""
        confirmed = confirmed_years.get(link.adult_id) if link.adult_id is not None else None
        writer.writerow([_cell(v) for v in (
            link.adult.full_name if link.adult else "",
            ", ".join(sorted(r.label for r in link.adult.role_set)) if link.adult else "",
            pupil.full_name if pupil else "", cls, link.relationship_label, link.note,
            "Parent" if link.source == LinkSource.PARENT.value else "The adult",
            academic_year_label(link.academic_year),
            link.decided_at.date().isoformat() if link.decided_at else "",
            link.decided_by.full_name if link.decided_by else "",
            academic_year_label(confirmed) if confirmed else "",
        )])
    return out.getvalue()


def match_candidates(decl: FamilyLinkDeclaration, limit: int = 30) -> list[tuple[Person, str]]:
    """Pupils the Head Teacher might match a typed name and class to (best guesses first)."""
    if decl.pupil_id is not None:
        return []
    found = search_pupils(decl.typed_pupil_name or "", limit=limit)
    if not found:
        # Fall back to any word of the typed name (a misspelt given or family name).
        seen: dict[int, tuple[Person, str]] = {}
        for word in (decl.typed_pupil_name or "").split():
            for p, cls in search_pupils(word, limit=limit):
                seen.setdefault(p.id, (p, cls))
        found = list(seen.values())[:limit]
    return found


_TYPED_YEAR = re.compile(r"\b(?:year|yr|y)\s*(\d{1,2})\b|\b(reception|nursery)\b", re.IGNORECASE)


def typed_year(text: str | None) -> int | None:
    """The year group a declarer typed ("Year 2", "Y2", "Reception"), or None when the text names none."""
    m = _TYPED_YEAR.search(text or "")
    if m is None:
        return None
    if m.group(2):
        return 0 if m.group(2).lower() == "reception" else -1
    return int(m.group(1))


def year_differs(decl: FamilyLinkDeclaration, pupil: Person) -> bool:
    """The declarer typed a year group (with the class or the name) and *pupil* is in another one.

    Walk finding: "Milo (my grandson), Year 2" was offered only "Milo Rookwood (Year 4 Kestrels)", with nothing to
    say the year was not the one typed."""
    typed = typed_year(f"{decl.typed_pupil_class or ''} {decl.typed_pupil_name or ''}")
    profile = pupil.pupil
    return typed is not None and profile is not None and profile.year_group != typed
