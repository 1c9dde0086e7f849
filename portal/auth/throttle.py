"""Sign-in limits kept in the database, so they hold across worker processes.

* **Per account, progressive delays** (never a lock-out): the first ``PORTAL_LOGIN_FREE_ATTEMPTS``
  wrong passwords (or second-step codes) in the window cost nothing; after that each attempt must
  wait ``PORTAL_LOGIN_DELAY_SECONDS``, doubling with each further failure up to
  ``PORTAL_LOGIN_MAX_DELAY_SECONDS``. Attempts made while waiting are refused without checking
  the password and are not counted. A device the account has signed in on before (its signed
  ``portal_device`` cookie says so) is not slowed down at all, so a stranger guessing the DSL's
  password cannot keep the DSL out, until that device itself fails ``PORTAL_LOGIN_DEVICE_MAX_ATTEMPTS``
  times for the account. The holder is emailed when the delays start.
* **Counted before the password is checked** (:func:`claim`): each attempt is written as a failure first,
  under the account's lock, and taken back if the password was right. Finding: 25 attempts sent at once
  all passed the check before any failure was written, and 17 passwords were tried instead of 3.
* **Per client address, a budget** (``PORTAL_LOGIN_ADDRESS_MAX_ATTEMPTS`` failures in the window,
  whatever the accounts): one address cannot try passwords across many accounts. A device the account
  has signed in on before is not held to it either, so one pupil on the school's shared address cannot keep
  the staff out.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, select, text

from portal.db import session, utcnow
from portal.people.models import LoginAttempt


def _window_start(window: int | None = None) -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=window or current_app.config["PORTAL_LOGIN_WINDOW_SECONDS"])


def account_key(email: str) -> str:
    return f"email:{email.strip().lower()}"


def address_key(ip: str) -> str:
    return f"ip:{ip}"


def device_key(device_id: str, account_id: int) -> str:
    return f"device:{device_id}:{account_id}"


def device_trusted(device_id: str, account_id: int) -> bool:
    """A device the account signed in on before keeps its exemptions (no delays, no address budget) only
    while its own failures for that account stay under ``PORTAL_LOGIN_DEVICE_MAX_ATTEMPTS``: the cookie can
    be copied, and a shared classroom computer is "known" for the teacher who once signed in on it."""
    n, _last = _failures(device_key(device_id, account_id), _window_start())
    return n < int(current_app.config["PORTAL_LOGIN_DEVICE_MAX_ATTEMPTS"])


def _failures(key: str, since: dt.datetime, *, but: int | None = None) -> tuple[int, dt.datetime | None]:
    """How many failures *key* has since *since*, and the newest one's time (leaving out the row *but*: an
    attempt's own claim)."""
    query = select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(
        LoginAttempt.key == key[:300], LoginAttempt.at >= since)
    if but is not None:
        query = query.where(LoginAttempt.id != but)
    n, last = session.execute(query).one()
    if isinstance(last, str):
        last = dt.datetime.fromisoformat(last)
    if last is not None and last.tzinfo is None:  # SQLite returns the aggregate without its type
        last = last.replace(tzinfo=dt.UTC)
    return int(n or 0), last


def delay_after(failures: int) -> int:
    """Seconds to wait after *failures* wrong attempts (0 while they are free)."""
    cfg = current_app.config
    free = int(cfg["PORTAL_LOGIN_FREE_ATTEMPTS"])
    if failures < free:
        return 0
    return int(min(int(cfg["PORTAL_LOGIN_DELAY_SECONDS"]) * 2 ** (failures - free),
                   int(cfg["PORTAL_LOGIN_MAX_DELAY_SECONDS"])))


def account_wait(email: str, *, known_device: bool = False) -> int:
    """Whole seconds the next attempt on this account must still wait (0: it may try now)."""
    if known_device:
        return 0
    n, last = _failures(account_key(email), _window_start())
    delay = delay_after(n)
    if not delay or last is None:
        return 0
    remaining = (last + dt.timedelta(seconds=delay) - utcnow()).total_seconds()
    return max(0, math.ceil(remaining))


def address_limited(ip: str) -> bool:
    """True when this client address has used up its failures for the window."""
    n, _last = _failures(address_key(ip), _window_start())
    return n >= int(current_app.config["PORTAL_LOGIN_ADDRESS_MAX_ATTEMPTS"])


def delays_just_started(email: str) -> bool:
    """True right after the failure that made the account's delays start (to tell the holder once)."""
    n, _last = _failures(account_key(email), _window_start())
    return n == int(current_app.config["PORTAL_LOGIN_FREE_ATTEMPTS"])


def is_limited(*keys: str, limit: int, window: int | None = None) -> bool:
    """True when any *key* has been noted *limit* times within the window (seconds; default the
    sign-in window)."""
    since = _window_start(window)
    return any(_failures(key, since)[0] >= limit for key in keys)


def note_failure(*keys: str) -> None:
    for key in keys:
        session.add(LoginAttempt(key=key[:300]))
    # Old attempts are no longer needed.
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - dt.timedelta(days=1)))


def clear(*keys: str) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.key.in_(keys)))


def count(key: str, window_seconds: int) -> int:
    """How many times *key* was noted in the last *window_seconds* (any kind of limited action)."""
    since = utcnow() - dt.timedelta(seconds=int(window_seconds))
    return _failures(key, since)[0]


def note(key: str) -> None:
    """Count one use of a limited action under *key* (flushed with the caller's transaction)."""
    session.add(LoginAttempt(key=key[:300]))
    session.flush()


#: The lock namespace of an account's sign-in attempts (PostgreSQL advisory locks).
_ATTEMPT_LOCK = 727277


@dataclass
class Claim:
    """An attempt written as a failure before its password is checked (see :func:`claim`)."""

    ids: list[int]
    #: Seconds the account must still wait (0: the password may be checked).
    wait: int
    #: The client address has used up its failures for the window.
    address_limited: bool
    #: If this attempt fails, it is the one that starts the account's delays (tell the holder, once).
    delays_start: bool = False

    @property
    def refused(self) -> bool:
        return bool(self.wait) or self.address_limited


def claim(email: str, ip: str, *, device: str | None = None, known_device: bool = False) -> Claim:
    """Write this attempt as a failure of the account, the address (and *device*, the known device's own
    key), then decide from the attempts before it whether it may go on; commits.

    The account's attempts are serialised while this runs (PostgreSQL: an advisory lock on the account's
    key; SQLite: the write lock the insert takes), never while the password is checked, so of attempts
    sent at once only the free ones go on. A refused attempt is taken back (:func:`release`): attempts made
    while waiting are not counted."""
    key, addr = account_key(email), address_key(ip)
    _lock(key)
    rows = [LoginAttempt(key=k[:300]) for k in (key, addr, device) if k]
    session.add_all(rows)
    session.flush()
    since = _window_start()
    cfg = current_app.config
    if known_device and device:
        # The known device's own budget, counted under the same lock (review: a burst with a copied device
        # cookie got past it by the width of the burst).
        known_device = _failures(device, since, but=rows[2].id)[0] < int(
            cfg["PORTAL_LOGIN_DEVICE_MAX_ATTEMPTS"])
    n, last = _failures(key, since, but=rows[0].id)
    wait = 0
    if not known_device:
        delay = delay_after(n)
        if delay and last is not None:
            wait = max(0, math.ceil((last + dt.timedelta(seconds=delay) - utcnow()).total_seconds()))
    limited = not known_device and _failures(addr, since, but=rows[1].id)[0] >= int(
        cfg["PORTAL_LOGIN_ADDRESS_MAX_ATTEMPTS"])
    session.commit()
    return Claim([r.id for r in rows], wait, limited, delays_start=n == int(cfg["PORTAL_LOGIN_FREE_ATTEMPTS"]) - 1)


def _lock(key: str) -> None:
    """Serialise claims on *key* until the transaction ends (PostgreSQL; SQLite's insert takes its write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:a, hashtext(:k))"), {"a": _ATTEMPT_LOCK, "k": key})


def claim_check(key: str, also: str, *, limit: int) -> Claim:
    """Write one use of a limited password check under *key* (and a failure under the account's key *also*),
    then refuse it when *key* already has *limit* in the window; commits. :func:`release` it when the password
    was right or it was refused: as :func:`claim`, so a burst cannot check more than *limit*."""
    _lock(key)
    rows = [LoginAttempt(key=key[:300]), LoginAttempt(key=also[:300])]
    session.add_all(rows)
    session.flush()
    n, _last = _failures(key, _window_start(), but=rows[0].id)
    delays_start = _failures(also, _window_start(), but=rows[1].id)[0] == int(
        current_app.config["PORTAL_LOGIN_FREE_ATTEMPTS"]) - 1
    session.commit()
    return Claim([r.id for r in rows], 0, n >= limit, delays_start=delays_start)


def release(attempt: Claim) -> None:
    """Take back a claimed attempt: the password was right, or it was refused unchecked (flushes)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(attempt.ids)))
