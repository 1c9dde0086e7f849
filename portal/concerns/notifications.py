"""Emails about concerns. They say only that there is news, with a link: never any concern text."""
from __future__ import annotations

from flask import url_for

from portal.concerns.access import handlers_of
from portal.concerns.models import Concern, Route
from portal.mail import MailError, send_later
from portal.people.models import Person

_FOOTER = ("\n\nFor privacy this email does not include what was written. Please sign in to read it.\n"
           "Please do not reply to this email.")


def _send(to: list[str], subject: str, body: str) -> bool:
    """Queue the message (the ``mail.send`` job retries it while the mail server is down); with
    the queue down, send it now. False only when neither worked."""
    try:
        send_later(to, subject, body + _FOOTER)
    except MailError:
        return False
    return True


def _staff_link(concern: Concern) -> str:
    return url_for("portal.concerns.handle", concern_id=concern.id, _external=True)


def _parent_link(concern: Concern) -> str:
    return url_for("portal.concerns.view", concern_id=concern.id, _external=True)


def new_concern(concern: Concern) -> bool:
    """Tell everyone who handles *concern* (the DSL at once when a child may be at risk)."""
    handlers = [p.email for p in handlers_of(concern) if p.email]
    if concern.route == Route.SAFEGUARDING.value:
        subject = f"Urgent: a child may be at risk ({concern.reference})"
        body = ("A parent has raised a concern through the portal and says a child may be at risk of harm.\n"
                f"Please read it now: {_staff_link(concern)}")
    else:
        subject = f"A parent has raised a concern ({concern.reference})"
        body = f"A parent has raised a new concern through the portal.\nRead it here: {_staff_link(concern)}"
    ok = _send(handlers, subject, body)
    parent = concern.raised_by
    if parent.email:
        ok = _send([parent.email], f"We have received your concern ({concern.reference})",
                   "Thank you for telling us. Your concern has reached the right person at school.\n"
                   f"We aim to acknowledge it by {concern.ack_due:%A %d %B %Y}.\n"
                   f"See it here: {_parent_link(concern)}") and ok
    return ok


def news_for_parent(concern: Concern) -> bool:
    """The school replied, or the status changed."""
    parent = concern.raised_by
    if not parent.email:
        return True
    return _send([parent.email], f"There is news about your concern ({concern.reference})",
                 f"The school has updated your concern.\nSee it here: {_parent_link(concern)}")


def news_for_staff(concern: Concern, *, escalated: bool = False) -> bool:
    """The parent wrote again or took the concern further: tell the assignee, else every handler."""
    people: list[Person] = handlers_of(concern)
    if concern.assignee_id and not escalated:
        people = [p for p in people if p.id == concern.assignee_id] or people
    what = "The parent has asked for a formal review" if escalated else "The parent has written again"
    return _send([p.email for p in people if p.email], f"News about concern {concern.reference}",
                 f"{what}.\nRead it here: {_staff_link(concern)}")


def assigned(concern: Concern, assignee: Person) -> bool:
    if not assignee.email:
        return True
    return _send([assignee.email], f"A concern has been given to you ({concern.reference})",
                 f"You are now looking after a parent's concern.\nRead it here: {_staff_link(concern)}")


def overdue_emails(today, escalate_after: int) -> list[tuple[str, list[str], str, str]]:
    """(done-mark key, recipients, subject, body) of the overdue emails due *today*.

    A missed acknowledgement or response target goes to the concern's handlers (its assignee
    when it has one). When it is still missed *escalate_after* school days later it goes to
    the Head Teacher too, or to the chair of governors when the Head may not read the concern
    (it is about the Head) or was the one emailed already.
    """
    import datetime as dt

    from sqlalchemy import select

    from portal.concerns.models import OPEN_STATUSES, Status
    from portal.concerns.schooldays import add_school_days, closed_days
    from portal.db import session
    from portal.schools.models import School

    out: list[tuple[str, list[str], str, str]] = []
    school = School.get()
    closures = closed_days(today - dt.timedelta(days=400), today + dt.timedelta(days=30))
    rows = session.scalars(select(Concern).where(Concern.status.in_([s.value for s in OPEN_STATUSES]))
                           .order_by(Concern.id)).all()
    for c in rows:
        if c.status_enum == Status.NEW and today > c.ack_due:
            kind, due, what = "ack", c.ack_due, "acknowledged"
        elif today > c.response_due:
            kind, due, what = "response", c.response_due, "answered in full"
        else:
            continue
        handlers = handlers_of(c)
        people = [p for p in handlers if p.id == c.assignee_id] or handlers
        base = f"concern-overdue:{c.id}:{kind}:{due.isoformat()}"
        subject = f"Overdue: concern {c.reference}"
        out.append((f"{base}:handlers", [p.email for p in people if p.email], subject,
                    f"Concern {c.reference} should have been {what} by {due:%A %d %B %Y}.\n"
                    f"Please deal with it now: {_staff_link(c)}" + _FOOTER))
        if add_school_days(due, escalate_after, closures) > today or school is None:
            continue
        head = school.head_teacher
        about_head = c.route == Route.CHAIR.value or (head is not None and c.about_person_id == head.id)
        senior: Person | None
        if head is not None and head.active and not about_head and {p.id for p in people} != {head.id}:
            senior, role = head, "Head Teacher"
        else:
            senior, role = school.chair_of_governors, "chair of governors"
        if senior is None or not senior.email:
            continue
        out.append((f"{base}:senior", [senior.email], f"Still overdue: concern {c.reference}",
                    f"Dear {senior.full_name},\n\nYou are told as {role}: concern {c.reference} should have been "
                    f"{what} by {due:%A %d %B %Y} and still has not been, {escalate_after} school days later.\n"
                    f"Please check that it is being handled: {_staff_link(c)}" + _FOOTER))
    return out
