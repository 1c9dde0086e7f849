"""Home-page tasks for family links."""
from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from portal.links import operations as ops
from portal.people.models import Person, Role, academic_year_label
from portal.security import has_capability
from portal.tasks import Task, task_provider


@task_provider
def family_link_tasks(person: Person) -> list[Task]:
    tasks: list[Task] = []
    if ops.is_declaring_adult(person):
        year = ops.current_academic_year()
        if not ops.adult_has_answered(person, year):
            tasks.append(Task(_("Declare any family links with pupils, or confirm you have none"),
                              url_for("portal.links.mine"), detail=_("for %(year)s", year=academic_year_label(year)),
                              level="warning"))
    if Role.PARENT in person.role_set and not ops.parent_has_answered(person):
        tasks.append(Task(_("Tell us if an adult who works at the school is your relative"),
                          url_for("portal.links.relative"), as_parent=True))
    tasks.extend(_decisions(person))
    if has_capability(person, "links.approve"):
        waiting = ops.pending_count()
        if waiting:
            tasks.append(Task(ngettext("Decide on %(num)s family link declaration",
                                       "Decide on %(num)s family link declarations", waiting),
                              url_for("portal.links.register"), level="warning"))
    return tasks


#: Days a decision on someone's own declaration stays on their home page.
DECISION_NEWS_DAYS = 14


def _decisions(person: Person) -> list[Task]:
    """The Head Teacher's recent decisions on what *person* declared: they would otherwise learn of a decline,
    and its reason, only by opening the links page (one statement, whatever they declared)."""
    import datetime as dt

    from sqlalchemy import select

    from portal.db import session, utcnow
    from portal.links.models import FamilyLinkDeclaration, LinkSource, LinkStatus

    rows = session.execute(
        select(FamilyLinkDeclaration.status, FamilyLinkDeclaration.source)
        .where(FamilyLinkDeclaration.declared_by_id == person.id,
               FamilyLinkDeclaration.status != LinkStatus.PENDING.value,
               FamilyLinkDeclaration.decided_at >= utcnow() - dt.timedelta(days=DECISION_NEWS_DAYS))).all()
    out = []
    for as_parent in (False, True):
        mine = [st for st, src in rows if (src == LinkSource.PARENT.value) == as_parent]
        if mine:
            out.append(Task(_("The Head Teacher has decided on a family link you told us about: see the decision"),
                            url_for("portal.links.relative" if as_parent else "portal.links.mine"),
                            level="warning" if LinkStatus.DECLINED.value in mine else "info", as_parent=as_parent))
    return out
