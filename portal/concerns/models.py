"""Concerns, their private thread, attachments, history, and the school calendar."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.db import Base, UTCDateTime, utcnow
from portal.people.models import Person
from portal.schools.isolation import SchoolOwned


def N_(text: str) -> str:
    """Marks a label for the catalogues (``make translations``); pages translate it where they show it."""
    return text


class Category(str, enum.Enum):
    TEACHING = "teaching"
    BEHAVIOUR = "behaviour"
    ONLINE_SAFETY = "online_safety"
    SEND = "send"
    COMMUNICATION = "communication"
    OTHER = "other"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.TEACHING: N_("Teaching and learning"),
    Category.BEHAVIOUR: N_("Behaviour or bullying"),
    Category.ONLINE_SAFETY: N_("Online safety"),
    Category.SEND: N_("Special educational needs (SEND)"),
    Category.COMMUNICATION: N_("Communication with the school"),
    Category.OTHER: N_("Something else"),
}


class About(str, enum.Enum):
    """Who the concern is about; decides who may read it."""

    NOBODY = "nobody"
    HEAD_TEACHER = "head_teacher"
    STAFF = "staff"


class Route(str, enum.Enum):
    """Who reads the concern (fixed when it is raised)."""

    #: The Head Teacher and staff holding ``concerns.review``.
    GENERAL = "general"
    #: A child may be at risk: only holders of ``concerns.safeguarding`` (the DSL).
    SAFEGUARDING = "safeguarding"
    #: About the Head Teacher: only the chair of governors.
    CHAIR = "chair"
    #: About another member of staff: only the Head Teacher (not delegates).
    HEAD_ONLY = "head_only"


class Status(str, enum.Enum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    Status.NEW: N_("New"),
    Status.ACKNOWLEDGED: N_("Acknowledged"),
    Status.IN_PROGRESS: N_("In progress"),
    Status.RESOLVED: N_("Resolved"),
    Status.CLOSED: N_("Closed"),
}

#: Moves staff may make. Escalation by the parent (resolved -> new at the next stage) is separate.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ACKNOWLEDGED}),
    Status.ACKNOWLEDGED: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.IN_PROGRESS: frozenset({Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

#: Statuses in which the school still owes the parent a response.
OPEN_STATUSES = frozenset({Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS})


class Stage(str, enum.Enum):
    INFORMAL = "informal"
    STAGE_1 = "stage_1"
    STAGE_2 = "stage_2"

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]

    @property
    def next(self) -> Stage | None:
        order = list(Stage)
        i = order.index(self)
        return order[i + 1] if i + 1 < len(order) else None


STAGE_LABELS = {
    Stage.INFORMAL: N_("Informal concern"),
    Stage.STAGE_1: N_("Formal complaint, stage 1"),
    Stage.STAGE_2: N_("Formal complaint, stage 2 (governors' panel)"),
}


class Concern(SchoolOwned, Base):
    """A private concern raised by a parent. Its subject and description never change."""

    __tablename__ = "portal_concerns"
    __table_args__ = (
        Index("ix_portal_concerns_school_id_status", "school_id", "status"),
        Index("ix_portal_concerns_child_id", "child_id"),
        Index("ix_portal_concerns_assignee_id", "assignee_id"),
        Index("ix_portal_concerns_school_id_shared_with_trust_at", "school_id", "shared_with_trust_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"), index=True)
    #: The parent's own child the concern is about, if any.
    child_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    category: Mapped[str] = mapped_column(String(30))
    about: Mapped[str] = mapped_column(String(20), default=About.NOBODY.value)
    #: The member of staff the concern is about (never shown it).
    about_person_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    route: Mapped[str] = mapped_column(String(20), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=Status.NEW.value, index=True)
    stage: Mapped[str] = mapped_column(String(20), default=Stage.INFORMAL.value)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the current stage began (the targets count from here).
    stage_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Last school day for an acknowledgement, and for a full response, at this stage.
    ack_due: Mapped[dt.date] = mapped_column(Date)
    response_due: Mapped[dt.date] = mapped_column(Date)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: When the parent last opened it (for "the school has replied" on their home page).
    parent_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Set when the school's DSL shares the concern with the trust's safeguarding lead (who then
    #: reads its words; otherwise the trust sees counts only). Cleared when the DSL stops sharing.
    shared_with_trust_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    shared_with_trust_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    #: Compare-and-set: bumped by every change, so two simultaneous changes cannot both apply
    #: (portal/idempotency.py).
    row_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": row_version}

    raised_by: Mapped[Person] = relationship(foreign_keys=[raised_by_id])
    child: Mapped[Person | None] = relationship(foreign_keys=[child_id])
    about_person: Mapped[Person | None] = relationship(foreign_keys=[about_person_id])
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id])
    messages: Mapped[list[ConcernMessage]] = relationship(
        back_populates="concern", order_by="ConcernMessage.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[ConcernAttachment]] = relationship(
        back_populates="concern", order_by="ConcernAttachment.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[ConcernEvent]] = relationship(
        back_populates="concern", order_by="ConcernEvent.id", cascade="all, delete-orphan"
    )

    @validates("subject", "description", "raised_by_id", "at_risk", "about", "about_person_id", "route")
    def _write_once(self, key: str, value: Any) -> Any:
        if self.id is not None:
            raise ValueError(f"a concern's {key} cannot change after it is raised; add a message instead")
        return value

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def stage_enum(self) -> Stage:
        return Stage(self.stage)

    @property
    def category_enum(self) -> Category:
        return Category(self.category)

    @property
    def reference(self) -> str:
        return self.reference_for(self.id)

    @staticmethod
    def reference_for(concern_id: int) -> str:
        return f"C-{concern_id:05d}"

    def response_late(self, today: dt.date) -> bool:
        """The school has missed its target for a full response: the parent may take the concern further.

        Not for a child at risk: the Designated Safeguarding Lead is acting on it, and the complaints panel does
        not read safeguarding concerns; the parent is told it is late and how to ask for news."""
        return (self.status_enum in OPEN_STATUSES and today > self.response_due
                and self.route != Route.SAFEGUARDING.value)

    def closed_on(self) -> dt.date | None:
        """The day (in the UK) the concern was closed, if it is."""
        if self.status_enum != Status.CLOSED or self.closed_at is None:
            return None
        from portal.concerns.schooldays import uk_today

        return uk_today(self.closed_at)

    def overdue(self, today: dt.date) -> str | None:
        """Words for the missed target, or ``None``."""
        status = self.status_enum
        if status == Status.NEW and today > self.ack_due:
            return N_("Acknowledgement overdue")
        if status in OPEN_STATUSES and today > self.response_due:
            return N_("Response overdue")
        return None


def overdue_clause(today: dt.date) -> ColumnElement[bool]:
    """SQL for :meth:`Concern.overdue` being true on *today* (for counting and filtering)."""
    from sqlalchemy import and_, or_

    open_values = [s.value for s in OPEN_STATUSES]
    return or_(and_(Concern.status == Status.NEW.value, Concern.ack_due < today),
               and_(Concern.status.in_(open_values), Concern.response_due < today))


class ConcernMessage(SchoolOwned, Base):
    """One message in a concern's thread; ``internal`` notes are for staff only. Never edited."""

    __tablename__ = "portal_concern_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("portal_concerns.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"))
    #: True when the parent who raised the concern wrote it.
    from_parent: Mapped[bool] = mapped_column(Boolean, default=False)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    concern: Mapped[Concern] = relationship(back_populates="messages")
    author: Mapped[Person] = relationship()

    @validates("body", "internal", "author_id", "from_parent")
    def _write_once(self, key: str, value: Any) -> Any:
        if self.id is not None:
            raise ValueError("messages are never edited; add a new message instead")
        return value


class ConcernAttachment(SchoolOwned, Base):
    """A file sent with a concern; the bytes live in PORTAL_UPLOAD_DIR under a random name."""

    __tablename__ = "portal_concern_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("portal_concerns.id", ondelete="CASCADE"), index=True)
    #: Random file name inside the upload folder (no path, nothing from the parent).
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    #: The parent's file name, cleaned, for the download.
    original_name: Mapped[str] = mapped_column(String(120))
    #: The type found from the file's content (not its name).
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    concern: Mapped[Concern] = relationship(back_populates="attachments")


class ConcernEvent(SchoolOwned, Base):
    """A change of status, stage, assignee or target date, shown as the concern's history."""

    __tablename__ = "portal_concern_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("portal_concerns.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    #: ``status``, ``stage``, ``assignee``, ``target`` or ``trust`` (shared with the trust's safeguarding lead, or
    #: no longer: staff only).
    kind: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str | None] = mapped_column(String(50))
    new_value: Mapped[str | None] = mapped_column(String(50))
    #: Why a target date changed (staff only).
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    concern: Mapped[Concern] = relationship(back_populates="events")
    actor: Mapped[Person | None] = relationship()


class SchoolClosure(SchoolOwned, Base):
    """Days the school is shut (term holidays, training days); bank holidays are built in."""

    __tablename__ = "portal_school_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = [
    "CATEGORY_LABELS",
    "OPEN_STATUSES",
    "STAGE_LABELS",
    "STATUS_LABELS",
    "TRANSITIONS",
    "overdue_clause",
    "About",
    "Category",
    "Concern",
    "ConcernAttachment",
    "ConcernEvent",
    "ConcernMessage",
    "Route",
    "SchoolClosure",
    "Stage",
    "Status",
]
