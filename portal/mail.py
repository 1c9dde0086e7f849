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
