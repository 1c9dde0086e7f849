"""Expiring, signed, single-use tokens for invitations and password resets."""
from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from portal.db import session
from portal.people.models import Person, UsedToken

INVITE = "portal-invite"
RESET = "portal-reset"


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=purpose)


def make_token(person: Person, purpose: str) -> str:
    """A token naming *person*; it also binds the current password hash, so a reset link
    stops working once the password has changed."""
    return _serializer(purpose).dumps({"p": person.id, "h": (person.password_hash or "")[-12:]})


class TokenError(Exception):
    """The token is invalid, expired or already used (the message is safe to show)."""


def read_token(token: str, purpose: str) -> Person:
    """The person a valid, unexpired, unused token names.

    :raises TokenError: with a message for the person.
    """
    max_age = current_app.config["PORTAL_INVITE_MAX_AGE" if purpose == INVITE else "PORTAL_RESET_MAX_AGE"]
    if len(token) > 500:
        raise TokenError("This link is not valid.")
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise TokenError("This link is not valid.") from None
    person = session.get(Person, data.get("p"))
    if person is None or not person.active:
        raise TokenError("This link is not valid.")
    if (person.password_hash or "")[-12:] != data.get("h"):
        raise TokenError("This link has already been used. Ask for a new one.")
    if session.scalar(select(UsedToken.id).where(UsedToken.digest == _digest(token))):
        raise TokenError("This link has already been used. Ask for a new one.")
    return person


def spend_token(token: str) -> None:
    session.add(UsedToken(digest=_digest(token)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
