"""A throwaway PostgreSQL 15 server for the test session.

pytest runs as root here, and PostgreSQL refuses to run as root, so initdb and pg_ctl run as
the ``postgres`` user through ``runuser``. The data folder lives under /tmp and is removed
at the end. The port is chosen below the ephemeral range to avoid TIME-WAIT clashes. Each pytest-xdist
worker starts its own server (its own data folder, port and databases).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

PG_BIN = Path(os.environ.get("PORTAL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PostgresUnavailable(RuntimeError):
    pass


def _free_port(low: int = 20000, high: int = 32000) -> int:
    import random

    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise PostgresUnavailable("no free port for PostgreSQL")


def _as_postgres(args: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


class PostgresServer:
    def __init__(self) -> None:
        if not (PG_BIN / "pg_ctl").exists():
            raise PostgresUnavailable(f"PostgreSQL binaries not found in {PG_BIN}")
        if os.geteuid() == 0 and shutil.which("runuser") is None:
            raise PostgresUnavailable("runuser is needed to start PostgreSQL as root")
        self.dir = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.dir.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = _free_port()
        self.started = False

    def start(self) -> None:
        try:
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "--no-sync", "-E", "UTF8", "--locale=C"])
        except subprocess.CalledProcessError as exc:
            raise PostgresUnavailable(f"could not create a PostgreSQL cluster: {exc.stderr}") from exc
        # Parallel test workers (pytest-xdist) each start a server; two may pick the same free port at
        # once, so a port that is taken by the time the server binds it is replaced by another.
        for attempt in range(5):
            log = self.dir / f"log-{attempt}"
            try:
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "-o",
                              f"-p {self.port} -k {self.dir} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off "
                              f"-c full_page_writes=off -c max_connections=200", "start"], timeout=60)
            except subprocess.CalledProcessError as exc:
                text = log.read_text() if log.exists() else ""
                if "could not bind" in text or "already in use" in text:
                    self.port = _free_port()
                    continue
                raise PostgresUnavailable(f"could not start PostgreSQL: {exc.stderr}\n{text}") from exc
            self.started = True
            return
        raise PostgresUnavailable("no free port for PostgreSQL after 5 tries")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(subprocess.CalledProcessError):
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                             timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class PgWorkerDatabase:
    """One PostgreSQL database per xdist worker, emptied back to the template between tests.

    ``CREATE DATABASE ... TEMPLATE`` costs about 0.7 s per test on this machine (it copies the whole
    catalogue); deleting the rows the test wrote, putting back the template's rows and resetting the
    sequences costs a few hundredths. A test that changed the schema itself (the fingerprint of the
    catalogue differs from the template's) gets the database dropped and copied afresh.

    Every test's app makes its own engine, but the engines for this database share one connection
    pool for the whole session, as a web process keeps its pool from request to request. A new
    PostgreSQL connection costs a backend process whose catalogue caches start cold: fresh
    connections for every test cost about a sixth of the CPU time of the PostgreSQL tests. Nothing a
    test leaves on a connection outlives it: the pool rolls back each connection it takes back, the
    portal sets settings and takes advisory locks for its transaction only, and :meth:`reset` ends
    any session still inside a transaction (dropping the pooled connections when it does).

    :meth:`reset` itself keeps two connections open from test to test (one to the server's ``postgres``
    database, one to this database): opening them afresh for every test started two cold backends,
    and a reset took 28 ms instead of 10.
    """

    #: The database each URL names, for the engines made while it is in use.
    _by_url: dict[str, PgWorkerDatabase] = {}

    _FINGERPRINT = """
        SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM (
          SELECT 'c:' || c.relname || ':' || c.relkind::text AS x FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
          UNION ALL SELECT 'n:' || nspname FROM pg_namespace
            WHERE nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%'
          UNION ALL SELECT 'a:' || c.relname || '.' || a.attname || ':' || a.atttypid || ':' || a.attnotnull
                           || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
          UNION ALL SELECT 'k:' || conrelid::regclass::text || '.' || conname || ':' || pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace
          UNION ALL SELECT 't:' || tgrelid::regclass::text || '.' || tgname FROM pg_trigger WHERE NOT tgisinternal
          UNION ALL SELECT 'p:' || p.oid::regprocedure::text FROM pg_proc p
            WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
          UNION ALL SELECT 'e:' || enumtypid::regtype::text || '.' || enumlabel FROM pg_enum
          UNION ALL SELECT 'x:' || extname FROM pg_extension
        ) AS catalogue
    """

    def __init__(self, server, template: str, name: str) -> None:
        self.server, self.template, self.name = server, template, name
        self.url = server.url(name)
        self.pool: Any = None
        #: database name -> the connection reset keeps to it (see the class docstring).
        self._kept: dict[str, Any] = {}
        self._snapshot()
        self._create()
        PgWorkerDatabase._by_url[self.url] = self

    @classmethod
    def serving(cls, url: str) -> PgWorkerDatabase | None:
        return cls._by_url.get(url)

    def share_pool(self, engine) -> None:
        """Give *engine* (just made, not yet connected) the pool of the first engine made for this
        database; disposing of the engine at the end of its test leaves that pool open."""
        if self.pool is None:
            self.pool = engine.pool
        elif engine.pool is not self.pool:
            engine.pool.dispose()
            engine.pool = self.pool
        engine.dispose = _keep_shared_pool

    def _drop_pooled_connections(self) -> None:
        if self.pool is not None:
            self.pool.dispose()

    def _connect(self, database: str, **kw):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.server.port, user="postgres", dbname=database, **kw)

    def _snapshot(self) -> None:
        """Read what the template holds: its catalogue fingerprint, rows and sequence positions."""
        with self._connect(self.template) as conn, conn.cursor() as cur:
            self.fingerprint = cur.execute(self._FINGERPRINT).fetchone()[0]
            self.tables = [r[0] for r in cur.execute(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
            self.rows: dict[str, bytes] = {}
            for table in self.tables:
                if cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
                    data = bytearray()
                    with cur.copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                        for chunk in copy:
                            data += chunk
                    self.rows[table] = bytes(data)
            self.sequences = cur.execute(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), "
                "coalesce(last_value, start_value), last_value IS NOT NULL "
                "FROM pg_sequences WHERE schemaname = 'public'").fetchall()

    def _create(self) -> None:
        self._drop_pooled_connections()
        self.close(self.name)
        admin = self._kept_connection("postgres")
        admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{self.name}" TEMPLATE {self.template}')

    def _kept_connection(self, database: str):
        conn = self._kept.get(database)
        if conn is None or conn.closed or conn.broken:
            conn = self._kept[database] = self._connect(database, autocommit=True)
        return conn

    def close(self, database: str | None = None) -> None:
        """Close the connection :meth:`reset` keeps to *database*, or all of them (at the end of the session)."""
        for name in [database] if database else list(self._kept):
            conn = self._kept.pop(name, None)
            if conn is not None:
                conn.close()

    def reset(self) -> None:
        """Back to the template's state: no session inside a transaction (pooled connections at rest
        stay open), the template's rows and sequences. A kept connection that turns out to be broken
        (its server process ended) is opened again and the reset tried once more."""
        import psycopg

        try:
            self._reset()
        except psycopg.OperationalError:
            self.close()
            self._reset()

    def _reset(self) -> None:
        own = self._kept_connection(self.name)
        ended = self._kept_connection("postgres").execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> %s AND state <> 'idle'", (self.name, own.info.backend_pid)).fetchone()[0]
        if ended:
            self._drop_pooled_connections()
        try:
            with own.transaction(), own.cursor() as cur:
                if cur.execute(self._FINGERPRINT).fetchone()[0] != self.fingerprint:
                    raise LookupError("the test changed the schema")
                # Foreign keys are triggers; "replica" turns them off while the rows go and come back.
                cur.execute("SET LOCAL session_replication_role = replica")
                cur.execute("; ".join(f"DELETE FROM {t}" for t in self.tables))
                for table, data in self.rows.items():
                    with cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
                        copy.write(data)
                if self.sequences:
                    cur.execute("SELECT " + ", ".join(
                        f"setval('{name}', {value}, {called})" for name, value, called in self.sequences))
        except LookupError:
            self._create()


def _keep_shared_pool(close: bool = True) -> None:
    """``Engine.dispose`` for an engine whose pool is shared (see PgWorkerDatabase.share_pool)."""
