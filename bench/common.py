"""Shared helpers of the benchmarks: which code to measure, a fresh database, the load average.

Every benchmark prints ratios against a floor measured in the same run (never a bare time), and
the load average before and after, because the machine is shared.

``--code DIR`` (or ``PORTAL_BENCH_CODE``) measures another checkout of the portal (for example
the code before a change, exported with ``git archive``) with the same benchmark script.
"""
from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def use_code(code: str | None) -> Path:
    """Put the portal checkout to measure first on ``sys.path`` (default: this repository)."""
    root = Path(code or os.environ.get("PORTAL_BENCH_CODE") or REPO).resolve()
    sys.path.insert(0, str(root))
    if str(REPO) not in sys.path:
        sys.path.insert(1, str(REPO))
    return root


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def app_config(url: str, root: Path) -> dict:
    return {
        "SECRET_KEY": "bench-only-not-secret", "PORTAL_DATABASE_URI": url,
        "PORTAL_ARCHIVE_DIR": str(root / "archive"), "PORTAL_UPLOAD_DIR": str(root / "uploads"),
        "PORTAL_KEYS_DIR": str(root / "keys"), "PORTAL_MAIL_BACKEND": "log", "PORTAL_ARGON2_PROFILE": "cheapest",
        "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False, "PORTAL_SECURE_COOKIES": False,
        "WTF_CSRF_ENABLED": False,
    }


def fresh_database(url: str) -> None:
    """Migrate an empty database to the newest revision."""
    from portal.migrate import upgrade

    upgrade(url)


def new_database(server, root: Path, name: str) -> str:
    """The URL of a new database called *name*, migrated to the newest revision: on the PostgreSQL
    *server* when one is given, else a SQLite file in *root*."""
    if server is None:
        url = f"sqlite:///{root / f'{name}.sqlite'}"
    else:
        from sqlalchemy import create_engine, text

        admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = server.url(name)
    fresh_database(url)
    return url


def start_postgres():
    """A throwaway PostgreSQL server (the tests' own helper); ``.stop()`` it when done."""
    from tests.pg import PostgresServer

    server = PostgresServer()
    server.start()
    return server


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values, q: float) -> float:
    """The *q*-th percentile (0..100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]
