"""Home-page tasks: parents see replies they have not read; handlers see what waits for them."""
from __future__ import annotations

from flask import g, has_request_context, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import case, func, or_, select

from portal.concerns.access import may_use_inbox, visible_clause
from portal.concerns.models import OPEN_STATUSES, Concern, ConcernEvent, ConcernMessage, Status, overdue_clause
from portal.concerns.schooldays import uk_today
from portal.db import session
from portal.people.models import Person, Role
from portal.tasks import Task, task_provider


@task_provider
def parent_news(person: Person) -> list[Task]:
    if Role.PARENT not in person.role_set:
        return []
    # One query, however many concerns and messages: a reply from the school, or a change of
    # status, stage or target by someone else, since the parent last opened the concern.
    unseen_message = select(ConcernMessage.id).where(
        ConcernMessage.concern_id == Concern.id, ConcernMessage.internal.is_(False),
        ConcernMessage.from_parent.is_(False),
        or_(Concern.parent_seen_at.is_(None), ConcernMessage.created_at > Concern.parent_seen_at))
    unseen_event = select(ConcernEvent.id).where(
        ConcernEvent.concern_id == Concern.id, ConcernEvent.kind.in_(("status", "stage", "target")),
        or_(ConcernEvent.actor_id.is_(None), ConcernEvent.actor_id != person.id),
        or_(Concern.parent_seen_at.is_(None), ConcernEvent.created_at > Concern.parent_seen_at))
    # Closed ones too: closing is news (the parent may still take it further for a while).
    rows = session.execute(
        select(Concern.id, Concern.subject).where(Concern.raised_by_id == person.id,
                                                  or_(unseen_message.exists(), unseen_event.exists()))
        .order_by(Concern.id)).all()
    # Walk finding: the task named only the reference; the parent's own subject says which concern it is.
    return [Task(_("There is news about your concern"), url_for("portal.concerns.view", concern_id=cid),
                 detail=f"{Concern.reference_for(cid)}: {subject}", level="warning", as_parent=True)
            for cid, subject in rows]


def open_counts(person: Person) -> tuple[int, int, int]:
    """(new, overdue, child at risk) among the open concerns *person* may handle, counted by the database in one
    statement, once per request (the Head's tiles and the home-page tasks both show them). The numbers
    are kept for the rest of the request: call it only from pages that change no concern."""
    cache = g.setdefault("_portal_concern_counts", {}) if has_request_context() else {}
    if person.id not in cache:
        new, late, at_risk = session.execute(
            select(func.count(case((Concern.status == Status.NEW.value, 1))),
                   func.count(case((overdue_clause(uk_today()), 1))),
                   func.count(case((Concern.at_risk.is_(True), 1))))
            .where(visible_clause(person), Concern.status.in_([s.value for s in OPEN_STATUSES]))).one()
        cache[person.id] = (int(new), int(late), int(at_risk))
    return cache[person.id]


@task_provider
def handler_work(person: Person) -> list[Task]:
    if not may_use_inbox(person):
        return []
    new, late, _at_risk = open_counts(person)
    out = []
    if late:
        out.append(Task(ngettext("%(num)s concern is overdue", "%(num)s concerns are overdue", late),
                        url_for("portal.concerns.inbox", overdue="y"), level="danger"))
    if new:
        out.append(Task(ngettext("%(num)s new concern to acknowledge", "%(num)s new concerns to acknowledge", new),
                        url_for("portal.concerns.inbox"), level="warning"))
    return out
