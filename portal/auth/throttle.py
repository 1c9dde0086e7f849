"""Sign-in rate limiting kept in the database, so it holds across worker processes."""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import delete, func, select

from portal.db import session, utcnow
from portal.people.models import LoginAttempt


def _window_start(window: int | None = None) -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=window or current_app.config["PORTAL_LOGIN_WINDOW_SECONDS"])


def is_limited(*keys: str, limit: int | None = None, window: int | None = None) -> bool:
    """True when any *key* has reached the limit within the window (seconds; default the sign-in window)."""
    limit = limit or current_app.config["PORTAL_LOGIN_MAX_ATTEMPTS"]
    since = _window_start(window)
    for key in keys:
        n = session.scalar(
            select(func.count(LoginAttempt.id)).where(LoginAttempt.key == key, LoginAttempt.at >= since)
        )
        if (n or 0) >= limit:
            return True
    return False


def note_failure(*keys: str) -> None:
    for key in keys:
        session.add(LoginAttempt(key=key[:300]))
    # Old attempts are no longer needed.
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - dt.timedelta(days=1)))


def clear(*keys: str) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.key.in_(keys)))
