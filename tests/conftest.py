"""Shared fixtures: a real PostgreSQL and SQLite per test, a real SMTP server, signed-in clients.

Every test that takes ``app`` runs twice, once on SQLite and once on PostgreSQL (browser tests:
SQLite only). With ``CI=true`` a missing PostgreSQL or Chromium fails the run instead of skipping.
"""
from __future__ import annotations

import contextvars
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text

from portal.app import create_app
from tests.deps import IN_CI, unavailable  # noqa: F401
from tests.pg import PgWorkerDatabase, PostgresServer, PostgresUnavailable
from tests.smtp import SMTPServer

BACKENDS = ("sqlite", "postgresql")
#: The pytest-xdist worker running this process ("main" without xdist). Each worker has its own
#: PostgreSQL server, SMTP server and temporary folder (session fixtures run once per worker).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_generate_tests(metafunc):
    if "db_backend" in metafunc.fixturenames:
        browser = metafunc.definition.get_closest_marker("browser") is not None
        only = os.environ.get("PORTAL_TEST_BACKENDS")
        backends = [b for b in BACKENDS if not only or b in only.split(",")]
        if browser or metafunc.definition.get_closest_marker("one_backend") is not None:
            backends = [b for b in backends if b == "sqlite"] or backends[:1]
        if metafunc.definition.get_closest_marker("postgres_only") is not None:
            backends = [b for b in backends if b == "postgresql"]
        metafunc.parametrize("db_backend", backends)


_unavailable = unavailable


def _reuse_parsed_routes() -> None:
    """Every test builds an app, whose URL map parses each of its ~170 routes (werkzeug's ``Rule.compile``)
    and compiles two URL-builder functions per route with ``compile()``: about 25 ms of CPU per test, most
    of ``create_app``. The same route in the next test's app reuses what was made for the first.

    - The parsed route (its regex parts, its trace, its converters) depends only on the rule's string, its
      subdomain or host, slash merging and the map's converter classes. The converter objects are shared
      between apps: werkzeug's converters keep a reference to the first app's map but never read it.
    - The builders depend on those and on the rule's defaults; they reach the rule's converters through
      their ``self`` argument, so each app's rule gets them bound to itself."""
    from werkzeug.routing.rules import Rule

    compile_rule = Rule.compile
    made: dict = {}

    def _compile(self) -> None:
        m = self.map
        try:
            key = (self.rule, m.host_matching, self.host if m.host_matching else self.subdomain, self.merge_slashes,
                   tuple(m.converters.items()), repr(sorted((self.defaults or {}).items())))
            hit = made.get(key)
        except TypeError:  # defaults that cannot be sorted or hashed: compile as werkzeug does
            compile_rule(self)
            return
        if hit is None:
            compile_rule(self)
            made[key] = (list(self._parts), list(self._trace), dict(self._converters), self._build.__func__,
                         self._build_unknown.__func__)
            return
        parts, trace, converters, build, build_unknown = hit
        self._parts, self._trace, self._converters = list(parts), list(trace), dict(converters)
        self.arguments.update(converters)  # werkzeug adds each variable of the rule as it parses it
        self._build, self._build_unknown = build.__get__(self, None), build_unknown.__get__(self, None)

    Rule.compile = _compile


_reuse_parsed_routes()


class _SharedTemplateCode:
    """Every test builds an app, and so a new Jinja environment that compiles each template it renders
    again (about 10 ms of CPU a template, measured in the browser tests; a page uses several). This bytecode
    cache, shared by the apps of one test process, keeps each template's compiled code keyed by its name and
    checked against its source's checksum (Jinja's own ``BytecodeCache`` contract), so a changed template is
    compiled again."""

    def __init__(self) -> None:
        from jinja2 import BytecodeCache

        store: dict[str, bytes] = {}

        class _Cache(BytecodeCache):
            def load_bytecode(self, bucket):
                code = store.get(bucket.key)
                if code is not None:
                    bucket.bytecode_from_string(code)

            def dump_bytecode(self, bucket):
                store[bucket.key] = bucket.bytecode_to_string()

        self.cache = _Cache()


_TEMPLATE_CODE = _SharedTemplateCode().cache


@pytest.fixture(scope="session")
def template_code():
    """The worker's shared compiled templates, for an app a test builds itself (the browser tests' live server)."""
    return _TEMPLATE_CODE


def _no_fsync(dbapi_conn, _record) -> None:
    dbapi_conn.execute("PRAGMA synchronous=OFF")


#: One (dialect, compiled-statement cache) per database driver, shared by the engines of a worker.
_SHARED_COMPILING: dict[str, tuple[Any, Any]] = {}


def _share_compiled_statements() -> None:
    """SQLAlchemy caches each statement's compiled SQL per engine, keyed by the engine's dialect, and
    every test's app makes a new engine: about 70 statements compiled again per test, a fifth of its
    time. The engines of one test process share the first engine's dialect and compiled-statement
    cache for the same driver, so a statement is compiled once per worker. Each SQLite engine keeps
    its own pool, disposed after its test; the engines for the worker's PostgreSQL test database share
    one pool for the session (tests/pg.py: PgWorkerDatabase.share_pool). Test SQLite also runs without
    fsync (a throwaway database need not survive a power cut; the test PostgreSQL runs with fsync=off
    too)."""
    from portal import db as portal_db
    from portal import extension

    make_engine = portal_db.make_engine

    def _make_engine(url: str):
        engine = make_engine(url)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _no_fsync)
        shared = _SHARED_COMPILING.setdefault(engine.url.drivername, (engine.dialect, engine._compiled_cache))
        engine.dialect, engine._compiled_cache = shared
        database = PgWorkerDatabase.serving(url)
        if database is not None:
            database.share_pool(engine)
        return engine

    extension.make_engine = _make_engine  # type: ignore[assignment]


_share_compiled_statements()


# ---------------------------------------------------------------- databases


def _add_default_school(url: str) -> None:
    """Create anything the migrations lack in a migrated database (test_migrations.py checks that they
    lack nothing), then add the default school."""
    import uuid

    import portal.models  # noqa: F401
    from portal.db import Base
    from tests.schools import DEFAULT_SCHOOL_NAME, DEFAULT_SCHOOL_SLUG

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO portal_schools (id, uid, slug, name, phases, academic_year_start_month, "
            "academic_year_start_day, official_channel, helpline_contact, keys_path, archive_prefix, created_at) "
            "VALUES (1, :uid, :slug, :name, 'primary,secondary', 9, 1, 'the school office by email or telephone', "
            "'', '', '', CURRENT_TIMESTAMP)"), {"uid": str(uuid.uuid4()), "slug": DEFAULT_SCHOOL_SLUG,
                                             "name": DEFAULT_SCHOOL_NAME})
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('portal_schools', 'id'), 1)"))
    engine.dispose()


@pytest.fixture(scope="session")
def _tmp_root():
    # One folder per pytest-xdist worker (and per run): worker names are gw0, gw1, ...
    d = Path(tempfile.mkdtemp(prefix=f"portal-tests-{WORKER}-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(_tmp_root, _migrated_sqlite) -> Path:
    """Every SQLite test's starting database: the migrated empty one plus the default school."""
    path = _tmp_root / "template.sqlite"
    shutil.copyfile(_migrated_sqlite, path)
    _add_default_school(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailable as exc:
        server = None
        error = str(exc)
    if server is None:
        yield error
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server, _migrated_postgresql):
    """The template of every PostgreSQL test's database: a copy of the migrated empty one plus the
    default school."""
    if isinstance(pg_server, str):
        return None
    admin = create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE portal_template TEMPLATE "{_migrated_postgresql}"'))
    admin.dispose()
    _add_default_school(pg_server.url("portal_template"))
    return "portal_template"


@pytest.fixture(scope="session")
def pg_database(pg_server, pg_template):
    """This worker's test database: a copy of the template, put back to the template's state after
    each test (tests/pg.py: PgWorkerDatabase), so no test sees another's rows."""
    database = PgWorkerDatabase(pg_server, pg_template, f"portal_test_{WORKER}_{os.getpid()}")
    yield database
    database.close()


@pytest.fixture(scope="session")
def _migrated_sqlite(_tmp_root):
    """An empty SQLite database migrated to head, made once per worker: the test template starts from it,
    and tests that need a second installation copy it."""
    path = _tmp_root / "empty-installation.sqlite"
    from portal.migrate import upgrade

    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _migrated_postgresql(pg_server):
    """The same on PostgreSQL: a migrated empty database the template and each extra installation are
    created from."""
    if isinstance(pg_server, str):
        return None
    name = f"portal_empty_{os.getpid()}"
    admin = create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    from portal.migrate import upgrade

    upgrade(pg_server.url(name))
    return name


_counter = itertools.count()


def _remove_sqlite(path: Path) -> None:
    for extra in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


@pytest.fixture
def db_url(db_backend, request, _tmp_root):
    if db_backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = _tmp_root / f"test-{next(_counter)}.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        _remove_sqlite(path)
        return
    server = request.getfixturevalue("pg_server")
    if isinstance(server, str):
        _unavailable(f"PostgreSQL: {server}")
    database = request.getfixturevalue("pg_database")
    yield database.url
    database.reset()


# ---------------------------------------------------------------- mail


@pytest.fixture(scope="session")
def _smtp_server():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(_smtp_server):
    """The real SMTP server's received messages, emptied before each test."""
    _smtp_server.clear()
    return _smtp_server


# ---------------------------------------------------------------- app


class LoginClient(FlaskClient):
    """A test client signed in as ``user=`` (like Flask-Login's, plus the "strong"
    session-protection identifier so the session survives the first request)."""

    def __init__(self, *args, **kwargs):
        user = kwargs.pop("user", None)
        super().__init__(*args, **kwargs)
        if user is not None:
            from flask import g

            from portal.auth import sessions

            app = self.application
            account = user if getattr(user, "is_account", False) else user.account
            with app.test_request_context(environ_base=self.environ_base):
                ident = app.login_manager._session_identifier_generator()
                # A real server-side session, as signing in makes (portal/auth/sessions.py).
                self.portal_session, user_id = sessions.start(account, via="test")
                app.extensions["portal"].session().commit()
                g.pop("_portal_device", None)
            with self.session_transaction() as sess:
                sess["_user_id"] = user_id
                sess["_fresh"] = True
                sess["_id"] = ident
                if getattr(user, "school_id", None) is not None:
                    sess["portal_school"] = user.school_id

    def open(self, *args, **kwargs):
        # A portal form carries a fresh one-time token (portal/idempotency.py); a test posting
        # form data gets one too unless it names ``_once`` itself (to test a missing or repeated one).
        if (kwargs.get("method") or "GET").upper() == "POST":
            data = kwargs.get("data")
            if data is None:
                kwargs["data"] = data = {}
            if isinstance(data, dict) and "_once" not in data:
                from portal.idempotency import new_token

                if hasattr(data, "add"):  # a MultiDict
                    data = data.copy()
                    data.add("_once", new_token())
                else:
                    data = {**data, "_once": new_token()}
                kwargs["data"] = data
        # Each request gets its own application context (and so its own ``g`` and database
        # session), as in production, even though the test holds one open.
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app_config(db_url, _smtp_server, tmp_path):
    """Override in a test module to change settings."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-not-for-production",
        "SERVER_NAME": "portal.test",
        "PORTAL_DATABASE_URI": db_url,
        "PORTAL_ARGON2_PROFILE": "cheapest",
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": _smtp_server.port,
        "PORTAL_MAIL_BACKEND": "smtp",
        "PORTAL_ARCHIVE_DIR": str(tmp_path / "archive"),
        "PORTAL_UPLOAD_DIR": str(tmp_path / "uploads"),
        "PORTAL_KEYS_DIR": str(tmp_path / "keys"),
        # Jobs run where they are queued (Huey's immediate mode); tests of the queue itself
        # (tests/test_jobs*.py) turn this off and run a real consumer on SQLite or Redis.
        "PORTAL_JOBS_IMMEDIATE": True,
        "PORTAL_JOBS_URL": f"sqlite:///{tmp_path / 'jobs.sqlite'}",
        # The test LMS (tests/lti_platform.py) serves on 127.0.0.1 (portal/lti/outbound.py).
        "PORTAL_LTI_PRIVATE_NETWORKS": ["127.0.0.0/8"],
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
    }


@pytest.fixture
def app(app_config):
    """The app, with an application context whose session is scoped to the default school."""
    from tests.schools import in_school

    application = create_app(app_config)
    application.jinja_env.bytecode_cache = _TEMPLATE_CODE
    application.test_client_class = LoginClient
    with in_school(application):
        yield application
        application.extensions["portal"].session.remove()
    application.extensions["portal"].engine.dispose()


@pytest.fixture
def db(app):
    """The portal session of the test's app."""
    return app.extensions["portal"].session()


@pytest.fixture
def empty_installation(app, db):
    """An installation with no school at all (as after ``make``'s migrate, before the demo)."""
    from portal.schools.isolation import set_school

    db.execute(text("DELETE FROM portal_schools"))
    db.commit()
    set_school(db, None)
    return app


@pytest.fixture
def login_as(app):
    """``login_as(person)`` -> a test client signed in as *person*."""

    def _login(person):
        return app.test_client(user=person)

    return _login


from tests.browser import _playwright, chromium, live_app, new_page, server  # noqa: E402,F401

# ---------------------------------------------------------------- Redis and S3 (started by the tests)


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server on 127.0.0.1 for the session (tests may stop and start it again)."""
    from tests.services import RedisServer, ServiceUnavailable

    try:
        server = RedisServer()
        server.start()
    except ServiceUnavailable as exc:
        _unavailable(f"Redis: {exc}")
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server):
    """The running Redis, emptied before the test."""
    import redis

    if redis_server.proc is None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def s3_server():
    """moto's standalone S3-compatible server on 127.0.0.1 for the session."""
    from tests.services import S3Server, ServiceUnavailable

    try:
        server = S3Server()
        server.start()
    except ServiceUnavailable as exc:
        _unavailable(f"S3 server: {exc}")
    yield server
    server.stop()


from tests.factories import *  # noqa: E402,F401,F403  (factory fixtures)
