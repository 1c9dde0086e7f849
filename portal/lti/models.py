"""LTI 1.3 platform registrations, launched identities, single-use nonces and grade passback.

A *registration* is one LMS (issuer + client id) the school has set up the tool in. People who
launch from it are linked by issuer + ``sub`` (the LMS's stable user id) in :class:`LtiIdentity`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.people.models import Person, SchoolClass
from portal.schools.isolation import SchoolOwned


class LtiRegistration(SchoolOwned, Base):
    """One platform (LMS) registration: the values copied from the LMS's tool configuration page."""

    __tablename__ = "portal_lti_registrations"
    __table_args__ = (UniqueConstraint("school_id", "issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: A name for people, e.g. "Larkspur Moodle".
    name: Mapped[str] = mapped_column(String(100))
    #: The platform's ``iss`` (Moodle: the site URL).
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    #: Platform's OIDC authentication URL (Moodle: ``/mod/lti/auth.php``).
    auth_login_url: Mapped[str] = mapped_column(String(500))
    #: Platform's OAuth2 token URL (Moodle: ``/mod/lti/token.php``).
    auth_token_url: Mapped[str] = mapped_column(String(500))
    #: OAuth2 audience when it differs from the token URL (rare).
    auth_audience: Mapped[str | None] = mapped_column(String(500))
    #: Platform's public keyset URL (Moodle: ``/mod/lti/certs.php``).
    key_set_url: Mapped[str | None] = mapped_column(String(500))
    #: A pasted JWKS, used instead of ``key_set_url`` when set.
    key_set: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Deployment ids the platform may launch with.
    deployment_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Parent links from the LMS's ``role_scope_mentor`` claim wait for the school's approval
    #: (someone with ``links.approve``) before the parent sees the child. Off: linked at once.
    approve_mentor_links: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    #: Name of a custom parameter that carries the person's role in the LMS (Moodle sends only
    #: Instructor, Learner or Administrator), e.g. ``countersign_role``; lower-case, as Moodle sends it.
    role_parameter: Mapped[str | None] = mapped_column(String(50))
    #: What each value of :attr:`role_parameter` means: value (lower-case) -> ``pupil``,
    #: ``teacher``, ``support_staff`` or ``none`` (refused).
    role_map: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")


class LtiMentorLink(SchoolOwned, Base):
    """A parent-child link an LMS asserted (``role_scope_mentor``), waiting for the school.

    Nothing is shown to the parent until it is approved; approving makes the
    :class:`~portal.people.models.GuardianLink`. A declined link is kept so that the next launch
    does not ask again.
    """

    __tablename__ = "portal_lti_mentor_links"
    __table_args__ = (UniqueConstraint("parent_id", "pupil_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_lti_registrations.id", ondelete="SET NULL"))
    parent_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"), index=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))
    #: ``pending``, ``approved`` or ``declined``.
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    registration: Mapped[LtiRegistration | None] = relationship()
    parent: Mapped[Person] = relationship(foreign_keys=[parent_id])
    pupil: Mapped[Person] = relationship(foreign_keys=[pupil_id])
    decided_by: Mapped[Person | None] = relationship(foreign_keys=[decided_by_id])


#: The longest ``sub`` (LTI 1.3, 5.3.6: at most 255 ASCII characters) and user id we keep. A longer
#: one is refused, never cut: two ids sharing their first 255 characters are different people.
MAX_SUB = 255


class LtiIdentity(SchoolOwned, Base):
    """A person as known to one LMS (issuer + sub)."""

    __tablename__ = "portal_lti_identities"
    __table_args__ = (UniqueConstraint("school_id", "issuer", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    sub: Mapped[str] = mapped_column(String(MAX_SUB))
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_launch_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship()


class LtiNonce(Base):
    """A launch nonce that has been used; a second launch with it is refused (replay)."""

    __tablename__ = "portal_lti_nonces"
    __table_args__ = (UniqueConstraint("issuer", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    nonce: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LtiLaunchData(Base):
    """pylti1p3's short-lived login state (nonce, state, launch claims), kept in the database so
    that it works across worker processes and without the Flask session cookie (LMS iframes)."""

    __tablename__ = "portal_lti_launch_data"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any] | list[Any] | str | bool | None] = mapped_column(JSON)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class LtiContext(SchoolOwned, Base):
    """An LMS course seen in an instructor launch, optionally linked to a portal class."""

    __tablename__ = "portal_lti_contexts"
    __table_args__ = (UniqueConstraint("registration_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("portal_lti_registrations.id", ondelete="CASCADE")
    )
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    #: Names and Role Provisioning Services URL (None when the LMS did not offer it).
    memberships_url: Mapped[str | None] = mapped_column(String(500))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("portal_classes.id", ondelete="SET NULL"))
    last_synced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped[LtiRegistration] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()
    teachers: Mapped[list[LtiContextTeacher]] = relationship(
        back_populates="context", cascade="all, delete-orphan"
    )


class LtiContextTeacher(SchoolOwned, Base):
    """A member of staff who launched from the course as an Instructor (may sync it)."""

    __tablename__ = "portal_lti_context_teachers"
    __table_args__ = (UniqueConstraint("context_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("portal_lti_contexts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"))

    context: Mapped[LtiContext] = relationship(back_populates="teachers")


class LtiGradeLink(SchoolOwned, Base):
    """Where to send a score: a resource link with an AGS line item, launched by one person."""

    __tablename__ = "portal_lti_grade_links"
    __table_args__ = (UniqueConstraint("registration_id", "person_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("portal_lti_registrations.id", ondelete="CASCADE")
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id", ondelete="CASCADE"), index=True)
    #: The person's LMS user id (the score's ``userId``).
    sub: Mapped[str] = mapped_column(String(255))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    lineitem_url: Mapped[str] = mapped_column(String(500))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The policy version the link asks people to sign (from the deep link's custom parameter).
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_policy_versions.id", ondelete="SET NULL")
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped[LtiRegistration] = relationship()
