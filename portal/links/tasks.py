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
    if has_capability(person, "links.approve"):
        waiting = ops.pending_count()
        if waiting:
            tasks.append(Task(ngettext("Decide on %(num)s family link declaration",
                                       "Decide on %(num)s family link declarations", waiting),
                              url_for("portal.links.register"), level="warning"))
    return tasks
