"""Subject access requests: everything the portal holds about a person, as a ZIP.

A request names its *subject* (whose data) and its *requester*: the subject themselves, or a parent
asking about their own child. :func:`collect` gathers, for the subject: their account and roles,
family links, signatures with their sealed PDFs, consent history, concerns they raised (with the
replies and the files they sent) and concerns about them, family-link declarations, classroom
entries, incidents and the audit entries about them. Safeguarding records (safeguarding concerns,
pupil-started contact incidents, allegations and low-level concerns, transfer packs) are left out
unless the DSL has included them.

The ZIP holds ``index.html`` (readable in any browser, no scripts), ``data.json`` (the same, for
machines), ``records/`` (sealed PDFs as archived) and ``files/`` (files the subject sent). Names of
other people found in concerns and incidents (linked to them, or written in their words) are
listed under "Redaction review": someone must read them and decide what to redact before the copy
is released. The request's deadline is one calendar month from receipt; making, reviewing and
releasing it are audited.
"""
from __future__ import annotations

import datetime as dt
import enum
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from flask import render_template
from flask_babel import gettext, ngettext
from sqlalchemy import or_, select

from portal import audit
from portal.audit.models import AuditEntry
from portal.classroom.models import ClassroomEntry, ClassroomSession
from portal.concerns.models import About, Concern, Route, Stage, Status
from portal.concerns.schooldays import uk_today
from portal.dataprotection.dates import one_calendar_month
from portal.dataprotection.models import Departure, StaffAllegation, SubjectAccessRequest, TransferPack
from portal.db import session, utcnow
from portal.i18n import DEFAULT, LANGUAGES, in_language, language_of
from portal.ids import row_id
from portal.incidents.models import ContactIncident
from portal.links.models import FamilyLinkDeclaration, LinkStatus
from portal.people.models import GuardianLink, Person, PupilProfile, Role
from portal.policies.models import ConsentItem
from portal.records.models import SignedRecord
from portal.schools.models import School
from portal.security import designations
from portal.signatures.models import ConsentAnswer, Signature
from portal.templating import N_

FORMAT = "countersign-subject-access"


class SarError(ValueError):
    """A request cannot be made, reviewed or released as asked (the message says why)."""


# ------------------------------------------------------------------ the request


def find_person(ident: str) -> Person:
    """A person of the current school by email, MIS identifier or ``#id``.

    :raises SarError: when nobody (or more than one person) matches.
    """
    ident = (ident or "").strip()
    if not ident:
        raise SarError(N_("Name the person: their email address, MIS identifier or #id."))
    if ident.startswith("#") and ident[1:].isdigit():
        person = session.get(Person, row_id(ident[1:]) or 0)
        matches = [person] if person else []
    else:
        matches = list(session.scalars(select(Person).where(or_(Person.email == ident.lower(),
                                                                Person.external_id == ident))))
    if len(matches) != 1:
        raise SarError(gettext("There is no one in this school matching %(text)s.", text=repr(ident)) if not matches
                       else gettext("More than one person matches %(text)s; use their #id.", text=repr(ident)))
    return matches[0]


def is_guardian(parent: Person, pupil: Person) -> bool:
    return session.scalar(select(GuardianLink.id).where(GuardianLink.parent_id == parent.id,
                                                        GuardianLink.pupil_id == pupil.id)) is not None


def create_request(subject: Person, requester: Person, *, received_on: dt.date, actor: Any) -> SubjectAccessRequest:
    """Record a request received on *received_on*; its deadline is one calendar month later.

    :raises SarError: when the requester is neither the subject nor a parent of the subject, or
        the date is in the future.
    """
    if requester.id != subject.id and not is_guardian(requester, subject):
        raise SarError(N_("A request is made by the person themselves, or by a parent for their own child."))
    if received_on > uk_today():
        raise SarError(N_("The date the request was received cannot be in the future."))
    req = SubjectAccessRequest(subject_id=subject.id, requester_id=requester.id, received_on=received_on,
                               due_on=one_calendar_month(received_on), created_by_id=getattr(actor, "id", None))
    session.add(req)
    session.flush()
    audit.record("sar.received", actor=actor, target=req, subject_id=subject.id, requester_id=requester.id,
                 received_on=received_on.isoformat(), due_on=req.due_on.isoformat())
    return req


def set_safeguarding(req: SubjectAccessRequest, include: bool, *, actor: Any) -> None:
    """The DSL includes (or leaves out) safeguarding records; the view checks the DSL's capability."""
    if req.released_at is not None:
        raise SarError(N_("This request has been released; make a new one to send more."))
    req.include_safeguarding = include
    req.safeguarding_decided_at, req.safeguarding_decided_by_id = utcnow(), getattr(actor, "id", None)
    req.redaction_reviewed_at = req.redaction_reviewed_by_id = None  # the copy changed: review it again
    req.redactions = []
    session.flush()
    audit.record("sar.safeguarding_decided", actor=actor, target=req, include=include)


def mark_reviewed(req: SubjectAccessRequest, *, actor: Any, confirmed: bool,
                  redact: list[str] | tuple[str, ...] = ()) -> None:
    """The flagged names have been read; *redact* are the names to take out of the released copy
    (they must be among the flagged names)."""
    if req.released_at is not None:
        raise SarError(N_("This request has been released already."))
    if not confirmed:
        raise SarError(N_("Tick the box to confirm that the names flagged for redaction have been reviewed."))
    found = collect(req.subject, req.requester, include_safeguarding=req.include_safeguarding, viewer=actor)
    if found.about_viewer:
        # Walk and review: the Head "reviewed" the copy without the records about them, and a colleague then
        # released the whole copy with names nobody had reviewed.
        raise SarError(N_("Some of these records are about you, so you cannot review or release this copy. "
                          "Another member of staff who manages data protection must do it."))
    flagged = {f["name"] for f in found.redaction}
    unknown = [n for n in redact if n not in flagged]
    if unknown:
        raise SarError(N_("Only names flagged for review can be redacted."))
    req.redactions = sorted(set(redact))
    req.redaction_reviewed_at, req.redaction_reviewed_by_id = utcnow(), getattr(actor, "id", None)
    session.flush()
    audit.record("sar.redaction_reviewed", actor=actor, target=req, redacted=len(req.redactions))


def release(req: SubjectAccessRequest, *, actor: Any, method: str, today: dt.date | None = None) -> bytes:
    """Mark the request released; returns the ZIP given (its SHA-256 is kept and audited)."""
    if req.released_at is not None:
        raise SarError(N_("This request has been released already."))
    if collect(req.subject, req.requester, include_safeguarding=req.include_safeguarding,
               viewer=actor).about_viewer:
        raise SarError(N_("Some of these records are about you, so you cannot review or release this copy. "
                          "Another member of staff who manages data protection must do it."))
    if req.redaction_reviewed_at is None:
        raise SarError(N_("Review the names flagged for redaction before releasing the copy."))
    method = (method or "").strip()
    if not method:
        raise SarError(N_("Say how the copy is given (for example: by hand, or by secure email)."))
    if len(method) > 200:
        raise SarError(N_("Keep the description of how it is given under 200 characters."))
    data = build_zip(req, for_release=True, viewer=actor)
    req.released_at, req.released_by_id = utcnow(), getattr(actor, "id", None)
    req.release_method, req.release_sha256 = method, hashlib.sha256(data).hexdigest()
    session.flush()
    late = (today or uk_today()) > req.due_on
    audit.record("sar.released", actor=actor, target=req, sha256=req.release_sha256, size=len(data), late=late)
    return data


def overdue(req: SubjectAccessRequest, today: dt.date | None = None) -> bool:
    return req.released_at is None and (today or uk_today()) > req.due_on


# ------------------------------------------------------------------ what is held


@dataclass
class Collected:
    data: dict[str, Any]
    #: (path in the ZIP, bytes)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    redaction: list[dict[str, Any]] = field(default_factory=list)
    #: What was left out, in words (safeguarding records the DSL has not included).
    withheld: list[str] = field(default_factory=list)
    #: The same, as (kind, count) pairs: the index page words them in the reader's language
    #: (:func:`withheld_text`); ``data.json`` keeps the English above.
    withheld_counts: list[tuple[str, int]] = field(default_factory=list)
    #: Concerns about the person preparing the copy, left out of it (see :func:`collect`).
    about_viewer: int = 0

    def withhold(self, kind: str, count: int, english: str) -> None:
        self.withheld.append(english)
        self.withheld_counts.append((kind, count))


def withheld_text(kind: str, num: int) -> str:
    """What was left out of a copy, in the current language ("2 safeguarding concerns")."""
    if kind == "concerns":
        return ngettext("%(num)s safeguarding concern", "%(num)s safeguarding concerns", num)
    if kind == "incidents":
        return ngettext("%(num)s contact incident routed to the DSL or marked as an allegation",
                        "%(num)s contact incidents routed to the DSL or marked as allegations", num)
    if kind == "allegations":
        return ngettext("%(num)s allegation or low-level concern record",
                        "%(num)s allegation or low-level concern records", num)
    if kind == "packs":
        return ngettext("%(num)s safeguarding transfer pack", "%(num)s safeguarding transfer packs", num)
    return ngettext("%(num)s sealed PDF naming someone else (the details are in data.json, with the other "
                    "person's name redacted)",
                    "%(num)s sealed PDFs naming someone else (the details are in data.json, with the other "
                    "person's name redacted)", num)


def _label_of(kind: type[enum.Enum]) -> Any:
    """A template helper: a stored key (``"in_progress"``) as its label in the page's language;
    data.json keeps the keys, and an unknown key is shown as it is."""
    def label(key: Any) -> str:
        try:
            return gettext(kind(key).label)  # type: ignore[attr-defined]
        except ValueError:
            return str(key)
    return label


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _name(person: Person | None) -> str | None:
    return person.full_name if person is not None else None


class _Names:
    """Spots other people of the school named in free text (for the redaction review)."""

    def __init__(self, exclude: set[int]) -> None:
        self.people: list[tuple[int, str, re.Pattern[str], re.Pattern[str] | None]] = []
        for p in session.scalars(select(Person)):
            if p.id in exclude:
                continue
            full = re.compile(r"\b" + re.escape(p.full_name) + r"\b", re.IGNORECASE)
            given = re.compile(r"\b" + re.escape(p.given_name) + r"\b") if len(p.given_name) >= 3 else None
            self.people.append((p.id, p.full_name, full, given))
        self.exclude = exclude

    def found(self, where: str, text: str | None) -> list[dict[str, str]]:
        out = []
        for _pid, name, full, given in self.people:
            if not text:
                break
            if full.search(text):
                out.append({"name": name, "where": where, "how": "full name written"})
            elif given is not None and given.search(text):
                out.append({"name": name, "where": where, "how": "first name written (check who is meant)"})
        return out

    def linked(self, role: str, person: Person | None) -> list[dict[str, str]]:
        if person is None or person.id in self.exclude:
            return []
        return [{"name": person.full_name, "where": role, "how": "linked to the record"}]


def collect(subject: Person, requester: Person | None = None, *, include_safeguarding: bool = False,
            day: dt.date | None = None, viewer: Person | None = None) -> Collected:
    """Everything the school's portal holds about *subject* (see the module docstring).

    *viewer* is the member of staff preparing the copy (None: the installation's operator, from the command
    line). Concerns about them, which they may not read (a complaint about the Head Teacher goes to the chair
    of governors), are left out of their copies and counted in ``about_viewer``: someone else must prepare
    the request (:func:`release` refuses). Finding: the Head read complaints about themselves, with the
    chair's internal notes, in a subject access request's copy."""
    from portal.records.archive import ArchiveError, archive_store

    requester = requester or subject
    me = {subject.id, requester.id}
    names = _Names(me)
    school = School.get()
    out = Collected({})
    d = out.data
    d["format"], d["format_version"] = FORMAT, 1
    d["school"] = {"name": school.name if school else None, "urn": school.urn if school else None}
    d["generated_on"] = (day or uk_today()).isoformat()
    d["subject"] = {"id": subject.id, "name": subject.full_name}
    d["requested_by"] = {"name": requester.full_name,
                         "relationship": N_("the person themselves") if requester.id == subject.id
                         else N_("parent or carer")}
    account = subject.account
    departure = session.scalar(select(Departure).where(Departure.person_id == subject.id))
    d["person"] = {
        "given_name": subject.given_name, "family_name": subject.family_name, "email": subject.email,
        "mis_identifier": subject.external_id, "active": subject.active, "created_at": _iso(subject.created_at),
        "roles": sorted(r.role for r in subject.roles),
        "sign_in": {"email": account.email, "created_at": _iso(account.created_at)} if account else None,
        "left_on": _iso(departure.left_on) if departure else None,
    }
    profile = session.get(PupilProfile, subject.id)
    d["pupil"] = None if profile is None else {
        "year_group": profile.year_group, "date_of_birth": _iso(profile.date_of_birth), "send": profile.send,
        "class": profile.school_class.name if profile.school_class else None}
    children = session.scalars(select(GuardianLink).where(GuardianLink.parent_id == subject.id)).all()
    parents = session.scalars(select(GuardianLink).where(GuardianLink.pupil_id == subject.id)).all()
    d["family"] = {"children": [{"name": g.pupil.full_name, "relationship": g.relationship_label} for g in children],
                   "parents_and_carers": [{"name": g.parent.full_name, "relationship": g.relationship_label}
                                          for g in parents]}
    for g in parents:
        out.redaction.extend({**n, "record": "Family"} for n in names.linked("parent or carer", g.parent))

    # Signatures and their sealed PDFs.
    store = archive_store()
    sigs = session.scalars(select(Signature).where(or_(Signature.signer_id == subject.id,
                                                       Signature.on_behalf_of_id == subject.id))
                           .order_by(Signature.signed_at, Signature.id)).all()
    d["signatures"] = []
    for s in sigs:
        version = s.version
        policy = version.policy
        record = session.scalar(select(SignedRecord).where(SignedRecord.signature_id == s.id))
        pdf_name = None
        if record is not None and record.is_sealed and record.pdf_sha256:
            try:
                out.files.append((f"records/signature-{s.id}.pdf", store.get(record.pdf_sha256)))
                pdf_name = f"records/signature-{s.id}.pdf"
            except ArchiveError:
                pdf_name = None
        d["signatures"].append({
            "id": s.id, "policy": version.title, "audience": policy.audience, "version": version.number,
            "decision": s.decision, "decline_reason": s.decline_reason, "signed_at": _iso(s.signed_at),
            "signed_by": s.signer.full_name, "typed_name": s.signed_name, "on_behalf_of": _name(s.on_behalf_of),
            "method": s.method, "ip": s.ip, "user_agent": s.user_agent, "academic_year": s.academic_year,
            "witness": _name(s.witness), "text_sha256": s.text_sha256, "sealed_pdf": pdf_name,
            "sealed_pdf_sha256": record.pdf_sha256 if record is not None else None,
            "consents": [{"question": a.consent_item.question, "answer": a.answer} for a in s.consent_answers],
        })
        if s.signer_id not in me:
            out.redaction.extend({**n, "record": f"Signature {s.id}"} for n in names.linked("signed by", s.signer))

    answers = session.scalars(
        select(ConsentAnswer).join(ConsentItem, ConsentAnswer.consent_item_id == ConsentItem.id)
        .where(or_(ConsentAnswer.person_id == subject.id, ConsentAnswer.pupil_id == subject.id))
        .order_by(ConsentAnswer.answered_at, ConsentAnswer.id)).all()
    d["consent_history"] = []
    for a in answers:
        by = session.get(Person, a.person_id)
        d["consent_history"].append({"question": a.consent_item.question, "answer": a.answer,
                                     "answered_at": _iso(a.answered_at), "answered_by": _name(by),
                                     "about": _name(session.get(Person, a.pupil_id)) if a.pupil_id else None})
        if a.person_id not in me:
            out.redaction.extend({**n, "record": f"Consent answer {a.id}"} for n in names.linked("answered by", by))

    # Concerns: raised by them, about their child (them), or about them as staff.
    allegation_concerns = set(session.scalars(select(StaffAllegation.concern_id)
                                              .where(StaffAllegation.concern_id.is_not(None))))
    concerns = session.scalars(select(Concern).where(or_(
        Concern.raised_by_id == subject.id, Concern.child_id == subject.id, Concern.about_person_id == subject.id))
        .order_by(Concern.created_at, Concern.id)).all()
    d["concerns"] = []
    held_back = 0
    left_out: set[str] = set()  # ids of the concerns about the viewer: their audit entries stay out too
    viewer_is_head = viewer is not None and "head_teacher" in designations(viewer)
    for c in concerns:
        if viewer is not None and (c.about_person_id == viewer.id
                                   or (viewer_is_head and c.about == About.HEAD_TEACHER.value)):
            out.about_viewer += 1
            left_out.add(str(c.id))
            continue
        safeguarding = c.route == Route.SAFEGUARDING.value or c.id in allegation_concerns
        if safeguarding and not include_safeguarding:
            held_back += 1
            continue
        entry = {
            "reference": c.reference, "raised_at": _iso(c.created_at), "raised_by": c.raised_by.full_name,
            "about_child": _name(c.child), "about_staff": _name(c.about_person), "category": c.category,
            "subject": c.subject, "description": c.description, "status": c.status, "stage": c.stage,
            "safeguarding": safeguarding,
            "messages": [{"at": _iso(m.created_at), "from": m.author.full_name, "body": m.body,
                          "staff_note": m.internal} for m in c.messages],
            "files": [],
        }
        ref = f"Concern {c.reference}"
        flags = names.linked("raised by", c.raised_by) + names.linked("about (child)", c.child) \
            + names.linked("about (staff)", c.about_person) + names.found("subject", c.subject) \
            + names.found("description", c.description)
        for m in c.messages:
            flags += names.found(f"message of {_iso(m.created_at)[:10]}", m.body)
        if c.raised_by_id == subject.id:
            from portal.concerns.storage import path_of

            for n, att in enumerate(c.attachments, start=1):
                path = path_of(att.stored_name)
                if path.is_file():
                    name = f"files/{c.reference}-{n}-{att.original_name}"
                    out.files.append((name, path.read_bytes()))
                    entry["files"].append(name)
        d["concerns"].append(entry)
        out.redaction.extend({**f, "record": ref} for f in _unique(flags))
    if held_back:
        out.withhold("concerns", held_back, f"{held_back} safeguarding concern(s)")
    if out.about_viewer:
        d["left_out_for_whoever_prepared_it"] = {"concerns": out.about_viewer}

    # Incidents.
    incidents = session.scalars(select(ContactIncident).where(or_(ContactIncident.pupil_id == subject.id,
                                                                  ContactIncident.adult_id == subject.id))
                                .order_by(ContactIncident.created_at, ContactIncident.id)).all()
    allegation_incidents = set(session.scalars(select(StaffAllegation.contact_incident_id)
                                               .where(StaffAllegation.contact_incident_id.is_not(None))))
    d["incidents"] = []
    held_back = 0
    for i in incidents:
        safeguarding = i.routed_to == "dsl" or i.id in allegation_incidents
        if safeguarding and not include_safeguarding:
            held_back += 1
            continue
        d["incidents"].append({
            "reference": i.reference, "occurred_on": _iso(i.occurred_on), "kind": i.kind_label,
            "direction": i.direction_label, "pupil": i.pupil.full_name, "adult": i.adult.full_name,
            "platform": i.platform, "summary": i.summary, "recorded_by": i.recorded_by.full_name,
            "closed_at": _iso(i.closed_at), "timeline": [{"at": _iso(a.at), "text": a.text} for a in i.actions]})
        flags = names.linked("pupil", i.pupil) + names.linked("adult", i.adult) \
            + names.linked("recorded by", i.recorded_by) + names.found("summary", i.summary)
        for action in i.actions:
            flags += names.found("timeline", action.text)
        out.redaction.extend({**f, "record": f"Contact incident {i.reference}"} for f in _unique(flags))
    if held_back:
        out.withhold("incidents", held_back,
                     f"{held_back} contact incident(s) routed to the DSL or marked as allegations")

    # Allegations and low-level concerns about them; transfer packs (safeguarding records).
    allegations = session.scalars(select(StaffAllegation).where(StaffAllegation.about_person_id == subject.id)
                                  .order_by(StaffAllegation.id)).all()
    packs = session.scalars(select(TransferPack).where(TransferPack.pupil_id == subject.id)).all()
    if include_safeguarding:
        d["allegations"] = [{
            "reference": a.reference, "kind": a.kind_label, "reported_on": _iso(a.reported_on),
            "lado_consulted_on": _iso(a.lado_consulted_on), "lado_reference": a.lado_reference,
            "lado_advice": a.lado_advice, "outcome": a.outcome_label if a.outcome else None,
            "outcome_on": _iso(a.outcome_on), "notes": a.notes} for a in allegations]
        for al in allegations:
            flags = names.found("LADO advice", al.lado_advice) + names.found("notes", al.notes)
            out.redaction.extend({**f, "record": f"{al.kind_label} {al.reference}"} for f in _unique(flags))
        d["transfer_packs"] = [{"reference": p.reference, "destination": p.destination, "moved_on": _iso(p.moved_on),
                                "received_on": _iso(p.received_on)} for p in packs]
    else:
        if allegations:
            out.withhold("allegations", len(allegations),
                         f"{len(allegations)} allegation or low-level concern record(s)")
        if packs:
            out.withhold("packs", len(packs), f"{len(packs)} safeguarding transfer pack(s)")

    links = session.scalars(select(FamilyLinkDeclaration).where(or_(
        FamilyLinkDeclaration.declared_by_id == subject.id, FamilyLinkDeclaration.adult_id == subject.id,
        FamilyLinkDeclaration.pupil_id == subject.id)).order_by(FamilyLinkDeclaration.id)).all()
    d["family_links"] = [{"adult": link.adult_label, "pupil": link.pupil_label,
                          "relationship": link.relationship_label, "note": link.note, "status": link.status,
                          "declared_at": _iso(link.created_at), "declared_by": link.declared_by.full_name,
                          "decision_reason": link.decision_reason} for link in links]
    for link in links:
        flags = names.linked("adult", link.adult) + names.linked("pupil", link.pupil) + names.found("note", link.note)
        out.redaction.extend({**f, "record": f"Family link {link.id}"} for f in _unique(flags))

    entries = session.execute(select(ClassroomEntry, ClassroomSession).join(
        ClassroomSession, ClassroomEntry.session_id == ClassroomSession.id)
        .where(ClassroomEntry.pupil_id == subject.id).order_by(ClassroomEntry.acknowledged_at)).all()
    d["classroom"] = [{"acknowledged_at": _iso(e.acknowledged_at), "class": s.school_class.name,
                       "teacher": s.teacher.full_name, "policy": e.version.title, "ip": e.ip,
                       "device": e.user_agent} for e, s in entries]

    chain = school.id if school else None
    from portal.schools.isolation import all_schools

    with all_schools(session):  # the school's own chain, read by its number
        audit_rows = session.scalars(select(AuditEntry).where(
            AuditEntry.chain == chain,
            or_(AuditEntry.actor_id == subject.id,
                (AuditEntry.target_type == "Person") & (AuditEntry.target_id == str(subject.id))))
            .order_by(AuditEntry.seq)).all()
    audit_rows = [e for e in audit_rows if not (e.target_type == "Concern" and e.target_id in left_out)]
    d["audit_entries"] = [{"at": _iso(e.created_at), "action": e.action, "by_you": e.actor_id == subject.id,
                           "target": f"{e.target_type} {e.target_id}" if e.target_type else None}
                          for e in audit_rows]
    d["withheld"] = out.withheld
    d["redaction_review"] = out.redaction
    return out


def _unique(flags: list[dict[str, str]]) -> list[dict[str, str]]:
    seen, out = set(), []
    for f in flags:
        key = (f["name"], f["where"], f["how"])
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _redact(value: Any, patterns: list[re.Pattern[str]]) -> Any:
    if isinstance(value, str):
        for p in patterns:
            value = p.sub("[redacted]", value)
        return value
    if isinstance(value, list):
        return [_redact(v, patterns) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, patterns) for k, v in value.items()}
    return value


def _apply_redactions(found: Collected, names: list[str]) -> None:
    """The released copy: redacted names replaced everywhere; sealed PDFs naming them withheld
    (a sealed PDF cannot be changed); the reviewer's list of flags left out."""
    found.data.pop("redaction_review", None)
    if not names:
        return
    patterns = [re.compile(r"\b" + re.escape(n) + r"\b", re.IGNORECASE) for n in names]
    withheld = 0
    for s in found.data.get("signatures", []):
        people = " ".join(str(s.get(k) or "") for k in ("signed_by", "typed_name", "on_behalf_of", "witness"))
        if s.get("sealed_pdf") and any(p.search(people) for p in patterns):
            found.files = [(n, b) for n, b in found.files if n != s["sealed_pdf"]]
            s["sealed_pdf"] = None
            withheld += 1
    found.data = _redact(found.data, patterns)
    if withheld:
        found.withheld_counts.append(("sealed_pdfs", withheld))
        found.data["withheld"] = [*found.data.get("withheld", []),
                                  f"{withheld} sealed PDF(s) naming someone else (the details are in data.json, "
                                  "with the other person's name redacted)"]


def build_zip(req_or_subject: SubjectAccessRequest | Person, requester: Person | None = None, *,
              include_safeguarding: bool | None = None, day: dt.date | None = None,
              for_release: bool = False, viewer: Person | None = None) -> bytes:
    """The ZIP for a request (or for a person, from the CLI), as the records are on *day* (default
    today); the same records on the same day give the same bytes.

    The working copy lists the names flagged for redaction review; the copy made *for_release*
    does not, and has the reviewer's chosen names redacted.
    """
    redactions: list[str] = []
    if isinstance(req_or_subject, SubjectAccessRequest):
        req = req_or_subject
        subject, requester = req.subject, req.requester
        include = req.include_safeguarding if include_safeguarding is None else include_safeguarding
        reference = req.reference
        redactions = list(req.redactions or [])
    else:
        subject, requester, include, reference = req_or_subject, requester or req_or_subject, \
            bool(include_safeguarding), None
    day = day or uk_today()
    found = collect(subject, requester, include_safeguarding=include, day=day, viewer=viewer)
    found.data["request"] = reference
    if for_release:
        _apply_redactions(found, redactions)
    # The copy's index page is written in the language of the person who asked for it.
    code = language_of(requester)
    with in_language(code):
        withheld = [withheld_text(kind, num) for kind, num in found.withheld_counts]
        index = render_template("portal/dataprotection/sar_index.html", d=found.data, files=found.files,
                                withheld=withheld, role_label=_label_of(Role),
                                concern_status=_label_of(Status), concern_stage=_label_of(Stage),
                                link_status=_label_of(LinkStatus),
                                reference=reference, for_release=for_release,
                                page_language=LANGUAGES.get(code, LANGUAGES[DEFAULT]))
    stamp = (day.year, day.month, day.day, 0, 0, 0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in [("index.html", index.encode("utf-8")),
                           ("data.json", json.dumps(found.data, indent=2, sort_keys=True, ensure_ascii=False)
                            .encode("utf-8")), *found.files]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


__all__ = ["Collected", "SarError", "build_zip", "collect", "create_request", "find_person", "is_guardian",
           "mark_reviewed",
           "overdue", "release", "set_safeguarding"]
