"""Accounts, and people in a school.

An :class:`Account` is a global sign-in (email and password). A :class:`Person` is someone in
one school, linked to their account: a teacher in two schools, or a parent with children in
two schools, has one account and one person row per school. One person may hold several roles
in their school (a teacher can also be a parent). Pupils are people with a
:class:`PupilProfile`; parents are linked to pupils by :class:`GuardianLink`. The Head Teacher,
DSL and chair of governors are named on the :class:`~portal.schools.models.School`.
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.messages import N_
from portal.people import folding
from portal.schools.isolation import SchoolOwned
from portal.schools.models import School, TrustMembership


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


#: English labels (exports and the audit log keep them); pages show ``_(role.label)``.
ROLE_LABELS = {
    Role.PARENT: N_("Parent or carer"),
    Role.PUPIL: N_("Pupil"),
    Role.TEACHER: N_("Teacher"),
    Role.SUPPORT_STAFF: N_("Support staff"),
    Role.GOVERNOR: N_("Governor"),
    Role.VOLUNTEER: N_("Volunteer"),
    Role.CONTRACTOR: N_("Contractor"),
    Role.AUDITOR: N_("Auditor"),
    Role.ADMIN: N_("Portal administrator"),
    Role.VISITOR: N_("Visitor"),
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


def academic_year_label(start_year: int) -> str:
    """``2026`` -> ``"2026-27"``."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


class Account(UserMixin, Base):  # type: ignore[misc]  # flask_login ships no type hints: UserMixin is Any
    """A global sign-in. Its people (one per school) carry the roles.

    Someone with no school (a trust auditor, say) signs in as the account itself; the access
    decorator lets such a sign-in open trust pages only.
    """

    __tablename__ = "portal_accounts"
    __table_args__ = (
        # Sign-in addresses are stored lower-case; this makes "Ann@X" and "ann@x" one account even
        # when a row is written some other way (the plain unique index on email serves look-ups).
        Index("uq_portal_accounts_lower_email", func.lower(text("email")), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Sign-in address, stored lower-case (empty for someone who only ever arrives from an LMS).
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    #: Name shown when the account is used outside any school (trust roles).
    display_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The school chosen last (the next sign-in starts there).
    last_school_id: Mapped[int | None] = mapped_column(ForeignKey("portal_schools.id", ondelete="SET NULL"))
    #: The language the person chose for pages and emails (a code of portal.i18n.LANGUAGES; None =
    #: the school's default, then the browser's). One choice for all their schools.
    language: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When two-step sign-in became required for this account (the grace period counts from
    #: here); empty while it is not required or not yet noticed at a sign-in.
    mfa_required_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    trust_roles: Mapped[list[TrustMembership]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin"
    )

    #: An account is not a person of any school: it holds no school roles.
    is_account = True
    role_set: frozenset[Role] = frozenset()

    @property
    def full_name(self) -> str:
        return self.display_name or self.email or f"Account {self.id}"

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login; the cookie gets "<id>:<session secret>" from portal.auth.sessions
        return str(self.id)

    @property
    def account(self) -> Account:
        return self

    def has_role(self, role: Role) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<Account {self.id}>"


def _name_key_default(context: Any) -> str:
    """The insert default of :attr:`Person.name_key`, from the row's own names (ORM and Core inserts)."""
    row = context.get_current_parameters()
    return folding.name_key(row.get("given_name"), row.get("family_name"))


class Person(SchoolOwned, UserMixin, Base):  # type: ignore[misc]  # flask_login is untyped: UserMixin is Any
    """Anyone in a school who signs, reviews or audits: parents, pupils, staff, governors and so on."""

    __tablename__ = "portal_people"
    __table_args__ = (
        UniqueConstraint("school_id", "external_id"),
        UniqueConstraint("school_id", "account_id"),
        # One person per address in a school, whatever its case ("Ann@X" is "ann@x").
        Index("uq_portal_people_school_id_lower_email", "school_id", func.lower(text("email")), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable identifier from the school's MIS/roster (unique in the school when present).
    external_id: Mapped[str | None] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    #: Both names folded for searching (:mod:`portal.people.folding`): made from the names on insert, and
    #: again by any ORM update of a person whose key is not their names'; the roster import sets it likewise.
    name_key: Mapped[str] = mapped_column(String(folding.KEY_LENGTH), default=_name_key_default,
                                          server_default="")
    #: Contact address in this school; young pupils have none. The sign-in is the account's.
    email: Mapped[str | None] = mapped_column(String(254))
    #: The global sign-in of this person (None: cannot sign in, e.g. a young pupil).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("portal_accounts.id", ondelete="SET NULL"),
                                                   index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account | None] = relationship()
    school: Mapped[School] = relationship(foreign_keys="Person.school_id")
    is_account = False

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
        return self.active and self.account is not None and self.account.active

    def get_id(self) -> str:  # Flask-Login: the account signs in; the school is in the session
        if self.account is None:
            raise ValueError("this person has no sign-in account")
        return self.account.get_id()

    @property
    def password_hash(self) -> str | None:
        return self.account.password_hash if self.account is not None else None

    @password_hash.setter
    def password_hash(self, value: str | None) -> None:
        """Set the password of the person's account, making the account from their email if they
        have none (for scripts and tests; the portal's own forms go through the account)."""
        if self.account is None:
            if value is None:
                return
            if not self.email:
                raise ValueError("a person needs an email address to have a password")
            self.account = Account(email=self.email.strip().lower(), display_name=self.full_name)
        self.account.password_hash = value

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


@event.listens_for(Person, "before_update")
def _refold_names(_mapper: Any, _conn: Any, person: Person) -> None:
    """A changed name changes what the person is found by (pseudonymised leavers, an LTI launch's names)."""
    key = folding.name_key(person.given_name, person.family_name)
    if person.name_key != key:
        person.name_key = key


class PersonRole(SchoolOwned, Base):
    """One role held by one person."""

    __tablename__ = "portal_person_roles"
    __table_args__ = (UniqueConstraint("person_id", "role"), Index("ix_portal_person_roles_school_id_role",
                                                                   "school_id", "role"))

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(30))

    person: Mapped[Person] = relationship(back_populates="roles")


class SchoolClass(SchoolOwned, Base):
    """A class (form group) of pupils with one or more teachers."""

    __tablename__ = "portal_classes"
    __table_args__ = (UniqueConstraint("school_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short code from the roster, e.g. ``3B`` (unique in the school).
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    year_group: Mapped[int] = mapped_column(Integer)

    teachers: Mapped[list[ClassTeacher]] = relationship(
        back_populates="school_class", cascade="all, delete-orphan"
    )
    pupils: Mapped[list[PupilProfile]] = relationship(back_populates="school_class")

    @property
    def teacher_people(self) -> list[Person]:
        return [t.teacher for t in self.teachers]


class ClassTeacher(SchoolOwned, Base):
    __tablename__ = "portal_class_teachers"
    __table_args__ = (UniqueConstraint("class_id", "teacher_id"), Index("ix_portal_class_teachers_teacher_id",
                                                                       "teacher_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("portal_classes.id", ondelete="CASCADE"))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))

    school_class: Mapped[SchoolClass] = relationship(back_populates="teachers")
    teacher: Mapped[Person] = relationship()


class PupilProfile(SchoolOwned, Base):
    """The pupil-specific part of a person."""

    __tablename__ = "portal_pupils"
    __table_args__ = (Index("ix_portal_pupils_school_id_class_id", "school_id", "class_id"),)

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


class GuardianLink(SchoolOwned, Base):
    """A parent or carer of a pupil."""

    __tablename__ = "portal_guardian_links"
    __table_args__ = (UniqueConstraint("parent_id", "pupil_id"), Index("ix_portal_guardian_links_pupil_id", "pupil_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    relationship_label: Mapped[str] = mapped_column(String(50), default="parent")

    parent: Mapped[Person] = relationship(foreign_keys=[parent_id])
    pupil: Mapped[Person] = relationship(foreign_keys=[pupil_id])


class CapabilityGrant(SchoolOwned, Base):
    """A capability delegated by the Head Teacher to a named member of staff."""

    __tablename__ = "portal_capability_grants"
    __table_args__ = (Index("ix_portal_capability_grants_person_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    capability: Mapped[str] = mapped_column(String(50))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    #: Compare-and-set: bumped by every change, so two simultaneous changes cannot both apply
    #: (portal/idempotency.py).
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": row_version}

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
    "Account",
    "CapabilityGrant",
    "ClassTeacher",
    "GuardianLink",
    "LoginAttempt",
    "Person",
    "PersonRole",
    "PupilProfile",
    "Role",
    "SchoolClass",
    "UsedToken",
    "academic_year_label",
]
