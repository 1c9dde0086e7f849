"""The audit log entry model."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime
from portal.schools.isolation import SchoolOwned

GENESIS = "0" * 64


#: The chain of installation-wide entries (schools added or removed, trust roles granted).
INSTALLATION_CHAIN = 0


class AuditEntry(SchoolOwned, Base):
    """One entry; ``hash`` covers the entry's content and the previous entry's hash.

    Each school has its own chain (``chain`` = the school's id), so a school's log can be
    exported, verified and imported elsewhere on its own; installation-wide events form chain 0
    (``school_id`` empty). Within a chain ``prev_hash`` is unique, so two writers can never both
    append after the same entry: the loser's transaction fails and the chain stays linear.
    """

    __tablename__ = "portal_audit_log"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        UniqueConstraint("chain", "prev_hash"),
    )
    __school_optional__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The school whose log this is (empty for the installation's own chain).
    school_id: Mapped[int | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("portal_schools.id", ondelete="CASCADE"), index=True)
    #: Which chain: the school's id, or 0 for the installation's own chain.
    chain: Mapped[int] = mapped_column(Integer, index=True)
    #: Position in the chain, from 1 (this is the ``id`` the hash covers).
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The person acting (no foreign key: the log outlives the rows it mentions).
    actor_id: Mapped[int | None] = mapped_column(Integer)
    #: Dotted name, e.g. ``signature.created``.
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(64))
    #: Small JSON details; never concern text or passwords.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), index=True)
    #: Set on entries brought in by ``flask portal schools import``: the import whose id offsets
    #: translate ``actor_id``/``target_id`` (which the hash covers, so they keep their old values).
    import_id: Mapped[int | None] = mapped_column(Integer)

    def canonical(self) -> bytes:
        """The bytes the hash covers."""
        payload = {
            "id": self.seq,
            "created_at": self.created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_id": self.actor_id,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "data": self.data or {},
            "prev_hash": self.prev_hash,
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()
