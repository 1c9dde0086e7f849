"""Emailed sign-in links: invitations (sent at once, by the office) and password resets (sent by a job).

A reset is asked for by anyone who types an address. The page answers the same whether or not the address has
an account, and now takes the same time too: it queues ``auth.reset_link`` with the address either way, and the
worker looks the account up and sends the email. Finding (security probe): the email went out inside the request
only when the account existed (57 ms against 15 ms), which told a stranger who has an account at the school.
The job carries the address, never a token: the worker makes the link.
"""
from __future__ import annotations

import logging

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from portal.auth.tokens import INVITE, RESET, make_token
from portal.db import session
from portal.jobs import QueueUnavailable, enqueue, job
from portal.mail import MailError, send_mail
from portal.people.models import Account, Person
from portal.urls import PublicUrlMissing, public_url

log = logging.getLogger("portal.auth")


def find_account(email: str) -> Account | None:
    return session.scalar(select(Account).where(Account.email == email.strip().lower()))


def send_link(person: Person | Account, purpose: str) -> bool:
    """Email *person* a link to set a password (*purpose*: ``RESET`` or ``INVITE``); False if not sent."""
    token = make_token(person, purpose)
    endpoint = "portal.auth.reset" if purpose == RESET else "portal.auth.accept_invite"
    try:
        # Never from the request's Host header: the sender of the request chooses it (portal/urls.py).
        link = public_url(endpoint, token=token)
    except PublicUrlMissing:
        log.error("No sign-in link sent: set PORTAL_PUBLIC_URL (or SERVER_NAME) to the portal's address.")
        return False
    name = person.given_name if isinstance(person, Person) else (person.display_name.split(" ")[0] or "there")
    from portal.i18n import in_language, language_of

    # Written in the person's language (their choice, else their school's default).
    with in_language(language_of(person)):
        if purpose == RESET:
            subject = _("Reset your Countersign password")
            body = (_("Hello %(name)s,", name=name) + "\n\n"
                    + _("Someone asked to reset the password of your school portal account. If it was you, open "
                        "this link within one hour:") + f"\n\n{link}\n\n"
                    + _("If it was not you, you can ignore this message.") + "\n")
        else:
            days = current_app.config["PORTAL_INVITE_MAX_AGE"] // 86400
            subject = _("You are invited to the school portal")
            body = (_("Hello %(name)s,", name=name) + "\n\n"
                    + _("Your school uses Countersign for its policies and for raising concerns privately. Open this "
                        "link within %(days)s days to choose a password:", days=days) + f"\n\n{link}\n")
    try:
        send_mail(person.email or "", subject, body)
    except MailError:
        return False
    return True


def send_invitation(person: Person) -> bool:
    """Email *person* an invitation link (used by the admin pages and the CLI)."""
    return send_link(person, INVITE)


def ask_for_reset(email: str) -> None:
    """Queue a reset link for *email*, whether or not it has an account (see the module's docstring); with the
    queue down, do the job's work now."""
    try:
        enqueue("auth.reset_link", school_id=None, email=email)
    except QueueUnavailable:
        reset_link(email)


@job("auth.reset_link", retries=3, needs_school=False)
def reset_link(email: str) -> str:
    """Email a reset link to the account of *email*, if there is an active one."""
    account = find_account(email)
    if account is None or not account.active:
        return "no account"
    return "sent" if send_link(account, RESET) else "not sent"


def tell_holder_of_failures(account: Account) -> None:
    """Email the holder that sign-in delays have started on their account (once per burst: the caller decides)."""
    from portal.i18n import in_language

    window = current_app.config["PORTAL_LOGIN_WINDOW_SECONDS"] // 60
    # In the language the holder chose (English when they have not chosen: an account has no one school).
    with in_language(account.language):
        body = (f"{_greeting(account)}\n\n"
                + _("Several attempts to sign in to your school portal account failed in the last %(minutes)s "
                    "minutes.", minutes=window) + "\n\n"
                + _("If it was you, there is nothing to do: on a device you have signed in on before you can carry "
                    "on as usual; elsewhere each new attempt now has to wait a little longer.") + "\n\n"
                + _("If it was not you, your account is still safe as long as nobody knows your password. You can "
                    "choose a new one with “Forgotten your password?” on the sign-in page, and turn on two-step "
                    "sign-in on your Security page.") + "\n")
        subject = _("Failed sign-ins to your school portal account")
    _send_to_holder(account, subject, body, "failed sign-ins")


def tell_holder_of_second_step(account: Account, what: str) -> None:
    """Email the holder that an authenticator app or a passkey was added to their account, or new recovery codes
    were made (*what*: ``app``, ``passkey`` or ``codes``), so that someone else doing it at a browser left signed in
    does not go unnoticed. In the holder's language; never the codes."""
    from portal.db import utcnow
    from portal.i18n import format_datetime, in_language

    with in_language(account.language):
        done = {"app": _("An authenticator app was added to your school portal account (%(when)s)."),
                "passkey": _("A passkey was added to your school portal account (%(when)s)."),
                "codes": _("New recovery codes were made for your school portal account (%(when)s); the old ones "
                           "no longer work.")}[what]
        body = (f"{_greeting(account)}\n\n" + done % {"when": format_datetime(utcnow())} + "\n\n"
                + _("If it was you, there is nothing to do. If it was not you, tell the school office at once: "
                    "someone may be using your account.") + "\n")
        subject = _("Two-step sign-in changed on your school portal account")
    _send_to_holder(account, subject, body, "a change to two-step sign-in")


def _greeting(account: Account) -> str:
    return (_("Hello %(name)s,", name=account.display_name.split(" ")[0]) if account.display_name
            else _("Hello,"))


def _send_to_holder(account: Account, subject: str, body: str, about: str) -> None:
    """Send a security email to the account's holder; a mail server that refuses it is logged, never raised."""
    try:
        send_mail(account.email or "", subject, body)
    except MailError:
        log.warning("could not tell an account holder about %s", about)
