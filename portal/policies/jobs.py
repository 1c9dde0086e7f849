"""Scheduled jobs of the policies area: reminders to sign on a school-day schedule, and a
weekly summary to each class teacher of who in their class is outstanding."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from huey import crontab

from portal.jobs import RetryLater, enqueue, job, periodic
from portal.jobs.queue import school_ids

log = logging.getLogger("portal.policies")

#: A scheduled reminder never follows another (scheduled or by hand) within this time.
SCHEDULED_GAP = dt.timedelta(hours=20)


@periodic("policies.reminders", crontab(minute="0", hour="8"))
def reminders() -> str:
    """Every morning: queue the reminder job of each school."""
    for school_id in school_ids():
        enqueue("policies.send_reminders", school_id=school_id)
    return "queued"


@job("policies.send_reminders", retries=4)
def send_reminders(today: str | None = None) -> str:
    """Email the people of this school who are due a reminder today (idempotent: each sent
    reminder is recorded, and nobody is reminded twice in a day)."""
    from flask import current_app

    from portal.concerns.schooldays import uk_today
    from portal.db import session
    from portal.policies import operations
    from portal.schools.models import School

    day = dt.date.fromisoformat(today) if today else uk_today()
    school = cast(School, School.get())  # a job runs scoped to its school
    first, every, most = school.reminder_schedule(current_app.config)
    due = operations.reminders_due(day, first=first, every=every, most=most)
    if not due:
        return "nobody due"
    now = _morning(day) if today else None
    result = operations.send_reminders(due, interval=SCHEDULED_GAP, now=now)
    session.commit()
    if result.failed:
        raise RetryLater(f"{len(result.failed)} reminder(s) not accepted by the mail server")
    return f"{len(result.sent)} sent"


@periodic("policies.class_summaries", crontab(minute="30", hour="7", day_of_week="1"))
def class_summaries() -> str:
    """Monday mornings: queue each school's class-teacher summaries."""
    for school_id in school_ids():
        enqueue("policies.send_class_summaries", school_id=school_id)
    return "queued"


@job("policies.send_class_summaries", retries=4)
def send_class_summaries(today: str | None = None) -> str:
    """Email each class teacher who in their class still has something to sign (once a week:
    each sent summary is marked done for the ISO week)."""
    from portal.concerns.schooldays import uk_today
    from portal.db import session
    from portal.jobs.operations import is_done, mark_done
    from portal.mail import MailError, send_mail
    from portal.policies.operations import class_summaries as summaries
    from portal.urls import mail_link

    day = dt.date.fromisoformat(today) if today else uk_today()
    iso = day.isocalendar()
    sent = failed = 0
    link = mail_link("portal.policies.compliance")
    for teacher, cls, rows in summaries(day):
        key = f"class-summary:{iso.year}-W{iso.week:02d}:{cls.id}:{teacher.id}"
        if is_done(key):
            continue
        subject, body = _summary_text(teacher, cls.name, rows, link)
        try:
            # class_summaries() lists only teachers who have an email address.
            send_mail(cast(str, teacher.email), subject, body)
        except MailError:
            failed += 1
            continue
        mark_done(key)
        session.commit()
        sent += 1
    if failed:
        raise RetryLater(f"{failed} summary email(s) not accepted by the mail server")
    return f"{sent} sent"


def _summary_text(teacher: Any, class_name: str, rows: list, link: str) -> tuple[str, str]:
    """A class teacher's weekly summary (subject, body) in the teacher's language."""
    from flask_babel import gettext as _
    from flask_babel import ngettext

    from portal.i18n import in_language, language_of

    with in_language(language_of(teacher)):
        def item(title: str, countersign: bool) -> str:
            return _("%(title)s (parent to sign)", title=title) if countersign else title

        lines = [f"- {pupil.full_name}: {', '.join(item(*i) for i in items)}" for pupil, items in rows]
        body = (_("Dear %(name)s,", name=teacher.full_name) + "\n\n"
                + ngettext("In %(class_name)s, %(num)d pupil still has something to sign this school year:",
                           "In %(class_name)s, %(num)d pupils still have something to sign this school year:",
                           len(rows), class_name=class_name) + "\n\n"
                + "\n".join(lines) + "\n\n"
                + _("See the compliance page: %(link)s", link=link) + "\n\n"
                + _("This summary comes every Monday.") + "\n")
        return _("Still to sign in %(class_name)s", class_name=class_name), body


def _morning(day: dt.date) -> dt.datetime:
    """08:00 in the UK on *day*, as UTC (when a job is run for a given day)."""
    from portal.concerns.schooldays import UK

    return dt.datetime.combine(day, dt.time(8, 0), tzinfo=UK).astimezone(dt.UTC)
