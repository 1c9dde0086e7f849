"""Outgoing email over SMTP.

Mail never carries concern text: callers pass only "there is news" style bodies.
The ``log`` backend (for a laptop demo without a mail server) logs recipient and subject only.
"""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

from portal.jobs.registry import job

log = logging.getLogger("portal.mail")


class MailError(Exception):
    """The message could not be handed to the SMTP server."""


def send_mail(to: str | list[str], subject: str, body: str,
              attachments: list[tuple[str, bytes, str]] | None = None) -> None:
    """Send a plain-text message, with *attachments* given as ``(filename, data, "type/subtype")``.

    :raises MailError: when the SMTP server refuses or cannot be reached.
    """
    recipients = [to] if isinstance(to, str) else list(to)
    recipients = [r for r in recipients if r]
    if not recipients:
        return
    cfg = current_app.config
    if cfg["PORTAL_MAIL_BACKEND"] == "log":
        log.info("mail to %d recipient(s): %s", len(recipients), subject)
        return
    msg = EmailMessage()
    msg["From"] = cfg["PORTAL_MAIL_SENDER"]
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="countersign.invalid")
    msg.set_content(body)
    for filename, data, mimetype in attachments or ():
        maintype, _, subtype = mimetype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    try:
        with smtplib.SMTP(cfg["PORTAL_SMTP_HOST"], int(cfg["PORTAL_SMTP_PORT"]),
                          timeout=cfg["PORTAL_SMTP_TIMEOUT"]) as smtp:
            if cfg["PORTAL_SMTP_STARTTLS"]:
                smtp.starttls()
            if cfg["PORTAL_SMTP_USERNAME"]:
                smtp.login(cfg["PORTAL_SMTP_USERNAME"], cfg["PORTAL_SMTP_PASSWORD"] or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail not sent (%s): %s", type(exc).__name__, subject)
        raise MailError(str(exc)) from exc


def send_later(to: str | list[str], subject: str, body: str, *, key: str | None = None) -> None:
    """Queue a message (the ``mail.send`` job, retried with backoff); with the queue down,
    send it now. *key*, when given, makes it idempotent: a message whose key is marked done is
    not sent again.

    :raises MailError: the queue is down and the SMTP server refused too.
    """
    from portal.db import session
    from portal.jobs import QueueUnavailable, enqueue
    from portal.schools.isolation import current_school_id

    recipients = [to] if isinstance(to, str) else [r for r in to if r]
    if not recipients:
        return
    try:
        enqueue("mail.send", school_id=current_school_id(session), to=recipients, subject=subject, body=body,
                key=key)
    except QueueUnavailable:
        send_mail(recipients, subject, body)


@job("mail.send", retries=6, needs_school=False)
def send_job(to: list[str], subject: str, body: str, key: str | None = None) -> str:
    """Send one queued message (idempotent when it has a key)."""
    from portal.db import session
    from portal.jobs.operations import is_done, mark_done
    from portal.schools.isolation import current_school_id

    if current_school_id(session) is None:
        key = None  # done-marks belong to a school
    if key and is_done(key):
        return "already sent"
    send_mail(to, subject, body)  # MailError: retried
    if key:
        mark_done(key)
        session.commit()
    return "sent"
