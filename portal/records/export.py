"""The auditor's ZIP: every selected record's PDF, ``manifest.csv`` and the audit-chain head.

Streamed in constant memory: rows come from the database in batches, PDFs from the archive
in chunks (checked against their SHA-256 as they go), the manifest and the ZIP's central
directory are spooled to temporary files. A trust auditor's ZIP holds one folder per school,
each with its own manifest and chain head, plus ``schools.csv`` listing the folders.
"""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from portal import audit
from portal.csvsafe import csv_safe, csv_safe_row  # noqa: F401  (csv_safe is also imported from here)
from portal.db import session, utcnow
from portal.people.models import academic_year_label
from portal.records.archive import ArchiveStore
from portal.records.queries import RecordFilter, records_query
from portal.records.zipstream import StreamingZip

MANIFEST_FIELDS = [
    "signature_id", "record_id", "status", "academic_year", "policy", "version", "audience", "signer",
    "signer_role", "on_behalf_of", "class", "decision", "method", "witness", "signed_at_utc", "seal_level",
    "timestamp_utc", "file", "size", "sha256",
]


def record_filename(row: Any) -> str:
    return f"records/{row.academic_year}/signature-{row.signature_id}.pdf"


def start_export(f: RecordFilter, actor: Any = None) -> tuple[int, str]:
    """Audit the export and commit; returns the chain head (count, hash) to put in the ZIP."""
    audit.record("records.exported", actor=actor, filters=f.as_dict())
    session.commit()
    return audit.chain_head()


def stream_export(f: RecordFilter, head: tuple[int, str], *, db: Session, store: ArchiveStore,
                  batch: int = 500) -> Iterator[bytes]:
    """Yield the ZIP's bytes. Call :func:`start_export` first.

    Uses only *db* (a portal session scoped to the school) and *store* (no Flask context), so a
    response can stream it after the request's context is gone.
    """
    z = StreamingZip()
    started = utcnow()
    try:
        count = yield from _school_part(z, f, db=db, store=store, batch=batch)
        yield from _trailer(z, f, head, started, count)
        yield from z.finish()
    finally:
        z.close()


@dataclass
class SchoolPart:
    """One school's folder in a trust export."""

    school_id: int
    slug: str
    name: str
    head: tuple[int, str]
    store: ArchiveStore


def stream_trust_export(f: RecordFilter, parts: list[SchoolPart], *, db: Session,
                        batch: int = 500) -> Iterator[bytes]:
    """Yield a trust auditor's ZIP: ``<slug>/records/...``, ``<slug>/manifest.csv`` and
    ``<slug>/audit-chain-head.txt`` for each school, and ``schools.csv`` listing them.

    *db* is a portal session; it is scoped to each school in turn.
    """
    from portal.schools.isolation import school_scope

    z = StreamingZip()
    started = utcnow()
    index = io.StringIO()
    writer = csv.writer(index)
    writer.writerow(["folder", "school", "pdf_files", "audit_entries", "audit_chain_head"])
    try:
        for part in parts:
            with school_scope(db, part.school_id):
                count = yield from _school_part(z, f, db=db, store=part.store, batch=batch, folder=f"{part.slug}/")
            yield from _trailer(z, f, part.head, started, count, folder=f"{part.slug}/", school=part.name)
            writer.writerow(csv_safe([part.slug, part.name, count, part.head[0], part.head[1]]))
        yield from z.file("schools.csv", index.getvalue().encode("utf-8"))
        yield from z.finish()
    finally:
        z.close()


def _school_part(z: StreamingZip, f: RecordFilter, *, db: Session, store: ArchiveStore, batch: int,
                 folder: str = "") -> Generator[bytes, None, int]:
    """Yield one school's PDFs and manifest; returns the number of PDF files."""
    count = 0
    manifest = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115 - closed in finally
    result = None
    try:
        writer = csv.DictWriter(manifest, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        result = db.execute(records_query(f).execution_options(yield_per=batch))
        for row in result:
            name = ""
            if row.status == "sealed" and row.pdf_sha256:
                name = record_filename(row)
                yield from z.entry(folder + name, store.iter_verified(row.pdf_sha256))
                count += 1
            writer.writerow(csv_safe_row({
                "signature_id": row.signature_id, "record_id": row.record_id or "",
                "status": row.status or "missing", "academic_year": academic_year_label(row.academic_year),
                "policy": row.policy_title, "version": row.version_number, "audience": row.audience,
                "signer": row.signer_name, "signer_role": row.signer_role, "on_behalf_of": row.pupil_name or "",
                "class": row.class_name or "", "decision": row.decision, "method": row.method,
                "witness": row.witness_name or "",
                "signed_at_utc": row.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "seal_level": row.seal_mode or "",
                "timestamp_utc": row.timestamped_at.strftime("%Y-%m-%dT%H:%M:%SZ") if row.timestamped_at else "",
                "file": name, "size": row.size or "", "sha256": row.pdf_sha256 or "",
            }))
        result.close()
        result = None
        manifest.seek(0)
        yield from z.entry(folder + "manifest.csv", _chunks(manifest))
    finally:
        if result is not None:
            result.close()
        manifest.close()
    return count


def _trailer(z: StreamingZip, f: RecordFilter, head: tuple[int, str], started, count: int, *,
             folder: str = "", school: str | None = None) -> Iterator[bytes]:
    entries, head_hash = head
    filters = f.as_dict()
    text = (
        "Countersign signed-records export\n"
        + (f"School: {school}\n" if school else "")
        + f"Made at (UTC): {started.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        f"Filters: {', '.join(f'{k}={v}' for k, v in filters.items()) or 'none'}\n"
        f"PDF files: {count}\n"
        f"Audit log entries: {entries}\n"
        f"Audit chain head (SHA-256 of the newest entry): {head_hash}\n"
        "Run `flask portal audit verify` on the school's server: the chain must reach this head.\n"
    )
    yield from z.file(folder + "audit-chain-head.txt", text.encode("utf-8"))


def _chunks(f: io.TextIOBase, size: int = 64 * 1024) -> Iterator[bytes]:
    while block := f.read(size):
        yield block.encode("utf-8")
