"""Contact incidents, social-media incidents and their append-only timelines.

Routing: contact started by a pupil is a safeguarding matter for the DSL; contact started by
an adult is a conduct matter for the Head Teacher. A social-media post flagged as extremism
(Prevent) goes to the DSL; other posts go to the Head Teacher.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.links.models import FamilyLinkDeclaration
from portal.people.models import Person
from portal.schools.isolation import SchoolOwned
from portal.templating import N_

CONTACT_KINDS: dict[str, str] = {
    "friend_request": N_("Social-media friend or follow request"),
    "online_message": N_("Online message or chat"),
    "phone": N_("Phone call or text message"),
    "in_person": N_("Meeting or contact in person outside school"),
    "other": N_("Other contact"),
}
DIRECTIONS: dict[str, str] = {
    "from_pupil": N_("The pupil contacted the adult"),
    "from_adult": N_("The adult contacted the pupil"),
}
AUTHOR_TYPES: dict[str, str] = {
    "community": N_("A member of the school community (a parent, pupil, member of staff or governor)"),
    "third_party": N_("Someone outside the school community"),
}
DELETION_OUTCOMES: dict[str, str] = {
    "not_requested": N_("Not requested yet"),
    "pending": N_("Requested, no answer yet"),
    "removed": N_("The post was removed"),
    "refused": N_("The author refused to remove it"),
}
#: Who an incident is routed to.
ROUTES = {"dsl": N_("Designated Safeguarding Lead"), "head": N_("Head Teacher")}


class ContactIncident(SchoolOwned, Base):
    """A friend request or other contact between a pupil and an adult of the school."""

    __tablename__ = "portal_contact_incidents"
    __table_args__ = (Index("ix_portal_contact_incidents_school_id_created_at", "school_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(20))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"))
    adult_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"))
    platform: Mapped[str] = mapped_column(String(100), default="")
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text)
    #: "dsl" (safeguarding) or "head" (conduct).
    routed_to: Mapped[str] = mapped_column(String(10))
    #: Whether an approved family link covered the pair when it was recorded.
    covered_by_link: Mapped[bool] = mapped_column(Boolean, default=False)
    covering_link_id: Mapped[int | None] = mapped_column(ForeignKey("portal_family_links.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Compare-and-set: bumped by every change, so two simultaneous changes cannot both apply
    #: (portal/idempotency.py).
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": row_version}

    pupil: Mapped[Person] = relationship(foreign_keys=[pupil_id])
    adult: Mapped[Person] = relationship(foreign_keys=[adult_id])
    recorded_by: Mapped[Person] = relationship(foreign_keys=[recorded_by_id])
    covering_link: Mapped[FamilyLinkDeclaration | None] = relationship()
    actions: Mapped[list[IncidentAction]] = relationship(
        back_populates="contact_incident", order_by="IncidentAction.id"
    )

    @property
    def reference(self) -> str:
        return f"CI-{self.id:05d}"  # walk finding: "C-3" read like concern "C-00003"

    @property
    def kind_label(self) -> str:
        return str(gettext(CONTACT_KINDS.get(self.kind, self.kind)))

    @property
    def direction_label(self) -> str:
        return str(gettext(DIRECTIONS.get(self.direction, self.direction)))


class SocialMediaIncident(SchoolOwned, Base):
    """A post on social media about the school or someone in it."""

    __tablename__ = "portal_social_media_incidents"
    __table_args__ = (Index("ix_portal_social_media_incidents_school_id_created_at", "school_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_type: Mapped[str] = mapped_column(String(20))
    #: Who posted, in a few words (for example "a Year 9 parent").
    author_description: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(100))
    posted_on: Mapped[dt.date | None] = mapped_column(Date)
    seen_on: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text)
    #: Extremism or radicalisation concern (Prevent duty): routed to the DSL.
    prevent_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    routed_to: Mapped[str] = mapped_column(String(10))
    # A post by a member of the school community: the Head Teacher asks for it to be removed.
    deletion_requested_on: Mapped[dt.date | None] = mapped_column(Date)
    deletion_outcome: Mapped[str] = mapped_column(String(20), default="not_requested")
    deletion_outcome_on: Mapped[dt.date | None] = mapped_column(Date)
    # A post by a third party.
    reported_to_platform_on: Mapped[dt.date | None] = mapped_column(Date)
    helpline_contacted_on: Mapped[dt.date | None] = mapped_column(Date)
    police_involved: Mapped[bool] = mapped_column(Boolean, default=False)
    police_reference: Mapped[str] = mapped_column(String(100), default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Compare-and-set: bumped by every change, so two simultaneous changes cannot both apply
    #: (portal/idempotency.py).
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": row_version}

    recorded_by: Mapped[Person] = relationship(foreign_keys=[recorded_by_id])
    actions: Mapped[list[IncidentAction]] = relationship(
        back_populates="social_incident", order_by="IncidentAction.id"
    )

    @property
    def reference(self) -> str:
        return f"SM-{self.id:05d}"

    @property
    def author_type_label(self) -> str:
        return str(gettext(AUTHOR_TYPES.get(self.author_type, self.author_type)))

    @property
    def deletion_outcome_label(self) -> str:
        return str(gettext(DELETION_OUTCOMES.get(self.deletion_outcome, self.deletion_outcome)))


class IncidentAction(SchoolOwned, Base):
    """One entry on an incident's timeline. Entries are never changed or deleted."""

    __tablename__ = "portal_incident_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_contact_incidents.id"), index=True
    )
    social_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_social_media_incidents.id"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    text: Mapped[str] = mapped_column(String(1000))

    actor: Mapped[Person | None] = relationship()
    contact_incident: Mapped[ContactIncident | None] = relationship(back_populates="actions")
    social_incident: Mapped[SocialMediaIncident | None] = relationship(back_populates="actions")


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete a timeline entry."""


@event.listens_for(Session, "before_flush")
def _timeline_is_append_only(sess: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(sess.dirty) + list(sess.deleted):
        if isinstance(obj, IncidentAction) and (obj in sess.deleted or sess.is_modified(obj)):
            raise AppendOnlyError("incident timeline entries are append-only")
