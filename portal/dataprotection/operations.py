"""Leavers and retention reviews (operations flush and audit; the caller commits)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from portal import audit
from portal.concerns.schooldays import uk_today
from portal.dataprotection.models import Departure, RetentionReview
from portal.dataprotection.retention import (
    SELECTORS,
    Context,
    DisposalError,
    Removal,
    dispose,
)
from portal.dataprotection.rules import effective_rules
from portal.db import session, utcnow
from portal.people.models import Person
from portal.templating import N_


class DataProtectionError(ValueError):
    """A change that is not allowed (the message is shown to the person; nothing was written)."""


# ------------------------------------------------------------------ leavers


def record_departure(person: Person, left_on: dt.date, *, actor: Any, destination: str = "") -> Departure:
    """Record that *person* has left (or the day they will leave). A second call changes the date."""
    destination = (destination or "").strip()
    if len(destination) > 200:
        raise DataProtectionError(N_("The next school's name is too long (at most 200 characters)."))
    row = session.scalar(select(Departure).where(Departure.person_id == person.id))
    old = row.left_on.isoformat() if row else None
    if row is None:
        row = Departure(person_id=person.id)
        session.add(row)
    row.left_on, row.destination = left_on, destination
    row.recorded_by_id, row.recorded_at = getattr(actor, "id", None), utcnow()
    session.flush()
    audit.record("person.departure_recorded", actor=actor, target=person, left_on=left_on.isoformat(), old=old)
    return row


def undo_departure(person: Person, *, actor: Any) -> None:
    row = session.scalar(select(Departure).where(Departure.person_id == person.id))
    if row is None:
        raise DataProtectionError(N_("No leaving date is recorded for this person."))
    session.delete(row)
    session.flush()
    audit.record("person.departure_removed", actor=actor, target=person, left_on=row.left_on.isoformat())


# ------------------------------------------------------------------ reviews


def decide_review(review: RetentionReview, *, actor: Any, decision: str, keep_until: dt.date | None = None,
                  reason: str = "", today: dt.date | None = None) -> Removal | None:
    """The reviewer keeps the record until a date, or disposes of it now (with its tombstone).

    Returns the removal (its files go after the commit: :func:`~portal.dataprotection.retention.dispose_files`).
    :raises DataProtectionError: for a review already decided, a keep date not in the future, a
        record under a legal hold, or a record that cannot be disposed of.
    """
    today = today or uk_today()
    if review.decision is not None:
        raise DataProtectionError(N_("This review has been decided already."))
    reason = (reason or "").strip()
    if decision == "keep":
        if keep_until is None or keep_until <= today:
            raise DataProtectionError(N_("Give the date until which the record is kept; it must be after today."))
        if not reason:
            raise DataProtectionError(N_("Say why the record is kept longer (it is kept with the review)."))
        review.decision, review.keep_until, review.reason = "keep", keep_until, reason
        review.decided_at, review.decided_by_id = utcnow(), getattr(actor, "id", None)
        session.flush()
        audit.record("retention.review_kept", actor=actor, target=review, record_type=review.record_type,
                     target_type=review.target_type, target_id=review.target_id, keep_until=keep_until.isoformat())
        return None
    if decision != "dispose":
        raise DataProtectionError(N_("Choose to keep the record or to dispose of it."))
    rules = effective_rules()
    rule = rules[review.record_type]
    ctx = Context(today)
    cand = next((c for c in SELECTORS[review.record_type](ctx)
                 if (c.target_type, c.target_id) == (review.target_type, review.target_id)), None)
    if cand is None:
        raise DataProtectionError(N_("The record no longer exists."))
    if cand.holds & ctx.holds:
        raise DataProtectionError(N_("The record is under a legal hold: it cannot be disposed of until the hold is "
                                     "released."))
    allowed = [a.value for a in rule.default.actions]
    if rule.action in ("delete", "anonymise"):
        action = rule.action
    elif "delete" in allowed:
        action = "delete"
    elif "anonymise" in allowed:
        action = "anonymise"
    else:
        raise DataProtectionError(gettext("%(record)s cannot be disposed of by the portal; keep them instead.",
                                          record=gettext(rule.default.label)))
    try:
        removal = dispose(cand, rule, action, report=None, actor=actor, due_on=review.due_on)
    except DisposalError as exc:
        raise DataProtectionError(str(exc)) from None
    review.decision, review.reason = "dispose", reason or None
    review.decided_at, review.decided_by_id = utcnow(), getattr(actor, "id", None)
    session.flush()
    return removal


__all__ = ["DataProtectionError", "decide_review", "record_departure", "undo_departure"]
