"""A long-lived, signed device cookie (``portal_device``): which browser this is.

It holds a random device id, the accounts that have signed in on this device before, and
whether the device has joined a classroom session. Limits use it so that one person's mistakes
(or one attacker's guesses) are counted against their own device, while a larger budget per
address stops an attacker who throws the cookie away; a device an account has signed in on
before is not slowed down by failures elsewhere (see :mod:`portal.auth.throttle`).

It is not a sign-in: it proves nothing about who is at the keyboard, only that this browser
was given the cookie by the portal (it is signed with the app's secret key, so it cannot be
made up, only copied).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "portal_device"
#: At most this many accounts are remembered per device (the newest kept).
MAX_ACCOUNTS = 8
#: Browsers keep a cookie at most 400 days.
MAX_AGE = 400 * 24 * 3600


@dataclass
class Device:
    id: str
    accounts: list[int] = field(default_factory=list)
    joined: bool = False
    dirty: bool = False

    def knows(self, account_id: int | None) -> bool:
        """Has *account_id* signed in successfully on this device before?"""
        return account_id is not None and account_id in self.accounts

    def remember(self, account_id: int) -> None:
        if self.accounts[-1:] != [account_id]:
            self.accounts = [a for a in self.accounts if a != account_id][-(MAX_ACCOUNTS - 1):] + [account_id]
            self.dirty = True

    def mark_joined(self) -> None:
        if not self.joined:
            self.joined = True
            self.dirty = True


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal-device")


def current() -> Device:
    """This request's device (a new one, with its cookie set on the response, if it had none)."""
    device = g.get("_portal_device")
    if device is not None:
        return device
    raw = request.cookies.get(COOKIE, "")
    data: Any = None
    if raw and len(raw) < 1000:
        try:
            data = _serializer().loads(raw)
        except BadSignature:
            data = None
    if isinstance(data, dict) and isinstance(data.get("d"), str) and len(data["d"]) <= 64:
        accounts = [a for a in data.get("a", []) if isinstance(a, int)][-MAX_ACCOUNTS:]
        device = Device(id=data["d"], accounts=accounts, joined=bool(data.get("j")))
    else:
        device = Device(id=secrets.token_urlsafe(16), dirty=True)
    g._portal_device = device
    return device


def save_cookie(response: Any) -> Any:
    """``after_request``: (re)write the cookie when the device is new or changed."""
    device = g.get("_portal_device")
    if device is None or not device.dirty:
        return response
    cfg = current_app.config
    value = _serializer().dumps({"d": device.id, "a": device.accounts, "j": int(device.joined)})
    response.set_cookie(
        COOKIE, value, max_age=MAX_AGE, httponly=True,
        secure=bool(cfg.get("SESSION_COOKIE_SECURE")), samesite=cfg.get("SESSION_COOKIE_SAMESITE") or "Lax",
        partitioned=bool(cfg.get("SESSION_COOKIE_PARTITIONED")),
        path=cfg.get("SESSION_COOKIE_PATH") or cfg.get("APPLICATION_ROOT") or "/",
    )
    return response
