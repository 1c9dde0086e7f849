"""Server-side sign-in sessions and second factors. All belong to the global :class:`Account`
(installation-wide tables, listed in ``GLOBAL_TABLES``)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.people.models import Account


class AccountSession(Base):
    """One signed-in browser. The cookie holds a random secret; the table holds its SHA-256, so a
    copy of the database cannot be turned into working cookies. A session ends when it is signed
    out, revoked (sign out everywhere, a password change, the account switched off or a role
    removed), idle too long, or past its absolute lifetime."""

    __tablename__ = "portal_account_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 (hex) of the secret in the cookie.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Absolute end: PORTAL_SESSION_MAX_SECONDS, or PORTAL_REMEMBER_SECONDS with "keep me signed in".
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    #: How it began: ``password``, ``lti`` (an LMS launch), ``invite`` or ``test``.
    via: Mapped[str] = mapped_column(String(10), default="password")
    #: The second factor used at sign-in (``totp``, ``passkey``, ``recovery``), if any.
    second_factor: Mapped[str | None] = mapped_column(String(10))
    ip: Mapped[str] = mapped_column(String(45), default="")
    #: The browser's user agent, shortened (shown as "Firefox on Windows").
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    #: The device cookie's id (portal/devices.py), to mark "this device".
    device_id: Mapped[str] = mapped_column(String(64), default="")
    #: An LMS launch's session opens this one school only (the launching school's person): no other school
    #: of the account, no trust pages, no account-wide security settings (portal/schools/signin.py).
    only_school_id: Mapped[int | None] = mapped_column(Integer)
    #: The classroom session this browser was handed round for (kiosk mode), until the teacher's PIN is
    #: typed; kept here too, so a browser that loses its session cookie but keeps "keep me signed in"
    #: is still a kiosk (portal/blueprints/classroom/views.py).
    kiosk_session_id: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    #: ``signed_out``, ``ended_by_user``, ``signed_out_everywhere``, ``password_changed``,
    #: ``account_off``, ``role_removed``, ``mfa_changed``, ``mfa_reset``, ``expired``.
    end_reason: Mapped[str | None] = mapped_column(String(30))

    account: Mapped[Account] = relationship()

    def is_live(self, now: dt.datetime, idle_seconds: int) -> bool:
        if self.ended_at is not None or now >= self.expires_at:
            return False
        return self.remember or now - self.last_seen_at < dt.timedelta(seconds=idle_seconds)


class TotpFactor(Base):
    """An authenticator app (RFC 6238 TOTP). The secret is encrypted with a key derived from the
    app's secret key; ``last_step`` stops a code being used twice."""

    __tablename__ = "portal_mfa_totp"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_accounts.id", ondelete="CASCADE"), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_step: Mapped[int] = mapped_column(Integer, default=0)


class PasskeyFactor(Base):
    """A WebAuthn credential (a passkey or security key) registered to an account."""

    __tablename__ = "portal_mfa_passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_accounts.id", ondelete="CASCADE"), index=True)
    #: The credential id, base64url.
    credential_id: Mapped[str] = mapped_column(String(700), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    #: A name the person chose ("Work laptop").
    name: Mapped[str] = mapped_column(String(60))
    transports: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """A single-use recovery code, stored as a keyed hash (HMAC-SHA256)."""

    __tablename__ = "portal_mfa_recovery_codes"
    __table_args__ = (UniqueConstraint("account_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_accounts.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


__all__ = ["AccountSession", "PasskeyFactor", "RecoveryCode", "TotpFactor"]
