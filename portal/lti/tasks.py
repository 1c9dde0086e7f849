"""Home-page tasks for LMS integration."""
from __future__ import annotations

from flask import url_for
from flask_babel import ngettext

from portal.lti import operations
from portal.people.models import Person
from portal.security import has_capability
from portal.tasks import Task, task_provider


@task_provider
def lms_tasks(person: Person) -> list[Task]:
    if not has_capability(person, "links.approve"):
        return []
    waiting = len(operations.pending_mentor_links())
    if not waiting:
        return []
    return [Task(ngettext("Decide on %(num)s parent link sent by the LMS",
                          "Decide on %(num)s parent links sent by the LMS", waiting),
                 url_for("portal.lms.parent_links"), level="warning")]
