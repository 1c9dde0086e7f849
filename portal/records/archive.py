"""The write-once, content-addressed archive of sealed PDFs.

Objects are named by the SHA-256 of their bytes, written once, never overwritten, and
checked against their name whenever they are read. :class:`ArchiveStore` is the interface;
:class:`FilesystemStore` (``PORTAL_ARCHIVE_DIR``) is the default. An S3-compatible store
implements the same four methods (``put`` with ``If-None-Match: *`` and object lock,
``open`` streaming the body).
"""
from __future__ import annotations

import abc
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app

_SHA = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 64 * 1024


class ArchiveError(Exception):
    """The archive cannot give or keep an object as asked."""


class IntegrityError(ArchiveError):
    """An object's bytes do not match its name."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(sha: str) -> str:
    if not _SHA.match(sha or ""):
        raise ArchiveError("not a SHA-256 name")
    return sha


class ArchiveStore(abc.ABC):
    """Write-once storage addressed by SHA-256."""

    @abc.abstractmethod
    def put(self, data: bytes) -> str:
        """Store *data* and return its SHA-256. Storing the same bytes again is a no-op;
        an existing object is never replaced."""

    @abc.abstractmethod
    def exists(self, sha: str) -> bool:
        """Whether an object with this name is stored."""

    @abc.abstractmethod
    def open(self, sha: str) -> BinaryIO:
        """A binary stream of the stored bytes (unchecked; use :meth:`iter_verified`)."""

    def get(self, sha: str) -> bytes:
        """The object's bytes, checked against *sha* (raises :class:`IntegrityError`)."""
        with self.open(sha) as f:
            data = f.read()
        if sha256_hex(data) != sha:
            raise IntegrityError(f"archived object {sha[:12]}… does not match its hash")
        return data

    def names(self) -> Iterator[str]:
        """Every stored object's SHA-256 (for stores that can list; others raise NotImplementedError)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its objects")

    def with_prefix(self, prefix: str) -> ArchiveStore:
        """The same store, limited to the objects under *prefix* (one school's part)."""
        raise NotImplementedError(f"{type(self).__name__} cannot hold several schools' archives")

    def dispose(self, sha: str) -> None:
        """Delete an object. Only for explicit, audited disposal (a school removed after its export,
        a retention rule); nothing else ever deletes from the archive."""
        raise NotImplementedError(f"{type(self).__name__} cannot dispose of objects")

    def iter_verified(self, sha: str, chunk: int = CHUNK) -> Iterator[bytes]:
        """Yield the object in chunks; raise :class:`IntegrityError` at the end if it does
        not match *sha* (the consumer must not treat the output as complete before then)."""
        digest = hashlib.sha256()
        with self.open(sha) as f:
            while block := f.read(chunk):
                digest.update(block)
                yield block
        if digest.hexdigest() != sha:
            raise IntegrityError(f"archived object {sha[:12]}… does not match its hash")


class FilesystemStore(ArchiveStore):
    """Objects under ``root/ab/<sha256>.pdf``, read-only once written."""

    def __init__(self, root: str | os.PathLike[str], suffix: str = ".pdf") -> None:
        self.root = Path(root)
        self.suffix = suffix

    def with_prefix(self, prefix: str) -> ArchiveStore:
        return FilesystemStore(self.root / prefix, self.suffix)

    def dispose(self, sha: str) -> None:
        path = self.path(sha)
        if path.exists():
            path.chmod(0o644)
            path.unlink()

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob(f"??/*{self.suffix}")):
            name = path.name[: -len(self.suffix)] if self.suffix else path.name
            if _SHA.match(name) and name[:2] == path.parent.name:
                yield name

    def path(self, sha: str) -> Path:
        _check_name(sha)
        return self.root / sha[:2] / f"{sha}{self.suffix}"

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def open(self, sha: str) -> BinaryIO:
        try:
            return self.path(sha).open("rb")
        except FileNotFoundError:
            raise ArchiveError(f"archived object {sha[:12]}… is missing") from None

    def put(self, data: bytes) -> str:
        sha = sha256_hex(data)
        target = self.path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            self.get(sha)  # same name, so it must be the same bytes; raises if tampered
            return sha
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            try:
                # link() fails if the name exists: a concurrent writer can never be overwritten.
                os.link(tmp, target)
            except FileExistsError:
                self.get(sha)
        finally:
            os.unlink(tmp)
        return sha


def configured_store() -> ArchiveStore | None:
    """The installation's store from ``PORTAL_ARCHIVE_STORE`` (an instance, or ``s3://bucket/prefix``,
    built once per app), or ``None`` for the archive folder."""
    value = current_app.config.get("PORTAL_ARCHIVE_STORE")
    if value is None or value == "" or isinstance(value, ArchiveStore):
        return value or None
    if isinstance(value, str) and value.startswith("s3://"):
        ext = current_app.extensions["portal"]
        store = getattr(ext, "archive", None)
        if store is None:
            from portal.records.s3 import S3Store

            store = ext.archive = S3Store.from_url(value, current_app.config)
        return store
    raise RuntimeError("PORTAL_ARCHIVE_STORE must be s3://bucket/prefix or an ArchiveStore instance")


def archive_store(school: Any = None) -> ArchiveStore:
    """The store of *school*'s sealed PDFs (default: the current school).

    ``PORTAL_ARCHIVE_STORE`` (``s3://bucket/prefix``, or an :class:`ArchiveStore` instance the host
    made) if set, else a :class:`FilesystemStore` at ``PORTAL_ARCHIVE_DIR``; either way under
    the school's ``archive_prefix`` (empty for an installation's first school).
    """
    if school is None:
        from portal.schools.models import School

        school = School.get()
    prefix = school.archive_prefix if school is not None else ""
    store = configured_store()
    if store is not None:
        return store.with_prefix(prefix) if prefix else store
    root = Path(current_app.config["PORTAL_ARCHIVE_DIR"])
    return FilesystemStore(root / prefix if prefix else root)
