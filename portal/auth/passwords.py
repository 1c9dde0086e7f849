"""Argon2id password hashing."""
from __future__ import annotations

import contextlib

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import gettext


def _hasher() -> argon2.PasswordHasher:
    if current_app.config["PORTAL_ARGON2_PROFILE"] == "cheapest":
        return argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
    return argon2.PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant-work check; an account without a password never verifies."""
    hasher = _hasher()
    if not stored:
        # Spend the same effort so that timing does not reveal unknown accounts.
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_DUMMY.get(hasher.time_cost) or _dummy(hasher), password + "x")
        return False
    try:
        return hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY: dict[int, str] = {}


def _dummy(hasher: argon2.PasswordHasher) -> str:
    _DUMMY[hasher.time_cost] = hasher.hash("not-a-real-password")
    return _DUMMY[hasher.time_cost]


def check_password_rules(password: str) -> str | None:
    """A message saying what is wrong with *password*, or ``None`` when it is acceptable."""
    minimum = current_app.config["PORTAL_PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        return gettext("Use at least %(num)d characters.", num=minimum)
    if len(password) > 200:
        return gettext("Use at most %(max)d characters.", max=200)
    if password.strip() != password or not password.strip():
        return gettext("Do not start or end the password with a space.")
    return None
