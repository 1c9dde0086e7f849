"""Allegations against staff and low-level concerns (KCSIE Part four).

A concern or a contact incident about an adult working in the school can be marked by someone who
handles it as:

* an **allegation** (it meets the harm threshold): it goes to the Head Teacher as case manager, or
  to the chair of governors when it is about the Head Teacher. The case manager records the
  consultation with the local authority designated officer (LADO: date, reference, advice) and
  the outcome (KCSIE's five outcomes). Only the case manager sees it.
* a **low-level concern**: kept in its own log that only the Head Teacher and the DSL (and deputy
  DSLs) see; one about the Head Teacher is seen by the chair and the DSL instead, one about the DSL
  (or a deputy) by the Head Teacher only.

Nobody ever sees an allegation or a low-level concern about themselves. Each kind has its own
retention rule (:mod:`portal.dataprotection.schedule`). Operations flush and audit (ids, kinds,
dates only: never words); the caller commits.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import audit
from portal.concerns.models import Concern
from portal.concerns.schooldays import uk_today
from portal.dataprotection.models import ALLEGATION_KINDS, OUTCOMES, StaffAllegation
from portal.db import session, utcnow
from portal.i18n import in_language, language_of
from portal.incidents.models import ContactIncident
from portal.mail import MailError, send_mail
from portal.people.models import ADULT_ROLES, Person
from portal.schools.models import DeputyDsl, School
from portal.security import designations, has_capability
from portal.templating import N_
from portal.urls import mail_link

MAX_TEXT = 5000


class AllegationError(ValueError):
    """A change that is not allowed (the message is shown; nothing was written)."""


def _dsl_ids(school: School) -> set[int]:
    ids = set(session.scalars(select(DeputyDsl.person_id)))
    if school.dsl_id:
        ids.add(school.dsl_id)
    return ids


def case_manager_for(about: Person) -> str:
    """``head``, or ``chair`` when the allegation is about the Head Teacher."""
    school = School.get()
    if school is not None and about.id == school.head_teacher_id:
        if not school.chair_of_governors_id:
            raise AllegationError(N_("This is about the Head Teacher, so it goes to the chair of governors, and the "
                                     "school has not named one in the portal yet. Name the chair in the school "
                                     "settings first, or contact the chair directly."))
        return "chair"
    return "head"


def may_see(person: Any, allegation: StaffAllegation, *, dsl_ids: set[int] | None = None) -> bool:
    """Whether *person* may read *allegation* (never the adult it is about). *dsl_ids* (the DSL
    and deputies) may be given when checking many allegations, to read them once."""
    if person is None or getattr(person, "is_account", False) or person.id == allegation.about_person_id:
        return False
    school = School.get()
    held = designations(person)
    if allegation.kind == "allegation":
        return ("chair_of_governors" if allegation.case_manager == "chair" else "head_teacher") in held
    # Low-level concern log.
    about = allegation.about_person_id
    is_dsl = bool(held & {"dsl", "deputy_dsl"})
    if school is not None and about == school.head_teacher_id:
        return "chair_of_governors" in held or is_dsl
    if school is not None and about in (dsl_ids if dsl_ids is not None else _dsl_ids(school)):
        return "head_teacher" in held
    return "head_teacher" in held or is_dsl


def may_open_log(person: Any) -> bool:
    """The Head Teacher, the DSL, deputies and the chair have an allegations page."""
    return bool(designations(person) & {"head_teacher", "dsl", "deputy_dsl", "chair_of_governors"})


def visible(person: Any, kind: str | None = None) -> list[StaffAllegation]:
    stmt = (select(StaffAllegation)
            .options(selectinload(StaffAllegation.about_person), selectinload(StaffAllegation.recorded_by))
            .order_by(StaffAllegation.reported_on.desc(), StaffAllegation.id.desc()))
    if kind:
        stmt = stmt.where(StaffAllegation.kind == kind)
    school = School.get()
    dsl_ids = _dsl_ids(school) if school is not None else set()
    return [a for a in session.scalars(stmt) if may_see(person, a, dsl_ids=dsl_ids)]


def source_of(allegation: StaffAllegation) -> Concern | ContactIncident | None:
    if allegation.concern_id:
        return session.get(Concern, allegation.concern_id)
    if allegation.contact_incident_id:
        return session.get(ContactIncident, allegation.contact_incident_id)
    return None


def may_mark(person: Any, source: Concern | ContactIncident) -> bool:
    """Someone who handles the concern (or manages incidents), about an adult who is not themselves."""
    from portal.concerns.access import may_handle

    if person is None or getattr(person, "is_account", False):
        return False
    if isinstance(source, Concern):
        return source.about_person_id is not None and source.about_person_id != person.id \
            and may_handle(person, source)
    return source.adult_id != person.id and has_capability(person, "incidents.manage")


def existing(source: Concern | ContactIncident) -> StaffAllegation | None:
    column = StaffAllegation.concern_id if isinstance(source, Concern) else StaffAllegation.contact_incident_id
    return session.scalar(select(StaffAllegation).where(column == source.id))


def mark(source: Concern | ContactIncident, kind: str, *, actor: Person, reported_on: dt.date | None = None,
         notes: str = "") -> StaffAllegation:
    """Mark a concern or contact incident about an adult as an allegation or a low-level concern.

    :raises AllegationError: for an unknown kind, a record not about an adult of the school, one
        already marked, a date in the future, or an allegation about the Head with no chair named.
    """
    if kind not in ALLEGATION_KINDS:
        raise AllegationError(N_("Choose an allegation or a low-level concern."))
    about_id = source.about_person_id if isinstance(source, Concern) else source.adult_id
    about = session.get(Person, about_id) if about_id else None
    if about is None or not (about.role_set & ADULT_ROLES):
        raise AllegationError(N_("Only a concern or incident about an adult working in the school can be marked."))
    if existing(source) is not None:
        raise AllegationError(N_("This has been marked already."))
    reported_on = reported_on or uk_today()
    if reported_on > uk_today():
        raise AllegationError(N_("The date of the allegation cannot be in the future."))
    notes = (notes or "").strip()
    if len(notes) > MAX_TEXT:
        raise AllegationError(_("The notes are too long (at most %(num)s characters).", num=MAX_TEXT))
    allegation = StaffAllegation(
        kind=kind, about_person_id=about.id, reported_on=reported_on, case_manager=case_manager_for(about),
        recorded_by_id=actor.id, notes=notes,
        concern_id=source.id if isinstance(source, Concern) else None,
        contact_incident_id=source.id if isinstance(source, ContactIncident) else None)
    session.add(allegation)
    session.flush()
    audit.record("allegation.recorded", actor=actor, target=allegation, kind=kind,
                 source=type(source).__name__, source_id=source.id, case_manager=allegation.case_manager)
    return allegation


def notify(allegation: StaffAllegation) -> bool:
    """Email the case manager (an allegation) that there is something to look at: no names, no details."""
    school = School.get()
    if school is None or allegation.kind != "allegation":
        return False
    person = school.chair_of_governors if allegation.case_manager == "chair" else school.head_teacher
    if person is None or not person.email or person.id == allegation.recorded_by_id:
        return False
    url = mail_link("portal.dataprotection.allegation", allegation_id=allegation.id)
    # In the reader's language (their choice, else the school's).
    with in_language(language_of(person)):
        body = (_("An allegation about an adult working in the school has been recorded in the school portal "
                  "(reference %(ref)s). You are its case manager.", ref=allegation.reference) + "\n\n"
                + _("Please sign in to read it:") + f"\n{url}\n\n"
                + _("This message contains no details on purpose.") + "\n")
        subject = _("Allegation %(ref)s to manage", ref=allegation.reference)
    try:
        send_mail(person.email, subject, body)
    except MailError:
        return False
    return True


def record_lado(allegation: StaffAllegation, *, actor: Person, consulted_on: dt.date, reference: str,
                advice: str) -> None:
    """The case manager's consultation with the LADO (within one working day, KCSIE asks)."""
    if allegation.kind != "allegation":
        raise AllegationError(N_("Only allegations are referred to the LADO."))
    if consulted_on > uk_today():
        raise AllegationError(N_("The date of the consultation cannot be in the future."))
    if consulted_on < allegation.reported_on:
        raise AllegationError(N_("The LADO cannot have been consulted before the allegation was made."))
    reference, advice = (reference or "").strip(), (advice or "").strip()
    if not advice:
        raise AllegationError(N_("Write down the LADO's advice."))
    if len(reference) > 100 or len(advice) > MAX_TEXT:
        raise AllegationError(N_("The reference or the advice is too long."))
    allegation.lado_consulted_on, allegation.lado_reference, allegation.lado_advice = consulted_on, reference, advice
    session.flush()
    audit.record("allegation.lado_recorded", actor=actor, target=allegation, consulted_on=consulted_on.isoformat())


def record_outcome(allegation: StaffAllegation, *, actor: Person, outcome: str, outcome_on: dt.date,
                   normal_pension_on: dt.date | None) -> None:
    """The outcome (one of KCSIE's five), and the adult's normal pension age date for retention."""
    if allegation.kind != "allegation":
        raise AllegationError(N_("Only allegations have an outcome."))
    if outcome not in OUTCOMES:
        raise AllegationError(N_("Choose one of the outcomes."))
    if outcome_on > uk_today() or outcome_on < allegation.reported_on:
        raise AllegationError(N_("The date of the outcome must be between the allegation and today."))
    allegation.outcome, allegation.outcome_on = outcome, outcome_on
    allegation.normal_pension_on = normal_pension_on
    allegation.closed_at = allegation.closed_at or utcnow()
    session.flush()
    audit.record("allegation.outcome_recorded", actor=actor, target=allegation, outcome=outcome,
                 outcome_on=outcome_on.isoformat(), pension_date_recorded=normal_pension_on is not None)


def update_notes(allegation: StaffAllegation, *, actor: Person, notes: str) -> None:
    """A low-level concern's notes (what was done)."""
    notes = (notes or "").strip()
    if not notes:
        raise AllegationError(N_("Write what was done, or leave the page without saving."))
    if len(notes) > MAX_TEXT:
        raise AllegationError(_("The notes are too long (at most %(num)s characters).", num=MAX_TEXT))
    allegation.notes = notes
    session.flush()
    audit.record("allegation.notes_updated", actor=actor, target=allegation, kind=allegation.kind)


__all__ = ["AllegationError", "case_manager_for", "existing", "mark", "may_mark", "may_open_log", "may_see",
           "notify", "record_lado", "record_outcome", "source_of", "update_notes", "visible"]
