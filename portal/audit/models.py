"""The audit log entry model."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime

GENESIS = "0" * 64


class AuditEntry(Base):
    """One entry; ``hash`` covers the entry's content and the previous entry's hash.

    ``prev_hash`` is unique, so two writers can never both append after the same entry:
    the loser's transaction fails and the chain stays linear.
    """

    __tablename__ = "portal_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("portal_people.id"))
    #: Dotted name, e.g. ``signature.created``.
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(64))
    #: Small JSON details; never concern text or passwords.
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def canonical(self) -> bytes:
        """The bytes the hash covers."""
        payload = {
            "id": self.id,
            "created_at": self.created_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
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
