"""Write paths for concerns. Each one flushes and records an audit entry; the view commits.

Audit data holds ids, categories, statuses and dates only: never a subject, description,
message, note or reason.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from portal import audit
from portal.concerns.access import route_for
from portal.concerns.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    About,
    Category,
    Concern,
    ConcernAttachment,
    ConcernEvent,
    ConcernMessage,
    Stage,
    Status,
)
from portal.concerns.schooldays import add_school_days, uk_today
from portal.concerns.storage import CheckedFile, UploadBatch
from portal.db import session, utcnow
from portal.people.models import Person
from portal.schools.models import School


class ConcernError(ValueError):
    """A change that is not allowed now; the message is shown to the person."""


def targets_from(start: dt.datetime, *, at_risk: bool = False) -> tuple[dt.date, dt.date]:
    """(acknowledgement due, response due) counted in school days from *start*. A concern that says a child
    may be at risk is acknowledged sooner (``PORTAL_CONCERN_AT_RISK_ACK_DAYS``, by the next school day)."""
    day = uk_today(start)
    cfg = current_app.config
    ack_days = int(cfg["PORTAL_CONCERN_AT_RISK_ACK_DAYS"] if at_risk else cfg["PORTAL_CONCERN_ACK_DAYS"])
    return (add_school_days(day, ack_days),
            add_school_days(day, int(cfg["PORTAL_CONCERN_RESPONSE_DAYS"])))


def _about_id(about: About, about_person: Person | None) -> int | None:
    """The person a concern is about: the named member of staff, or the Head Teacher of the day
    (so a Head who is also the DSL never handles a safeguarding concern about themselves)."""
    if about == About.HEAD_TEACHER:
        settings = School.get()
        return settings.head_teacher_id if settings else None
    return about_person.id if about_person else None


def raise_concern(
    parent: Person,
    *,
    category: Category,
    subject: str,
    description: str,
    at_risk: bool,
    about: About = About.NOBODY,
    about_person: Person | None = None,
    child: Person | None = None,
    files: Sequence[CheckedFile] = (),
    batch: UploadBatch,
) -> Concern:
    """Create a concern with its attachments (files written through *batch*)."""
    if (about == About.STAFF) != (about_person is not None):
        raise ConcernError(_("Choose the member of staff the concern is about."))
    now = utcnow()
    ack_due, response_due = targets_from(now, at_risk=at_risk)
    concern = Concern(
        raised_by_id=parent.id, child_id=child.id if child else None, category=category.value,
        about=about.value, about_person_id=_about_id(about, about_person), at_risk=at_risk,
        route=route_for(at_risk=at_risk, about=about).value, subject=subject, description=description,
        status=Status.NEW.value, stage=Stage.INFORMAL.value, created_at=now, stage_started_at=now,
        ack_due=ack_due, response_due=response_due, parent_seen_at=now,
    )
    for f in files:
        concern.attachments.append(ConcernAttachment(
            stored_name=batch.write(f.data), original_name=f.filename, content_type=f.content_type,
            size=len(f.data), sha256=f.sha256))
    session.add(concern)
    session.flush()
    audit.record("concern.raised", actor=parent, target=concern, category=concern.category,
                 route=concern.route, at_risk=at_risk, child_id=concern.child_id,
                 attachments=len(concern.attachments))
    return concern


def add_message(concern: Concern, author: Person, body: str, *, internal: bool = False) -> ConcernMessage:
    from_parent = author.id == concern.raised_by_id and not internal
    if concern.status_enum == Status.CLOSED and not internal:
        raise ConcernError(_("This concern is closed. To raise something new, start a new concern."))
    msg = ConcernMessage(concern=concern, author_id=author.id, body=body, internal=internal,
                         from_parent=from_parent)
    session.add(msg)
    session.flush()
    audit.record("concern.note_added" if internal else "concern.message_added", actor=author,
                 target=concern, message_id=msg.id, from_parent=from_parent)
    if not internal and not from_parent and concern.status_enum == Status.NEW:
        # A reply from the school is its acknowledgement: the parent is no longer told "we aim to
        # acknowledge it by …" under the school's answer, and it leaves the "to acknowledge" count.
        change_status(concern, author, Status.ACKNOWLEDGED)
    return msg


def _event(concern: Concern, actor: Person | None, kind: str, old: object, new: object,
           reason: str | None = None) -> None:
    session.add(ConcernEvent(concern=concern, actor_id=getattr(actor, "id", None), kind=kind,
                             old_value=None if old is None else str(old),
                             new_value=None if new is None else str(new), reason=reason))


def change_status(concern: Concern, actor: Person, new: Status) -> None:
    old = concern.status_enum
    if new not in TRANSITIONS[old]:
        raise ConcernError(_("A concern that is %(old)s cannot be marked %(new)s.", old=_(old.label).lower(),
                             new=_(new.label).lower()))
    now = utcnow()
    concern.status = new.value
    if new == Status.ACKNOWLEDGED:
        concern.acknowledged_at = now
    elif new == Status.RESOLVED:
        concern.resolved_at = now
    elif new == Status.CLOSED:
        concern.closed_at = now
    elif new == Status.IN_PROGRESS:
        concern.resolved_at = None
    _event(concern, actor, "status", old.value, new.value)
    session.flush()
    audit.record("concern.status_changed", actor=actor, target=concern, old=old.value, new=new.value)


def escalation_closes(concern: Concern) -> dt.date | None:
    """The last day the parent may still take a *closed* concern further
    (``PORTAL_CONCERN_CLOSED_ESCALATION_DAYS`` school days after it was closed), or None if it is not closed.

    Walk finding: a Head marked a concern resolved and closed it in the same minute, and the parent lost the
    way to complain formally that a resolved concern shows. Closing ends the conversation, not that right."""
    closed = concern.closed_on()
    if closed is None:
        return None
    return add_school_days(closed, int(current_app.config["PORTAL_CONCERN_CLOSED_ESCALATION_DAYS"]))


def can_escalate(concern: Concern, today: dt.date) -> bool:
    """The parent may take the concern further now: it has an outcome (resolved, or closed not long ago), or the
    school missed its target for a full response; and there is a next stage."""
    if concern.stage_enum.next is None:
        return False
    if concern.status_enum == Status.RESOLVED or concern.response_late(today):
        return True
    last_day = escalation_closes(concern)
    return last_day is not None and today <= last_day


def escalate(concern: Concern, parent: Person) -> Stage:
    """The parent is not happy with the outcome, or the school missed its target for a full response: move to
    the next stage and start again."""
    if parent.id != concern.raised_by_id:
        raise ConcernError(_("Only the parent who raised the concern can take it further."))
    before = concern.status
    today = uk_today()
    last_day = escalation_closes(concern)
    if last_day is not None and today > last_day:
        raise ConcernError(_("This concern was closed more than %(num)s school days ago, so it can no longer be "
                             "taken further here. The school can tell you what to do next.",
                             num=int(current_app.config["PORTAL_CONCERN_CLOSED_ESCALATION_DAYS"])))
    if concern.status_enum not in (Status.RESOLVED, Status.CLOSED) and not concern.response_late(today):
        raise ConcernError(_("You can take a concern further once the school has given its outcome."))
    old = concern.stage_enum
    new = old.next
    if new is None:
        raise ConcernError(_("This complaint has already been heard by the governors' panel, the last stage "
                             "in the school. The school can tell you who to contact next."))
    now = utcnow()
    concern.stage = new.value
    concern.stage_started_at = now
    concern.status = Status.NEW.value
    concern.acknowledged_at = concern.resolved_at = concern.closed_at = None
    concern.ack_due, concern.response_due = targets_from(now, at_risk=bool(concern.at_risk))
    _event(concern, parent, "stage", old.value, new.value)
    _event(concern, parent, "status", before, Status.NEW.value)
    session.flush()
    audit.record("concern.escalated", actor=parent, target=concern, old_stage=old.value, new_stage=new.value,
                 old_status=before,
                 ack_due=concern.ack_due.isoformat(), response_due=concern.response_due.isoformat())
    return new


def assign(concern: Concern, actor: Person, assignee: Person | None, allowed: list[Person]) -> None:
    """Give the concern to *assignee* (one of *allowed*, who may all read it), or to nobody."""
    if assignee is not None and assignee.id not in {p.id for p in allowed}:
        raise ConcernError(_("That person cannot see this concern, so it cannot be given to them."))
    old = concern.assignee_id
    new = assignee.id if assignee else None
    if old == new:
        return
    concern.assignee_id = new
    _event(concern, actor, "assignee", old, new)
    session.flush()
    audit.record("concern.assigned", actor=actor, target=concern, old_assignee_id=old, assignee_id=new)


def revise_target(concern: Concern, actor: Person, new_date: dt.date, reason: str) -> None:
    """Move the response target; the reason is kept with the concern (not in the audit log)."""
    if concern.status_enum not in OPEN_STATUSES:
        raise ConcernError(_("The school has already responded, so there is no target date to change."))
    if not reason.strip():
        raise ConcernError(_("Give a reason for the new target date."))
    if new_date < uk_today():
        raise ConcernError(_("The new target date cannot be in the past."))
    old = concern.response_due
    if new_date == old:
        raise ConcernError(_("That is already the target date."))
    concern.response_due = new_date
    _event(concern, actor, "target", old.isoformat(), new_date.isoformat(), reason=reason.strip())
    session.flush()
    audit.record("concern.target_revised", actor=actor, target=concern, old=old.isoformat(),
                 new=new_date.isoformat())


def share_with_trust(concern: Concern, actor: Person, share: bool) -> None:
    """Let the trust's safeguarding lead read *concern* (or stop). Audited; flushes."""
    if share == (concern.shared_with_trust_at is not None):
        return
    concern.shared_with_trust_at = utcnow() if share else None
    concern.shared_with_trust_by_id = actor.id if share else None
    # Walk finding: the concern's History did not say it had been shared, nor by whom (staff see it; not the parent).
    _event(concern, actor, "trust", None, "shared" if share else "unshared")
    audit.record("concern.shared_with_trust" if share else "concern.unshared_with_trust", actor=actor, target=concern)
    session.flush()


def mark_seen_by_parent(concern: Concern) -> None:
    """Note that the parent has read it. A plain UPDATE: reading is not a change of the concern, so
    it does not bump ``row_version`` (a reviewer's change made at the same moment still applies)."""
    now = utcnow()
    session.execute(update(Concern).where(Concern.id == concern.id).values(parent_seen_at=now)
                    .execution_options(synchronize_session=False))
    set_committed_value(concern, "parent_seen_at", now)
