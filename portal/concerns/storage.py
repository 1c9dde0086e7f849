"""Attachment checks and storage outside the database.

The type is found from the first bytes of the file (its "magic number"), never from its name
or the browser's declared type. Files are written under ``PORTAL_UPLOAD_DIR/concerns`` with
random names; :class:`UploadBatch` removes what it wrote if anything later fails.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

#: Detected type -> file name extension used for downloads.
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
    "application/pdf": "pdf",
}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"heif"}


class AttachmentError(ValueError):
    """An attachment was refused; the message is shown to the parent."""


def sniff(head: bytes) -> str | None:
    """The content type of a file from its first bytes, or ``None`` if it is not an allowed type."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "image/heic"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def clean_filename(name: str | None, content_type: str) -> str:
    """A short, plain file name for downloads (the extension follows the real type)."""
    base = unicodedata.normalize("NFKD", os.path.basename((name or "").replace("\\", "/")))
    base = base.encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._ -]+", "", base.rsplit(".", 1)[0]).strip(" .-_")[:80] or "attachment"
    return f"{stem}.{EXTENSIONS[content_type]}"


@dataclass
class CheckedFile:
    data: bytes
    content_type: str
    filename: str
    sha256: str


def max_files() -> int:
    return int(current_app.config["PORTAL_CONCERN_MAX_FILES"])


def max_file_bytes() -> int:
    return int(current_app.config["PORTAL_CONCERN_MAX_FILE_BYTES"])


def check_uploads(files) -> list[CheckedFile]:
    """Read and check every uploaded file; all are refused if any one is wrong.

    :param files: ``werkzeug.datastructures.FileStorage`` objects (empty ones are skipped).
    :raises AttachmentError: with a message that names the file and says what to do.
    """
    chosen = [f for f in files if f is not None and getattr(f, "filename", None)]
    limit_n, limit_b = max_files(), max_file_bytes()
    if len(chosen) > limit_n:
        raise AttachmentError(ngettext("You can attach %(num)s file; you chose %(count)s. Remove some and send the "
                                       "form again.", "You can attach up to %(num)s files; you chose %(count)s. "
                                       "Remove some and send the form again.", limit_n, count=len(chosen)))
    out: list[CheckedFile] = []
    mb = limit_b // (1024 * 1024)
    for f in chosen:
        shown = clean_filename(f.filename, "application/pdf").rsplit(".", 1)[0]
        data = f.stream.read(limit_b + 1)
        if len(data) > limit_b:
            raise AttachmentError(_("“%(name)s” is larger than %(mb)s MB. Send a smaller photo or PDF.",
                                    name=shown, mb=mb))
        if not data:
            raise AttachmentError(_("“%(name)s” is empty. Choose the file again.", name=shown))
        content_type = sniff(data[:32])
        if content_type is None:
            raise AttachmentError(_("“%(name)s” is not a photo (PNG, JPEG, GIF, WebP, HEIC) or a PDF, whatever "
                                    "its name says. Only photos and PDFs can be attached.", name=shown))
        out.append(CheckedFile(data, content_type, clean_filename(f.filename, content_type),
                               hashlib.sha256(data).hexdigest()))
    return out


#: Sub-folders of ``PORTAL_UPLOAD_DIR``: concern attachments, and scans of parents' signed
#: paper slips (:class:`portal.signatures.models.OfflineAgreement`).
KINDS = ("concerns", "agreements")


def upload_dir(kind: str = "concerns") -> Path:
    if kind not in KINDS:
        raise ValueError("unknown upload kind")
    return Path(current_app.config["PORTAL_UPLOAD_DIR"]).resolve() / kind


def path_of(stored_name: str, kind: str = "concerns") -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_-]{20,80}", stored_name):
        raise ValueError("bad stored name")
    return upload_dir(kind) / stored_name


class UploadBatch:
    """Writes files and, unless :meth:`keep` is called, deletes them when the block ends.

    ``with UploadBatch() as batch: name = batch.write(data); ...; session.commit(); batch.keep()``
    """

    def __init__(self, kind: str = "concerns") -> None:
        self.kind = kind
        self.written: list[Path] = []
        self._keep = False

    def __enter__(self) -> Self:
        return self

    def write(self, data: bytes) -> str:
        folder = upload_dir(self.kind)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = secrets.token_urlsafe(32)
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.written.append(path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return name

    def keep(self) -> None:
        self._keep = True

    def __exit__(self, *exc) -> None:
        if not self._keep:
            for path in self.written:
                path.unlink(missing_ok=True)
