"""Tables of the data-protection area.

Every table holds one school's data (:class:`SchoolOwned`) except the trust's retention defaults,
which belong to a trust. Records held, allegations, requests and packs point at the rows they are
about with real foreign keys (so a school's export and import keep them pointing right).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.people.models import Account, Person
from portal.schools.isolation import SchoolOwned


def N_(text: str) -> str:
    """Marks a label for the catalogues (``make translations``); pages translate it where they show it."""
    return text

# ------------------------------------------------------------------ the retention schedule


class RetentionRule(SchoolOwned, Base):
    """The school's own rule for one record type (only when it changed or confirmed the default)."""

    __tablename__ = "portal_retention_rules"
    __table_args__ = (UniqueConstraint("school_id", "record_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A key of :data:`portal.dataprotection.schedule.BY_KEY`.
    record_type: Mapped[str] = mapped_column(String(40))
    period: Mapped[int] = mapped_column(Integer)
    #: ``years``, ``months`` or ``days``.
    unit: Mapped[str] = mapped_column(String(10))
    #: ``delete``, ``anonymise`` or ``review``.
    action: Mapped[str] = mapped_column(String(12))
    #: ``head`` or ``dsl`` (for ``review``).
    review_role: Mapped[str | None] = mapped_column(String(10))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    #: When someone in the school confirmed this period (a default that needed confirming).
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))

    changed_by: Mapped[Person | None] = relationship(foreign_keys=[changed_by_id])
    confirmed_by: Mapped[Person | None] = relationship(foreign_keys=[confirmed_by_id])


class TrustRetentionDefault(Base):
    """A trust's default for one record type, used by its schools that have no rule of their own."""

    __tablename__ = "portal_trust_retention_defaults"
    __table_args__ = (UniqueConstraint("trust_id", "record_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trust_id: Mapped[int] = mapped_column(ForeignKey("portal_trusts.id", ondelete="CASCADE"), index=True)
    record_type: Mapped[str] = mapped_column(String(40))
    period: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(12))
    review_role: Mapped[str | None] = mapped_column(String(10))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("portal_accounts.id", ondelete="SET NULL"))


class RetentionReview(SchoolOwned, Base):
    """A record whose period has passed under a "review" rule: the named role decides."""

    __tablename__ = "portal_retention_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(40), index=True)
    #: The model name and id of the record (no foreign key: the record may be disposed of).
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[int] = mapped_column(Integer)
    #: A reference such as "Concern C-00012": never names or words of the record.
    summary: Mapped[str] = mapped_column(String(300))
    #: ``head``, ``dsl`` or ``chair``.
    review_role: Mapped[str] = mapped_column(String(10))
    #: The adult the record is about, who never sees the review.
    about_person_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    due_on: Mapped[dt.date] = mapped_column(Date)
    #: Why a review was asked for when the rule says delete (e.g. the pension age is not recorded).
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: ``keep`` or ``dispose`` once decided.
    decision: Mapped[str | None] = mapped_column(String(10))
    keep_until: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))

    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id])


class DisposalRecord(SchoolOwned, Base):
    """What the schedule removed or anonymised: the school's register of disposal (the audit chain
    holds the same facts as a tombstone entry)."""

    __tablename__ = "portal_disposal_records"
    __table_args__ = (UniqueConstraint("school_id", "target_type", "target_id", "action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(40), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[int] = mapped_column(Integer)
    #: ``delete`` or ``anonymise``.
    action: Mapped[str] = mapped_column(String(12))
    #: The rule applied: trigger, period, unit, action and where it came from.
    rule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    trigger_on: Mapped[dt.date | None] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)
    done_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: SHA-256 over the rows and files removed (canonical JSON; files by their own SHA-256).
    removed_sha256: Mapped[str] = mapped_column(String(64))
    #: Rows and files removed, by table.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The person who decided (a review), or empty for the scheduled run.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))


class Departure(SchoolOwned, Base):
    """Someone has left the school (the "leaves" trigger; for pupils, where they went)."""

    __tablename__ = "portal_departures"
    __table_args__ = (UniqueConstraint("school_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"), index=True)
    left_on: Mapped[dt.date] = mapped_column(Date)
    #: A pupil's next school (as the school knows it), when known.
    destination: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(foreign_keys=[person_id])


# ------------------------------------------------------------------ legal holds

# The label tables below keep their English words (exports, the audit log and tests use them); the
# values are marked for the catalogues and pages translate them where they show them.


HOLD_KINDS = {
    "person": N_("A person (everything about them)"),
    "pupil": N_("A pupil (everything about them)"),
    "concern": N_("A concern"),
    "contact_incident": N_("A contact incident"),
    "social_incident": N_("A social-media incident"),
}


class LegalHold(SchoolOwned, Base):
    """Nothing it covers is disposed of while it is in force (a claim, an inquiry, an investigation)."""

    __tablename__ = "portal_legal_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A key of :data:`HOLD_KINDS`.
    kind: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"), index=True)
    #: The held concern or incident (empty again if it is disposed of after the hold is released;
    #: ``target_label`` keeps its reference).
    concern_id: Mapped[int | None] = mapped_column(ForeignKey("portal_concerns.id", ondelete="SET NULL"))
    contact_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_contact_incidents.id", ondelete="SET NULL"))
    social_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_social_media_incidents.id", ondelete="SET NULL"))
    #: What is held, in words fixed when the hold is placed (a reference or the person's name).
    target_label: Mapped[str] = mapped_column(String(200), default="")
    #: Why the records must be kept (required; shown to the Head, DSL and the trust).
    reason: Mapped[str] = mapped_column(Text)
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    #: A trust role placing the hold from the trust's pages (no person in the school).
    placed_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("portal_accounts.id", ondelete="SET NULL"))
    #: When the hold should next be looked at (is it still needed?).
    review_on: Mapped[dt.date] = mapped_column(Date)
    last_reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    released_by_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_accounts.id", ondelete="SET NULL"))
    release_reason: Mapped[str | None] = mapped_column(Text)

    person: Mapped[Person | None] = relationship(foreign_keys=[person_id])
    placed_by: Mapped[Person | None] = relationship(foreign_keys=[placed_by_id])
    placed_by_account: Mapped[Account | None] = relationship(foreign_keys=[placed_by_account_id])

    @property
    def active(self) -> bool:
        return self.released_at is None

    @property
    def kind_label(self) -> str:
        return HOLD_KINDS.get(self.kind, self.kind)


# ------------------------------------------------------------------ subject access

#: A subject access request's status, in words.
SAR_STATUSES = {
    "released": N_("Released"),
    "ready": N_("Reviewed, ready to release"),
    "open": N_("Open"),
}


class SubjectAccessRequest(SchoolOwned, Base):
    """A request for a copy of what the school holds about a person (UK GDPR Article 15)."""

    __tablename__ = "portal_subject_access_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Whose data: the requester, or a child of the requester (a parent asking about their child).
    subject_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"), index=True)
    received_on: Mapped[dt.date] = mapped_column(Date)
    #: One calendar month after it was received (see :func:`portal.dataprotection.dates.one_calendar_month`).
    due_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    #: Safeguarding records are left out unless the DSL includes them.
    include_safeguarding: Mapped[bool] = mapped_column(Boolean, default=False)
    safeguarding_decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    safeguarding_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    #: Someone has read the names flagged for redaction and made the copy fit to release.
    redaction_reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    redaction_reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    #: Names the reviewer chose to redact: replaced in the released copy (sealed PDFs naming them are withheld).
    redactions: Mapped[list[str]] = mapped_column(JSON, default=list)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    #: How the copy was given (e.g. "by hand", "secure email").
    release_method: Mapped[str | None] = mapped_column(String(200))
    #: SHA-256 of the ZIP released (audited too): proof of exactly what was given.
    release_sha256: Mapped[str | None] = mapped_column(String(64))

    subject: Mapped[Person] = relationship(foreign_keys=[subject_id])
    requester: Mapped[Person] = relationship(foreign_keys=[requester_id])

    @property
    def reference(self) -> str:
        return f"SAR-{self.id:04d}"

    @property
    def status(self) -> str:
        if self.released_at is not None:
            return "released"
        if self.redaction_reviewed_at is not None:
            return "ready"
        return "open"

    @property
    def status_label(self) -> str:
        """The English words (pages translate them: ``_(req.status_label)``)."""
        return SAR_STATUSES[self.status]


# ------------------------------------------------------------------ allegations against staff

ALLEGATION_KINDS = {
    "allegation": N_("Allegation (meets the harm threshold)"),
    "low_level": N_("Low-level concern"),
}

#: Outcomes named in KCSIE Part four.
OUTCOMES = {
    "substantiated": N_("Substantiated: there is enough evidence to prove the allegation"),
    "malicious": N_("Malicious: there is clear evidence of a deliberate act to deceive or cause harm"),
    "false": N_("False: there is enough evidence to disprove the allegation"),
    "unsubstantiated": N_("Unsubstantiated: there is not enough evidence to prove or disprove it"),
    "unfounded": N_("Unfounded: there is no evidence or proper basis to support it"),
}

#: The outcome in one word, as the list of allegations shows it.
OUTCOME_WORDS = {
    "substantiated": N_("substantiated"),
    "malicious": N_("malicious"),
    "false": N_("false"),
    "unsubstantiated": N_("unsubstantiated"),
    "unfounded": N_("unfounded"),
}


class StaffAllegation(SchoolOwned, Base):
    """A concern or incident about an adult in school, marked as an allegation or a low-level concern."""

    __tablename__ = "portal_staff_allegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``allegation`` or ``low_level``.
    kind: Mapped[str] = mapped_column(String(12), index=True)
    concern_id: Mapped[int | None] = mapped_column(ForeignKey("portal_concerns.id"), unique=True)
    contact_incident_id: Mapped[int | None] = mapped_column(ForeignKey("portal_contact_incidents.id"), unique=True)
    #: The adult it is about (never shown it).
    about_person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"), index=True)
    #: The date of the allegation (the retention clock starts here).
    reported_on: Mapped[dt.date] = mapped_column(Date)
    #: Who manages it: ``head``, or ``chair`` when it is about the Head Teacher.
    case_manager: Mapped[str] = mapped_column(String(10))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Low-level concerns: what was done (e.g. a conversation about the code of conduct).
    notes: Mapped[str] = mapped_column(Text, default="")
    # The local authority designated officer (LADO), for allegations.
    lado_consulted_on: Mapped[dt.date | None] = mapped_column(Date)
    lado_reference: Mapped[str] = mapped_column(String(100), default="")
    lado_advice: Mapped[str] = mapped_column(Text, default="")
    #: A key of :data:`OUTCOMES`.
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_on: Mapped[dt.date | None] = mapped_column(Date)
    #: When the adult reaches normal pension age (the record is kept at least until then).
    normal_pension_on: Mapped[dt.date | None] = mapped_column(Date)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    about_person: Mapped[Person] = relationship(foreign_keys=[about_person_id])
    recorded_by: Mapped[Person | None] = relationship(foreign_keys=[recorded_by_id])

    @property
    def reference(self) -> str:
        return f"{'A' if self.kind == 'allegation' else 'L'}-{self.id:04d}"

    @property
    def kind_label(self) -> str:
        return ALLEGATION_KINDS.get(self.kind, self.kind)

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.outcome or "", N_("Not decided yet"))

    @property
    def outcome_word(self) -> str:
        """The outcome in one English word (pages translate it)."""
        return OUTCOME_WORDS.get(self.outcome or "", self.outcome or "")


# ------------------------------------------------------------------ moving school


class TransferPack(SchoolOwned, Base):
    """A pupil's safeguarding records, sealed for their next school, and the proof it arrived."""

    __tablename__ = "portal_transfer_packs"

    id: Mapped[int] = mapped_column(primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"), index=True)
    #: The receiving school.
    destination: Mapped[str] = mapped_column(String(200))
    #: The day the pupil moved (or starts at the new school).
    moved_on: Mapped[dt.date] = mapped_column(Date)
    #: Five school days after the move.
    due_on: Mapped[dt.date] = mapped_column(Date)
    #: SHA-256 of the sealed PDF in the school's write-once archive.
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    #: How many records the pack holds, by kind.
    contents: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    #: Who signed for it at the receiving school, and their reference.
    received_by: Mapped[str | None] = mapped_column(String(200))
    receipt_reference: Mapped[str | None] = mapped_column(String(200))
    receipt_recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    receipt_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))

    pupil: Mapped[Person] = relationship(foreign_keys=[pupil_id])

    @property
    def reference(self) -> str:
        return f"T-{self.id:04d}"


# ------------------------------------------------------------------ privacy notice


class PrivacyNotice(SchoolOwned, Base):
    """One saved version of the school's privacy notice (the newest is shown)."""

    __tablename__ = "portal_privacy_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Markdown; rendered like policies (raw HTML off, then cleaned).
    body_md: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    saved_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))


__all__ = [
    "ALLEGATION_KINDS",
    "HOLD_KINDS",
    "OUTCOMES",
    "OUTCOME_WORDS",
    "SAR_STATUSES",
    "Departure",
    "DisposalRecord",
    "LegalHold",
    "PrivacyNotice",
    "RetentionReview",
    "RetentionRule",
    "StaffAllegation",
    "SubjectAccessRequest",
    "TransferPack",
    "TrustRetentionDefault",
]
