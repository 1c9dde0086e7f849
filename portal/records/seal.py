"""Seal a PDF with the school's certificate: PAdES B-LT, or B-LTA with a time-stamping authority.

* **B-LT** (no ``PORTAL_TSA_URL``): the seal, plus the certificate chain and the CA's CRL in the
  document security store (DSS), so the seal can be checked offline with only the root
  certificate. Strictly, ETSI's B-LT also carries a signature time stamp; without a TSA there is
  no trusted time, so such a seal proves integrity and origin while the certificate is valid.
* **B-LTA** (with ``PORTAL_TSA_URL``): a signature time stamp, the validation data of the seal and
  of the time stamp in the DSS, then a document time stamp over all of it. Adding a new document
  time stamp before the newest one's certificate expires (:func:`add_document_timestamp`, run by
  ``records retimestamp``) keeps the record verifiable indefinitely.

A TSA that cannot be reached does not stop the seal: the record is sealed B-LT and marked as
waiting for its time stamp (:attr:`SealResult.timestamp_pending`).
"""
from __future__ import annotations

import contextvars
import datetime as dt
import io
import logging
import re
import ssl
import threading
from dataclasses import dataclass

import aiohttp
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from flask import current_app
from pyhanko.keys import load_certs_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext

from portal.records import aio
from portal.records.keys import SealIdentity, seal_identity
from portal.records.models import SealMode

log = logging.getLogger("portal.records")

FIELD_NAME = "SchoolSeal"


class _OfflineOnPurpose(logging.Filter):
    """pyHanko warns on every seal that embeds validation data without fetching; ours is given locally."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_OfflineOnPurpose())


@dataclass(frozen=True)
class SealResult:
    pdf: bytes
    mode: SealMode
    #: SHA-256 fingerprint of the sealing certificate.
    cert_sha256: str
    #: Newest time stamp in the file (None for B-LT).
    timestamped_at: dt.datetime | None
    #: Add the next document time stamp before this (the TSA certificate's expiry; for B-LT the seal's).
    renew_by: dt.datetime
    #: A TSA is configured but could not be reached: the record waits for its time stamp.
    timestamp_pending: bool = False


_ts_lock = threading.Lock()
_timestampers: dict[tuple, timestamps.TimeStamper] = {}
_ssl: ssl.SSLContext | None = None
#: Time-stamp responses received while sealing one record (the last is the newest time stamp).
_responses: contextvars.ContextVar[list | None] = contextvars.ContextVar("portal_tsa_responses", default=None)


def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every TSA request (building one reads the CA bundle: slow on each request)."""
    global _ssl
    if _ssl is None:
        import certifi

        _ssl = ssl.create_default_context(cafile=certifi.where())
    return _ssl


class PortalTimeStamper(timestamps.HTTPTimeStamper):
    """pyHanko's RFC 3161 HTTP client, with one shared TLS context, and remembering what it received."""

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        headers = await self.async_request_headers()
        try:
            async with (
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_ssl_context())) as session,
                session.post(self.url, headers=headers, data=req.dump(), auth=self.auth, raise_for_status=True,
                             timeout=timeout) as response,
            ):
                data = await response.read()
                content_type = response.headers.get("Content-Type")
        except (aiohttp.ClientError, OSError) as exc:
            raise TimestampRequestError("Error while contacting timestamp service") from exc
        if content_type != "application/timestamp-reply":
            raise TimestampRequestError(f"The time-stamping authority answered with {content_type!r}.")
        result = tsp.TimeStampResp.load(data)
        seen = _responses.get()
        if seen is not None:
            seen.append(result)
        return result


def timestamper() -> timestamps.TimeStamper | None:
    """The configured TSA client (kept between seals: it caches the size of a time-stamp token).

    pyHanko's client also keeps every TSA certificate it has received and builds a validation path
    for each one when sealing. So a client is kept per URL *and* per set of anchors (the TSA roots
    and the installation's keys folder): a TSA answering at the same address with a certificate from
    other roots gets a new client, instead of one still holding a certificate no anchor issues."""
    cfg = current_app.config
    url = cfg.get("PORTAL_TSA_URL")
    if not url:
        return None
    user, password = cfg.get("PORTAL_TSA_USERNAME"), cfg.get("PORTAL_TSA_PASSWORD")
    auth = (str(user), str(password or "")) if user else None
    key = (url, auth, int(cfg["PORTAL_TSA_TIMEOUT"]), str(cfg.get("PORTAL_TSA_ROOTS") or ""),
           str(cfg.get("PORTAL_KEYS_DIR") or ""))
    with _ts_lock:
        ts = _timestampers.get(key)
        if ts is None:
            ts = PortalTimeStamper(url, timeout=key[2], auth=auth)
            if len(_timestampers) > 16:
                _timestampers.clear()
            _timestampers[key] = ts
        return ts


def tsa_roots() -> list[asn1_x509.Certificate]:
    """Roots of the TSA's certificate named by ``PORTAL_TSA_ROOTS`` (none: it is issued by our own root)."""
    path = current_app.config.get("PORTAL_TSA_ROOTS")
    return list(load_certs_from_pemder([str(path)])) if path else []


def validation_context(identity: SealIdentity) -> ValidationContext:
    """What the signer checks before sealing, and where the embedded validation data comes from.

    Our own CA: only its root, its current CRL given locally, no network, revocation data required
    (so every seal carries the CRL). A commercial CA or a separate TSA root: revocation data is
    checked when the certificate names a source, and may be fetched.
    """
    external = identity.ca is None and identity.cert.self_signed == "no"
    extra_tsa = tsa_roots()
    roots = {c.dump(): c for c in [*identity.all_roots, *extra_tsa]}
    return ValidationContext(
        trust_roots=list(roots.values()), other_certs=list(identity.chain), crls=list(identity.crls),
        allow_fetching=external or bool(extra_tsa),
        revocation_mode="require" if identity.ca is not None and not extra_tsa else "hard-fail",
    )


def current_identity() -> SealIdentity:
    """The current school's sealing identity, after checking it may seal now.

    :raises SealingCertUnusable: expired, not yet valid, revoked, or a stale CRL with the root key offline.
    """
    identity = seal_identity()
    if identity.check_usable():  # the CRL was renewed: take the identity holding it
        identity = seal_identity()
    return identity


def seal_pdf(pdf: bytes, *, reason: str, location: str | None = None,
             identity: SealIdentity | None = None) -> SealResult:
    """Seal *pdf* (PAdES B-LTA with a TSA, else B-LT) with *identity* (default: :func:`current_identity`).

    :raises SealingCertUnusable: the certificate is expired, revoked, or its CRL is stale.
    :raises SealingKeyMissing: no certificate is set up.
    """
    identity = identity or current_identity()
    ts = timestamper()
    if ts is not None:
        try:
            return _sign(pdf, identity, reason=reason, location=location, ts=ts)
        except TimestampRequestError as exc:
            log.warning("TSA unreachable (%s); sealing B-LT and queueing the time stamp", exc.__cause__ or exc)
            result = _sign(pdf, identity, reason=reason, location=location, ts=None)
            return SealResult(pdf=result.pdf, mode=result.mode, cert_sha256=result.cert_sha256,
                              timestamped_at=None, renew_by=result.renew_by, timestamp_pending=True)
    return _sign(pdf, identity, reason=reason, location=location, ts=None)


def _sign(pdf: bytes, identity: SealIdentity, *, reason: str, location: str | None,
          ts: timestamps.TimeStamper | None) -> SealResult:
    vc = validation_context(identity)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason[:200],
        location=location[:200] if location else None,
        embed_validation_info=True,
        use_pades_lta=ts is not None,
        timestamp_field_name="RecordTimestamp1" if ts is not None else None,
        validation_context=vc,
        signer_key_usage=set(),  # our certificates carry digitalSignature + nonRepudiation; imported ones vary
        # The chain and CRL go in the signature's own revision (no VRI, which modern validators ignore):
        # a B-LT record is then one signed revision, which tools without incremental-update analysis
        # (e.g. pdfsig) report as "Total document signed".
        dss_settings=DSSContentSettings(include_vri=False, placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE),
    )
    pdf_signer = signers.PdfSigner(meta, signer=identity.signer, timestamper=ts)
    seen: list = []
    size_key = (identity.fingerprint, getattr(ts, "url", None))
    reserved = _reserved.get(size_key)
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        out = aio.run(lambda: _released(pdf_signer.async_sign_pdf(writer, bytes_reserved=reserved), vc,
                                        seen)).getvalue()
    except SigningError:
        if reserved is None:
            raise
        _reserved.pop(size_key, None)  # the room kept for the signature was too small: let pyHanko estimate
        writer, seen = IncrementalPdfFileWriter(io.BytesIO(pdf)), []
        out = aio.run(lambda: _released(pdf_signer.async_sign_pdf(writer), vc, seen)).getvalue()
    if reserved is None:
        _remember_reserved(size_key, out, len(pdf))
    if ts is None:
        return SealResult(pdf=out, mode=SealMode.B_LT, cert_sha256=identity.fingerprint, timestamped_at=None,
                          renew_by=identity.not_after)
    at, tsa_expiry = _token_facts(seen[-1]) if seen else (None, None)
    if at is None:
        at, tsa_expiry = newest_timestamp(out)
    return SealResult(pdf=out, mode=SealMode.B_LTA, cert_sha256=identity.fingerprint, timestamped_at=at,
                      renew_by=tsa_expiry or identity.not_after)


_reserved: dict[tuple, int] = {}
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _remember_reserved(key: tuple, sealed: bytes, unsealed_size: int) -> None:
    """Keep the room pyHanko reserved for this certificate's signature (it estimates it by signing a dummy
    first; its estimate carries a 50% margin), so later seals skip the dry run."""
    match = _BYTE_RANGE.search(sealed, unsealed_size)
    if match:
        start, length, after = int(match[1]), int(match[2]), int(match[3])
        if start == 0 and after > length:
            if len(_reserved) > 64:
                _reserved.clear()
            _reserved[key] = after - length - 2  # the hex digits between < and >


async def _released(coro, vc: ValidationContext, seen: list | None = None):
    """Await *coro* (noting time-stamp responses in *seen*), then close any HTTP session the validation
    context opened (fetching revocation data)."""
    token = _responses.set(seen)
    try:
        return await coro
    finally:
        _responses.reset(token)
        await vc.aclose()


def _token_facts(response: tsp.TimeStampResp) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(time, TSA certificate expiry) of a time-stamp response (None, None when it cannot be read)."""
    try:
        signed = response["time_stamp_token"]["content"]
        at = signed["encap_content_info"]["content"].parsed["gen_time"].native
        sid = signed["signer_infos"][0]["sid"]
        for choice in signed["certificates"]:
            cert = choice.chosen
            if sid.name == "issuer_and_serial_number" and cert.issuer == sid.chosen["issuer"] \
                    and cert.serial_number == sid.chosen["serial_number"].native:
                return at, cert.not_valid_after
            if sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
                return at, cert.not_valid_after
    except Exception:  # noqa: BLE001 - fall back to reading the PDF
        pass
    return None, None


def newest_timestamp(pdf: bytes) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(time, TSA certificate expiry) of the newest document time stamp in *pdf*."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    stamps = reader.embedded_timestamp_signatures
    if not stamps:
        return None, None
    newest = stamps[-1]
    tst_info = newest.signed_data["encap_content_info"]["content"].parsed
    return tst_info["gen_time"].native, newest.signer_cert.not_valid_after


def add_document_timestamp(pdf: bytes) -> SealResult:
    """Append the newest time stamp's validation data to the DSS and a new document time stamp.

    :raises TimestampRequestError: the TSA cannot be reached.
    :raises RuntimeError: no TSA is configured.
    """
    ts = timestamper()
    if ts is None:
        raise RuntimeError("No time-stamping authority is configured (PORTAL_TSA_URL).")
    identity = seal_identity()
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    n = len(reader.embedded_timestamp_signatures) + 1
    stamper = signers.PdfTimeStamper(ts, field_name=f"RecordTimestamp{n}")
    out = io.BytesIO()
    vc = validation_context(identity)
    aio.run(lambda: _released(stamper.async_update_archival_timestamp_chain(reader, vc, in_place=False, output=out),
                              vc))
    data = out.getvalue()
    at, tsa_expiry = newest_timestamp(data)  # (a renewal is rare: read the file itself)
    return SealResult(pdf=data, mode=SealMode.B_LTA, cert_sha256=identity.fingerprint, timestamped_at=at,
                      renew_by=tsa_expiry or identity.not_after)
