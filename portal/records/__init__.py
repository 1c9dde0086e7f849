"""Signed records: a sealed PDF per signature, kept in a write-once archive.

When a signature commits (:data:`portal.signals.signature_committed`) a pending record is
written and the ``records.seal`` job is queued (:mod:`portal.records.jobs`); the job worker renders
a tagged PDF/A-3b document of exactly what was signed (WeasyPrint, with a fetcher that reaches
nothing but the portal's own static files), attaches the evidence as JSON, seals it with the
school's certificate, issued by its trust's root CA (pyHanko, PAdES B-LT, or B-LTA with a
time-stamping authority) and stores it, named by its SHA-256, in the archive (a folder, or
S3-compatible object storage). A :class:`~portal.records.models.SignedRecord` row tracks each one
(and :class:`~portal.records.models.RecordFile` every version of its PDF); failures are recorded on
the row and retried by the job (with backoff), the periodic sweep, ``flask portal records repair``
or when the record is next opened. Anyone can check a record on the public verification page or
offline (``countersign-verify``).
"""
from __future__ import annotations

from flask import Flask

from portal.signals import signature_committed, signatures_committed


def init_app(app: Flask) -> None:
    """Connect the signal receivers (idempotent; blinker keeps one connection per receiver)."""
    from portal.records.operations import on_signature_committed, on_signatures_committed

    signature_committed.connect(on_signature_committed)
    signatures_committed.connect(on_signatures_committed)
