"""Declared family links between an adult of the school and a pupil.

An adult (staff, governor, volunteer, contractor) declares a link at entry and re-confirms
their list every academic year; a parent may say at enrolment that an adult of the school is
their relative. The Head Teacher (or a holder of ``links.approve``) approves or declines each
declaration. Approved declarations form the register.
"""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.people.models import Person
from portal.schools.isolation import SchoolOwned


def N_(text: str) -> str:
    """Marks a label for the catalogues; pages show it with ``_()`` (exports keep the English)."""
    return text


#: Relationship choices (value -> words shown).
RELATIONSHIPS: dict[str, str] = {
    "parent": N_("Parent or step-parent"),
    "grandparent": N_("Grandparent"),
    "sibling": N_("Brother or sister (including half and step)"),
    "aunt_uncle": N_("Aunt or uncle"),
    "cousin": N_("Cousin"),
    "carer": N_("Carer, guardian or foster carer"),
    "other": N_("Another family relationship (say which in the note)"),
}


class LinkStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return {"pending": N_("Waiting for a decision"), "approved": N_("Approved"),
                "declined": N_("Declined")}[self.value]


class LinkSource(str, enum.Enum):
    #: The adult declared the link themselves.
    ADULT = "adult"
    #: A parent said an adult of the school is their relative.
    PARENT = "parent"


class FamilyLinkDeclaration(SchoolOwned, Base):
    """One declared link between an adult of the school and a pupil."""

    __tablename__ = "portal_family_links"
    __table_args__ = (
        # One live declaration per adult and pupil: pending or approved (declined ones may repeat).
        Index("uq_portal_family_links_live_pair", "adult_id", "pupil_id", unique=True,
              postgresql_where=text("status IN ('pending', 'approved')"),
              sqlite_where=text("status IN ('pending', 'approved')")),
        Index("ix_portal_family_links_school_id_status", "school_id", "status"),
        Index("ix_portal_family_links_pupil_id_adult_id", "pupil_id", "adult_id"),
        Index("ix_portal_family_links_declared_by_id", "declared_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10), default=LinkSource.ADULT.value)
    #: Who filled in the form (the adult, or the parent for ``source="parent"``).
    declared_by_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    #: The adult of the school; empty until matched when a parent typed a name.
    adult_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    #: The pupil; empty until the Head Teacher matches a typed name and class.
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    #: What a volunteer, contractor or governor typed (they never see pupil lists).
    typed_pupil_name: Mapped[str | None] = mapped_column(String(200))
    typed_pupil_class: Mapped[str | None] = mapped_column(String(100))
    #: What a parent typed when the adult was not in the list.
    typed_adult_name: Mapped[str | None] = mapped_column(String(200))
    relationship_kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(500), default="")
    #: Starting year of the academic year in which it was declared.
    academic_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=LinkStatus.PENDING.value, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The reason given with the decision (shown to the declaring person; never in the audit log).
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    #: Compare-and-set: bumped by every change, so two simultaneous changes cannot both apply
    #: (portal/idempotency.py).
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": row_version}

    declared_by: Mapped[Person] = relationship(foreign_keys=[declared_by_id])
    adult: Mapped[Person | None] = relationship(foreign_keys=[adult_id])
    pupil: Mapped[Person | None] = relationship(foreign_keys=[pupil_id])
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def status_enum(self) -> LinkStatus:
        return LinkStatus(self.status)

    @property
    def relationship_label(self) -> str:
        return RELATIONSHIPS.get(self.relationship_kind, self.relationship_kind)

    @property
    def adult_label(self) -> str:
        """The adult's name, or what was typed for it (in English: exports; pages use ``links/_names.html``)."""
        return self.adult.full_name if self.adult else f"{self.typed_adult_name or 'not given'} (typed, not matched)"

    @property
    def pupil_label(self) -> str:
        """The pupil's name, or the name and class typed for them (as :attr:`adult_label`)."""
        if self.pupil is not None:
            return self.pupil.full_name
        return (f"{self.typed_pupil_name or 'not given'}, {self.typed_pupil_class or 'not given'} "
                "(typed, not matched)")

    def decide(self, *, approve: bool, by: Person, reason: str) -> None:
        """Approve or decline (only while pending)."""
        if self.status != LinkStatus.PENDING.value:
            raise ValueError("already decided")
        if approve and (self.adult_id is None or self.pupil_id is None):
            raise ValueError("match the adult and the pupil before approving")
        self.status = (LinkStatus.APPROVED if approve else LinkStatus.DECLINED).value
        self.decided_by_id = by.id
        self.decided_at = utcnow()
        self.decision_reason = reason


class LinkConfirmation(SchoolOwned, Base):
    """A person's answer for a year: their declared list is complete (or they have none).

    Adults answer every academic year (``context="adult"``); parents answer once
    (``context="parent"``).
    """

    __tablename__ = "portal_family_link_confirmations"
    __table_args__ = (UniqueConstraint("person_id", "context", "academic_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    context: Mapped[str] = mapped_column(String(10), default="adult")
    academic_year: Mapped[int] = mapped_column(Integer)
    #: False when the person said they have no family links.
    has_links: Mapped[bool] = mapped_column(default=False)
    confirmed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship()
