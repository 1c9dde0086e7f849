"""Server-side, revocable sign-in sessions.

Flask-Login keeps ``"<account id>:<secret>"`` in the signed session cookie (and, with "keep me
signed in", in its remember cookie); the secret names one :class:`AccountSession` row by its
SHA-256. A copied cookie therefore works only while that row is live: signing out, "sign out
everywhere", a password change, the account (or its person) switched off, a role, designation,
delegated capability or trust role removed, and a change of second factors all end it on the
server. Sessions also end after ``PORTAL_SESSION_IDLE_SECONDS`` without a request and, in all
cases, at ``PORTAL_SESSION_MAX_SECONDS`` (``PORTAL_REMEMBER_SECONDS`` with "keep me signed in").

The revocations that follow data changes are made by one flush hook (:func:`_collect` /
:func:`_revoke`), so every path that removes a role (the admin pages, a roster or OneRoster
import, a school removed) ends the sessions without remembering to.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, cast

from flask import current_app, g, has_request_context, request
from flask_login import login_user
from sqlalchemy import Table, bindparam, event, inspect, select, update
from sqlalchemy.orm import joinedload

from portal import audit
from portal.auth.models import AccountSession
from portal.db import rowcount, session, utcnow
from portal.people.models import Account, CapabilityGrant, Person, PersonRole
from portal.schools.isolation import PortalSession
from portal.schools.models import DeputyDsl, School, TrustMembership

#: How often at most ``last_seen_at`` is written (seconds).
TOUCH_EVERY = 60


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_agent_label(ua: str) -> str:
    """``"Firefox on Windows"`` and the like, for the Security page (never parsed for access)."""
    ua = ua or ""
    browser = next((name for key, name in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                                           ("Chrome/", "Chrome"), ("Chromium/", "Chromium"),
                                           ("Safari/", "Safari")) if key in ua), None)
    system = next((name for key, name in (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
                                          ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
                                          ("Linux", "Linux")) if key in ua), "")
    from flask_babel import gettext as _

    if browser is None:
        return _("A browser on %(system)s", system=system) if system else _("A browser")
    return _("%(browser)s on %(system)s", browser=browser, system=system) if system else browser


def start(account: Account, *, remember: bool = False, via: str = "password",
          second_factor: str | None = None, only_school_id: int | None = None) -> tuple[AccountSession, str]:
    """Create a session row for *account*; returns it and the user id to keep in the cookie."""
    from portal import devices
    from portal.security import client_ip

    cfg = current_app.config
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = cfg["PORTAL_REMEMBER_SECONDS"] if remember else cfg["PORTAL_SESSION_MAX_SECONDS"]
    row = AccountSession(
        token_hash=_digest(secret), account_id=account.id, created_at=now, last_seen_at=now,
        expires_at=now + dt.timedelta(seconds=int(lifetime)), remember=remember, via=via,
        second_factor=second_factor, only_school_id=only_school_id,
        ip=(client_ip() if has_request_context() else "")[:45],
        user_agent=(request.headers.get("User-Agent", "") if has_request_context() else "")[:300],
        device_id=devices.current().id if has_request_context() else "",
    )
    session.add(row)
    session.flush()
    return row, f"{account.id}:{secret}"


def sign_in(user: Any, account: Account, *, remember: bool = False, via: str = "password",
            second_factor: str | None = None, only_school_id: int | None = None) -> AccountSession:
    """Start a server session and sign *user* (the school person, or the account) in with it; with
    *only_school_id* (an LMS launch), the session opens that school only (:func:`confined_to`)."""
    from flask import session as flask_session

    row, user_id = start(account, remember=remember, via=via, second_factor=second_factor,
                         only_school_id=only_school_id)
    login_user(user, remember=remember)
    flask_session["_user_id"] = user_id  # the remember cookie is written from this at the end
    g._portal_session = row
    return row


#: Every signed-in request runs this statement, so it is built once rather than on each request
#: (SQLAlchemy caches the compiled SQL either way; building the select itself was the cost).
_LIVE_SESSION = (select(AccountSession, Account)
                 .join(Account, Account.id == AccountSession.account_id)
                 .where(AccountSession.token_hash == bindparam("token_hash"))
                 .options(joinedload(Account.trust_roles)))


def load(user_id: str) -> tuple[AccountSession, Account] | None:
    """The live session named by a cookie's user id and its account (with its trust roles, in the
    same statement), else ``None``."""
    aid, _, secret = (user_id or "").partition(":")
    if not aid.isdecimal() or not secret or len(secret) > 100:
        return None
    found = session.execute(_LIVE_SESSION, {"token_hash": _digest(secret)}).unique().first()
    if found is None:
        return None
    row, account = found
    if row.account_id != int(aid):
        return None
    if not row.is_live(utcnow(), int(current_app.config["PORTAL_SESSION_IDLE_SECONDS"])):
        return None
    g._portal_session = row
    return row, account


def current() -> AccountSession | None:
    """The session of this request (after the user has been loaded)."""
    return g.get("_portal_session") if has_request_context() else None


def confined_to() -> int | None:
    """The one school this request's session may open (a session begun by an LMS launch), else None.

    Probe finding: a launch signed in the person's whole *account*, and the session could then switch
    to the account's other schools and open its trust pages, with no password or second step. A
    school's admin can give a person of their own school any address (a roster row), so launching
    as that person opened, say, another trust's Head Teacher. Now such a session is held to the
    launching school's person: :func:`portal.schools.signin.load_user` never scopes it elsewhere,
    it has no trust roles (:func:`portal.security.trust_roles`), it cannot choose another school,
    and the account's Security page is not open to it."""
    row = current()
    return row.only_school_id if row is not None else None


def end_kiosk(classroom_session_id: int, row_id: int | None) -> None:
    """The teacher's PIN was typed on the kiosk whose server session is *row_id* (named in its kiosk cookie,
    so whether or not this request still has its sign-in): that session is no longer a kiosk. Another device
    handed round for the same class session stays one until its own PIN is typed."""
    stmt = update(AccountSession).where(AccountSession.kiosk_session_id == classroom_session_id)
    if row_id is not None:
        stmt = stmt.where(AccountSession.id == row_id)
    # (No row named: a kiosk cookie from before rows were named, with no sign-in left to tell which; every kiosk of
    # the class session ends, as before, rather than leave this device unable to leave kiosk mode. Review finding.)
    session.execute(stmt
                    .values(kiosk_session_id=None).execution_options(synchronize_session=False))


def end(row: AccountSession, reason: str, *, actor: Any = None) -> bool:
    """End one session (compare-and-set: a session ends once). Audited; flushes."""
    done = rowcount(session.execute(
        update(AccountSession).where(AccountSession.id == row.id, AccountSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason).execution_options(synchronize_session=False)
    ))
    if done:
        audit.record("auth.session_ended", actor=actor, target=row, school=None, account_id=row.account_id,
                     reason=reason)
    session.expire(row)
    return bool(done)


def end_all(account_id: int, reason: str, *, except_id: int | None = None, actor: Any = None) -> int:
    """End every live session of the account (but *except_id*). Audited once; flushes."""
    stmt = update(AccountSession).where(AccountSession.account_id == account_id, AccountSession.ended_at.is_(None))
    if except_id is not None:
        stmt = stmt.where(AccountSession.id != except_id)
    n = rowcount(session.execute(stmt.values(ended_at=utcnow(), end_reason=reason)
                                 .execution_options(synchronize_session=False)))
    if n:
        audit.record("auth.sessions_ended", actor=actor, school=None, account_id=account_id, reason=reason, count=n)
    return n


def live_sessions(account_id: int) -> list[AccountSession]:
    now = utcnow()
    idle = int(current_app.config["PORTAL_SESSION_IDLE_SECONDS"])
    rows = session.scalars(select(AccountSession).where(
        AccountSession.account_id == account_id, AccountSession.ended_at.is_(None),
        AccountSession.expires_at > now).order_by(AccountSession.last_seen_at.desc())).all()
    return [r for r in rows if r.is_live(now, idle)]


def recent_sign_ins(account_id: int, limit: int = 10) -> list[AccountSession]:
    return list(session.scalars(select(AccountSession).where(AccountSession.account_id == account_id)
                                .order_by(AccountSession.created_at.desc(), AccountSession.id.desc()).limit(limit)))


def touch(response: Any) -> Any:
    """``after_request``: note that the session was used (at most once a minute)."""
    row = g.get("_portal_session")
    if row is None or response.is_streamed:
        return response
    now = utcnow()
    if row.last_seen_at is not None and now - row.last_seen_at < dt.timedelta(seconds=TOUCH_EVERY):
        return response
    # The view has committed what it meant to; anything left over would be rolled back anyway.
    session.rollback()
    session.execute(update(AccountSession).where(AccountSession.id == row.id)
                    .values(last_seen_at=now).execution_options(synchronize_session=False))
    session.commit()
    return response


# ------------------------------------------------------------------ revocation on data changes

_PENDING = "portal_revoke_sessions"


def _changed(obj: Any, attr: str) -> tuple[Any, Any] | None:
    hist = inspect(obj).attrs[attr].history
    if not hist.has_changes():
        return None
    return (hist.deleted[0] if hist.deleted else None), (hist.added[0] if hist.added else None)


def _person_account(sess: Any, person_id: int | None) -> int | None:
    """The account of a person (a plain look-up by id, whichever school is in scope)."""
    if person_id is None:
        return None
    table = Person.__table__
    return sess.connection().execute(select(table.c.account_id).where(table.c.id == person_id)).scalar()


def _collect(sess: Any, _ctx: Any, _instances: Any) -> None:
    """``before_flush``: note which accounts lose access (their sessions end after the flush)."""
    found: dict[int, str] = {}

    def add(account_id: int | None, reason: str) -> None:
        if account_id is not None:
            found.setdefault(int(account_id), reason)

    for obj in sess.dirty:
        if isinstance(obj, Account):
            if _changed(obj, "password_hash"):
                add(obj.id, "password_changed")
            change = _changed(obj, "active")
            if change and change[0] and not change[1]:
                add(obj.id, "account_off")
        elif isinstance(obj, Person):
            change = _changed(obj, "active")
            if change and change[0] and not change[1]:
                add(obj.account_id, "account_off")
            moved = _changed(obj, "account_id")
            if moved and moved[0] is not None:
                add(moved[0], "role_removed")
        elif isinstance(obj, CapabilityGrant):
            change = _changed(obj, "revoked_at")
            if change and change[0] is None and change[1] is not None:
                add(_person_account(sess, obj.person_id), "role_removed")
        elif isinstance(obj, School):
            for attr in ("head_teacher_id", "dsl_id", "chair_of_governors_id"):
                change = _changed(obj, attr)
                if change and change[0] is not None:
                    add(_person_account(sess, change[0]), "role_removed")
    for obj in sess.deleted:
        if isinstance(obj, PersonRole):
            add(_person_account(sess, obj.person_id), "role_removed")
        elif isinstance(obj, Person):
            add(obj.account_id, "account_off")
        elif isinstance(obj, (DeputyDsl, CapabilityGrant)):
            add(_person_account(sess, obj.person_id), "role_removed")
        elif isinstance(obj, TrustMembership):
            add(obj.account_id, "role_removed")
        elif isinstance(obj, Account):
            add(obj.id, "account_off")
    if found:
        sess.info.setdefault(_PENDING, {}).update(found)


def _revoke(sess: Any, _ctx: Any) -> None:
    """``after_flush``: end the noted accounts' sessions in the same transaction."""
    pending = sess.info.pop(_PENDING, None)
    if not pending:
        return
    conn = sess.connection()
    now = utcnow()
    table = cast(Table, AccountSession.__table__)  # a declarative model's __table__ is its Table
    for account_id, reason in pending.items():
        conn.execute(update(table).where(table.c.account_id == account_id, table.c.ended_at.is_(None))
                     .values(ended_at=now, end_reason=reason))


event.listen(PortalSession, "before_flush", _collect)
event.listen(PortalSession, "after_flush", _revoke)
