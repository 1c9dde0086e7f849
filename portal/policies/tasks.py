"""Home-page tasks: one per policy a person still has to sign (or countersign)."""
from __future__ import annotations

from portal.people.bands import year_label
from portal.people.models import Person
from portal.tasks import Task, task_provider


def policy_tasks(person: Person) -> list[Task]:
    from flask import current_app

    from portal.policies.queries import outstanding_for

    # The classroom area (when installed) gives older pupils their own "agree to the rules"
    # task and page; do not list the same policy twice.
    classroom_covers_pupils = "portal.classroom.my_rules" in current_app.view_functions
    tasks = []
    for req in outstanding_for(person):
        if classroom_covers_pupils and not req.countersign and req.version.policy.audience.startswith("pupil_"):
            continue
        detail = ""
        if req.countersign:
            profile = req.subject.pupil
            year = f" ({year_label(profile.year_group)})" if profile is not None else ""
            detail = f"for {req.subject.given_name}{year}"
        tasks.append(Task(title=f"Read and sign: {req.version.title}", url=req.sign_url(), detail=detail,
                          level="warning"))
    return tasks


def register() -> None:
    """Register :func:`policy_tasks` with :mod:`portal.tasks` (safe to call again)."""
    task_provider(policy_tasks)
