"""Trusts and schools.

One installation holds one or more :class:`School` rows, optionally grouped under a
:class:`Trust`. Everything a school owns carries its ``school_id`` (see
:mod:`portal.schools.isolation`). The Head Teacher, DSL, deputy DSLs and chair of governors are
named per school, so each school has exactly one Head, one DSL and one chair.
"""
from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.schools.isolation import SchoolOwned, current_school_id

if TYPE_CHECKING:
    from portal.people.models import Account, Person


class Phase(str, enum.Enum):
    """Phases of education a school covers (a school may cover several)."""

    NURSERY = "nursery"
    PRIMARY = "primary"
    SECONDARY = "secondary"
    SIXTH_FORM = "sixth_form"

    @property
    def label(self) -> str:
        return {"nursery": "Nursery", "primary": "Primary", "secondary": "Secondary",
                "sixth_form": "Sixth form"}[self.value]


class Trust(Base):
    """A multi-academy trust (or any group of schools sharing one installation)."""

    __tablename__ = "portal_trusts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    schools: Mapped[list[School]] = relationship(back_populates="trust", order_by="School.name")


class School(Base):
    """One school: its identity, its designated people and its school-wide settings."""

    __tablename__ = "portal_schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable across installations (kept when a school is exported and imported elsewhere).
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    #: Short name used by the CLI and exports, e.g. ``larkspur-hollow``.
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The DfE unique reference number (six digits), when known.
    urn: Mapped[str | None] = mapped_column(String(10))
    #: Comma-separated :class:`Phase` values, e.g. ``primary,secondary``.
    phases: Mapped[str] = mapped_column(String(100), default="")
    trust_id: Mapped[int | None] = mapped_column(ForeignKey("portal_trusts.id", ondelete="SET NULL"), index=True)
    head_teacher_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_people.id", use_alter=True, ondelete="SET NULL"))
    dsl_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", use_alter=True, ondelete="SET NULL"))
    chair_of_governors_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_people.id", use_alter=True, ondelete="SET NULL"))
    #: Month and day on which the academic year starts (UK default: 1 September).
    academic_year_start_month: Mapped[int] = mapped_column(Integer, default=9)
    academic_year_start_day: Mapped[int] = mapped_column(Integer, default=1)
    #: The official channel for messages about children (named on forms and policies).
    official_channel: Mapped[str] = mapped_column(
        String(300), default="the school office by email or telephone"
    )
    #: The language of pages and emails for people who chose none (None: the browser's, then English).
    default_language: Mapped[str | None] = mapped_column(String(10))
    #: Contact details of the professionals' online-safety helpline.
    helpline_contact: Mapped[str] = mapped_column(String(300), default="")
    #: The school's sealing identity: its folder under ``PORTAL_KEYS_DIR`` ("" = the folder itself,
    #: as a single-school installation had it before trusts).
    keys_path: Mapped[str] = mapped_column(String(200), default="")
    #: Where the school's sealed PDFs live in the archive store ("" = the store's top level).
    archive_prefix: Mapped[str] = mapped_column(String(200), default="")
    #: OneRoster import: a teacher (or other staff) and a parent in one export with the same email
    #: become one person with both roles. Off: the clash is reported and nothing is imported.
    roster_merge_same_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: Automatic reminders to sign: the first after this many school days, then every so many school
    #: days, at most so many in all (empty: the installation's PORTAL_REMINDER_* defaults; max 0: none).
    reminder_first_days: Mapped[int | None] = mapped_column(Integer)
    reminder_every_days: Mapped[int | None] = mapped_column(Integer)
    reminder_max: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    trust: Mapped[Trust | None] = relationship(back_populates="schools")
    head_teacher: Mapped[Person | None] = relationship(foreign_keys=[head_teacher_id], post_update=True)
    dsl: Mapped[Person | None] = relationship(foreign_keys=[dsl_id], post_update=True)
    chair_of_governors: Mapped[Person | None] = relationship(foreign_keys=[chair_of_governors_id], post_update=True)

    @property
    def phase_list(self) -> list[Phase]:
        return [Phase(p) for p in self.phases.split(",") if p]

    def academic_year_of(self, day: dt.date) -> int:
        """The starting calendar year of the academic year containing *day*."""
        start = dt.date(day.year, self.academic_year_start_month, self.academic_year_start_day)
        return day.year if day >= start else day.year - 1

    def reminder_schedule(self, defaults: dict[str, Any]) -> tuple[int, int, int]:
        """(first after N school days, then every M, at most K) for this school."""
        def pick(value: int | None, key: str) -> int:
            return int(value) if value is not None else int(defaults[key])

        return (pick(self.reminder_first_days, "PORTAL_REMINDER_FIRST_DAYS"),
                pick(self.reminder_every_days, "PORTAL_REMINDER_EVERY_DAYS"),
                pick(self.reminder_max, "PORTAL_REMINDER_MAX"))

    @classmethod
    def get(cls) -> School | None:
        """The school the current request, command or job is about (an identity-map hit after the first)."""
        from portal.db import session

        sid = current_school_id(session)
        return session.get(cls, sid) if sid is not None else None

    def __repr__(self) -> str:
        return f"<School {self.slug}>"


class DeputyDsl(SchoolOwned, Base):
    """A deputy Designated Safeguarding Lead: sees and handles safeguarding concerns too."""

    __tablename__ = "portal_deputy_dsls"
    __table_args__ = (UniqueConstraint("school_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"), index=True)

    person: Mapped[Person] = relationship()


class TrustRole(str, enum.Enum):
    """Roles held across a trust's schools (on an account, not in one school)."""

    ADMIN = "trust_admin"
    AUDITOR = "trust_auditor"
    SAFEGUARDING = "trust_safeguarding"
    COMPLIANCE = "trust_compliance"

    @property
    def label(self) -> str:
        return {
            "trust_admin": "Trust administrator",
            "trust_auditor": "Trust auditor",
            "trust_safeguarding": "Trust safeguarding lead",
            "trust_compliance": "Trust compliance",
        }[self.value]


class TrustMembership(Base):
    """One trust role held by one account."""

    __tablename__ = "portal_trust_roles"
    __table_args__ = (UniqueConstraint("account_id", "trust_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("portal_accounts.id", ondelete="CASCADE"), index=True)
    trust_id: Mapped[int] = mapped_column(ForeignKey("portal_trusts.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(30))

    account: Mapped[Account] = relationship(back_populates="trust_roles")
    trust: Mapped[Trust] = relationship()
