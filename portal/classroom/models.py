"""A classroom session and the pupils' pending acknowledgements in it.

A :class:`ClassroomSession` is opened by a teacher for one of their classes. Pupils join it
with a short code and press "I agree"; each press is a :class:`ClassroomEntry`, pending until
the teacher closes the session. Closing turns every entry into a witnessed
:class:`~portal.signatures.models.Signature` in one transaction.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.people.models import Person, SchoolClass
from portal.policies.models import PolicyVersion
from portal.schools.isolation import SchoolOwned


class ClassroomSession(SchoolOwned, Base):
    __tablename__ = "portal_classroom_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("portal_classes.id", ondelete="CASCADE"), index=True)
    #: The teacher who opened the session and witnesses the acknowledgements.
    teacher_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"), index=True)
    #: The class's age-appropriate rules.
    version_id: Mapped[int] = mapped_column(ForeignKey("portal_policy_versions.id"))
    #: The SEND variant for the same age band, when one was published at the start.
    send_version_id: Mapped[int | None] = mapped_column(ForeignKey("portal_policy_versions.id"))
    #: Short join code shown on the whiteboard; never reused.
    code: Mapped[str] = mapped_column(String(12), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: After this moment the code no longer lets anyone in (the teacher can still close).
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Argon2 hash of the PIN the teacher chose when handing this device round (kiosk mode);
    #: the PIN (or the teacher's password) is needed to leave kiosk mode.
    kiosk_pin_hash: Mapped[str | None] = mapped_column(String(200))

    school_class: Mapped[SchoolClass] = relationship()
    teacher: Mapped[Person] = relationship()
    version: Mapped[PolicyVersion] = relationship(foreign_keys=[version_id])
    send_version: Mapped[PolicyVersion | None] = relationship(foreign_keys=[send_version_id])
    entries: Mapped[list[ClassroomEntry]] = relationship(
        back_populates="classroom_session", order_by="ClassroomEntry.id", cascade="all, delete-orphan"
    )

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def accepts_pupils(self, now: dt.datetime | None = None) -> bool:
        """True while the join code works: not closed and not past ``expires_at``."""
        return self.closed_at is None and (now or utcnow()) < self.expires_at

    def version_for(self, pupil: Person) -> PolicyVersion:
        """The version *pupil* sees: the SEND variant for SEND pupils when there is one."""
        if pupil.pupil is not None and pupil.pupil.send and self.send_version is not None:
            return self.send_version
        return self.version


class ClassroomEntry(SchoolOwned, Base):
    """One pupil's "I agree" inside a session, pending until the session is closed."""

    __tablename__ = "portal_classroom_entries"
    __table_args__ = (UniqueConstraint("session_id", "pupil_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("portal_classroom_sessions.id", ondelete="CASCADE"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("portal_people.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("portal_policy_versions.id"))
    #: SHA-256 (hex) of the exact text shown on the device.
    text_sha256: Mapped[str] = mapped_column(String(64))
    acknowledged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(400))
    #: Set when the session is closed and the entry became a signature.
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("portal_signatures.id"))

    classroom_session: Mapped[ClassroomSession] = relationship(back_populates="entries")
    pupil: Mapped[Person] = relationship(lazy="joined")
    version: Mapped[PolicyVersion] = relationship()
