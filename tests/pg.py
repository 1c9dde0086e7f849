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
