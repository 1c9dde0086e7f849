"""The Alembic migrations alone build exactly the models' schema, and go down cleanly."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import portal.models  # noqa: F401
from portal.db import Base
from portal.migrate import VERSION_TABLE, downgrade, upgrade


def _fresh_url(db_backend, request, tmp_path):
    if db_backend == "sqlite":
        return f"sqlite:///{tmp_path}/fresh.sqlite", None
    server = request.getfixturevalue("pg_server")
    if isinstance(server, str):
        from tests.deps import unavailable

        unavailable(server)
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    name = f"fresh_{tmp_path.name[-20:]}".replace("-", "_").lower()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return server.url(name), (admin, name)


@contextmanager
def fresh_database(db_backend, request, tmp_path) -> Iterator[str]:
    """The URL of an empty database of the backend under test (a PostgreSQL one is dropped afterwards)."""
    url, cleanup = _fresh_url(db_backend, request, tmp_path)
    try:
        yield url
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _include(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name and not name.startswith("portal_"))


def test_migrations_match_models_and_downgrade(db_backend, request, tmp_path):
    with fresh_database(db_backend, request, tmp_path) as url:
        upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _include})
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        tables = set(inspect(engine).get_table_names())
        assert VERSION_TABLE in tables
        assert {t for t in Base.metadata.tables} <= tables
        engine.dispose()
        downgrade(url, "base")
        engine = create_engine(url)
        left = {t for t in inspect(engine).get_table_names() if t.startswith("portal_")}
        engine.dispose()
        assert left == set()
