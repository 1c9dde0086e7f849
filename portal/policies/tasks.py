"""Home-page tasks: one per policy a person still has to sign (or countersign).

A parent with several children due to countersign the same policy gets one task naming every
child: the signing page lets them sign for all of them in one step.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from portal.people.models import Person
from portal.tasks import Task, task_provider

if TYPE_CHECKING:
    from portal.policies.queries import Requirement


def _child(req) -> str:
    from portal.templating import translated_year_label

    profile = req.subject.pupil
    year = f" ({translated_year_label(profile.year_group)})" if profile is not None else ""
    return f"{req.subject.given_name}{year}"


def _for_children(reqs) -> str:
    """"for Amara (Year 1) and Kofi (Year 4)", joined the way the page's language joins a list."""
    from babel.lists import format_list
    from flask_babel import get_locale
    from flask_babel import gettext as _

    return _("for %(children)s", children=format_list([_child(r) for r in reqs], locale=get_locale() or "en_GB"))


def policy_tasks(person: Person) -> list[Task]:
    from flask import current_app

    from portal.policies.queries import outstanding_for

    # The classroom area (when installed) gives older pupils their own "agree to the rules"
    # task and page; do not list the same policy twice.
    classroom_covers_pupils = "portal.classroom.my_rules" in current_app.view_functions
    tasks: list[Task | list[Requirement]] = []
    families: dict[int, list[Requirement]] = {}
    for req in outstanding_for(person):
        if classroom_covers_pupils and not req.countersign and req.version.policy.audience.startswith("pupil_"):
            continue
        if req.countersign:
            if req.version.policy_id not in families:
                families[req.version.policy_id] = []
                tasks.append(families[req.version.policy_id])  # keeps the order; filled in below
            families[req.version.policy_id].append(req)
            continue
        tasks.append(Task(title=_read_and_sign(req.version), url=req.sign_url(), level="warning",
                          as_parent=req.version.policy.audience == "parent"))
    out = []
    for item in tasks:
        if isinstance(item, list):
            out.append(Task(title=_read_and_sign(item[0].version), url=item[0].sign_url(),
                            detail=_for_children(item), level="warning", as_parent=True))
        else:
            out.append(item)
    return out


def _read_and_sign(version) -> str:
    """"Read and sign: <title>", with the title of the school's translation into the page's language."""
    from flask_babel import gettext as _

    from portal.i18n import current
    from portal.policies.translations import published_translation

    translated = published_translation(version, current().code)
    title = translated.title if translated is not None else version.title
    if version.number > 1 and version.requires_resign:  # walk finding: nothing said the policy had changed
        return _("Read and sign the new version: %(title)s", title=title)
    return _("Read and sign: %(title)s", title=title)


def register() -> None:
    """Register :func:`policy_tasks` with :mod:`portal.tasks` (safe to call again)."""
    task_provider(policy_tasks)
