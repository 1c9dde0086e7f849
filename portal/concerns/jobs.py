"""Scheduled jobs of the concerns area: overdue-concern emails to the handler and, after a
further delay, to the Head Teacher (or the chair of governors). Never any concern text."""
from __future__ import annotations

import logging

from huey import crontab

from portal.jobs import RetryLater, enqueue, job, periodic
from portal.jobs.queue import school_ids

log = logging.getLogger("portal.concerns")


@periodic("concerns.overdue", crontab(minute="15", hour="8"))
def overdue() -> str:
    """Every morning: queue each school's overdue-concern emails."""
    for school_id in school_ids():
        enqueue("concerns.send_overdue", school_id=school_id)
    return "queued"


@job("concerns.send_overdue", retries=4)
def send_overdue(today: str | None = None) -> str:
    """Email about each missed target once: its handlers when it is missed, then the Head (or the
    chair) PORTAL_CONCERN_ESCALATE_DAYS school days later (marked done per concern, target and date)."""
    import datetime as dt

    from flask import current_app

    from portal.concerns.notifications import overdue_emails
    from portal.concerns.schooldays import uk_today
    from portal.db import session
    from portal.jobs.operations import is_done, mark_done
    from portal.mail import MailError, send_mail

    day = dt.date.fromisoformat(today) if today else uk_today()
    sent = failed = 0
    for key, to, subject, body in overdue_emails(day, int(current_app.config["PORTAL_CONCERN_ESCALATE_DAYS"])):
        if is_done(key):
            continue
        try:
            send_mail(to, subject, body)
        except MailError:
            failed += 1
            continue
        mark_done(key)
        session.commit()
        sent += 1
    if failed:
        raise RetryLater(f"{failed} overdue email(s) not accepted by the mail server")
    return f"{sent} sent"
