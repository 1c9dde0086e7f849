"""Home-page tasks for family links."""
from __future__ import annotations

import datetime as dt

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import ColumnElement, and_, false, select

from portal.db import session, utcnow
from portal.links import operations as ops
from portal.links.models import FamilyLinkDeclaration, LinkSource, LinkStatus
from portal.people.models import Person, Role, academic_year_label
from portal.security import has_capability
from portal.tasks import Task, task_provider

#: Days a decision on someone's own declaration stays on their home page.
DECISION_NEWS_DAYS = 14


@task_provider
def family_link_tasks(person: Person) -> list[Task]:
    tasks: list[Task] = []
    adult, parent = ops.is_declaring_adult(person), Role.PARENT in person.role_set
    year = ops.current_academic_year()
    state = _state(person, year, adult=adult, parent=parent)
    if adult and not state["adult_answered"]:
        tasks.append(Task(_("Declare any family links with pupils, or confirm you have none"),
                          url_for("portal.links.mine"), detail=_("for %(year)s", year=academic_year_label(year)),
                          level="warning"))
    if parent and not state["parent_answered"]:
        tasks.append(Task(_("Tell us if an adult who works at the school is your relative"),
                          url_for("portal.links.relative"), as_parent=True))
    # The Head Teacher's recent decisions on what the person declared: else a decline, and its reason, would be
    # found only by opening the links page.
    for as_parent, decided, declined in ((False, "adult_decided", "adult_declined"),
                                         (True, "parent_decided", "parent_declined")):
        if state[decided]:
            tasks.append(Task(_("The Head Teacher has decided on a family link you told us about: see the decision"),
                              url_for("portal.links.relative" if as_parent else "portal.links.mine"),
                              level="warning" if state[declined] else "info", as_parent=as_parent))
    if has_capability(person, "links.approve"):
        waiting = ops.pending_count()
        if waiting:
            tasks.append(Task(ngettext("Decide on %(num)s family link declaration",
                                       "Decide on %(num)s family link declarations", waiting),
                              url_for("portal.links.register"), level="warning"))
    return tasks


def _state(person: Person, year: int, *, adult: bool, parent: bool) -> dict[str, bool]:
    """What the home page needs to know of *person*'s own links, in one statement whatever they declared:
    whether they have answered (as an adult for *year*, as a parent ever), and whether the Head Teacher decided
    on (or declined) one of their declarations in the last ``DECISION_NEWS_DAYS`` days, as an adult or a parent."""
    recent = and_(FamilyLinkDeclaration.declared_by_id == person.id,
                  FamilyLinkDeclaration.status != LinkStatus.PENDING.value,
                  FamilyLinkDeclaration.decided_at >= utcnow() - dt.timedelta(days=DECISION_NEWS_DAYS))

    def declared(*where: ColumnElement[bool]) -> ColumnElement[bool]:
        return select(FamilyLinkDeclaration.id).where(recent, *where).exists()

    as_adult = FamilyLinkDeclaration.source == LinkSource.ADULT.value
    as_parent = FamilyLinkDeclaration.source == LinkSource.PARENT.value
    declined = FamilyLinkDeclaration.status == LinkStatus.DECLINED.value
    flags: dict[str, ColumnElement[bool]] = {
        "adult_answered": ops.adult_answered_clause(person, year) if adult else false(),
        "parent_answered": ops.parent_answered_clause(person) if parent else false(),
        "adult_decided": declared(as_adult),
        "adult_declined": declared(as_adult, declined),
        "parent_decided": declared(as_parent),
        "parent_declined": declared(as_parent, declined),
    }
    row = session.execute(select(*(v.label(k) for k, v in flags.items()))).one()
    return {k: bool(getattr(row, k)) for k in flags}
