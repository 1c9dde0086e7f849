"""The archive entry of one signature's sealed PDF."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.schools.isolation import SchoolOwned
from portal.signatures.models import Signature


class RecordStatus(str, enum.Enum):
    PENDING = "pending"  # no PDF yet (being made, or the last attempt failed: see last_error)
    SEALED = "sealed"    # the sealed PDF is in the archive under pdf_sha256


class SealMode(str, enum.Enum):
    B_B = "B-B"  # PAdES baseline signature
    B_T = "B-T"  # with an RFC 3161 time stamp from PORTAL_TSA_URL


class SignedRecord(SchoolOwned, Base):
    """One per signature. Written pending, then sealed once; the PDF itself is never replaced."""

    __tablename__ = "portal_signed_records"
    __table_args__ = (Index("ix_portal_signed_records_school_id_status", "school_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(ForeignKey("portal_signatures.id"), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=RecordStatus.PENDING.value, index=True)
    #: SHA-256 (hex) of the sealed PDF; also its name in the archive.
    pdf_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Size of the sealed PDF in bytes.
    size: Mapped[int | None] = mapped_column(Integer)
    #: ``B-B`` or ``B-T`` (see :class:`SealMode`).
    seal_mode: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: How many times making the PDF has been tried.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: The last failure (exception type and message, shortened); cleared when sealed.
    last_error: Mapped[str | None] = mapped_column(Text)
    #: When the sealing job was last handed to the queue (empty: never, e.g. the broker was down;
    #: the periodic sweep queues it).
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)

    signature: Mapped[Signature] = relationship()

    @property
    def is_sealed(self) -> bool:
        return self.status == RecordStatus.SEALED.value
