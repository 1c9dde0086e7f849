"""Seal a PDF with the school's certificate (PAdES B-B, or B-T with a TSA)."""
from __future__ import annotations

import io

from flask import current_app
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers, timestamps

from portal.records import aio
from portal.records.keys import seal_identity
from portal.records.models import SealMode

FIELD_NAME = "SchoolSeal"


def seal_pdf(pdf: bytes, *, reason: str, location: str | None = None) -> tuple[bytes, SealMode]:
    """Return the sealed PDF and the seal mode used.

    With ``PORTAL_TSA_URL`` set the signature carries an RFC 3161 time stamp (B-T); a TSA
    that cannot be reached is an error (the caller records it and tries again later) rather
    than a silent fall back to B-B.
    """
    identity = seal_identity()
    tsa_url = current_app.config.get("PORTAL_TSA_URL")
    timestamper = timestamps.HTTPTimeStamper(tsa_url, timeout=10) if tsa_url else None
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason[:200],
        location=location[:200] if location else None,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    pdf_signer = signers.PdfSigner(meta, signer=identity.signer, timestamper=timestamper)
    out = aio.run(lambda: pdf_signer.async_sign_pdf(writer))
    return out.getvalue(), (SealMode.B_T if timestamper else SealMode.B_B)

