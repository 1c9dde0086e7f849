"""The archive entry of one signature's sealed PDF, and every version of that PDF."""
from __future__ import annotations

import datetime as dt
import enum
import secrets

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.schools.isolation import SchoolOwned
from portal.signatures.models import Signature


class RecordStatus(str, enum.Enum):
    PENDING = "pending"  # no PDF yet (being made, or the last attempt failed: see last_error)
    SEALED = "sealed"    # the sealed PDF is in the archive under pdf_sha256


class SealMode(str, enum.Enum):
    """The PAdES baseline level of a seal."""

    B_B = "B-B"      # signature only (records sealed before long-term validation existed)
    B_T = "B-T"      # with an RFC 3161 signature time stamp (idem)
    B_LT = "B-LT"    # the chain and the CRL in the document security store (DSS); no trusted time
    B_LTA = "B-LTA"  # signature time stamp, validation data in the DSS, and a document time stamp over them


def new_public_id() -> str:
    """An unguessable record reference (printed on the PDF and in its QR code)."""
    return secrets.token_hex(16)


class SignedRecord(SchoolOwned, Base):
    """One per signature. Written pending, then sealed; later versions only *add* time stamps."""

    __tablename__ = "portal_signed_records"
    __table_args__ = (Index("ix_portal_signed_records_school_id_status", "school_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(ForeignKey("portal_signatures.id"), unique=True)
    #: The record's reference printed on the PDF and in the QR code's URL; kept when a school moves
    #: to another installation (ids change, this does not). 32 hex characters, unguessable.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    status: Mapped[str] = mapped_column(String(10), default=RecordStatus.PENDING.value, index=True)
    #: SHA-256 (hex) of the current sealed PDF; also its name in the archive (earlier versions: RecordFile).
    pdf_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Size of the sealed PDF in bytes.
    size: Mapped[int | None] = mapped_column(Integer)
    #: ``B-LT`` or ``B-LTA`` (older records ``B-B`` or ``B-T``; see :class:`SealMode`).
    seal_mode: Mapped[str | None] = mapped_column(String(5))
    #: Bytes of the document before the seal (the sealed file starts with exactly these bytes), so it
    #: can be sealed again with a time stamp when it was sealed while the TSA was down.
    unsealed_size: Mapped[int | None] = mapped_column(Integer)
    #: SHA-256 fingerprint of the certificate that sealed it.
    cert_sha256: Mapped[str | None] = mapped_column(String(64))
    #: Time of the newest RFC 3161 time stamp in the PDF (signature or document time stamp).
    timestamped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Add a document time stamp before this moment: when the newest time stamp's TSA certificate
    #: (or, with no time stamp yet, the sealing certificate) expires.
    renew_by: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    #: Sealed without a time stamp although a TSA is configured (it was down): queued for one.
    timestamp_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: When the emailed receipt went out (None: not sent, or the signer has no address).
    receipt_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
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


class RecordFile(SchoolOwned, Base):
    """One version of a record's sealed PDF in the archive (the first seal, then each re-time-stamp).

    Every version stays genuine: a copy someone downloaded before a time stamp was added is
    still recognised by its SHA-256.
    """

    __tablename__ = "portal_record_files"
    __table_args__ = (UniqueConstraint("record_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("portal_signed_records.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    seal_mode: Mapped[str] = mapped_column(String(5))
    #: ``sealed`` (first seal), ``timestamped`` (document time stamp added) or ``resealed``
    #: (sealed again over the same document bytes, with a time stamp).
    reason: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    record: Mapped[SignedRecord] = relationship()
