"""Emails about concerns. They say only that there is news, with a link: never any concern text."""
from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _

from portal.concerns.access import handlers_of
from portal.concerns.models import Concern, Route
from portal.i18n import format_date, in_language, language_of
from portal.mail import MailError, send_later
from portal.people.models import Person
from portal.urls import mail_link


def _footer() -> str:
    return ("\n\n" + _("For privacy this email does not include what was written. Please sign in to read it.") + "\n"
            + _("Please do not reply to this email."))


def _day(day) -> str:
    """A weekday and date in the email's language (``Thursday 26 November 2026`` in English)."""
    return format_date(day, "full")


def _send(to: list[str], subject: str, body: str) -> bool:
    """Queue the message (the ``mail.send`` job retries it while the mail server is down); with
    the queue down, send it now. False only when neither worked."""
    try:
        send_later(to, subject, body + _footer())
    except MailError:
        return False
    return True


def by_language(people: list[Person]) -> dict[str, list[str]]:
    """The email addresses of *people*, grouped by the language each reads (see ``language_of``)."""
    groups: dict[str, list[str]] = {}
    for p in people:
        if p.email:
            groups.setdefault(language_of(p), []).append(p.email)
    return groups


def _send_each(people: list[Person], write: Callable[[], tuple[str, str]]) -> bool:
    """One email per language among *people*: *write* gives (subject, body) in the current language."""
    ok = True
    for code, addresses in by_language(people).items():
        with in_language(code):
            subject, body = write()
            ok = _send(addresses, subject, body) and ok
    return ok


def _staff_link(concern: Concern) -> str:
    return mail_link("portal.concerns.handle", concern_id=concern.id)


def _parent_link(concern: Concern) -> str:
    return mail_link("portal.concerns.view", concern_id=concern.id)


def new_concern(concern: Concern) -> bool:
    """Tell everyone who handles *concern* (the DSL at once when a child may be at risk)."""
    link = _staff_link(concern)

    def to_handlers() -> tuple[str, str]:
        if concern.route == Route.SAFEGUARDING.value:
            return (_("Urgent: a child may be at risk (%(reference)s)", reference=concern.reference),
                    _("A parent has raised a concern through the portal and says a child may be at risk of harm.")
                    + "\n" + _("Please read it now: %(link)s", link=link))
        return (_("A parent has raised a concern (%(reference)s)", reference=concern.reference),
                _("A parent has raised a new concern through the portal.") + "\n"
                + _("Read it here: %(link)s", link=link))

    ok = _send_each(handlers_of(concern), to_handlers)
    parent = concern.raised_by
    if parent.email:
        parent_link = _parent_link(concern)

        def to_parent() -> tuple[str, str]:
            return (_("We have received your concern (%(reference)s)", reference=concern.reference),
                    _("Thank you for telling us. Your concern has reached the right person at school.") + "\n"
                    + _("We aim to acknowledge it by %(day)s.", day=_day(concern.ack_due)) + "\n"
                    + _("See it here: %(link)s", link=parent_link))

        ok = _send_each([parent], to_parent) and ok
    return ok


def news_for_parent(concern: Concern) -> bool:
    """The school replied, or the status changed."""
    parent = concern.raised_by
    if not parent.email:
        return True
    link = _parent_link(concern)
    return _send_each([parent], lambda: (
        _("There is news about your concern (%(reference)s)", reference=concern.reference),
        _("The school has updated your concern.") + "\n" + _("See it here: %(link)s", link=link)))


def news_for_staff(concern: Concern, *, escalated: bool = False) -> bool:
    """The parent wrote again or took the concern further: tell the assignee, else every handler."""
    people: list[Person] = handlers_of(concern)
    if concern.assignee_id and not escalated:
        people = [p for p in people if p.id == concern.assignee_id] or people
    link = _staff_link(concern)

    def write() -> tuple[str, str]:
        what = _("The parent has asked for a formal review.") if escalated else _("The parent has written again.")
        return (_("News about concern %(reference)s", reference=concern.reference),
                what + "\n" + _("Read it here: %(link)s", link=link))

    return _send_each(people, write)


def assigned(concern: Concern, assignee: Person) -> bool:
    if not assignee.email:
        return True
    link = _staff_link(concern)
    return _send_each([assignee], lambda: (
        _("A concern has been given to you (%(reference)s)", reference=concern.reference),
        _("You are now looking after a parent's concern.") + "\n" + _("Read it here: %(link)s", link=link)))


def overdue_emails(today, escalate_after: int) -> list[tuple[str, list[str], str, str]]:
    """(done-mark key, recipients, subject, body) of the overdue emails due *today*, each in its
    readers' language (one email per language; the key gets the language only when split).

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
            kind, due = "ack", c.ack_due
        elif today > c.response_due:
            kind, due = "response", c.response_due
        else:
            continue
        handlers = handlers_of(c)
        people = [p for p in handlers if p.id == c.assignee_id] or handlers
        base = f"concern-overdue:{c.id}:{kind}:{due.isoformat()}"
        link = _staff_link(c)
        groups = by_language(people)
        for code, addresses in groups.items():
            with in_language(code):
                what = _("Concern %(reference)s should have been acknowledged by %(day)s.", reference=c.reference,
                         day=_day(due)) if kind == "ack" else \
                    _("Concern %(reference)s should have been answered in full by %(day)s.", reference=c.reference,
                      day=_day(due))
                out.append((f"{base}:handlers" + (f":{code}" if len(groups) > 1 else ""), addresses,
                            _("Overdue: concern %(reference)s", reference=c.reference),
                            what + "\n" + _("Please deal with it now: %(link)s", link=link) + _footer()))
        if add_school_days(due, escalate_after, closures) > today or school is None:
            continue
        head = school.head_teacher
        about_head = c.route == Route.CHAIR.value or (head is not None and c.about_person_id == head.id)
        senior: Person | None
        if head is not None and head.active and not about_head and {p.id for p in people} != {head.id}:
            senior, head_role = head, True
        else:
            senior, head_role = school.chair_of_governors, False
        if senior is None or not senior.email:
            continue
        with in_language(language_of(senior)):
            args = {"reference": c.reference, "day": _day(due), "days": escalate_after}
            if kind == "ack":
                what = (_("You are told as Head Teacher: concern %(reference)s should have been acknowledged by "
                          "%(day)s and still has not been, %(days)s school days later.", **args) if head_role else
                        _("You are told as chair of governors: concern %(reference)s should have been acknowledged "
                          "by %(day)s and still has not been, %(days)s school days later.", **args))
            else:
                what = (_("You are told as Head Teacher: concern %(reference)s should have been answered in full "
                          "by %(day)s and still has not been, %(days)s school days later.", **args) if head_role else
                        _("You are told as chair of governors: concern %(reference)s should have been answered in "
                          "full by %(day)s and still has not been, %(days)s school days later.", **args))
            subject = _("Still overdue: concern %(reference)s", reference=c.reference)
            out.append((f"{base}:senior", [senior.email], subject,
                        _("Dear %(name)s,", name=senior.full_name) + "\n\n" + what + "\n"
                        + _("Please check that it is being handled: %(link)s", link=link) + _footer()))
    return out
