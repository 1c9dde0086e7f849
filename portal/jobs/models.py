"""What the portal keeps about background jobs in its own database.

The queue itself (waiting, scheduled and running jobs) lives in the broker (Huey's SQLite file
or Redis). Two small tables hold what people and idempotent jobs need to see across processes:
jobs that kept failing (for the admins' page and ``flask portal jobs failed``), and marks that
say "this piece of work is done" (so running a job twice changes nothing more).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow
from portal.schools.isolation import SchoolOwned


class JobFailure(SchoolOwned, Base):
    """A job that failed on its last attempt. Cleared (``resolved_at``) when the same job later
    succeeds or an admin queues it again."""

    __tablename__ = "portal_job_failures"
    __school_optional__ = True
    #: Operational state naming rows by id: not part of a school's export (see schools/transfer.py).
    __transfer__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The school the job worked for (empty for an installation-wide periodic job).
    school_id: Mapped[int | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("portal_schools.id", ondelete="CASCADE"), index=True)
    #: The job's name, e.g. ``records.seal``.
    name: Mapped[str] = mapped_column(String(60), index=True)
    #: The job's arguments (ids and short values), to queue it again.
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Exception type and message, shortened (never personal data by design of the jobs).
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: ``succeeded`` (a later run worked) or ``requeued`` (queued again by hand).
    resolution: Mapped[str | None] = mapped_column(String(20))


class JobMark(SchoolOwned, Base):
    """One piece of work a job has finished, e.g. ``lti-score:3:41`` or
    ``concern-overdue:12:ack:2026-11-30:handlers``. A job checks for its mark before acting."""

    __tablename__ = "portal_job_marks"
    __table_args__ = (UniqueConstraint("school_id", "key"),)
    __transfer__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
