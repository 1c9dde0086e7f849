"""``countersign-verify FILE.pdf --trust root.pem``: genuine, changed, or not ours.

Exit status: 0 genuine; 1 changed, not ours or not confirmed; 2 the file or an option cannot be read.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from asn1crypto import crl as asn1_crl
from pyhanko.keys import load_certs_from_pemder

from countersign_verify import __version__, rules


def _parse_time(value: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _load_crl(path: Path) -> asn1_crl.CertificateList:
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        import base64

        body = b"".join(line for line in data.splitlines() if line and not line.startswith(b"-----"))
        data = base64.b64decode(body)
    return asn1_crl.CertificateList.load(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="countersign-verify",
        description="Check a Countersign sealed record offline: is it genuine, changed, or not ours?")
    parser.add_argument("file", type=Path, help="the PDF record")
    parser.add_argument("--trust", type=Path, action="append", required=True, metavar="ROOT.pem",
                        help="a root certificate to trust (from the school's verification page); repeat for "
                        "several, e.g. the time-stamping authority's root")
    parser.add_argument("--crl", type=Path, action="append", default=[], metavar="FILE.crl",
                        help="a current revocation list (DER or PEM) from the verification page; repeatable")
    parser.add_argument("--at", type=_parse_time, default=None, metavar="ISO-TIME",
                        help="check as of this time (default: now)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    try:
        roots = [c for path in args.trust for c in load_certs_from_pemder([str(path)])]
        crls = [_load_crl(path) for path in args.crl]
        data = args.file.read_bytes()
    except (OSError, ValueError) as exc:
        print(f"countersign-verify: {exc}", file=sys.stderr)
        return 2
    try:
        check = rules.check_pdf(data, trust_roots=roots, crls=crls, at=args.at)
    except rules.NotAPdf as exc:
        print(f"countersign-verify: {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_as_json(check), indent=2, default=str))
    else:
        print(check.summary)
        print(f"File SHA-256: {check.sha256}")
        if check.sealed:
            print(f"Sealed by: {check.signer_name}")
            print(f"Issued by: {check.issuer_name}")
            print(f"Certificate SHA-256: {check.cert_sha256}")
        if check.level:
            print(f"Seal level: PAdES {check.level}")
        if check.signature_timestamp:
            print(f"Time stamp: {check.signature_timestamp:%Y-%m-%d %H:%M:%S} UTC")
        for ts in check.document_timestamps:
            print(f"Document time stamp: {ts:%Y-%m-%d %H:%M:%S} UTC")
        if check.genuine and check.evidence:
            _print_evidence(check.evidence)
        for problem in check.problems:
            print(f"Note: {problem}")
    return 0 if check.genuine else 1


def _print_evidence(e: dict) -> None:
    policy = e.get("policy") or {}
    signer = e.get("signer") or {}
    print(f"School: {e.get('school')}")
    print(f"Policy: {policy.get('title')} (version {policy.get('version_number')})")
    print(f"{'Signed' if e.get('decision') == 'signed' else 'Declined'} by: {signer.get('name')}")
    if e.get("on_behalf_of"):
        print(f"For: {e['on_behalf_of'].get('name')}")
    print(f"Time (UTC): {e.get('signed_at')}")
    print(f"SHA-256 of the signed text: {e.get('text_sha256')}")


def _as_json(check: rules.Check) -> dict:
    return {
        "outcome": check.outcome, "summary": check.summary, "sha256": check.sha256, "sealed": check.sealed,
        "signer": check.signer_name, "issuer": check.issuer_name, "certificate_sha256": check.cert_sha256,
        "level": check.level, "signature_timestamp": check.signature_timestamp,
        "document_timestamps": check.document_timestamps, "problems": check.problems,
        "evidence": check.evidence if check.genuine else None,
    }


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
