"""The rules that say whether a sealed record is genuine, changed, or not ours.

One module for the portal's verification pages and for ``countersign-verify`` (the standalone
command ships a copy of this file): it imports nothing but pyHanko, its certificate validator and
the standard library, and works offline with only the root certificate(s) it is given.

1. The file must be a readable PDF with a seal (a ``/Sig`` signature); otherwise it is *not ours*.
2. The sealing certificate must be one of ours: its fingerprint is in *known_certs* when given
   (the portal knows every school certificate it ever used), else it must chain to a trust root.
3. Nothing may have changed since sealing: the seal is intact and cryptographically valid, every
   later revision only adds validation data or document time stamps (pyHanko's difference
   analysis), the document details a reader may show (/Info and XMP, less the modification date
   and producer) are those sealed (pyHanko lets later revisions edit them), every document time
   stamp is intact, and there is no second seal. Otherwise *changed*.
4. The seal must be valid: with a time stamp, by PAdES long-term validation (the document time
   stamps prove when the validation data existed; the seal is checked at its time stamp's time
   with the CRL embedded in the file, so it stays valid after the certificate expires); without
   one, at the validation time with the embedded CRL. A revoked certificate is *not ours*; an
   expired certificate with no time stamp leaves the record *unconfirmed*.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.generic import IndirectObject, StreamObject
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    REQUIRE_REVINFO,
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

log = logging.getLogger("countersign.rules")

_MiB = 1024 * 1024
#: A file to check comes from anyone (the public verification page). Probe finding: a 260 KB upload whose
#: evidence stream inflated to 255 MiB raised a worker by 525 MB. No stream of it decodes to more than 32 MiB,
#: and a reader (each of a file's revisions gets its own) decodes at most the larger of 64 MiB and 20 times the
#: file's size (a sealed record decodes to well under 1 MiB); the evidence JSON is read only up to its own
#: limit (:func:`read_evidence`).
DECODE_LIMITS = DecodeLimits(per_stream=StreamDecodeLimits(max_output_size=32 * _MiB),
                             document_budget=DocumentDecodeBudget(base_allowance=64 * _MiB, max_ratio=20))
#: The evidence JSON of a record is a few kilobytes; anything larger is not ours.
EVIDENCE_MAX_BYTES = 1_000_000

EVIDENCE_NAME = "evidence.json"


def N_(text: str) -> str:
    """Marks a verdict's words for the catalogues; pages translate them (``_(v.summary)``), the CLI keeps English."""
    return text


class Finding(str):
    """A problem with values: the English sentence (what the command line prints) that remembers its
    catalogue entry and values, so a page can say it in the reader's language (``portal.messages.shown``)."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Finding:
        self = super().__new__(cls, msgid % params if params else msgid)
        self.msgid = msgid
        self.params = params
        return self


GENUINE = "genuine"
CHANGED = "changed"
NOT_OURS = "not_ours"
UNCONFIRMED = "unconfirmed"

#: Revocation of a time stamp's certificate is checked when the certificate names a source and data
#: is at hand; offline, the newest time stamp's fresh status cannot be known.
_SOFT = RevocationCheckingPolicy(RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
                                 RevocationCheckingRule.CHECK_IF_DECLARED_SOFT)


class NotAPdf(ValueError):
    """The file is not a PDF that can be read (the message says why, in plain words)."""


@dataclass
class Check:
    """The answer about one file."""

    sha256: str
    outcome: str = NOT_OURS
    sealed: bool = False
    #: The seal's certificate: subject, issuer, SHA-256 fingerprint, expiry.
    signer_name: str | None = None
    issuer_name: str | None = None
    cert_sha256: str | None = None
    cert_not_after: dt.datetime | None = None
    #: The sealing certificate is one of ours (known, or chains to a given root).
    ours: bool = False
    #: Nothing changed since sealing (see rule 3).
    intact: bool = False
    #: ``B-B``, ``B-T``, ``B-LT`` or ``B-LTA``.
    level: str | None = None
    #: Time of the signature time stamp, and of each document time stamp (oldest first; None for a
    #: document time stamp whose time cannot be read).
    signature_timestamp: dt.datetime | None = None
    document_timestamps: list[dt.datetime | None] = field(default_factory=list)
    #: The evidence JSON attached to the PDF (when readable).
    evidence: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def genuine(self) -> bool:
        return self.outcome == GENUINE

    @property
    def newest_timestamp(self) -> dt.datetime | None:
        stamps = [t for t in [self.signature_timestamp, *self.document_timestamps] if t]
        return max(stamps) if stamps else None

    @property
    def summary(self) -> str:
        if self.outcome == GENUINE:
            return N_("Genuine: sealed by the school and unchanged since.")
        if self.outcome == CHANGED:
            return N_("Changed: this file was sealed by the school but has been changed since. Do not rely on it.")
        if self.outcome == UNCONFIRMED:
            return N_("Not confirmed: the school sealed this file and it is unchanged, but its certificate has "
                      "expired and the file carries no time stamp proving it was sealed before then.")
        if not self.sealed:
            return N_("Not ours: this PDF has no seal, so it is not a record sealed by the school.")
        return N_("Not ours: this PDF is sealed, but not with this school's certificate.")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(cert: asn1_x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def _run(make_coro):
    """Run a coroutine from synchronous code, also when the calling thread runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()


def read_evidence(reader: PdfFileReader) -> dict[str, Any] | None:
    """The attached evidence JSON, if present and readable."""
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
        for i in range(0, len(names) - 1, 2):
            if str(names[i]) == EVIDENCE_NAME:
                spec = names[i + 1].get_object()
                raw = _bounded_data(spec["/EF"]["/F"].get_object(), EVIDENCE_MAX_BYTES)
                if raw is None:
                    return None
                value = json.loads(raw.decode("utf-8"))
                return value if isinstance(value, dict) else None
    except Exception:  # noqa: BLE001 - no evidence is an answer too
        return None
    return None


def _bounded_data(stream: StreamObject, limit: int) -> bytes | None:
    """The stream's data if it is stored plain or with one /FlateDecode and is at most *limit* bytes once
    inflated (read no further than that), else None."""
    import zlib

    flt = stream.get("/Filter")
    if isinstance(flt, list | tuple):
        flt = flt[0] if len(flt) == 1 else "many"
    if "/DecodeParms" in stream:
        return None
    encoded = stream.encoded_data
    if flt is None:
        return encoded if len(encoded) <= limit else None
    if str(flt) != "/FlateDecode":
        return None
    inflater = zlib.decompressobj()
    out = inflater.decompress(encoded, limit + 1)
    return out if len(out) <= limit and not inflater.unconsumed_tail else None


def _dss(reader: PdfFileReader) -> tuple[list[asn1_x509.Certificate], list[asn1_crl.CertificateList]]:
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return [], []
    crls = [asn1_crl.CertificateList.load(c.get_object().data) for c in dss.crls]
    return list(dss.load_certs()), crls


def _tst_time(signed_data) -> dt.datetime | None:
    try:
        return signed_data["encap_content_info"]["content"].parsed["gen_time"].native
    except Exception:  # noqa: BLE001
        return None


def _spec(roots: list[asn1_x509.Certificate], crls: list[asn1_crl.CertificateList]) -> PdfSignatureValidationSpec:
    from pyhanko.sign.validation.policy_decl import LocalKnowledge
    from pyhanko_certvalidator.revinfo.archival import CRLContainer

    trust = SimpleTrustManager.build(trust_roots=roots)
    return PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=trust, revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO)),
        ts_cert_validation_policy=CertValidationPolicySpec(
            trust_manager=trust, revinfo_policy=CertRevTrustPolicy(_SOFT)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY),
        local_knowledge=LocalKnowledge(known_crls=[CRLContainer(c) for c in crls]),
    ))


def check_pdf(data: bytes, *, trust_roots: Iterable[asn1_x509.Certificate],
              known_certs: Iterable[str] | None = None, crls: Iterable[asn1_crl.CertificateList] = (),
              at: dt.datetime | None = None) -> Check:
    """Check *data* against the rules above (see :func:`_check_pdf`); a file whose parts cannot be read, or
    would decode to too much, is "damaged" (:class:`NotAPdf`), never an error of the page that checks it.

    :raises NotAPdf: for files that are not readable PDFs.
    """
    try:
        return _check_pdf(data, trust_roots=trust_roots, known_certs=known_certs, crls=crls, at=at)
    except NotAPdf:
        raise
    except Exception as exc:  # noqa: BLE001 - probe finding: a malformed /DSS was an HTTP 500
        # With its traceback: a fault of ours would otherwise be told to the public as "damaged", unseen.
        log.warning("PDF could not be checked (%s)", type(exc).__name__, exc_info=True)
        raise NotAPdf(N_("This PDF is damaged and cannot be read.")) from None


def _check_pdf(data: bytes, *, trust_roots: Iterable[asn1_x509.Certificate],
               known_certs: Iterable[str] | None = None, crls: Iterable[asn1_crl.CertificateList] = (),
               at: dt.datetime | None = None) -> Check:
    """Check *data* against the rules above.

    :param trust_roots: the root certificates whose seals count (only these are trusted).
    :param known_certs: SHA-256 fingerprints of the sealing certificates that count as ours; when
        ``None``, any certificate chaining to *trust_roots* does.
    :param crls: current CRLs (e.g. downloaded from the verification page), in addition to those in the file.
    :param at: the validation time (default: now).
    :raises NotAPdf: for files that are not readable PDFs.
    """
    if data.lstrip(b"\x00\t\r\n ")[:5] != b"%PDF-":
        raise NotAPdf(N_("This file is not a PDF (it does not start like one)."))
    if b"%%EOF" not in data[-2048:]:
        raise NotAPdf(N_("This PDF is incomplete: its end is missing. Use the whole file."))
    check = Check(sha256=sha256_hex(data))
    roots = list(trust_roots)
    extra_crls = list(crls)
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False, decode_limits=DECODE_LIMITS)
        seals = reader.embedded_regular_signatures
        stamps = reader.embedded_timestamp_signatures
    except Exception as exc:  # noqa: BLE001 - any parse failure means we cannot read it
        log.info("unreadable PDF (%s)", type(exc).__name__)
        raise NotAPdf(N_("This PDF is damaged and cannot be read.")) from None
    if not seals:
        return check
    check.sealed = True
    seal = seals[0]
    try:
        cert = seal.signer_cert
    except Exception:  # noqa: BLE001
        check.problems.append(N_("The seal is damaged: its certificate cannot be read."))
        return check
    check.signer_name = cert.subject.human_friendly
    check.issuer_name = cert.issuer.human_friendly
    check.cert_sha256 = fingerprint(cert)
    check.cert_not_after = cert.not_valid_after
    check.evidence = read_evidence(reader)
    dss_certs, dss_crls = _dss(reader)
    when = at or dt.datetime.now(dt.UTC)

    # Rule 2: one of ours?
    if known_certs is not None:
        check.ours = check.cert_sha256 in set(known_certs)
    else:
        check.ours = _chains_to(cert, roots, dss_certs + list(seal.other_embedded_certs))
    if not check.ours:
        return check

    # Rule 3: unchanged since sealing?
    context = ValidationContext(trust_roots=roots, other_certs=dss_certs, crls=dss_crls + extra_crls,
                                allow_fetching=False, revocation_mode="soft-fail", moment=at)
    try:
        status = _run(lambda: async_validate_pdf_signature(seal, context))
    except Exception as exc:  # noqa: BLE001 - a broken signature structure is "changed"
        log.info("seal could not be checked (%s)", type(exc).__name__)
        check.outcome = CHANGED
        check.problems.append(N_("The seal is damaged and could not be checked."))
        return check
    ts = status.timestamp_validity
    check.signature_timestamp = ts.timestamp if ts is not None else None
    allowed = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
    check.intact = bool(status.intact and status.valid and status.modification_level in allowed
                        and status.docmdp_ok is not False)
    if status.intact and status.valid and not check.intact:
        check.problems.append(N_("Something was added to the file after it was sealed."))
    elif check.intact and seal.signed_revision < (last := reader.xrefs.total_revisions - 1) and \
            _details_changed(data, seal.signed_revision, last):
        # pyHanko counts an edited /Info or XMP as a long-term update, like a time stamp. A reader shows the
        # title in its window, so the record would carry words the school never sealed.
        check.intact = False
        check.problems.append(N_("The file's title or other details were changed after it was sealed."))
    if len(seals) > 1:
        check.intact = False
        check.problems.append(N_("The file carries a second signature added after the school's seal."))
    for stamp in stamps:
        st = _run(lambda stamp=stamp: async_validate_pdf_timestamp(stamp, ValidationContext(
            trust_roots=roots, other_certs=dss_certs, allow_fetching=False, revocation_mode="soft-fail"),
            skip_diff=True))
        if not st.intact or not st.valid:
            check.intact = False
            check.problems.append(N_("A document time stamp in the file is damaged."))
        check.document_timestamps.append(_tst_time(stamp.signed_data))
    check.level = ("B-LTA" if stamps and ts is not None else "B-LT" if dss_crls or dss_certs
                   else "B-T" if ts is not None else "B-B")
    if not check.intact:
        check.outcome = CHANGED
        return check

    # Rule 4: valid at its trusted time, or now.
    if ts is not None or stamps:
        timing = ValidationTimingInfo(when, when, point_in_time_validation=at is not None)
        try:
            result = _run(lambda: ades_lta_validation(seal, _spec(roots, extra_crls), timing_info=timing))
            passed = result.ades_subindic.status.name == "PASSED"
        except Exception as exc:  # noqa: BLE001
            log.info("long-term validation failed (%s)", exc)
            passed = False
        if passed:
            check.outcome = GENUINE
            return check
    if status.trusted and status.bottom_line:
        check.outcome = GENUINE
        if ts is None and not stamps:
            check.problems.append(Finding(N_("The file has no time stamp: it can be confirmed only while the "
                                             "certificate is valid (until %(date)s)."),
                                          date=f"{cert.not_valid_after:%Y-%m-%d}"))
        else:
            check.problems.append(N_("Its time stamps could not be confirmed (is the time-stamping authority's "
                                     "root trusted?); the seal was checked as of now instead."))
        return check
    if _revoked(cert, dss_crls + extra_crls):
        check.problems.append(N_("The seal's certificate has been revoked."))
        check.outcome = NOT_OURS
        return check
    if when >= cert.not_valid_after or when < cert.not_valid_before:
        check.outcome = UNCONFIRMED
        return check
    check.problems.append(N_("The seal's certificate could not be confirmed as trusted."))
    check.outcome = NOT_OURS
    return check


def _details_changed(data: bytes, signed: int, last: int) -> bool:
    """The details a reader shows (title, author, … in /Info and XMP) differ between the sealed revision and
    the file's last one, read strictly (pyHanko's difference analysis lets later revisions edit them)."""
    try:
        strict = PdfFileReader(io.BytesIO(data), strict=True, decode_limits=DECODE_LIMITS)
    except Exception:  # noqa: BLE001 - readable leniently (we got here), not strictly: say so as a change
        return True
    return _shown_details(strict.get_historical_resolver(last)) != _shown_details(
        strict.get_historical_resolver(signed))


#: What any later revision may change in a record's details: pyHanko's own time stamps and validation data update
#: the modification date (and would name itself as producer). Everything else a reader can show must stay as sealed.
_VOLATILE_DETAILS = {"ModDate", "Producer", "ModifyDate", "MetadataDate"}


def _shown_details(resolver: Any) -> tuple:
    """A revision's document details as a reader may show them: the whole /Info dictionary and the whole XMP
    metadata, less the modification date and producer (see ``_VOLATILE_DETAILS``). *resolver* should come from
    a strict reader, so that an /Info naming a key twice (readers disagree on which copy they show) is
    "unreadable", which differs from any readable value."""

    def resolved(container: Any, key: str) -> Any:
        # Resolved in *resolver*'s revision: a plain look-up would read the newest copy of the object.
        value = container.raw_get(key)
        return resolver(value) if isinstance(value, IndirectObject) else value

    info: tuple | None = None
    try:
        if "/Info" in resolver.trailer_view:
            info_dict = resolved(resolver.trailer_view, "/Info")
            info = tuple(sorted((str(k), str(resolved(info_dict, k))) for k in info_dict
                                if str(k).lstrip("/") not in _VOLATILE_DETAILS))
    except Exception:  # noqa: BLE001 - an unreadable /Info differs from any readable one
        info = ("unreadable",)
    xmp: bytes | tuple | None = None
    try:
        if "/Metadata" in resolver.root:
            from lxml import etree  # type: ignore[import-untyped]  # pyHanko's own dependency (no stubs)

            parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
            tree = etree.fromstring(resolved(resolver.root, "/Metadata").data, parser)
            for element in tree.iter():
                for name in list(element.attrib):
                    if etree.QName(name).localname in _VOLATILE_DETAILS:
                        del element.attrib[name]
            for element in [e for e in tree.iter() if isinstance(e.tag, str)
                            and etree.QName(e).localname in _VOLATILE_DETAILS]:
                element.getparent().remove(element)
            xmp = etree.tostring(tree, method="c14n")
    except Exception:  # noqa: BLE001
        xmp = ("unreadable",)
    return info, xmp


def _chains_to(cert: asn1_x509.Certificate, roots: list[asn1_x509.Certificate],
               others: list[asn1_x509.Certificate]) -> bool:
    """Whether *cert* was issued under one of *roots* (at a time it was valid; revocation aside)."""
    if not roots:
        return False
    moment = cert.not_valid_before + dt.timedelta(minutes=10)
    context = ValidationContext(trust_roots=roots, other_certs=others, allow_fetching=False,
                                revocation_mode="soft-fail", moment=moment)
    from pyhanko_certvalidator import CertificateValidator

    try:
        _run(lambda: CertificateValidator(cert, validation_context=context).async_validate_path())
        return True
    except Exception:  # noqa: BLE001 - no path: not ours
        return False


def _revoked(cert: asn1_x509.Certificate, crls: list[asn1_crl.CertificateList]) -> bool:
    serial = cert.serial_number
    for crl in crls:
        if crl["tbs_cert_list"]["issuer"] != cert.issuer:
            continue
        for entry in crl["tbs_cert_list"]["revoked_certificates"] or []:
            if entry["user_certificate"].native == serial:
                return True
    return False
