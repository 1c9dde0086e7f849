"""Home-page tasks: parents see replies they have not read; handlers see what waits for them."""
from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from portal.concerns.access import may_use_inbox, visible_clause
from portal.concerns.models import OPEN_STATUSES, Concern, Status
from portal.concerns.schooldays import uk_today
from portal.db import session
from portal.people.models import Person, Role
from portal.tasks import Task, task_provider


@task_provider
def parent_news(person: Person) -> list[Task]:
    if Role.PARENT not in person.role_set:
        return []
    out = []
    for c in session.scalars(select(Concern).where(Concern.raised_by_id == person.id)
                             .where(Concern.status != Status.CLOSED.value)):
        seen = c.parent_seen_at
        news = any(not m.internal and not m.from_parent and (seen is None or m.created_at > seen)
                   for m in c.messages) or any(
            e.kind in ("status", "stage", "target") and e.actor_id != person.id
            and (seen is None or e.created_at > seen)
            for e in c.events)
        if news:
            out.append(Task("There is news about your concern", url_for("portal.concerns.view", concern_id=c.id),
                            detail=c.reference, level="warning"))
    return out


@task_provider
def handler_work(person: Person) -> list[Task]:
    if not may_use_inbox(person):
        return []
    rows = session.scalars(select(Concern).where(visible_clause(person),
                                                 Concern.status.in_([s.value for s in OPEN_STATUSES]))).all()
    if not rows:
        return []
    today = uk_today()
    new = sum(1 for c in rows if c.status_enum == Status.NEW)
    late = sum(1 for c in rows if c.overdue(today))
    out = []
    url = url_for("portal.concerns.inbox")
    if late:
        out.append(Task(f"{late} concern{'s are' if late != 1 else ' is'} overdue",
                        url_for("portal.concerns.inbox", overdue="y"), level="danger"))
    if new:
        out.append(Task(f"{new} new concern{'s' if new != 1 else ''} to acknowledge", url, level="warning"))
    return out
