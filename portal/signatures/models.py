"""A signature records exactly what was agreed, by whom, how and when.

Rows are never updated after they are written: a later change (a consent withdrawn, a new
version signed) is a new row.
"""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.people.models import Person
from portal.policies.models import ConsentItem, PolicyVersion
from portal.schools.isolation import SchoolOwned


class Decision(str, enum.Enum):
    SIGNED = "signed"
    DECLINED = "declined"


class Method(str, enum.Enum):
    ONLINE = "online"            # signed in the portal by the signer
    COUNTERSIGN = "countersign"  # a parent signing a young child's pupil AUP
    IN_CLASS = "in_class"        # a pupil acknowledging in class, witnessed by the teacher
    LTI = "lti"                  # signed inside the LMS through an LTI launch
    PAPER = "paper"              # a parent's signed paper slip, recorded by the office (not an e-signature)
    VERBAL = "verbal"            # a parent's spoken agreement, recorded by the office (not an e-signature)

    @property
    def label(self) -> str:
        return METHOD_LABELS[self]

    @property
    def is_offline(self) -> bool:
        """Recorded by the office on a parent's behalf: never shown as an e-signature."""
        return self in OFFLINE_METHODS


METHOD_LABELS = {
    Method.ONLINE: "Online",
    Method.COUNTERSIGN: "Countersigned online",
    Method.IN_CLASS: "In class",
    Method.LTI: "In the learning platform",
    Method.PAPER: "On paper, recorded by the office",
    Method.VERBAL: "Verbally, recorded by the office",
}
OFFLINE_METHODS = frozenset({Method.PAPER, Method.VERBAL})


def method_label(value: str) -> str:
    """Words for a ``Signature.method`` value (unknown values are shown as they are)."""
    try:
        return Method(value).label
    except ValueError:
        return value


class Signature(SchoolOwned, Base):
    __tablename__ = "portal_signatures"
    #: (school, id): the auditor's newest-first page of a school walks this index from the end and
    #: stops after a page, instead of walking every school's signatures by id and skipping the others.
    __table_args__ = (Index("ix_portal_signatures_school_id_academic_year", "school_id", "academic_year"),
                      Index("ix_portal_signatures_school_id_id", "school_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("portal_policy_versions.id"), index=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"), index=True)
    #: The role the signer signed in (``parent``, ``pupil``, ``teacher``...).
    signer_role: Mapped[str] = mapped_column(String(30))
    #: The pupil a parent countersigned for (None when signing for oneself).
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"), index=True)
    decision: Mapped[str] = mapped_column(String(10), default=Decision.SIGNED.value)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    #: The full name typed by the signer (in class: the pupil's name as shown).
    signed_name: Mapped[str] = mapped_column(String(200))
    #: SHA-256 (hex) of the exact text shown to the signer.
    text_sha256: Mapped[str] = mapped_column(String(64))
    #: The language of the translation shown beside the English text (None: the English text only).
    language: Mapped[str | None] = mapped_column(String(10))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(400))
    method: Mapped[str] = mapped_column(String(20), default=Method.ONLINE.value)
    #: The teacher who witnessed an in-class acknowledgement.
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    #: Starting year of the academic year the signature counts for.
    academic_year: Mapped[int] = mapped_column(Integer, index=True)

    version: Mapped[PolicyVersion] = relationship()
    signer: Mapped[Person] = relationship(foreign_keys=[signer_id])
    on_behalf_of: Mapped[Person | None] = relationship(foreign_keys=[on_behalf_of_id])
    witness: Mapped[Person | None] = relationship(foreign_keys=[witness_id])
    consent_answers: Mapped[list[ConsentAnswer]] = relationship(back_populates="signature")

    @property
    def is_offline(self) -> bool:
        """A paper or verbal agreement the office recorded (see :class:`OfflineAgreement`)."""
        return self.method in {m.value for m in OFFLINE_METHODS}


class ConsentAnswer(SchoolOwned, Base):
    """One yes/no answer. Changing one's mind adds a row; the newest row is the answer."""

    __tablename__ = "portal_consent_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_item_id: Mapped[int] = mapped_column(ForeignKey("portal_consent_items.id"), index=True)
    #: Set when the answer was given while signing.
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("portal_signatures.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"), index=True)
    #: The pupil the answer is about (parents answering for a child).
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    answer: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    consent_item: Mapped[ConsentItem] = relationship()
    signature: Mapped[Signature | None] = relationship(back_populates="consent_answers")


class OfflineAgreement(SchoolOwned, Base):
    """How a parent without a computer agreed: a signed paper slip or their spoken word, recorded
    by a member of the office on their behalf. Its :class:`Signature` has method ``paper`` or
    ``verbal`` and is never shown as an e-signature. Written once, never changed."""

    __tablename__ = "portal_offline_agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(ForeignKey("portal_signatures.id", ondelete="CASCADE"), unique=True)
    #: The member of staff who recorded it.
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The day the parent signed the slip or said yes.
    agreed_on: Mapped[dt.date] = mapped_column(Date)
    #: A few words on how (e.g. "slip returned in the book bag", "by telephone to the office").
    note: Mapped[str] = mapped_column(String(300), default="")
    #: The scan of the signed slip: random file name in ``PORTAL_UPLOAD_DIR/agreements`` (paper only).
    scan_stored_name: Mapped[str | None] = mapped_column(String(80), unique=True)
    scan_original_name: Mapped[str | None] = mapped_column(String(120))
    #: Found from the file's content, never its name.
    scan_content_type: Mapped[str | None] = mapped_column(String(50))
    scan_size: Mapped[int | None] = mapped_column(Integer)
    scan_sha256: Mapped[str | None] = mapped_column(String(64))

    signature: Mapped[Signature] = relationship(backref=backref("offline", uselist=False))
    recorded_by: Mapped[Person] = relationship()
