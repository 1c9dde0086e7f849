"""Every state-changing form is sent once, however often it is submitted.

Four means, each where it fits:

* **A one-time form token** (this module). Every portal form carries a hidden ``_once`` field
  with a fresh random token (``{{ portal_once() }}`` in the template). Before the view runs, the
  token is claimed by inserting its SHA-256 into ``portal_form_tokens`` (unique) in the request's
  own transaction, so it is spent exactly when the view commits. A second submission of the same
  form waits on that insert (PostgreSQL: the unique index; SQLite: the write lock), finds the
  token spent, writes nothing, and is sent where the first one went (or back) with a message.
  A form whose view did not commit (a mistake in it) leaves the token unspent. Portal POSTs
  without a token are refused, except the few listed in :data:`NOT_NEEDED` (with the reason).
* **Unique constraints** where the data says only one may exist (a pending or approved family
  link per adult and pupil, one open classroom session per class, one answer per year).
* **Compare-and-set on status changes**: models whose status changes through forms carry a
  ``row_version`` (SQLAlchemy's ``version_id_col``), so an UPDATE only applies to the version
  that was read; the loser of two simultaneous changes (two tabs, two approvers) gets
  :class:`~sqlalchemy.orm.exc.StaleDataError` and nothing is written twice.
* **A per-person lock** (:func:`portal.db.lock_person`) before a check that no index can make: one
  signature per requirement and year, a parent's relative typed by name. Ten tabs sent at once each
  read after the one before has committed.

Either kind of conflict that reaches the view's commit is answered with a 409 page (see
:func:`register`), never a half-done change.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import time
from typing import Any

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import gettext
from markupsafe import Markup
from sqlalchemy import Integer, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from portal.db import Base, UTCDateTime, session, utcnow
from portal.web import error_page

log = logging.getLogger("portal.forms")

FIELD = "_once"

#: Portal POST endpoints that take no form token, and why.
NOT_NEEDED: dict[str, str] = {
    "portal.auth.login": "signing in changes nothing twice; a spent token would hide the sign-in of a double click",
    "portal.auth.verify": "the second step of signing in (its codes are single-use themselves)",
    "portal.auth.verify_passkey": "the second step of signing in (its challenge is single-use)",
    "portal.auth.verify_passkey_options": "answers JSON to a script; writes nothing",
    "portal.auth.passkey_options": "answers JSON to a script; writes nothing",
    "portal.auth.logout": "signing out twice is signing out",
    "portal.auth.choose": "choosing a school twice is choosing it",
    "portal.auth.forgot": "limited per address and per client; the same answer every time",
    "portal.auth.reset": "the emailed link is single-use itself",
    "portal.auth.accept_invite": "the emailed link is single-use itself",
    "portal.classroom.join": "a pupil device typing a code: writes only the wrong-code counts",
    "portal.lti.login": "posted by the LMS, not by a portal form",
    "portal.lti.launch": "posted by the LMS; its nonce is single-use",
    "portal.lti.deep_link": "its signed token is single-use",
    "portal.verify.home": "checks an uploaded PDF and writes nothing but the rate limit's count",
    "portal.verify.record": "checks an uploaded PDF and writes nothing but the rate limit's count",
}


class FormToken(Base):
    """A spent one-time form token (its SHA-256). Kept a day, then deleted."""

    __tablename__ = "portal_form_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: Where the first submission went (a redirect), for the second one.
    result_url: Mapped[str | None] = mapped_column(String(500))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def once_field() -> Markup:
    """The hidden input every portal form carries (a new token each time the page is made)."""
    return Markup(f'<input type="hidden" name="{FIELD}" value="{new_token()}">')  # noqa: S704 - our own token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _applies() -> bool:
    return request.method == "POST" and request.endpoint is not None and request.endpoint not in NOT_NEEDED


def claim() -> Any:
    """``before_request``: spend this form's token, or answer a repeat / a form without one."""
    if not _applies():
        return None
    token = request.form.get(FIELD, "")
    if not token or len(token) > 100:
        return error_page(400, gettext("Please try again"),
                          gettext("This form is out of date. Go back, reload the page and send it again."))
    digest = _digest(token)
    try:
        # The request's first write: it waits for a same-token submission still running.
        session.add(FormToken(digest=digest))
        session.flush()
    except IntegrityError:
        session.rollback()
        return _already_sent(digest)
    g._portal_form_token = digest
    return None


def _already_sent(digest: str) -> Any:
    """The same form again: nothing is written; go where the first submission went."""
    result = None
    for _ in range(20):  # the first submission writes where it went just after it commits
        result = session.scalar(select(FormToken.result_url).where(FormToken.digest == digest))
        if result:
            break
        session.rollback()
        time.sleep(0.05)
    log.info("a form was submitted again; the repeat was ignored")
    flash(gettext("This form had already been sent, so it was not sent again."), "info")
    from portal.security import is_safe_redirect

    back = result or request.referrer or ""
    if back.startswith(request.host_url):
        back = "/" + back[len(request.host_url):]
    return redirect(back if is_safe_redirect(back) else url_for("portal.home")), 303


def remember_result(response: Any) -> Any:
    """``after_request``: note where a spent token's submission went (for a repeat)."""
    digest = g.pop("_portal_form_token", None)
    if digest is None or not (300 <= response.status_code < 400) or not response.location:
        return response
    try:
        session.rollback()  # the view has committed what it meant to
        row = session.scalar(select(FormToken).where(FormToken.digest == digest))
        if row is not None:
            row.result_url = response.location[:500]
            session.execute(delete(FormToken).where(FormToken.created_at < utcnow() - dt.timedelta(days=1)))
            session.commit()
    except Exception:  # noqa: BLE001 - a note for repeats; the response stands
        session.rollback()
        log.warning("could not note where a form went", exc_info=True)
    return response


def _conflict(exc: Exception) -> Any:
    """Two changes of the same thing at the same moment: the later one is not applied."""
    session.rollback()
    log.info("conflicting change refused: %s", type(exc).__name__)
    return error_page(409, gettext("Already done"), gettext(
        "This was changed at the same moment by another request (perhaps the form was sent twice, or someone else "
        "made the same change). Nothing was done twice: go back and reload the page to see how things stand."))


def register(bp: Blueprint) -> None:
    """Hook the above into the portal blueprint (and so every area nested in it; host routes are
    untouched)."""
    bp.before_request(claim)
    bp.after_request(remember_result)
    bp.register_error_handler(StaleDataError, _conflict)
    bp.register_error_handler(IntegrityError, _conflict)
    bp.add_app_template_global(once_field, "portal_once")


__all__ = ["FIELD", "NOT_NEEDED", "FormToken", "claim", "once_field", "register"]
