"""Expiring, signed, single-use tokens for invitations and password resets.

An invitation names a person in a school (accepting it sets their account's password and
signs them in to that school); a reset names an account.
"""
from __future__ import annotations

import hashlib

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from portal.db import session
from portal.people.models import Account, Person, UsedToken
from portal.schools.isolation import school_scope

INVITE = "portal-invite"
RESET = "portal-reset"


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def make_token(subject: Person | Account, purpose: str) -> str:
    """A token naming a person (invitation) or an account (reset); it also binds the current
    password hash, so a link stops working once the password has changed, and the address it was sent to, so a
    link sent to an old address stops working once the address has changed (review: after
    ``accounts change-email``, a reset mailed to the retired address still worked for an hour)."""
    stamp = (subject.password_hash or "")[-12:]
    if isinstance(subject, Account):
        return _serializer(purpose).dumps({"a": subject.id, "h": stamp, "e": _address_stamp(subject.email)})
    return _serializer(purpose).dumps({"p": subject.id, "s": subject.school_id, "h": stamp,
                                       "e": _address_stamp(subject.email)})


def _address_stamp(email: str | None) -> str:
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:12]


class TokenError(Exception):
    """The token is invalid, expired or already used (the message is safe to show)."""


def read_token(token: str, purpose: str) -> Person | Account:
    """The person (invitation; the session is then scoped to their school) or account (reset)
    a valid, unexpired, unused token names.

    :raises TokenError: with a message for the person.
    """
    max_age = current_app.config["PORTAL_INVITE_MAX_AGE" if purpose == INVITE else "PORTAL_RESET_MAX_AGE"]
    if len(token) > 500:
        raise TokenError(_("This link is not valid."))
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError(_("This link has expired. Ask for a new one.")) from None
    except BadSignature:
        raise TokenError(_("This link is not valid.")) from None
    subject: Person | Account | None
    if isinstance(data.get("a"), int):
        subject = session.get(Account, data["a"])
    elif isinstance(data.get("p"), int) and isinstance(data.get("s"), int):
        with school_scope(session, data["s"]):
            subject = session.get(Person, data["p"])
        if subject is not None:
            from portal.schools.context import choose_school

            choose_school(data["s"])
    else:
        subject = None
    if subject is None or not subject.active:
        raise TokenError(_("This link is not valid."))
    if (subject.password_hash or "")[-12:] != data.get("h") or _address_stamp(subject.email) != data.get("e"):
        raise TokenError(_("This link has already been used. Ask for a new one."))
    if session.scalar(select(UsedToken.id).where(UsedToken.digest == _digest(token))):
        raise TokenError(_("This link has already been used. Ask for a new one."))
    return subject


def account_for(person: Person) -> Account:
    """The person's sign-in account, made from their email address when they have none yet.

    An account that already uses the address is shared: one sign-in for all their schools.
    """
    if person.account is not None:
        return person.account
    if not person.email:
        raise TokenError(_("This person has no email address to sign in with."))
    email = person.email.strip().lower()
    account = session.scalar(select(Account).where(Account.email == email))
    if account is None:
        account = Account(email=email, display_name=person.full_name)
        session.add(account)
        session.flush()
    person.account = account
    return account


def spend_token(token: str) -> None:
    session.add(UsedToken(digest=_digest(token)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
