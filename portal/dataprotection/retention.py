"""The disposal run: apply the retention schedule to one school's records.

:func:`run` finds, for every record type, the records whose period has passed on *today* (the
clock is a parameter, so tests and a late run behave the same), skips everything under an active
legal hold, and then deletes, anonymises or asks for a review as the rule says. Every deletion or
anonymisation leaves a tombstone in the school's audit chain (``retention.disposed`` /
``retention.anonymised``: what, when, under which rule, and the SHA-256 of what was removed) and
a :class:`~portal.dataprotection.models.DisposalRecord`. Files (sealed PDFs in the write-once
archive, concern attachments) are removed only after the database commit, through the archive's
explicit ``dispose`` path (:func:`dispose_files`).

The run is idempotent and scoped to one school: running it twice on the same day does nothing
the second time. :func:`run_school` is what the CLI and the scheduled job call.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext, ngettext
from sqlalchemy import delete, func, inspect, select, update

from portal import audit
from portal.audit.models import AuditEntry
from portal.classroom.models import ClassroomEntry, ClassroomSession
from portal.concerns.models import Concern, ConcernAttachment, ConcernEvent, ConcernMessage, Route, Stage
from portal.concerns.schooldays import uk_today
from portal.dataprotection.dates import add_period
from portal.dataprotection.models import (
    Departure,
    DisposalRecord,
    LegalHold,
    RetentionReview,
    StaffAllegation,
    TransferPack,
)
from portal.dataprotection.rules import Rule, effective_rules
from portal.dataprotection.schedule import BY_KEY, N_, ORDER, Action
from portal.db import session, utcnow
from portal.incidents.models import ContactIncident, IncidentAction, SocialMediaIncident
from portal.links.models import FamilyLinkDeclaration, LinkConfirmation
from portal.people.models import Account, GuardianLink, Person, PersonRole, PupilProfile
from portal.policies.models import Policy, PolicyVersion
from portal.records.models import SignedRecord
from portal.schools.isolation import all_schools, current_school_id, school_scope
from portal.schools.models import School, TrustMembership
from portal.signatures.models import ConsentAnswer, Signature

log = logging.getLogger("portal.dataprotection")

#: What an anonymised free-text field says instead.
REMOVED = "Removed under the school's retention schedule."

#: The shapes of a candidate's (and a review's) English ``summary``, and the whole phrase for each, so a
#: page can show a stored summary in its own language (:func:`summary_text`).
_SUMMARIES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), phrase) for p, phrase in (
    (r"^Signature record (?P<ref>\S+)$", N_("Signature record %(ref)s")),
    (r"^Consent answer (?P<ref>\S+)$", N_("Consent answer %(ref)s")),
    (r"^Concern (?P<ref>\S+)$", N_("Concern %(ref)s")),
    (r"^File (?P<file>\S+) of concern (?P<ref>\S+)$", N_("File %(file)s of concern %(ref)s")),
    (r"^Contact incident (?P<ref>\S+)$", N_("Contact incident %(ref)s")),
    (r"^Social-media incident (?P<ref>\S+)$", N_("Social-media incident %(ref)s")),
    (r"^Allegation (?P<ref>\S+)$", N_("Allegation %(ref)s")),
    (r"^Low-level concern (?P<ref>\S+)$", N_("Low-level concern %(ref)s")),
    (r"^Transfer pack (?P<ref>\S+)$", N_("Transfer pack %(ref)s")),
    (r"^Family link (?P<ref>\S+)$", N_("Family link %(ref)s")),
    (r"^Family-link confirmation (?P<ref>\S+)$", N_("Family-link confirmation %(ref)s")),
    (r"^Classroom session (?P<ref>\S+)$", N_("Classroom session %(ref)s")),
    (r"^Person (?P<ref>\S+)$", N_("Person %(ref)s")),
))
_AUDIT_SUMMARY = re.compile(r"^Audit log entries of (?P<year>\d+) \((?P<num>\d+) entries\)$")


def summary_text(summary: str) -> str:
    """A stored English summary ("Concern C-00012") in the current language; anything else unchanged."""
    m = _AUDIT_SUMMARY.match(summary)
    if m:
        return ngettext("Audit log entries of %(year)s (%(num)s entry)",
                        "Audit log entries of %(year)s (%(num)s entries)", int(m["num"]), year=m["year"])
    for pattern, phrase in _SUMMARIES:
        m = pattern.match(summary)
        if m:
            return gettext(phrase, **m.groupdict())
    return summary

HoldKey = tuple[str, int]


class DisposalError(RuntimeError):
    """A record cannot be disposed of as asked (the message says why; nothing was written)."""


@dataclass
class Candidate:
    """One record under a rule: when its clock started and who or what it is about."""

    record_type: str
    target_type: str
    target_id: int
    #: When the clock started (``None``: not yet, e.g. still open or the person has not left).
    trigger_on: dt.date | None
    #: A reference without names or words, e.g. "Concern C-00012".
    summary: str
    holds: frozenset[HoldKey] = frozenset()
    #: Never disposed of before this day (an adult's normal pension age).
    floor_on: dt.date | None = None
    #: Why this record needs a person's decision even under a delete rule.
    review_note: str = ""
    #: The adult the record is about (never reviews it).
    about_person_id: int | None = None

    def due_on(self, rule: Rule) -> dt.date | None:
        if self.trigger_on is None:
            return None
        due = add_period(self.trigger_on, rule.period, rule.unit)
        if self.floor_on is not None and self.floor_on > due:
            due = self.floor_on
        return due


@dataclass
class Outcome:
    record_type: str
    target_type: str
    target_id: int
    summary: str
    #: ``deleted``, ``anonymised``, ``review`` (a review asked for now), ``waiting`` (a review asked
    #: for earlier, not decided yet), ``held`` (a legal hold) or ``kept`` (a review said keep).
    result: str
    due_on: dt.date | None = None


@dataclass
class Report:
    """What a run did (or, with ``dry_run``, would do)."""

    school_id: int
    today: dt.date
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    #: Files to remove once the database has committed: ("archive", sha) or ("attachment", name).
    files: list[tuple[str, str]] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        parts = [f"{self.count('deleted')} {verb}deleted", f"{self.count('anonymised')} {verb}anonymised",
                 f"{self.count('review')} {'would need' if self.dry_run else 'sent for'} review",
                 f"{self.count('held')} kept under a legal hold"]
        return ", ".join(parts)


# ------------------------------------------------------------------ what the run knows


class Context:
    """Facts read once per run: who has left, dates of birth, holds, what is already anonymised."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        school = School.get()
        self.head_id = school.head_teacher_id if school else None
        self.dsl_id = school.dsl_id if school else None
        self.left: dict[int, dt.date] = dict(session.execute(select(Departure.person_id, Departure.left_on)).all())
        self.dob: dict[int, dt.date] = dict(session.execute(
            select(PupilProfile.person_id, PupilProfile.date_of_birth)).all())
        children: dict[int, list[int]] = defaultdict(list)
        for parent_id, pupil_id in session.execute(select(GuardianLink.parent_id, GuardianLink.pupil_id)):
            children[parent_id].append(pupil_id)
        roles: dict[int, set[str]] = defaultdict(set)
        for person_id, role in session.execute(select(PersonRole.person_id, PersonRole.role)):
            roles[person_id].add(role)
        # A parent leaves when their last child does (unless their own leaving date is recorded);
        # someone who is also staff, a governor or a volunteer stays until their own date is recorded.
        for parent_id, kids in children.items():
            if parent_id not in self.left and kids and all(k in self.left for k in kids) \
                    and roles[parent_id] <= {"parent"}:
                self.left[parent_id] = max(self.left[k] for k in kids)
        self.holds: set[HoldKey] = set()
        for h in session.scalars(select(LegalHold).where(LegalHold.released_at.is_(None))):
            if h.person_id:
                self.holds.add(("person", h.person_id))
            if h.concern_id:
                self.holds.add(("concern", h.concern_id))
            if h.contact_incident_id:
                self.holds.add(("contact", h.contact_incident_id))
            if h.social_incident_id:
                self.holds.add(("social", h.social_incident_id))
        self.anonymised: set[tuple[str, int]] = {(t, i) for t, i in session.execute(
            select(DisposalRecord.target_type, DisposalRecord.target_id)
            .where(DisposalRecord.action == Action.ANONYMISE.value))}
        self.allegation_concerns: set[int] = set(session.scalars(
            select(StaffAllegation.concern_id).where(StaffAllegation.concern_id.is_not(None))))
        self.allegation_contacts: set[int] = set(session.scalars(
            select(StaffAllegation.contact_incident_id).where(StaffAllegation.contact_incident_id.is_not(None))))

    def earliest_leave(self, *people: int | None) -> dt.date | None:
        dates = [self.left[p] for p in people if p is not None and p in self.left]
        return min(dates) if dates else None


def _day(value: dt.datetime | None) -> dt.date | None:
    return uk_today(value) if value is not None else None


def _persons(*ids: int | None) -> set[HoldKey]:
    return {("person", i) for i in ids if i is not None}


# ------------------------------------------------------------------ which records, and when


def _audience_group(audience: str) -> str:
    return "pupil" if audience.startswith("pupil_") else audience


def _signatures(ctx: Context, group: str) -> list[Candidate]:
    rows = session.execute(
        select(Signature.id, Signature.signer_id, Signature.on_behalf_of_id, Signature.signed_at, Policy.audience)
        .join(PolicyVersion, Signature.version_id == PolicyVersion.id)
        .join(Policy, PolicyVersion.policy_id == Policy.id)
        .order_by(Signature.signed_at, Signature.id)).all()
    by_subject: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for r in rows:
        by_subject[(r.on_behalf_of_id or r.signer_id, _audience_group(r.audience))].append(r)
    out = []
    for (subject, grp), sigs in by_subject.items():
        if grp != group:
            continue
        for i, r in enumerate(sigs):
            superseded = _day(sigs[i + 1].signed_at) if i + 1 < len(sigs) else None
            starts = [d for d in (superseded, ctx.left.get(subject)) if d is not None]
            out.append(Candidate(f"signatures_{group}", "Signature", r.id, min(starts) if starts else None,
                                 f"Signature record {r.id}", frozenset(_persons(r.signer_id, r.on_behalf_of_id))))
    return out


def _consents(ctx: Context) -> list[Candidate]:
    from portal.policies.models import ConsentItem

    rows = session.execute(
        select(ConsentAnswer.id, ConsentAnswer.person_id, ConsentAnswer.pupil_id, ConsentAnswer.answered_at,
               ConsentItem.key)
        .join(ConsentItem, ConsentAnswer.consent_item_id == ConsentItem.id)
        .order_by(ConsentAnswer.answered_at, ConsentAnswer.id)).all()
    groups: dict[tuple[int, int | None, str], list[Any]] = defaultdict(list)
    for r in rows:
        groups[(r.person_id, r.pupil_id, r.key)].append(r)
    out = []
    for (person_id, pupil_id, _key), answers in groups.items():
        for i, r in enumerate(answers):
            superseded = _day(answers[i + 1].answered_at) if i + 1 < len(answers) else None
            starts = [d for d in (superseded, ctx.left.get(pupil_id or person_id)) if d is not None]
            out.append(Candidate("consent_answers", "ConsentAnswer", r.id, min(starts) if starts else None,
                                 f"Consent answer {r.id}", frozenset(_persons(person_id, pupil_id))))
    return out


def _concern_class(c: Concern, ctx: Context) -> str:
    if c.id in ctx.allegation_concerns:
        return "allegation"
    if c.route == Route.SAFEGUARDING.value:
        return "safeguarding_concerns"
    if c.stage != Stage.INFORMAL.value:
        return "complaints"
    return f"concerns_{c.category}"


def _concern_closed(c: Concern) -> dt.date | None:
    return _day(c.closed_at or c.resolved_at)


def _concern_holds(c: Concern) -> frozenset[HoldKey]:
    return frozenset({("concern", c.id)} | _persons(c.raised_by_id, c.child_id, c.about_person_id))


def _concerns(ctx: Context, record_type: str) -> list[Candidate]:
    out = []
    for c in session.scalars(select(Concern).order_by(Concern.id)):
        if _concern_class(c, ctx) != record_type or ("Concern", c.id) in ctx.anonymised:
            continue
        trigger: dt.date | None
        if record_type == "safeguarding_concerns" and c.child_id in ctx.dob:
            trigger = ctx.dob[c.child_id]
        else:
            trigger = _concern_closed(c)
        out.append(Candidate(record_type, "Concern", c.id, trigger, f"Concern {c.reference}", _concern_holds(c),
                             about_person_id=c.about_person_id))
    return out


def _attachments(ctx: Context) -> list[Candidate]:
    out = []
    rows = session.execute(select(ConcernAttachment.id, ConcernAttachment.concern_id).order_by(ConcernAttachment.id))
    for att_id, concern_id in rows:
        c = session.get(Concern, concern_id)
        if c is None or not _concern_class(c, ctx).startswith("concerns_"):
            continue
        out.append(Candidate("attachments", "ConcernAttachment", att_id, _concern_closed(c),
                             f"File {att_id} of concern {c.reference}", _concern_holds(c)))
    return out


def _contact_incidents(ctx: Context, record_type: str) -> list[Candidate]:
    route = "dsl" if record_type == "incidents_contact_safeguarding" else "head"
    out = []
    for i in session.scalars(select(ContactIncident).where(ContactIncident.routed_to == route)
                             .order_by(ContactIncident.id)):
        if i.id in ctx.allegation_contacts or ("ContactIncident", i.id) in ctx.anonymised:
            continue
        trigger = ctx.dob.get(i.pupil_id) if route == "dsl" else _day(i.closed_at)
        out.append(Candidate(record_type, "ContactIncident", i.id, trigger, f"Contact incident {i.reference}",
                             frozenset({("contact", i.id)} | _persons(i.pupil_id, i.adult_id)),
                             about_person_id=i.adult_id))
    return out


def _social_incidents(ctx: Context) -> list[Candidate]:
    return [Candidate("incidents_social_media", "SocialMediaIncident", i.id, _day(i.closed_at),
                      f"Social-media incident {i.reference}", frozenset({("social", i.id)}))
            for i in session.scalars(select(SocialMediaIncident).order_by(SocialMediaIncident.id))
            if ("SocialMediaIncident", i.id) not in ctx.anonymised]


def _allegation_holds(a: StaffAllegation) -> set[HoldKey]:
    keys = _persons(a.about_person_id)
    if a.concern_id:
        c = session.get(Concern, a.concern_id)
        keys |= {("concern", a.concern_id)} | (set(_concern_holds(c)) if c else set())
    if a.contact_incident_id:
        i = session.get(ContactIncident, a.contact_incident_id)
        keys |= {("contact", a.contact_incident_id)} | (_persons(i.pupil_id, i.adult_id) if i else set())
    return keys


def _allegations(ctx: Context, kind: str) -> list[Candidate]:
    out = []
    for a in session.scalars(select(StaffAllegation).where(StaffAllegation.kind == kind).order_by(StaffAllegation.id)):
        if kind == "allegation":
            # Stored in English with the review; the reviews page translates it.
            note = "" if a.normal_pension_on else N_("The adult's normal pension age is not recorded: check it "
                                                     "before disposing (KCSIE: keep at least until then).")
            out.append(Candidate("allegations", "StaffAllegation", a.id, a.reported_on, f"Allegation {a.reference}",
                                 frozenset(_allegation_holds(a)), floor_on=a.normal_pension_on, review_note=note,
                                 about_person_id=a.about_person_id))
        else:
            out.append(Candidate("low_level_concerns", "StaffAllegation", a.id, ctx.left.get(a.about_person_id),
                                 f"Low-level concern {a.reference}", frozenset(_allegation_holds(a)),
                                 about_person_id=a.about_person_id))
    return out


def _transfer_packs(ctx: Context) -> list[Candidate]:
    return [Candidate("transfer_packs", "TransferPack", p.id, ctx.dob.get(p.pupil_id), f"Transfer pack {p.reference}",
                      frozenset(_persons(p.pupil_id)))
            for p in session.scalars(select(TransferPack).order_by(TransferPack.id))]


def _family_links(ctx: Context) -> list[Candidate]:
    out = []
    for link in session.scalars(select(FamilyLinkDeclaration).order_by(FamilyLinkDeclaration.id)):
        adult = link.adult_id or (link.declared_by_id if link.source == "adult" else None)
        trigger = ctx.earliest_leave(adult, link.pupil_id) or (
            ctx.earliest_leave(link.declared_by_id) if adult is None and link.pupil_id is None else None)
        out.append(Candidate("family_links", "FamilyLinkDeclaration", link.id, trigger, f"Family link {link.id}",
                             frozenset(_persons(link.declared_by_id, link.adult_id, link.pupil_id))))
    for conf in session.scalars(select(LinkConfirmation).order_by(LinkConfirmation.id)):
        out.append(Candidate("family_links", "LinkConfirmation", conf.id, ctx.left.get(conf.person_id),
                             f"Family-link confirmation {conf.id}", frozenset(_persons(conf.person_id))))
    return out


def _classroom_sessions(ctx: Context) -> list[Candidate]:
    out = []
    pupils: dict[int, set[int]] = defaultdict(set)
    for sid, pid in session.execute(select(ClassroomEntry.session_id, ClassroomEntry.pupil_id)):
        pupils[sid].add(pid)
    for s in session.scalars(select(ClassroomSession).order_by(ClassroomSession.id)):
        out.append(Candidate("classroom_sessions", "ClassroomSession", s.id, _day(s.closed_at or s.expires_at),
                             f"Classroom session {s.id}", frozenset(_persons(s.teacher_id, *pupils[s.id]))))
    return out


def _audit_years(ctx: Context) -> list[Candidate]:
    chain = current_school_id(session)
    out = []
    with all_schools(session):  # the school's own chain, read by its chain number
        entries = session.execute(select(AuditEntry.created_at).where(AuditEntry.chain == chain)).scalars()
        years: dict[int, int] = defaultdict(int)
        for created in entries:
            years[created.year] += 1
    for year, n in sorted(years.items()):
        out.append(Candidate("audit_entries", "AuditYear", year, dt.date(year, 12, 31),
                             f"Audit log entries of {year} ({n} entries)"))
    return out


def _references(person_id: int, ctx: Context) -> bool:
    """Whether anything still kept refers to the person (then they are not anonymised yet)."""
    p = person_id
    checks: list[Any] = [
        select(Signature.id).where((Signature.signer_id == p) | (Signature.on_behalf_of_id == p)
                                   | (Signature.witness_id == p)),
        select(ConsentAnswer.id).where((ConsentAnswer.person_id == p) | (ConsentAnswer.pupil_id == p)),
        select(FamilyLinkDeclaration.id).where((FamilyLinkDeclaration.declared_by_id == p)
                                               | (FamilyLinkDeclaration.adult_id == p)
                                               | (FamilyLinkDeclaration.pupil_id == p)),
        select(StaffAllegation.id).where(StaffAllegation.about_person_id == p),
        select(TransferPack.id).where(TransferPack.pupil_id == p),
        select(ClassroomEntry.id).where(ClassroomEntry.pupil_id == p),
    ]
    if any(session.scalar(stmt.limit(1)) is not None for stmt in checks):
        return True
    # Anonymised concerns and incidents keep their (required) links to people: those do not count.
    for cid in session.scalars(select(Concern.id).where(
            (Concern.raised_by_id == p) | (Concern.child_id == p) | (Concern.about_person_id == p))):
        if ("Concern", cid) not in ctx.anonymised:
            return True
    for iid in session.scalars(select(ContactIncident.id).where(
            (ContactIncident.pupil_id == p) | (ContactIncident.adult_id == p))):
        if ("ContactIncident", iid) not in ctx.anonymised:
            return True
    return False


def _people(ctx: Context) -> list[Candidate]:
    out = []
    for person_id, left_on in sorted(ctx.left.items()):
        if ("Person", person_id) in ctx.anonymised or _references(person_id, ctx):
            continue
        out.append(Candidate("people", "Person", person_id, left_on, f"Person {person_id}",
                             frozenset(_persons(person_id))))
    return out


def _for(func: Callable[[Context, str], list[Candidate]], arg: str) -> Callable[[Context], list[Candidate]]:
    return lambda ctx: func(ctx, arg)


SELECTORS: dict[str, Callable[[Context], list[Candidate]]] = {
    **{f"signatures_{g}": _for(_signatures, g)
       for g in ("pupil", "parent", "staff", "governor", "volunteer", "contractor", "visitor")},
    "consent_answers": _consents,
    **{k: _for(_concerns, k) for k in BY_KEY if k.startswith("concerns_")},
    "complaints": lambda ctx: _concerns(ctx, "complaints"),
    "safeguarding_concerns": lambda ctx: _concerns(ctx, "safeguarding_concerns"),
    "attachments": _attachments,
    "incidents_contact_safeguarding": lambda ctx: _contact_incidents(ctx, "incidents_contact_safeguarding"),
    "incidents_contact_conduct": lambda ctx: _contact_incidents(ctx, "incidents_contact_conduct"),
    "incidents_social_media": _social_incidents,
    "allegations": lambda ctx: _allegations(ctx, "allegation"),
    "low_level_concerns": lambda ctx: _allegations(ctx, "low_level"),
    "transfer_packs": _transfer_packs,
    "family_links": _family_links,
    "classroom_sessions": _classroom_sessions,
    "audit_entries": _audit_years,
    "people": _people,
}


def candidates(record_type: str, today: dt.date | None = None) -> list[Candidate]:
    """The records of one type, with their trigger dates (for pages and tests)."""
    return SELECTORS[record_type](Context(today or uk_today()))


# ------------------------------------------------------------------ removing and anonymising


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _dump(obj: Any) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {"table": mapper.local_table.name,
            **{c.key: _encode(getattr(obj, c.key)) for c in mapper.column_attrs}}


class Removal:
    """What one disposal took away: rows (as JSON) and files (by SHA-256), for the tombstone."""

    def __init__(self, report: Report | None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.files: list[dict[str, str]] = []
        self.report = report
        self.pending_files: list[tuple[str, str]] = []

    def row(self, obj: Any) -> None:
        self.rows.append(_dump(obj))

    def file(self, kind: str, name: str, sha256: str) -> None:
        self.files.append({"kind": kind, "name": name, "sha256": sha256})
        self.pending_files.append((kind, name))

    def digest(self) -> str:
        payload = json.dumps({"rows": self.rows, "files": self.files}, sort_keys=True, separators=(",", ":"),
                             ensure_ascii=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for r in self.rows:
            out[r["table"]] += 1
        if self.files:
            out["files"] = len(self.files)
        return dict(out)


def _archive_file(removal: Removal, sha: str | None, exclude_record: int | None = None,
                  exclude_pack: int | None = None) -> None:
    """Dispose of an archive object once nothing else refers to it (objects are content-addressed)."""
    if not sha:
        return
    others = session.scalar(select(func.count(SignedRecord.id)).where(
        SignedRecord.pdf_sha256 == sha, SignedRecord.id != (exclude_record or 0))) or 0
    others += session.scalar(select(func.count(TransferPack.id)).where(
        TransferPack.pdf_sha256 == sha, TransferPack.id != (exclude_pack or 0))) or 0
    if not others:
        removal.file("archive", sha, sha)


def _delete_signature(sig_id: int, removal: Removal) -> None:
    sig = session.get(Signature, sig_id)
    if sig is None:
        return
    removal.row(sig)
    for ans in session.scalars(select(ConsentAnswer).where(ConsentAnswer.signature_id == sig_id)):
        removal.row(ans)
        session.delete(ans)
    record = session.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig_id))
    if record is not None:
        removal.row(record)
        _archive_file(removal, record.pdf_sha256, exclude_record=record.id)
        session.delete(record)
    # A grade posted to the LMS leaves only a job mark naming ids (``portal_job_marks``), no
    # personal data: nothing of it to dispose of.
    session.execute(update(ClassroomEntry).where(ClassroomEntry.signature_id == sig_id).values(signature_id=None)
                    .execution_options(synchronize_session="fetch"))
    session.flush()
    session.delete(sig)


def _delete_consent(answer_id: int, removal: Removal) -> None:
    ans = session.get(ConsentAnswer, answer_id)
    if ans is not None:
        removal.row(ans)
        session.delete(ans)


def _note_attachment(att: ConcernAttachment, removal: Removal) -> None:
    """Record an attachment's row and its stored file as removed (the caller deletes the row)."""
    removal.row(att)
    removal.file("attachment", att.stored_name, att.sha256)


def _delete_attachment(att: ConcernAttachment, removal: Removal) -> None:
    _note_attachment(att, removal)
    session.delete(att)


def _delete_concern(concern_id: int, removal: Removal) -> None:
    c = session.get(Concern, concern_id)
    if c is None:
        return
    removal.row(c)
    for m in c.messages:
        removal.row(m)
    for e in c.events:
        removal.row(e)
    for att in list(c.attachments):
        _note_attachment(att, removal)
    session.delete(c)


def _anonymise_concern(concern_id: int, removal: Removal) -> None:
    c = session.get(Concern, concern_id)
    if c is None:
        return
    removal.row(c)
    for m in c.messages:
        removal.row(m)
    for e in c.events:
        if e.reason:
            removal.row(e)
    for att in list(c.attachments):
        _delete_attachment(att, removal)
    # Bulk statements: a concern's words are write-once for people, not for the schedule.
    session.execute(update(Concern).where(Concern.id == concern_id).values(
        subject=REMOVED[:200], description=REMOVED, child_id=None, about_person_id=None, assignee_id=None,
        shared_with_trust_at=None, shared_with_trust_by_id=None).execution_options(synchronize_session=False))
    session.execute(update(ConcernMessage).where(ConcernMessage.concern_id == concern_id).values(body=REMOVED)
                    .execution_options(synchronize_session=False))
    session.execute(update(ConcernEvent).where(ConcernEvent.concern_id == concern_id, ConcernEvent.reason.is_not(None))
                    .values(reason=REMOVED).execution_options(synchronize_session=False))
    session.expire_all()


def _delete_incident(model: Any, incident_id: int, removal: Removal) -> None:
    incident = session.get(model, incident_id)
    if incident is None:
        return
    removal.row(incident)
    column = IncidentAction.contact_incident_id if model is ContactIncident else IncidentAction.social_incident_id
    for a in session.scalars(select(IncidentAction).where(column == incident_id)):
        removal.row(a)
    # Timelines are append-only for people; the schedule removes them with bulk statements.
    session.execute(delete(IncidentAction).where(column == incident_id).execution_options(synchronize_session=False))
    session.execute(delete(model).where(model.id == incident_id).execution_options(synchronize_session=False))
    session.expire_all()


def _anonymise_incident(model: Any, incident_id: int, removal: Removal) -> None:
    incident = session.get(model, incident_id)
    if incident is None:
        return
    removal.row(incident)
    column = IncidentAction.contact_incident_id if model is ContactIncident else IncidentAction.social_incident_id
    for a in session.scalars(select(IncidentAction).where(column == incident_id)):
        removal.row(a)
    values: dict[str, Any] = {"summary": REMOVED}
    if model is ContactIncident:
        values["platform"] = ""
    else:
        values.update(author_description=REMOVED[:200], police_reference="")
    session.execute(update(model).where(model.id == incident_id).values(**values)
                    .execution_options(synchronize_session=False))
    session.execute(update(IncidentAction).where(column == incident_id).values(text=REMOVED)
                    .execution_options(synchronize_session=False))
    session.expire_all()


def _delete_allegation(allegation_id: int, removal: Removal) -> None:
    a = session.get(StaffAllegation, allegation_id)
    if a is None:
        return
    removal.row(a)
    concern_id, contact_id = a.concern_id, a.contact_incident_id
    session.delete(a)
    session.flush()
    if concern_id:
        _delete_concern(concern_id, removal)
    if contact_id:
        _delete_incident(ContactIncident, contact_id, removal)


def _delete_pack(pack_id: int, removal: Removal) -> None:
    pack = session.get(TransferPack, pack_id)
    if pack is None:
        return
    removal.row(pack)
    _archive_file(removal, pack.pdf_sha256, exclude_pack=pack.id)
    session.delete(pack)


def _delete_link(link_id: int, removal: Removal) -> None:
    link = session.get(FamilyLinkDeclaration, link_id)
    if link is None:
        return
    removal.row(link)
    # An incident keeps "a link covered this pair" but no longer points at the removed declaration.
    session.execute(update(ContactIncident).where(ContactIncident.covering_link_id == link_id)
                    .values(covering_link_id=None).execution_options(synchronize_session="fetch"))
    session.delete(link)


def _delete_confirmation(conf_id: int, removal: Removal) -> None:
    conf = session.get(LinkConfirmation, conf_id)
    if conf is not None:
        removal.row(conf)
        session.delete(conf)


def _delete_classroom(session_id: int, removal: Removal) -> None:
    s = session.get(ClassroomSession, session_id)
    if s is None:
        return
    removal.row(s)
    for e in s.entries:
        removal.row(e)
    session.delete(s)


def _anonymise_person(person_id: int, removal: Removal) -> None:
    p = session.get(Person, person_id)
    if p is None:
        return
    removal.row(p)
    if p.pupil is not None:
        removal.row(p.pupil)
        p.pupil.date_of_birth = dt.date(p.pupil.date_of_birth.year, 1, 1)
    for link in session.scalars(select(GuardianLink).where(
            (GuardianLink.parent_id == person_id) | (GuardianLink.pupil_id == person_id))):
        removal.row(link)
        session.delete(link)
    for dep in session.scalars(select(Departure).where(Departure.person_id == person_id)):
        dep.destination = ""
    account_id = p.account_id
    p.given_name, p.family_name = "Former member", f"of the school {person_id}"
    p.email, p.external_id, p.account_id, p.active = None, None, None, False
    session.flush()
    if account_id is not None:
        with all_schools(session):  # an account is global: it goes only when no school and no trust uses it
            used = session.scalar(select(func.count(Person.id)).where(Person.account_id == account_id)) or 0
        held = session.scalar(select(func.count(TrustMembership.id)).where(TrustMembership.account_id == account_id))
        if not used and not held:
            account = session.get(Account, account_id)
            if account is not None:
                removal.rows.append({"table": "portal_accounts", "id": account.id, "email": account.email,
                                     "display_name": account.display_name})
                session.execute(update(Account).where(Account.id == account_id)
                                .values(last_school_id=None).execution_options(synchronize_session=False))
                session.delete(account)


def _disposer(target_type: str, action: str) -> Callable[[int, Removal], None]:
    table: dict[tuple[str, str], Callable[[int, Removal], None]] = {
        ("Signature", "delete"): _delete_signature,
        ("ConsentAnswer", "delete"): _delete_consent,
        ("Concern", "delete"): _delete_concern,
        ("Concern", "anonymise"): _anonymise_concern,
        ("ConcernAttachment", "delete"): lambda i, r: (_delete_attachment(a, r)
                                                       if (a := session.get(ConcernAttachment, i)) else None),
        ("ContactIncident", "delete"): lambda i, r: _delete_incident(ContactIncident, i, r),
        ("ContactIncident", "anonymise"): lambda i, r: _anonymise_incident(ContactIncident, i, r),
        ("SocialMediaIncident", "delete"): lambda i, r: _delete_incident(SocialMediaIncident, i, r),
        ("SocialMediaIncident", "anonymise"): lambda i, r: _anonymise_incident(SocialMediaIncident, i, r),
        ("StaffAllegation", "delete"): _delete_allegation,
        ("TransferPack", "delete"): _delete_pack,
        ("FamilyLinkDeclaration", "delete"): _delete_link,
        ("LinkConfirmation", "delete"): _delete_confirmation,
        ("ClassroomSession", "delete"): _delete_classroom,
        ("Person", "anonymise"): _anonymise_person,
    }
    try:
        return table[(target_type, action)]
    except KeyError:
        message = (gettext("%(kind)s records cannot be anonymised by the portal.", kind=target_type)
                   if action == "anonymise" else
                   gettext("%(kind)s records cannot be deleted by the portal.", kind=target_type))
        raise DisposalError(message) from None


def dispose(candidate: Candidate, rule: Rule, action: str, *, report: Report | None, actor: Any = None,
            due_on: dt.date | None = None) -> Removal:
    """Delete or anonymise one record now, with its tombstone (flushes; the caller commits and
    then calls :func:`dispose_files`)."""
    removal = Removal(report)
    _disposer(candidate.target_type, action)(candidate.target_id, removal)
    session.flush()
    due = due_on or candidate.due_on(rule) or uk_today()
    digest = removal.digest()
    session.add(DisposalRecord(
        record_type=candidate.record_type, target_type=candidate.target_type, target_id=candidate.target_id,
        action=action, rule=rule.describe(), trigger_on=candidate.trigger_on, due_on=due, removed_sha256=digest,
        counts=removal.counts(), decided_by_id=getattr(actor, "id", None)))
    session.flush()
    audit.record("retention.anonymised" if action == "anonymise" else "retention.disposed", actor=actor,
                 record_type=candidate.record_type, target_type=candidate.target_type,
                 target_id=candidate.target_id, rule=rule.describe(),
                 trigger_on=candidate.trigger_on.isoformat() if candidate.trigger_on else None,
                 due_on=due.isoformat(), removed_sha256=digest, counts=removal.counts())
    if report is not None:
        report.files.extend(removal.pending_files)
    return removal


def _review_role(rule: Rule, candidate: Candidate, ctx: Context) -> str:
    role = rule.review_role or rule.default.review_role or "head"
    about = candidate.about_person_id
    if role == "head" and about is not None and about == ctx.head_id:
        return "chair"  # the Head never reviews a record about themselves
    if role == "dsl" and about is not None and about == ctx.dsl_id:
        return "head"
    return role


def _ensure_review(candidate: Candidate, rule: Rule, due: dt.date, ctx: Context) -> str:
    """An open review for the record (made once); ``kept`` while a decision to keep still runs."""
    reviews = session.scalars(select(RetentionReview).where(
        RetentionReview.target_type == candidate.target_type, RetentionReview.target_id == candidate.target_id)
        .order_by(RetentionReview.id.desc())).all()
    if any(r.decision is None for r in reviews):
        return "waiting"
    kept = [r for r in reviews if r.decision == "keep" and r.keep_until and r.keep_until > ctx.today]
    if kept:
        return "kept"
    review = RetentionReview(record_type=candidate.record_type, target_type=candidate.target_type,
                             target_id=candidate.target_id, summary=candidate.summary[:300],
                             review_role=_review_role(rule, candidate, ctx), about_person_id=candidate.about_person_id,
                             due_on=due, note=candidate.review_note[:300])
    session.add(review)
    session.flush()
    audit.record("retention.review_due", target=review, record_type=candidate.record_type,
                 target_type=candidate.target_type, target_id=candidate.target_id, due_on=due.isoformat(),
                 review_role=review.review_role)
    return "review"


def run(today: dt.date | None = None, *, dry_run: bool = False, only: Iterable[str] | None = None) -> Report:
    """Apply the schedule to the current school's records as of *today* (flushes; the caller
    commits, then calls :func:`dispose_files`). With *dry_run* nothing is written."""
    school_id = current_school_id(session)
    if school_id is None:
        raise DisposalError("The retention run needs one school in scope.")
    today = today or uk_today()
    report = Report(school_id, today, dry_run)
    rules = effective_rules()
    wanted = set(only) if only is not None else None
    for key in ORDER:
        if wanted is not None and key not in wanted:
            continue
        rule = rules[key]
        ctx = Context(today)  # fresh facts: earlier types may have removed what later ones check
        for cand in SELECTORS[key](ctx):
            due = cand.due_on(rule)
            if due is None or due > today:
                continue
            if cand.holds & ctx.holds:
                report.outcomes.append(Outcome(key, cand.target_type, cand.target_id, cand.summary, "held", due))
                continue
            action = rule.action
            if action != Action.REVIEW.value and cand.review_note:
                action = Action.REVIEW.value
            if dry_run:
                result = {"delete": "deleted", "anonymise": "anonymised"}.get(action, "review")
                report.outcomes.append(Outcome(key, cand.target_type, cand.target_id, cand.summary, result, due))
                continue
            if action == Action.REVIEW.value:
                result = _ensure_review(cand, rule, due, ctx)
                report.outcomes.append(Outcome(key, cand.target_type, cand.target_id, cand.summary, result, due))
                continue
            dispose(cand, rule, action, report=report, due_on=due)
            report.outcomes.append(Outcome(key, cand.target_type, cand.target_id, cand.summary,
                                           "anonymised" if action == "anonymise" else "deleted", due))
    if not dry_run:
        _close_stale_reviews()
    if not dry_run and (report.count("deleted") or report.count("anonymised") or report.count("review")):
        audit.record("retention.run", today=today.isoformat(), deleted=report.count("deleted"),
                     anonymised=report.count("anonymised"), reviews=report.count("review"),
                     held=report.count("held"))
    return report


def _close_stale_reviews() -> None:
    """Open reviews whose record no longer exists (disposed of another way, or ids from before an
    import) are closed, saying so."""
    models = {"Signature": Signature, "ConsentAnswer": ConsentAnswer, "Concern": Concern,
              "ConcernAttachment": ConcernAttachment, "ContactIncident": ContactIncident,
              "SocialMediaIncident": SocialMediaIncident, "StaffAllegation": StaffAllegation,
              "TransferPack": TransferPack, "FamilyLinkDeclaration": FamilyLinkDeclaration,
              "LinkConfirmation": LinkConfirmation, "ClassroomSession": ClassroomSession, "Person": Person}
    for review in session.scalars(select(RetentionReview).where(RetentionReview.decision.is_(None))):
        model = models.get(review.target_type)
        if model is not None and session.get(model, review.target_id) is None:
            review.decision, review.decided_at = "gone", utcnow()
            review.reason = "The record no longer exists."
    session.flush()


def dispose_files(report: Report | Removal, school: School | None = None) -> list[str]:
    """Remove the files of disposed records, after the database has committed. Returns problems
    (a file already missing is not one)."""
    from portal.concerns.storage import path_of
    from portal.records.archive import ArchiveError, archive_store

    files = report.files if isinstance(report, Report) else report.pending_files
    problems: list[str] = []
    store = archive_store(school) if any(kind == "archive" for kind, _ in files) else None
    for kind, name in files:
        try:
            if kind == "archive" and store is not None:
                store.dispose(name)
            elif kind == "attachment":
                path_of(name).unlink(missing_ok=True)
        except (OSError, ArchiveError, NotImplementedError) as exc:
            log.error("retention: could not remove a %s file: %s", kind, type(exc).__name__)
            problems.append(f"{kind} {name[:12]}: {type(exc).__name__}")
    return problems


def run_school(school_id: int, today: dt.date | None = None, *, dry_run: bool = False) -> Report:
    """Run the schedule for one school in its own transaction: what the CLI and the scheduled job
    call. Commits (or, for a dry run, rolls back), then removes the files."""
    with school_scope(session, school_id):
        try:
            report = run(today, dry_run=dry_run)
        except Exception:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
            return report
        session.commit()
        school = session.get(School, school_id)
        dispose_files(report, school)
    return report


def run_installation(today: dt.date | None = None, *, dry_run: bool = False) -> int:
    """Remove the installation's own sign-in records past their period (the ``login_records`` rule);
    one tombstone in the installation's chain. Flushes; returns how many rows."""
    from portal.people.models import LoginAttempt, UsedToken

    default = BY_KEY["login_records"]
    today = today or uk_today()
    cutoff_day = add_period(today, -default.period, default.unit)
    cutoff = dt.datetime.combine(cutoff_day, dt.time(), tzinfo=dt.UTC)
    attempts = session.scalars(select(LoginAttempt).where(LoginAttempt.at < cutoff)).all()
    tokens = session.scalars(select(UsedToken).where(UsedToken.used_at < cutoff)).all()
    if dry_run or not (attempts or tokens):
        return len(attempts) + len(tokens)
    removal = Removal(None)
    for row in (*attempts, *tokens):
        removal.row(row)
        session.delete(row)
    session.flush()
    audit.record("retention.disposed", school=None, record_type="login_records", target_type="installation",
                 rule={"record_type": "login_records", "trigger": default.trigger.value, "period": default.period,
                       "unit": default.unit, "action": default.action.value, "origin": "default"},
                 due_on=today.isoformat(), removed_sha256=removal.digest(), counts=removal.counts())
    return len(attempts) + len(tokens)


__all__ = ["REMOVED", "Candidate", "Context", "DisposalError", "Outcome", "Removal", "Report", "candidates",
           "dispose", "dispose_files", "run", "run_installation", "run_school"]
