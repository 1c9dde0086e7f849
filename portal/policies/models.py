"""Policies and their versions.

A :class:`Policy` is written for one audience (pupils of an age band, parents, staff...).
Its :class:`PolicyVersion` rows move draft -> published -> superseded; only one version of a
policy is published at a time. Optional :class:`ConsentItem` questions belong to a version.
"""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.schools.isolation import SchoolOwned


class Audience(str, enum.Enum):
    """Who a policy is written for."""

    PUPIL_EYFS_KS1 = "pupil_eyfs_ks1"
    PUPIL_KS2 = "pupil_ks2"
    PUPIL_KS3_4 = "pupil_ks3_4"
    PUPIL_KS5 = "pupil_ks5"
    PARENT = "parent"
    STAFF = "staff"
    GOVERNOR = "governor"
    VOLUNTEER = "volunteer"
    CONTRACTOR = "contractor"
    VISITOR = "visitor"

    @property
    def label(self) -> str:
        return AUDIENCE_LABELS[self]

    @property
    def is_pupil(self) -> bool:
        return self.value.startswith("pupil_")


AUDIENCE_LABELS = {
    Audience.PUPIL_EYFS_KS1: "Pupils in Reception to Year 2",
    Audience.PUPIL_KS2: "Pupils in Years 3 to 6",
    Audience.PUPIL_KS3_4: "Pupils in Years 7 to 11",
    Audience.PUPIL_KS5: "Pupils in Years 12 and 13",
    Audience.PARENT: "Parents and carers",
    Audience.STAFF: "Staff",
    Audience.GOVERNOR: "Governors",
    Audience.VOLUNTEER: "Volunteers",
    Audience.CONTRACTOR: "Contractors",
    Audience.VISITOR: "Visitors",
}

#: Pupil audience for each age band in portal.people.bands.
BAND_AUDIENCE = {
    "eyfs_ks1": Audience.PUPIL_EYFS_KS1,
    "ks2": Audience.PUPIL_KS2,
    "ks3_4": Audience.PUPIL_KS3_4,
    "ks5": Audience.PUPIL_KS5,
}


class VersionStatus(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


class Policy(SchoolOwned, Base):
    __tablename__ = "portal_policies"
    __table_args__ = (UniqueConstraint("school_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable short name, e.g. ``aup-ks2`` (unique in the school).
    slug: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    audience: Mapped[str] = mapped_column(String(30), index=True)
    #: The SEND (special educational needs) variant of a pupil policy.
    send_variant: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[PolicyVersion]] = relationship(
        back_populates="policy", order_by="PolicyVersion.number", cascade="all, delete-orphan"
    )


class PolicyVersion(SchoolOwned, Base):
    __tablename__ = "portal_policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("portal_policies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=VersionStatus.DRAFT.value, index=True)
    #: Compare-and-set: bumped by every change, so two simultaneous changes cannot both apply
    #: (portal/idempotency.py).
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": row_version}
    title: Mapped[str] = mapped_column(String(200))
    #: Markdown source; rendered with raw HTML disabled, then cleaned with nh3.
    body_md: Mapped[str] = mapped_column(Text)
    #: Set at publication: False for a minor change that does not ask people to sign again.
    requires_resign: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Short note of what changed (shown when people are asked to sign again).
    change_note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))

    policy: Mapped[Policy] = relationship(back_populates="versions")
    consent_items: Mapped[list[ConsentItem]] = relationship(
        back_populates="version", order_by="ConsentItem.position", cascade="all, delete-orphan"
    )


class ConsentItem(SchoolOwned, Base):
    """An optional yes/no question inside a version (e.g. photos on the school website)."""

    __tablename__ = "portal_consent_items"
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("portal_policy_versions.id", ondelete="CASCADE"))
    #: Stable key across versions, e.g. ``photos_website``.
    key: Mapped[str] = mapped_column(String(60))
    question: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0)

    version: Mapped[PolicyVersion] = relationship(back_populates="consent_items")


class PolicyReminder(SchoolOwned, Base):
    """One reminder email sent to one person (about their own or their children's policies).

    Nobody is reminded twice within :data:`portal.policies.operations.REMINDER_INTERVAL`.
    """

    __tablename__ = "portal_policy_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    #: How many outstanding items the message listed.
    items: Mapped[int] = mapped_column(Integer, default=0)


class SignedText(SchoolOwned, Base):
    """The exact text shown to signers, kept once per distinct SHA-256.

    ``Signature.text_sha256`` points here, so the words someone agreed to can be shown (or
    sealed into a PDF) later even if the school's settings that fill the placeholders change.
    """

    __tablename__ = "portal_signed_texts"
    __table_args__ = (UniqueConstraint("school_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(ForeignKey("portal_policy_versions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: The cleaned body HTML exactly as shown (see portal.policies.rendering).
    body_html: Mapped[str] = mapped_column(Text)
    #: The consent questions shown, one per line.
    questions: Mapped[str] = mapped_column(Text, default="")
    #: The language of the translation shown with the English text (None: English only).
    language: Mapped[str | None] = mapped_column(String(10))
    first_shown_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# ---------------------------------------------------------------- compliance counts, kept up to date


class ComplianceChange(SchoolOwned, Base):
    """Something that changes who must sign what, or what they answered, happened in a school
    (a signature, a person, a role, a pupil's year or class, a policy or version). Written by a
    session hook (and by bulk imports); :mod:`portal.policies.compliance` recounts a school that
    has any, then deletes the ones it saw."""

    __tablename__ = "portal_compliance_changes"
    #: Derived: not exported with the school (see portal.schools.transfer.school_tables).
    __portal_derived__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComplianceSnapshot(SchoolOwned, Base):
    """The academic year a school's stored counts were made for (one row per school)."""

    __tablename__ = "portal_compliance_snapshots"
    __portal_derived__ = True
    __table_args__ = (UniqueConstraint("school_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComplianceCount(SchoolOwned, Base):
    """Signed, declined and outstanding requirements of one published policy (and, for pupil
    policies, one class) in a school's academic year, as last counted."""

    __tablename__ = "portal_compliance_counts"
    __portal_derived__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    #: The policy (no foreign key: a count is recomputed, never kept, when its policy changes).
    policy_id: Mapped[int] = mapped_column(Integer)
    audience: Mapped[str] = mapped_column(String(30))
    #: The pupils' class (no foreign key, as above); empty for adults and pupils without a class.
    class_id: Mapped[int | None] = mapped_column(Integer)
    signed: Mapped[int] = mapped_column(Integer, default=0)
    declined: Mapped[int] = mapped_column(Integer, default=0)
    outstanding: Mapped[int] = mapped_column(Integer, default=0)
    #: Of the signed: paper or verbal agreements recorded by the office.
    offline: Mapped[int] = mapped_column(Integer, default=0)


class ComplianceDay(SchoolOwned, Base):
    """How many requirements of one published policy (and, for pupil policies, one class) were
    first signed on one day of a school's academic year, as last counted (the signing-rate
    trends of the Head's dashboard and the charts). Kept with :class:`ComplianceCount`."""

    __tablename__ = "portal_compliance_days"
    __portal_derived__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    policy_id: Mapped[int] = mapped_column(Integer)
    audience: Mapped[str] = mapped_column(String(30))
    class_id: Mapped[int | None] = mapped_column(Integer)
    #: The day (UTC) of the first counting signature of each requirement counted here.
    day: Mapped[dt.date] = mapped_column(Date)
    signed: Mapped[int] = mapped_column(Integer, default=0)


class ComplianceRemindable(SchoolOwned, Base):
    """Someone a policy reminder could go to in a school's academic year, as last counted (kept with
    :class:`ComplianceCount`): they have a requirement outstanding and sign it themselves with an email
    address, or they are an active parent, with an address, of a pupil (or person without one) who has.
    The Head's "Reminders due" tile counts these rows, less anyone reminded in the last seven days."""

    __tablename__ = "portal_compliance_remindable"
    __portal_derived__ = True
    __table_args__ = (UniqueConstraint("school_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    #: The person (no foreign key: the rows are made again, never kept, when people change).
    person_id: Mapped[int] = mapped_column(Integer)


class PolicyTranslation(SchoolOwned, Base):
    """A school's translation of one policy version into one language.

    Shown beside the English text on the signing page, with a note of which text is authoritative;
    the hash of what was shown covers both. Like the English text it moves draft -> published ->
    superseded, and a published translation is never edited: a new revision replaces it. A minor
    revision (a typo) keeps the signatures made on the earlier one; a major change to the meaning
    needs a new version of the policy, exactly as for the English text.
    """

    __tablename__ = "portal_policy_translations"
    __table_args__ = (UniqueConstraint("version_id", "language", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("portal_policy_versions.id", ondelete="CASCADE"), index=True)
    #: A code of :data:`portal.i18n.LANGUAGES` other than English.
    language: Mapped[str] = mapped_column(String(10))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default=VersionStatus.DRAFT.value, index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: Markdown source, rendered like the English text.
    body_md: Mapped[str] = mapped_column(Text)
    #: SHA-256 (hex) of ``body_md`` (UTF-8), shown to staff so two copies can be compared.
    body_sha256: Mapped[str] = mapped_column(String(64))
    #: True when the school says this translation, not the English, is the authoritative text.
    authoritative: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The version's yes/no questions in this language, one per line in the same order ("" = not translated).
    questions: Mapped[str] = mapped_column(Text, default="")
    change_note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))

    version: Mapped[PolicyVersion] = relationship()
