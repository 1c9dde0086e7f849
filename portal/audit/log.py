"""The one entry point for writing the audit log, and the chain verifier."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text

from portal.audit.models import GENESIS, AuditEntry
from portal.db import session, utcnow


def _lock_chain() -> None:
    """Serialise appends: PostgreSQL takes a transaction-level advisory lock.

    SQLite serialises writers itself; the unique ``prev_hash`` catches anything else.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727274)"))


def record(action: str, *, actor: Any = None, target: Any = None, **data: Any) -> AuditEntry:
    """Append an entry to the audit log (flushes; the caller commits).

    :param action: dotted action name such as ``signature.created``.
    :param actor: the person acting (or ``None`` for the system).
    :param target: the model instance acted on; its class name and primary key are stored.
    :param data: small JSON-serialisable details. Never pass concern text or passwords.
    """
    _lock_chain()
    last = session.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    next_id = (last.id + 1) if last else 1
    entry = AuditEntry(
        id=next_id,
        created_at=utcnow(),
        actor_id=getattr(actor, "id", actor),
        action=action,
        target_type=type(target).__name__ if target is not None else None,
        target_id=str(_pk(target)) if target is not None else None,
        data=data,
        prev_hash=last.hash if last else GENESIS,
    )
    entry.hash = entry.compute_hash()
    session.add(entry)
    session.flush()
    return entry


def _pk(obj: Any) -> Any:
    if hasattr(obj, "id"):
        if obj.id is None:
            session.flush()
        return obj.id
    return obj


@dataclass
class ChainReport:
    ok: bool
    count: int
    head: str
    first_broken_id: int | None = None
    reason: str = ""


def chain_head() -> tuple[int, str]:
    """(number of entries, hash of the newest entry) — the value an export records."""
    count = session.scalar(select(func.count(AuditEntry.id))) or 0
    head = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    return count, head or GENESIS


def verify_chain(batch: int = 1000) -> ChainReport:
    """Recompute every hash in order and name the first entry that does not match."""
    prev = GENESIS
    count = 0
    expected_id = 1
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            break
        for e in rows:
            if e.id != expected_id:
                return ChainReport(False, count, prev, e.id, f"entry {expected_id} is missing")
            if e.prev_hash != prev:
                return ChainReport(False, count, prev, e.id, "previous-hash link does not match")
            if e.compute_hash() != e.hash:
                return ChainReport(False, count, prev, e.id, "content does not match its hash")
            prev = e.hash
            count += 1
            expected_id += 1
            last_id = e.id
    return ChainReport(True, count, prev)
