"""Real servers the tests start on 127.0.0.1: Redis (Debian's redis-server) and an S3-compatible
object store (moto's standalone server, from PyPI). Each is stopped by its own process id.

With ``CI=true`` a missing binary fails the test (``tests.deps.unavailable``); elsewhere it skips.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.pg import _free_port


class ServiceUnavailable(RuntimeError):
    pass


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceUnavailable(f"{what} exited at start (code {proc.returncode})")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise ServiceUnavailable(f"{what} did not open port {port} within {timeout:.0f} s")


class RedisServer:
    """``redis-server`` with no persistence, on a free port; :meth:`stop` and :meth:`start` again
    on the same port (to test a broker that goes down and comes back)."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServiceUnavailable("redis-server is not installed (Debian package redis-server)")
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="portal-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, "redis-server")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class S3Server:
    """moto's standalone S3-compatible server (``moto_server``) on a free port."""

    ACCESS_KEY = "testing-access-key"
    SECRET_KEY = "testing-secret-key"
    REGION = "eu-west-2"

    def __init__(self) -> None:
        exe = Path(sys.executable).with_name("moto_server")
        self.binary = str(exe) if exe.exists() else shutil.which("moto_server")
        if self.binary is None:
            raise ServiceUnavailable("moto_server is not installed (PyPI moto[server])")
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY}
        self.proc = subprocess.Popen([self.binary, "-H", "127.0.0.1", "-p", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc, "moto_server", timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def client(self):
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name=self.REGION, aws_access_key_id=self.ACCESS_KEY,
            aws_secret_access_key=self.SECRET_KEY)

    def config(self, bucket: str, prefix: str = "archive") -> dict:
        """App settings for an archive in *bucket* on this server."""
        return {"PORTAL_ARCHIVE_STORE": f"s3://{bucket}/{prefix}", "PORTAL_S3_ENDPOINT_URL": self.url,
                "PORTAL_S3_REGION": self.REGION, "PORTAL_S3_ACCESS_KEY_ID": self.ACCESS_KEY,
                "PORTAL_S3_SECRET_ACCESS_KEY": self.SECRET_KEY}

    def make_bucket(self, name: str, *, object_lock: bool = False) -> None:
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock,
                                    CreateBucketConfiguration={"LocationConstraint": self.REGION})
