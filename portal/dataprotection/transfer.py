"""Moving school: a pupil's safeguarding records as a sealed transfer pack for the receiving school.

KCSIE asks the DSL to transfer a child's child-protection file to the new school as soon as
possible, separately from the main pupil file, within 5 school days of an in-year move (or the
first 5 days of a new term), and to get confirmation of receipt. The pack is a PDF/A-3b sealed with
the school's own certificate (as signed records are), with each safeguarding concern and pupil-started
contact incident (their words, thread, notes and history) and the files sent with them attached;
it is kept in the school's write-once archive. The DSL downloads it, sends it securely, and records
who received it and when. The deadline counts school days (weekends, bank holidays in England and
the school's closures do not count, so a move in the holidays counts from the new term).
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import render_template
from flask_babel import gettext
from sqlalchemy import select

from portal import audit
from portal.concerns.models import Concern, Route
from portal.concerns.schooldays import add_school_days, uk_today
from portal.concerns.storage import path_of
from portal.dataprotection.models import Departure, TransferPack
from portal.db import session, utcnow
from portal.i18n import DEFAULT, LANGUAGES, in_language, language_of
from portal.incidents.models import ContactIncident
from portal.people.models import Person, PupilProfile, Role
from portal.schools.models import School
from portal.templating import N_

#: School days the receiving school should have the file within (KCSIE).
TRANSFER_SCHOOL_DAYS = 5


class TransferError(ValueError):
    """A pack cannot be made or a receipt recorded as asked (the message says why)."""


def due_date(moved_on: dt.date) -> dt.date:
    """Five school days after the move."""
    return add_school_days(moved_on, TRANSFER_SCHOOL_DAYS)


def safeguarding_records(pupil: Person) -> tuple[list[Concern], list[ContactIncident]]:
    """The pupil's safeguarding concerns and the contact incidents the pupil started (the DSL's)."""
    concerns = list(session.scalars(select(Concern).where(Concern.child_id == pupil.id,
                                                          Concern.route == Route.SAFEGUARDING.value)
                                    .order_by(Concern.created_at, Concern.id)))
    incidents = list(session.scalars(select(ContactIncident).where(ContactIncident.pupil_id == pupil.id,
                                                                   ContactIncident.routed_to == "dsl")
                                     .order_by(ContactIncident.created_at, ContactIncident.id)))
    return concerns, incidents


def _pack_json(pupil: Person, profile: PupilProfile | None, destination: str, moved_on: dt.date,
               concerns: list[Concern], incidents: list[ContactIncident]) -> dict[str, Any]:
    school = School.get()
    return {
        "format": "countersign-safeguarding-transfer",
        "format_version": 1,
        "from_school": {"name": school.name if school else None, "urn": school.urn if school else None},
        "to_school": destination,
        "moved_on": moved_on.isoformat(),
        "pupil": {"name": pupil.full_name, "external_id": pupil.external_id,
                  "date_of_birth": profile.date_of_birth.isoformat() if profile else None},
        "concerns": [{
            "reference": c.reference, "raised_at": c.created_at.isoformat(), "raised_by": c.raised_by.full_name,
            "category": c.category, "subject": c.subject, "description": c.description, "status": c.status,
            "messages": [{"at": m.created_at.isoformat(), "author": m.author.full_name, "internal": m.internal,
                          "body": m.body} for m in c.messages],
            "history": [{"at": e.created_at.isoformat(), "kind": e.kind, "old": e.old_value, "new": e.new_value}
                        for e in c.events],
            "files": [{"name": a.original_name, "sha256": a.sha256} for a in c.attachments],
        } for c in concerns],
        "contact_incidents": [{
            "reference": i.reference, "occurred_on": i.occurred_on.isoformat(), "kind": i.kind,
            "adult": i.adult.full_name, "platform": i.platform, "summary": i.summary,
            "recorded_by": i.recorded_by.full_name, "recorded_at": i.created_at.isoformat(),
            "timeline": [{"at": a.at.isoformat(), "text": a.text} for a in i.actions],
        } for i in incidents],
    }


def make_pack(pupil: Person, *, destination: str, moved_on: dt.date, actor: Person) -> TransferPack:
    """Render, seal and archive the pack; record the move as the pupil's leaving date if none is.

    :raises TransferError: for someone who is not a pupil, no receiving school, or a move date
        more than a year away.
    """
    from portal.records.archive import archive_store
    from portal.records.pdf import render_pdf
    from portal.records.seal import seal_pdf

    if Role.PUPIL not in pupil.role_set:
        raise TransferError(N_("A transfer pack is made for a pupil."))
    destination = (destination or "").strip()
    if not destination:
        raise TransferError(N_("Name the school the pupil is moving to."))
    if len(destination) > 200:
        raise TransferError(N_("The school's name is too long (at most 200 characters)."))
    if moved_on > uk_today() + dt.timedelta(days=366):
        raise TransferError(N_("The move is more than a year away; make the pack nearer the time."))
    concerns, incidents = safeguarding_records(pupil)
    profile = session.get(PupilProfile, pupil.id)
    data = _pack_json(pupil, profile, destination, moved_on, concerns, incidents)
    due_on = due_date(moved_on)
    school = School.get()
    # The sealed pack is written in the language of the person who makes it (as a signer's record is),
    # and so are the descriptions of the files inside it.
    code = language_of(actor)
    with in_language(code):
        files: list[tuple[str, bytes, str]] = [("transfer.json", json.dumps(data, indent=2, sort_keys=True,
                                                                              ensure_ascii=False).encode(),
                                                gettext("The pack's contents as JSON"))]
        for c in concerns:
            for n, att in enumerate(c.attachments, start=1):
                path = path_of(att.stored_name)
                if path.is_file():
                    files.append((f"{c.reference}-{n}-{att.original_name}", path.read_bytes(),
                                  gettext("File sent with concern %(ref)s", ref=c.reference)))
        html = render_template("portal/dataprotection/transfer_pack_pdf.html", data=data, pupil=pupil,
                               profile=profile, concerns=concerns, incidents=incidents, school=school,
                               destination=destination, moved_on=moved_on, due_on=due_on, made_at=utcnow(),
                               record_language=LANGUAGES.get(code, LANGUAGES[DEFAULT]))
    pdf = render_pdf(html, files=tuple(files))
    sealed = seal_pdf(pdf, reason=f"Safeguarding transfer pack for {destination}"[:200],
                      location=school.name if school else None).pdf
    sha = archive_store().put(sealed)
    pack = TransferPack(pupil_id=pupil.id, destination=destination, moved_on=moved_on, due_on=due_on,
                        pdf_sha256=sha, size=len(sealed), created_by_id=actor.id,
                        contents={"concerns": len(concerns), "contact_incidents": len(incidents),
                                  "files": len(files) - 1})
    session.add(pack)
    if session.scalar(select(Departure.id).where(Departure.person_id == pupil.id)) is None:
        session.add(Departure(person_id=pupil.id, left_on=moved_on, destination=destination,
                              recorded_by_id=actor.id))
    session.flush()
    audit.record("transfer_pack.made", actor=actor, target=pack, pupil_id=pupil.id, sha256=sha, size=len(sealed),
                 concerns=len(concerns), contact_incidents=len(incidents), due_on=due_on.isoformat())
    return pack


def pack_pdf(pack: TransferPack) -> bytes:
    from portal.records.archive import archive_store

    return archive_store().get(pack.pdf_sha256)


def record_receipt(pack: TransferPack, *, actor: Person, received_on: dt.date, received_by: str,
                   reference: str = "") -> None:
    """Proof that the receiving school has the pack."""
    received_by, reference = (received_by or "").strip(), (reference or "").strip()
    if not received_by:
        raise TransferError(N_("Name the person at the receiving school who confirmed they have it."))
    if received_on > uk_today():
        raise TransferError(N_("The date of receipt cannot be in the future."))
    if received_on < uk_today(pack.created_at):
        raise TransferError(N_("The pack cannot have been received before it was made."))
    if len(received_by) > 200 or len(reference) > 200:
        raise TransferError(N_("The name or the reference is too long (at most 200 characters)."))
    pack.received_on, pack.received_by, pack.receipt_reference = received_on, received_by, reference
    pack.receipt_recorded_at, pack.receipt_recorded_by_id = utcnow(), actor.id
    session.flush()
    audit.record("transfer_pack.received", actor=actor, target=pack, received_on=received_on.isoformat(),
                 late=received_on > pack.due_on)


def overdue(pack: TransferPack, today: dt.date | None = None) -> bool:
    return pack.received_on is None and (today or uk_today()) > pack.due_on


__all__ = ["TRANSFER_SCHOOL_DAYS", "TransferError", "due_date", "make_pack", "overdue", "pack_pdf",
           "record_receipt", "safeguarding_records"]
