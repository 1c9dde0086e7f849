"""School isolation, in one place.

Every table that holds a school's data mixes in :class:`SchoolOwned` (a ``school_id`` column).
The portal's session carries a *scope*: the school (or, for trust pages, the set of schools)
the current request, command or job is about. Two session hooks enforce it:

* ``do_orm_execute`` adds ``with_loader_criteria(SchoolOwned, school_id IN scope)`` to every ORM
  SELECT, UPDATE and DELETE, including relationship and column loads, so a query that forgets
  the school cannot see another school's rows. A statement that touches a school-owned table
  while **no scope is set** raises :class:`ScopeError` instead of running unfiltered.
* ``before_flush`` gives new school-owned rows the scope's school and refuses rows (new or
  changed) whose school lies outside the scope.

System code that must look across every school (a classroom join code, an LTI launch, the
public verification page, trust exports) says so with :func:`all_schools`; nothing else can.

What the hooks cannot see: Core statements on ``Table`` objects, ``text()`` SQL and ORM bulk
``insert()``. Views never use them; the few operations that do (bulk imports) pass
``school_id`` themselves. ``tests/test_isolation.py`` fails when a mapped table with a
``school_id`` column is not :class:`SchoolOwned`, or a table is neither school-owned nor on the
short list of installation-wide tables in :data:`GLOBAL_TABLES`.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ForeignKey, Table, event, inspect
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables

SCOPE_KEY = "portal_school_scope"

#: Tables that hold no school's data, each with the reason (checked by tests/test_isolation.py).
GLOBAL_TABLES: dict[str, str] = {
    "portal_trusts": "the trust above the schools",
    "portal_schools": "the schools themselves",
    "portal_accounts": "sign-in accounts are global; each school's person rows are school-owned",
    "portal_trust_roles": "trust roles belong to an account and a trust, not to a school",
    "portal_login_attempts": "sign-in throttling keyed by address and email",
    "portal_used_tokens": "spent single-use link digests",
    "portal_account_sessions": "sign-in sessions belong to the global account",
    "portal_mfa_totp": "an account's authenticator app",
    "portal_mfa_passkeys": "an account's passkeys",
    "portal_mfa_recovery_codes": "an account's recovery codes",
    "portal_form_tokens": "spent one-time form tokens (digests only)",
    "portal_audit_checkpoints": "an index of sealed audit checkpoints by chain; the sealed objects are in each "
                                "school's archive",
    "portal_lti_nonces": "used LTI nonces (replay protection), keyed by issuer",
    "portal_lti_launch_data": "pylti1p3's short-lived login state",
    "portal_trust_retention_defaults": "a trust's retention defaults, used by its schools without a rule of their own",
}


class ScopeError(RuntimeError):
    """A school-owned table was queried or written with no school chosen, or outside the scope."""


@dataclass(frozen=True)
class Scope:
    """The schools a session may read; ``write`` is where new rows go (``None``: must be given)."""

    schools: frozenset[int] | None  # None means every school (system code only)
    write: int | None = None

    @property
    def is_all(self) -> bool:
        return self.schools is None


class SchoolOwned:
    """Mixin for every model holding one school's data."""

    @declared_attr
    def school_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr takes the class
        return mapped_column(ForeignKey("portal_schools.id", ondelete="CASCADE"), index=True)


# ------------------------------------------------------------------ the scope of a session


def get_scope(session: Session) -> Scope | None:
    return session.info.get(SCOPE_KEY)


def set_school(session: Session, school_id: int | None) -> None:
    """Scope *session* to one school (reads and writes); ``None`` clears the scope."""
    if school_id is None:
        session.info.pop(SCOPE_KEY, None)
        return
    _set(session, Scope(frozenset({int(school_id)}), int(school_id)))


def _set(session: Session, scope: Scope | None) -> None:
    if session.info.get(SCOPE_KEY) != scope and (session.new or session.dirty or session.deleted):
        session.flush()  # pending rows are checked against the scope they were made in
    if scope is None:
        session.info.pop(SCOPE_KEY, None)
    else:
        session.info[SCOPE_KEY] = scope


@contextlib.contextmanager
def school_scope(session: Session, school_id: int) -> Iterator[None]:
    """Within the block, *session* sees and writes only school *school_id*."""
    old = get_scope(session)
    _set(session, Scope(frozenset({int(school_id)}), int(school_id)))
    try:
        yield
    finally:
        _set(session, old)


@contextlib.contextmanager
def schools_scope(session: Session, school_ids: Iterable[int], *, write: int | None = None) -> Iterator[None]:
    """Within the block, *session* reads the listed schools (a trust view)."""
    old = get_scope(session)
    _set(session, Scope(frozenset(int(s) for s in school_ids), write))
    try:
        yield
    finally:
        _set(session, old)


@contextlib.contextmanager
def all_schools(session: Session) -> Iterator[None]:
    """Within the block, *session* reads every school. For system look-ups only (say why)."""
    old = get_scope(session)
    _set(session, Scope(None, None))
    try:
        yield
    finally:
        _set(session, old)


def current_school_id(session: Session) -> int | None:
    """The one school the session is scoped to (``None`` for none, several or all)."""
    scope = get_scope(session)
    if scope is None or scope.schools is None or len(scope.schools) != 1:
        return None
    return next(iter(scope.schools))


# ------------------------------------------------------------------ the hooks


def _owned_mappers(state: ORMExecuteState) -> bool:
    """Whether the statement reads a school-owned table (asked only when no school is chosen)."""
    try:
        mappers = state.all_mappers
    except Exception:  # noqa: BLE001 - statements without ORM entities
        mappers = []
    if any(issubclass(m.class_, SchoolOwned) for m in mappers):
        return True
    # ``all_mappers`` names only the entities at the top: a school-owned table inside EXISTS, a
    # UNION ALL or a Core select of its columns would pass unseen, so look through the tables too.
    from portal.db import Base

    owned = _owned_table_names(len(Base.registry.mappers))
    return any(getattr(t, "name", None) in owned
               for t in find_tables(cast(ClauseElement, state.statement), check_columns=True, include_aliases=True))


@functools.cache
def _owned_table_names(_mapped: int) -> frozenset[str]:
    """The school-owned tables' names (worked out again if more models have been mapped since)."""
    from portal.db import Base

    return frozenset(cast(Table, m.local_table).name for m in Base.registry.mappers
                     if issubclass(m.class_, SchoolOwned))


def _insert_school_ids(state: ORMExecuteState) -> list[Any] | None:
    """The ``school_id`` values an ORM ``insert()`` into a school-owned table writes (None: not one)."""
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, SchoolOwned):
        return None
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if isinstance(params, dict) and params else []
    values = getattr(state.statement, "_values", None) or {}
    inline = [v for k, v in values.items() if getattr(k, "key", k) == "school_id"]
    found = [r.get("school_id") for r in rows] if rows else []
    if inline:
        found.append(getattr(inline[0], "value", inline[0]))
    return found or [None]


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert:
        ids = _insert_school_ids(state)
        if ids is not None:
            scope = get_scope(state.session)
            if any(i is None for i in ids):
                raise ScopeError("an insert() into a school-owned table must give school_id")
            if scope is None or (scope.schools is not None and not set(ids) <= scope.schools):
                raise ScopeError("an insert() into a school-owned table outside the school in scope")
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    scope = get_scope(state.session)
    if scope is None:
        if state.execution_options.get("portal_unscoped_ok"):
            return
        if _owned_mappers(state):
            raise ScopeError("no school is chosen for this request, command or job")
        return
    if scope.schools is None:
        return
    state.statement = state.statement.options(_school_criteria(scope.schools))


@functools.lru_cache(maxsize=1024)
def _school_criteria(school_ids: frozenset[int]) -> Any:
    """The option that limits every school-owned entity of a statement to *school_ids*. It depends
    only on the ids, so it is made once per set of schools, not on every statement."""
    if len(school_ids) == 1:
        (one,) = tuple(school_ids)
        return with_loader_criteria(SchoolOwned, lambda cls: cls.school_id == one, include_aliases=True)
    many = sorted(school_ids)
    return with_loader_criteria(SchoolOwned, lambda cls: cls.school_id.in_(many), include_aliases=True)


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    scope = get_scope(session)
    for obj in session.new:
        if not isinstance(obj, SchoolOwned):
            continue
        if obj.school_id is None and getattr(obj, "__school_optional__", False):
            continue  # an installation-wide row of a school-owned table (the audit log's own chain)
        if obj.school_id is None:
            if scope is None or scope.write is None:
                raise ScopeError(f"a new {type(obj).__name__} needs a school: none is chosen")
            obj.school_id = scope.write
        elif scope is not None and scope.schools is not None and obj.school_id not in scope.schools:
            raise ScopeError(f"a new {type(obj).__name__} belongs to another school")
        elif scope is None:
            raise ScopeError(f"a new {type(obj).__name__} was written with no school chosen")
    for obj in session.dirty:
        if not isinstance(obj, SchoolOwned):
            continue
        history = inspect(obj).attrs.school_id.history
        if history.deleted and history.deleted[0] is not None:
            raise ScopeError(f"a {type(obj).__name__} cannot move to another school")
    for obj in session.deleted:
        if isinstance(obj, SchoolOwned) and scope is not None and scope.schools is not None \
                and obj.school_id not in scope.schools:
            raise ScopeError(f"a {type(obj).__name__} of another school cannot be deleted here")


class PortalSession(Session):
    """The portal's session class: the two hooks above, and a :meth:`get` that never hands out
    an object of a school outside the scope (an identity-map hit runs no SQL, so the criteria
    alone would not catch it)."""

    def get(self, entity: Any, ident: Any, **kw: Any) -> Any:  # type: ignore[override]
        scope = get_scope(self)
        owned = isinstance(entity, type) and issubclass(entity, SchoolOwned)
        if owned and scope is None:
            raise ScopeError("no school is chosen for this request, command or job")
        obj = super().get(entity, ident, **kw)
        if obj is not None and owned and scope is not None and scope.schools is not None \
                and obj.school_id not in scope.schools:
            return None
        return obj


event.listen(PortalSession, "do_orm_execute", _on_execute)
event.listen(PortalSession, "before_flush", _before_flush)
