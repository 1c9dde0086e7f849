"""Check an uploaded PDF: is it one of our sealed records, intact, and which signature?"""
from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from portal.db import session
from portal.records import aio
from portal.records.archive import sha256_hex
from portal.records.keys import SealingKeyMissing, fingerprint, seal_identity
from portal.records.models import SignedRecord
from portal.records.pdf import EVIDENCE_NAME
from portal.signatures.models import Signature

log = logging.getLogger("portal.records")


class NotAPdf(ValueError):
    """The upload is not a PDF we can read (the message says why, in plain words)."""


@dataclass
class Verdict:
    sha256: str
    sealed: bool = False
    #: Sealed with our school certificate.
    ours: bool = False
    #: The seal's cryptography checks out and it covers the whole file (no change since).
    intact: bool = False
    signer_name: str | None = None
    signature_id: int | None = None
    signature: Signature | None = None
    #: The archived record whose PDF has exactly these bytes.
    record: SignedRecord | None = None
    evidence: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def genuine(self) -> bool:
        return self.sealed and self.ours and self.intact

    @property
    def summary(self) -> str:
        if not self.sealed:
            return "This PDF has no seal. It is not a record made by this portal."
        if not self.ours:
            return "This PDF is sealed, but not with this school's certificate."
        if not self.intact:
            return "This PDF was sealed by this school but has been changed since. Do not rely on it."
        if self.signature_id is not None:
            return f"Genuine: sealed by this school, unchanged, and it records signature {self.signature_id}."
        return "Genuine: sealed by this school and unchanged."


def verify_pdf(data: bytes) -> Verdict:
    """Verify *data*; raises :class:`NotAPdf` for files that are not readable PDFs."""
    if not data.lstrip(b"\x00\t\r\n ")[:5] == b"%PDF-":
        raise NotAPdf("This file is not a PDF (it does not start like one).")
    if b"%%EOF" not in data[-2048:]:
        raise NotAPdf("This PDF is incomplete: its end is missing. Upload the whole file.")
    verdict = Verdict(sha256=sha256_hex(data))
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - any parse failure means we cannot read it
        log.info("verify: unreadable PDF (%s)", type(exc).__name__)
        raise NotAPdf("This PDF is damaged and cannot be read.") from None
    if not embedded:
        return verdict
    verdict.sealed = True
    try:
        identity = seal_identity()
    except SealingKeyMissing:
        verdict.problems.append("This portal has no sealing certificate set up, so it cannot check seals.")
        return verdict
    sig = embedded[0]
    if len(embedded) > 1:
        verdict.problems.append("The file has more than one signature; only the first was checked.")
    try:
        signer_cert = sig.signer_cert
        verdict.signer_name = signer_cert.subject.human_friendly
        verdict.ours = fingerprint(signer_cert) in identity.known_fingerprints
        context = ValidationContext(trust_roots=identity.all_roots)
        status = aio.run(lambda: async_validate_pdf_signature(sig, context))
    except Exception as exc:  # noqa: BLE001 - a broken signature structure is "not intact"
        log.info("verify: seal could not be checked (%s)", type(exc).__name__)
        verdict.problems.append("The seal is damaged and could not be checked.")
        return verdict
    from pyhanko.sign.validation import SignatureCoverageLevel

    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    verdict.intact = bool(status.intact and status.valid and whole)
    if status.intact and status.valid and not whole:
        verdict.problems.append("Something was added to the file after it was sealed.")
    if verdict.ours and verdict.intact and not status.trusted:
        verdict.problems.append("The certificate could not be confirmed as trusted.")
        verdict.ours = False
    verdict.evidence = _evidence(reader)
    sid = (verdict.evidence or {}).get("signature_id")
    if isinstance(sid, int) and verdict.genuine:
        verdict.signature_id = sid
        verdict.signature = session.get(Signature, sid)
    verdict.record = session.scalar(select(SignedRecord).where(SignedRecord.pdf_sha256 == verdict.sha256))
    return verdict


def _evidence(reader: PdfFileReader) -> dict[str, Any] | None:
    """The attached evidence JSON, if present and readable."""
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
        for i in range(0, len(names) - 1, 2):
            if str(names[i]) == EVIDENCE_NAME:
                spec = names[i + 1].get_object()
                raw = spec["/EF"]["/F"].get_object().data
                if len(raw) > 1_000_000:
                    return None
                value = json.loads(raw.decode("utf-8"))
                return value if isinstance(value, dict) else None
    except Exception:  # noqa: BLE001 - no evidence is an answer too
        return None
    return None
