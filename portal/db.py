"""Database plumbing: the declarative base, naming convention and the request-scoped session.

The portal owns its engine and session (a host application may use a different database
library, or none). Views use :data:`session`, a proxy to the session of the current app;
operations ``flush`` and views ``commit`` once.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator
from typing import Any, cast

from flask import current_app
from sqlalchemy import DateTime, MetaData, Table, create_engine, event, text
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator
from werkzeug.local import LocalProxy

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every portal model; tables are prefixed ``portal_``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


#: A moment that :func:`utcnow` returns instead of the real time, set only by :func:`clock_at`.
_CLOCK: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("portal_clock", default=None)


def table_of(model: type[Base]) -> Table:
    """The Table of a model, for Core statements. ``__table__`` is typed as the general
    ``FromClause``, but a declarative model's is always its ``Table``."""
    return cast(Table, model.__table__)


def rowcount(result: Result[Any]) -> int:
    """The number of rows an UPDATE or DELETE matched. ``Session.execute`` is typed as returning a
    ``Result``, but for those statements it is always a ``CursorResult``, which has the count."""
    return cast(CursorResult[Any], result).rowcount


def lock_person(namespace: int, person_id: int) -> None:
    """Serialise, until the transaction ends, the work in *namespace* for one person (two tabs, two
    workers): PostgreSQL takes a transaction-level advisory lock; SQLite takes its database write lock
    with a no-op update. Read what the work depends on after this, not before."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": namespace, "b": person_id})
    else:
        session.execute(text("UPDATE portal_people SET id = id WHERE id = :pid"), {"pid": person_id})


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC (or the moment :func:`clock_at` set)."""
    fixed = _CLOCK.get()
    return fixed if fixed is not None else dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def clock_at(moment: dt.datetime) -> Iterator[None]:
    """Within the block, :func:`utcnow` (and so every operation) reads *moment*.

    Only the demo uses this, to play a month of term through the app's own operations in
    order, so that every row and audit entry carries the time it happened in the story.
    """
    if moment.tzinfo is None:
        raise ValueError("clock_at needs a timezone-aware moment")
    token = _CLOCK.set(moment.astimezone(dt.UTC))
    try:
        yield
    finally:
        _CLOCK.reset(token)


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets foreign keys on and a busy timeout."""
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return engine


def _app_ctx_id() -> int:
    """One session per application context (as Flask-SQLAlchemy does), not per thread."""
    from flask.globals import _cv_app

    return id(_cv_app.get(None))


def make_session_factory(engine: Engine) -> scoped_session[Session]:
    """A session per app context bound to *engine*, removed when the context ends.

    Sessions are :class:`~portal.schools.isolation.PortalSession`: every query is limited to the
    school (or schools) the session is scoped to.
    """
    from portal.schools.isolation import PortalSession

    return scoped_session(
        sessionmaker(bind=engine, class_=PortalSession, expire_on_commit=False, future=True),
        scopefunc=_app_ctx_id,
    )


def _current_session() -> Session:
    return current_app.extensions["portal"].session()


#: The session of the current application (a proxy).
session: Session = LocalProxy(_current_session)  # type: ignore[assignment]
