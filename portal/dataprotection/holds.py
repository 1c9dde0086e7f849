"""Legal holds: records that must not be disposed of (a claim, an inquiry, an investigation).

The Head Teacher, the DSL (and deputies) or a trust role (from the trust's pages) put a hold on a
person, a pupil, a concern or an incident, with a reason. While a hold is in force the retention
run skips everything it covers (for a person or pupil: every record about them). Holds are listed
with a date to look at them again; reviewing keeps a hold, releasing ends it (with a reason).
Operations flush and audit; the caller commits. The reason is kept on the hold, not in the audit log.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import audit
from portal.concerns.models import Concern
from portal.concerns.schooldays import uk_today
from portal.dataprotection.dates import add_months
from portal.dataprotection.models import HOLD_KINDS, LegalHold
from portal.db import session, utcnow
from portal.ids import row_id
from portal.incidents.models import ContactIncident, SocialMediaIncident
from portal.people.models import Person, Role
from portal.templating import N_

#: Months until a new hold is looked at again, unless a date is given.
REVIEW_MONTHS = 6
MAX_REASON = 2000


class HoldError(ValueError):
    """A hold cannot be placed, reviewed or released as asked (the message says why; ``field`` is the
    form field it is about, when known)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _actor_fields(actor: Any, person_field: str, account_field: str) -> dict[str, Any]:
    if getattr(actor, "is_account", False):
        return {account_field: actor.id}
    return {person_field: getattr(actor, "id", None)}


def _reason(reason: str | None, missing: str) -> str:
    """The reason, stripped; *missing* is the (translated) sentence asking for one."""
    text = (reason or "").strip()
    if not text:
        raise HoldError(missing, field="reason")
    if len(text) > MAX_REASON:
        raise HoldError(gettext("The reason is too long (at most %(num)s characters).", num=MAX_REASON),
                        field="reason")
    return text


#: "Not found" for each kind of target, whole sentences.
_NO_SUCH = {
    "person": N_("There is no such person in this school."),
    "pupil": N_("There is no such pupil in this school."),
    "concern": N_("There is no such concern in this school."),
    "contact_incident": N_("There is no such contact incident in this school."),
    "social_incident": N_("There is no such social incident in this school."),
}


def target_of(kind: str, target_id: int) -> Any:
    """The held object for *kind* and *target_id* in the current school.

    :raises HoldError: for an unknown kind, or a target that is not in this school.
    """
    if kind not in HOLD_KINDS:
        raise HoldError(N_("Choose what the hold is on: a person, a pupil, a concern or an incident."))
    model = {"person": Person, "pupil": Person, "concern": Concern, "contact_incident": ContactIncident,
             "social_incident": SocialMediaIncident}[kind]
    obj: Any = session.get(model, target_id) if target_id else None
    if obj is None:
        raise HoldError(gettext(_NO_SUCH[kind]))
    if kind == "pupil" and Role.PUPIL not in obj.role_set:
        raise HoldError(N_("That person is not a pupil."))
    return obj


def resolve(kind: str, text: str) -> int:
    """The id of what a person typed: an email, MIS identifier or #id for a person or pupil; a
    reference (``C-00012``, ``C-12``, ``S-3``) or number for a concern or incident.

    :raises HoldError: when nothing matches.
    """
    text = (text or "").strip()
    if kind in ("person", "pupil"):
        from portal.dataprotection.sar import SarError, find_person

        try:
            return find_person(text).id
        except SarError as exc:
            raise HoldError(str(exc)) from None
    number = text.upper().removeprefix("C-").removeprefix("S-").lstrip("0") or "0"
    if not number.isdigit():
        raise HoldError(N_("Give the record's reference, such as C-00012 for a concern or S-3 for a social-media "
                           "incident."))
    return row_id(number) or 0  # a number no row can have finds nothing (target_of: "no such ...")


def place_hold(kind: str, target_id: int, reason: str | None, *, actor: Any,
               review_on: dt.date | None = None) -> LegalHold:
    """Put a hold on a person, pupil, concern or incident.

    :raises HoldError: without a reason, for an unknown target, or a review date in the past.
    """
    text = _reason(reason, gettext(
        "Give a reason for the hold: it is what tells people later why the records are kept."))
    obj = target_of(kind, target_id)
    today = uk_today()
    review_on = review_on or add_months(today, REVIEW_MONTHS)
    if review_on < today:
        raise HoldError(N_("The date to review the hold cannot be in the past."), field="review_on")
    hold = LegalHold(kind=kind, reason=text, review_on=review_on, placed_at=utcnow(),
                     **_actor_fields(actor, "placed_by_id", "placed_by_account_id"))
    if kind in ("person", "pupil"):
        hold.person_id = obj.id
    elif kind == "concern":
        hold.concern_id, hold.target_label = obj.id, f"Concern {obj.reference}"
    elif kind == "contact_incident":
        hold.contact_incident_id, hold.target_label = obj.id, f"Contact incident {obj.reference}"
    else:
        hold.social_incident_id, hold.target_label = obj.id, f"Social-media incident {obj.reference}"
    session.add(hold)
    session.flush()
    audit.record("legal_hold.placed", actor=actor, target=hold, kind=kind, target_id=obj.id,
                 review_on=review_on.isoformat())
    return hold


def review_hold(hold: LegalHold, *, actor: Any, next_review_on: dt.date | None = None) -> LegalHold:
    """The hold is still needed: set the next date to look at it."""
    if not hold.active:
        raise HoldError(N_("This hold has been released already."))
    today = uk_today()
    next_review_on = next_review_on or add_months(today, REVIEW_MONTHS)
    if next_review_on <= today:
        raise HoldError(N_("The next review date must be after today."))
    hold.review_on = next_review_on
    hold.last_reviewed_at = utcnow()
    hold.last_reviewed_by_id = None if getattr(actor, "is_account", False) else getattr(actor, "id", None)
    session.flush()
    audit.record("legal_hold.reviewed", actor=actor, target=hold, review_on=next_review_on.isoformat())
    return hold


def release_hold(hold: LegalHold, reason: str | None, *, actor: Any) -> LegalHold:
    """End the hold: its records follow the schedule again from the next run."""
    if not hold.active:
        raise HoldError(N_("This hold has been released already."))
    hold.release_reason = _reason(reason, gettext(
        "Give a reason for releasing the hold: it is what tells people later why the records are kept."))
    hold.released_at = utcnow()
    for name, value in _actor_fields(actor, "released_by_id", "released_by_account_id").items():
        setattr(hold, name, value)
    session.flush()
    audit.record("legal_hold.released", actor=actor, target=hold, kind=hold.kind)
    return hold


def holds(active_only: bool = False) -> list[LegalHold]:
    """The school's holds: in force first (the review date nearest first), then released."""
    # The people and accounts named on the page, in one statement each (not one per hold).
    stmt = select(LegalHold).options(selectinload(LegalHold.person), selectinload(LegalHold.placed_by),
                                     selectinload(LegalHold.placed_by_account))
    if active_only:
        stmt = stmt.where(LegalHold.released_at.is_(None))
    rows = session.scalars(stmt).all()
    return sorted(rows, key=lambda h: (not h.active, h.review_on if h.active else dt.date.min, -h.id))


#: The prefixes of ``LegalHold.target_label`` (kept in English) and the whole phrase for each.
_TARGET_LABELS = (
    ("Concern ", N_("Concern %(ref)s")),
    ("Contact incident ", N_("Contact incident %(ref)s")),
    ("Social-media incident ", N_("Social-media incident %(ref)s")),
)


def describe(hold: LegalHold) -> str:
    """What the hold is on, in words (in the page's language)."""
    if hold.person_id is not None and hold.person is not None:
        if hold.kind == "pupil":
            return gettext("Pupil: %(name)s", name=hold.person.full_name)
        return gettext("Person: %(name)s", name=hold.person.full_name)
    label = hold.target_label
    for prefix, phrase in _TARGET_LABELS:
        if label.startswith(prefix):
            return gettext(phrase, ref=label.removeprefix(prefix))
    return label or gettext("A record that has since been disposed of")


__all__ = ["REVIEW_MONTHS", "HoldError", "describe", "holds", "place_hold", "release_hold", "resolve",
           "review_hold", "target_of"]
