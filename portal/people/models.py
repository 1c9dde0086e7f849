"""People and the school they belong to.

One :class:`Person` may hold several roles at once (a teacher can also be a parent).
Pupils are people with a :class:`PupilProfile`; parents are linked to pupils by
:class:`GuardianLink`. The Head Teacher, DSL and chair of governors are named in
:class:`SchoolSettings` so there is exactly one of each.
"""
from __future__ import annotations

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, session, utcnow


class Role(str, enum.Enum):
    """Roles a person can hold; several at once."""

    PARENT = "parent"
    PUPIL = "pupil"
    TEACHER = "teacher"
    SUPPORT_STAFF = "support_staff"
    GOVERNOR = "governor"
    VOLUNTEER = "volunteer"
    CONTRACTOR = "contractor"
    AUDITOR = "auditor"
    ADMIN = "admin"
    VISITOR = "visitor"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.PARENT: "Parent or carer",
    Role.PUPIL: "Pupil",
    Role.TEACHER: "Teacher",
    Role.SUPPORT_STAFF: "Support staff",
    Role.GOVERNOR: "Governor",
    Role.VOLUNTEER: "Volunteer",
    Role.CONTRACTOR: "Contractor",
    Role.AUDITOR: "Auditor",
    Role.ADMIN: "Portal administrator",
    Role.VISITOR: "Visitor",
}

#: Roles that make someone staff for the staff portal.
STAFF_ROLES = frozenset({Role.TEACHER, Role.SUPPORT_STAFF})
#: Adults who work with or in the school (they declare family links).
ADULT_ROLES = frozenset(
    {Role.TEACHER, Role.SUPPORT_STAFF, Role.GOVERNOR, Role.VOLUNTEER, Role.CONTRACTOR}
)
#: Adults who use the staff portal's "My policies" page (visitors sign their AUP there too, but
#: declare no family links: the exception in the policy is for people who work in the school).
POLICY_ADULT_ROLES = ADULT_ROLES | {Role.VISITOR}


class SchoolSettings(Base):
    """The single row of school-wide settings."""

    __tablename__ = "portal_school_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    head_teacher_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    dsl_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    chair_of_governors_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    #: Month and day on which the academic year starts (UK default: 1 September).
    academic_year_start_month: Mapped[int] = mapped_column(Integer, default=9)
    academic_year_start_day: Mapped[int] = mapped_column(Integer, default=1)
    #: The official channel for messages about children (named on forms and policies).
    official_channel: Mapped[str] = mapped_column(
        String(300), default="the school office by email or telephone"
    )
    #: Contact details of the professionals' online-safety helpline.
    helpline_contact: Mapped[str] = mapped_column(String(300), default="")

    head_teacher: Mapped[Person | None] = relationship(foreign_keys=[head_teacher_id])
    dsl: Mapped[Person | None] = relationship(foreign_keys=[dsl_id])
    chair_of_governors: Mapped[Person | None] = relationship(foreign_keys=[chair_of_governors_id])

    @classmethod
    def get(cls) -> SchoolSettings | None:
        return session.scalar(select(cls).order_by(cls.id).limit(1))

    def academic_year_of(self, day: dt.date) -> int:
        """The starting calendar year of the academic year containing *day*."""
        start = dt.date(day.year, self.academic_year_start_month, self.academic_year_start_day)
        return day.year if day >= start else day.year - 1


def academic_year_label(start_year: int) -> str:
    """``2026`` -> ``"2026-27"``."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


class Person(UserMixin, Base):
    """Anyone who signs, reviews or audits: parents, pupils, staff, governors and so on."""

    __tablename__ = "portal_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable identifier from the school's MIS/roster (unique when present).
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    #: Sign-in address; young pupils have none.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    roles: Mapped[list[PersonRole]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )
    pupil: Mapped[PupilProfile | None] = relationship(
        back_populates="person", foreign_keys="PupilProfile.person_id", uselist=False
    )

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def short_name(self) -> str:
        """First name and initial, as shown to classmates."""
        return f"{self.given_name} {self.family_name[:1]}."

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login; changes when the password changes
        return f"{self.id}:{(self.password_hash or '')[-16:]}"

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.roles)

    def has_role(self, role: Role) -> bool:
        return role in self.role_set

    def add_role(self, role: Role) -> None:
        if not self.has_role(role):
            self.roles.append(PersonRole(role=role.value))

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.full_name!r}>"


class PersonRole(Base):
    """One role held by one person."""

    __tablename__ = "portal_person_roles"
    __table_args__ = (UniqueConstraint("person_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(30))

    person: Mapped[Person] = relationship(back_populates="roles")


class SchoolClass(Base):
    """A class (form group) of pupils with one or more teachers."""

    __tablename__ = "portal_classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short code from the roster, e.g. ``3B``.
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    year_group: Mapped[int] = mapped_column(Integer)

    teachers: Mapped[list[ClassTeacher]] = relationship(
        back_populates="school_class", cascade="all, delete-orphan"
    )
    pupils: Mapped[list[PupilProfile]] = relationship(back_populates="school_class")

    @property
    def teacher_people(self) -> list[Person]:
        return [t.teacher for t in self.teachers]


class ClassTeacher(Base):
    __tablename__ = "portal_class_teachers"
    __table_args__ = (UniqueConstraint("class_id", "teacher_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("portal_classes.id", ondelete="CASCADE"))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))

    school_class: Mapped[SchoolClass] = relationship(back_populates="teachers")
    teacher: Mapped[Person] = relationship()


class PupilProfile(Base):
    """The pupil-specific part of a person."""

    __tablename__ = "portal_pupils"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("portal_people.id", ondelete="CASCADE"), primary_key=True
    )
    #: -1 Nursery, 0 Reception, 1..13 Year 1..Year 13.
    year_group: Mapped[int] = mapped_column(Integer)
    date_of_birth: Mapped[dt.date] = mapped_column(Date)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("portal_classes.id"))
    #: Pupil uses the SEND (special educational needs) variant of their AUP when one exists.
    send: Mapped[bool] = mapped_column(Boolean, default=False)

    person: Mapped[Person] = relationship(back_populates="pupil", foreign_keys=[person_id])
    school_class: Mapped[SchoolClass | None] = relationship(back_populates="pupils")

    @property
    def age_band(self) -> str:
        from portal.people.bands import age_band_for_year

        return age_band_for_year(self.year_group)


class GuardianLink(Base):
    """A parent or carer of a pupil."""

    __tablename__ = "portal_guardian_links"
    __table_args__ = (UniqueConstraint("parent_id", "pupil_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    relationship_label: Mapped[str] = mapped_column(String(50), default="parent")

    parent: Mapped[Person] = relationship(foreign_keys=[parent_id])
    pupil: Mapped[Person] = relationship(foreign_keys=[pupil_id])


class CapabilityGrant(Base):
    """A capability delegated by the Head Teacher to a named member of staff."""

    __tablename__ = "portal_capability_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    capability: Mapped[str] = mapped_column(String(50))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    granted_by: Mapped[Person | None] = relationship(foreign_keys=[granted_by_id])


class LoginAttempt(Base):
    """A failed sign-in, kept for rate limiting across worker processes."""

    __tablename__ = "portal_login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``email:<address>`` or ``ip:<address>``; never the password.
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class UsedToken(Base):
    """Single-use tokens (invitations, resets) that have been spent."""

    __tablename__ = "portal_used_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = [
    "ADULT_ROLES",
    "STAFF_ROLES",
    "CapabilityGrant",
    "ClassTeacher",
    "GuardianLink",
    "LoginAttempt",
    "Person",
    "PersonRole",
    "PupilProfile",
    "Role",
    "SchoolClass",
    "SchoolSettings",
    "UsedToken",
    "academic_year_label",
]
