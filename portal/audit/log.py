"""The one entry point for writing the audit log, and the chain verifier."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text

from portal.audit.models import GENESIS, INSTALLATION_CHAIN, AuditEntry
from portal.db import session, utcnow
from portal.schools.isolation import all_schools, get_scope, school_scope


def _lock_chain(chain: int) -> None:
    """Serialise appends to one chain: PostgreSQL takes a transaction-level advisory lock; SQLite its database
    write lock, with an update of no row, before the chain's head is read (a transaction that had written
    nothing yet read the head unlocked, and two failed sign-ins at once both appended after the same entry).
    The unique ``(chain, prev_hash)`` catches anything else.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727274, :chain)"), {"chain": chain})
    else:
        session.execute(text("UPDATE portal_audit_log SET seq = seq WHERE 1 = 0"))


def _locked_head(chain: int) -> Any:
    """Lock *chain* for appending and read its newest entry's (seq, hash), or None when empty."""
    _lock_chain(chain)
    with all_schools(session):
        return session.execute(
            select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.chain == chain)
            .order_by(AuditEntry.seq.desc()).limit(1)
        ).first()


def _default_school() -> int | None:
    scope = get_scope(session)
    return scope.write if scope is not None else None


def record(action: str, *, actor: Any = None, target: Any = None, school: Any = "current",
           **data: Any) -> AuditEntry:
    """Append an entry to the audit log (flushes; the caller commits).

    :param action: dotted action name such as ``signature.created``.
    :param actor: the person acting (or ``None`` for the system). An account acting outside any
        school (a trust role) is recorded in ``data["account_id"]``.
    :param target: the model instance acted on; its class name and primary key are stored.
    :param school: the school whose chain gets the entry: by default the session's school; ``None``
        for the installation's own chain.
    :param data: small JSON-serialisable details. Never pass concern text or passwords.
    """
    school_id = _default_school() if school == "current" else getattr(school, "id", school)
    chain = int(school_id) if school_id is not None else INSTALLATION_CHAIN
    actor_id = getattr(actor, "id", actor)
    if getattr(actor, "is_account", False):
        data = {**data, "account_id": actor_id}
        actor_id = None
    last = _locked_head(chain)
    entry = AuditEntry(
        chain=chain,
        seq=(last.seq + 1) if last else 1,
        school_id=school_id,
        created_at=utcnow(),
        actor_id=actor_id,
        action=action,
        target_type=type(target).__name__ if target is not None else None,
        target_id=str(_pk(target)) if target is not None else None,
        data=data,
        prev_hash=last.hash if last else GENESIS,
    )
    entry.hash = entry.compute_hash()
    if school_id is None:
        with all_schools(session):
            session.add(entry)
            session.flush()
    else:
        with school_scope(session, int(school_id)) if _needs_scope(int(school_id)) else contextlib.nullcontext():
            session.add(entry)
            session.flush()
    return entry


def record_each(action: str, targets: list[tuple[Any, dict[str, Any]]], *, actor: Any = None) -> list[AuditEntry]:
    """Append one entry per ``(target, data)`` to the session's school chain, in order, reading
    the chain's head once and flushing once (a class closing records 30 signatures this way).
    The entries are exactly those :func:`record` would write one by one."""
    if not targets:
        return []
    school_id = _default_school()
    if school_id is None:
        return [record(action, actor=actor, target=t, school=None, **d) for t, d in targets]
    chain = int(school_id)
    actor_id = getattr(actor, "id", actor)
    extra: dict[str, Any] = {}
    if getattr(actor, "is_account", False):
        extra, actor_id = {"account_id": actor_id}, None
    if any(getattr(t, "id", 0) is None for t, _d in targets):
        session.flush()
    last = _locked_head(chain)
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
    entries = []
    now = utcnow()
    for target, data in targets:
        seq += 1
        entry = AuditEntry(chain=chain, seq=seq, school_id=school_id, created_at=now, actor_id=actor_id,
                           action=action, target_type=type(target).__name__ if target is not None else None,
                           target_id=str(_pk(target)) if target is not None else None, data={**data, **extra},
                           prev_hash=prev)
        entry.hash = prev = entry.compute_hash()
        entries.append(entry)
    with school_scope(session, chain) if _needs_scope(chain) else contextlib.nullcontext():
        session.add_all(entries)
        session.flush()
    return entries


def _needs_scope(school_id: int) -> bool:
    scope = get_scope(session)
    return scope is None or (scope.schools is not None and school_id not in scope.schools)


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


def _chain_of(school: Any) -> int:
    if school == "current":
        sid = _default_school()
        return int(sid) if sid is not None else INSTALLATION_CHAIN
    sid = getattr(school, "id", school)
    return int(sid) if sid is not None else INSTALLATION_CHAIN


def chain_head(school: Any = "current") -> tuple[int, str]:
    """(number of entries, hash of the newest entry) of a chain — the value an export records."""
    chain = _chain_of(school)
    with all_schools(session):
        # count(*), not count(id): the chain's index alone answers it (an index-only scan, no
        # entry read), and ids are never null.
        count = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.chain == chain)) or 0
        head = session.scalar(
            select(AuditEntry.hash).where(AuditEntry.chain == chain).order_by(AuditEntry.seq.desc()).limit(1))
    return count, head or GENESIS


def verify_chain(school: Any = "current", batch: int = 1000) -> ChainReport:
    """Recompute every hash of a chain in order and name the first entry that does not match
    (by its position in the chain)."""
    chain = _chain_of(school)
    prev = GENESIS
    count = 0
    expected = 1
    last = 0
    while True:
        with all_schools(session):
            rows = session.scalars(
                select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq > last)
                .order_by(AuditEntry.seq).limit(batch)
            ).all()
        if not rows:
            break
        for e in rows:
            if e.seq != expected:
                return ChainReport(False, count, prev, e.seq, f"entry {expected} is missing")
            if e.prev_hash != prev:
                return ChainReport(False, count, prev, e.seq, "previous-hash link does not match")
            if e.compute_hash() != e.hash:
                return ChainReport(False, count, prev, e.seq, "content does not match its hash")
            prev = e.hash
            count += 1
            expected += 1
            last = e.seq
    return ChainReport(True, count, prev)
