"""Each school's sealing certificate.

``flask portal keys init`` makes a self-signed certificate and key for each school in its own
folder under ``PORTAL_KEYS_DIR`` (``School.keys_path``; the first school of an installation
uses the folder itself, as single-school installations always did; key file mode 0600). A
school with a certificate from a provider sets ``PORTAL_SIGNING_P12`` (and
``PORTAL_SIGNING_P12_PASSWORD``) instead; it applies to the school whose ``keys_path`` is
empty (the first school) and then wins.

The self-signed certificate is its own root (basic constraints CA, path length 0), so a
reader can trust it directly: pyHanko as a trust root, pdfsig through an NSS database
(``certutil -A -t "CT,C,C"``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import current_app
from pyhanko.keys import load_cert_from_pemder
from pyhanko.sign import signers

KEY_FILE = "school-seal.key.pem"
CERT_FILE = "school-seal.cert.pem"
#: Certificates replaced by ``keys init --force``; records they sealed still count as ours.
RETIRED_DIR = "retired"


class SealingKeyMissing(RuntimeError):
    """No school certificate is configured."""


@dataclass(frozen=True)
class SealIdentity:
    signer: signers.SimpleSigner
    #: The certificate that seals records (asn1crypto).
    cert: asn1_x509.Certificate
    #: Trust roots for validating our seals: the top of the chain (the cert itself when self-signed).
    roots: tuple[asn1_x509.Certificate, ...]
    #: Earlier sealing certificates of this school (``PORTAL_KEYS_DIR/retired``).
    retired: tuple[asn1_x509.Certificate, ...] = ()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)

    @property
    def known_fingerprints(self) -> frozenset[str]:
        """Every certificate whose seals count as this school's."""
        return frozenset({self.fingerprint, *(fingerprint(c) for c in self.retired)})

    @property
    def all_roots(self) -> list[asn1_x509.Certificate]:
        return [*self.roots, *(c for c in self.retired if c.self_signed in ("maybe", "yes"))]


def fingerprint(cert: asn1_x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def init_keys(keys_dir: str | os.PathLike[str], common_name: str, *, force: bool = False,
              years: int = 10) -> tuple[Path, Path]:
    """Create a self-signed EC P-256 sealing certificate and key (key mode 0600).

    :raises FileExistsError: when a key exists and *force* is not set.
    """
    folder = Path(keys_dir)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
    if key_path.exists() and not force:
        raise FileExistsError(f"{key_path} already exists")
    if cert_path.exists():
        # Keep the old certificate (not its key) so records it sealed still verify as ours.
        retired = folder / RETIRED_DIR
        retired.mkdir(exist_ok=True)
        old = load_cert(cert_path)
        (retired / f"{fingerprint(old)}.cert.pem").write_bytes(cert_path.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} records seal"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name[:64]),
    ])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = key_path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(tmp, 0o600)
    os.replace(tmp, key_path)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _cache.clear()
    return key_path, cert_path


_cache: dict[tuple, SealIdentity] = {}
_lock = threading.Lock()


def _mtime(path: str | Path | None) -> float | None:
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None


def school_keys_dir(school: Any) -> Path:
    """The folder holding *school*'s sealing key and certificates."""
    base = Path(current_app.config["PORTAL_KEYS_DIR"])
    return base / school.keys_path if school.keys_path else base


def seal_identity(school: Any = None) -> SealIdentity:
    """The sealing identity of *school* (default: the current school), cached until the files change.

    :raises SealingKeyMissing: when neither a PKCS#12 file nor ``keys init`` files exist.
    """
    from portal.schools.models import School

    school = school or School.get()
    if school is None:
        raise SealingKeyMissing("No school is chosen, so there is no sealing certificate to use.")
    cfg = current_app.config
    p12 = cfg.get("PORTAL_SIGNING_P12") if not school.keys_path else None
    keys_dir = school_keys_dir(school)
    key_path, cert_path = keys_dir / KEY_FILE, keys_dir / CERT_FILE
    cache_key = (p12, _mtime(p12), str(keys_dir), _mtime(key_path), _mtime(cert_path),
                 _mtime(keys_dir / RETIRED_DIR))
    with _lock:
        if cache_key in _cache:
            return _cache[cache_key]
        if p12:
            password = cfg.get("PORTAL_SIGNING_P12_PASSWORD")
            signer = signers.SimpleSigner.load_pkcs12(
                p12, passphrase=password.encode() if isinstance(password, str) else password)
            if signer is None:
                raise SealingKeyMissing("PORTAL_SIGNING_P12 could not be opened (file or password).")
        elif key_path.is_file() and cert_path.is_file():
            signer = signers.SimpleSigner.load(str(key_path), str(cert_path))
            if signer is None:
                raise SealingKeyMissing(f"the key in {keys_dir} could not be loaded")
        else:
            raise SealingKeyMissing(f"No certificate for {school.name}: run `flask portal keys init` "
                                    "or set PORTAL_SIGNING_P12.")
        cert = signer.signing_cert
        roots = _roots(cert, list(signer.cert_registry))
        retired_dir = keys_dir / RETIRED_DIR
        retired = tuple(load_cert(p) for p in sorted(retired_dir.glob("*.cert.pem"))) if retired_dir.is_dir() else ()
        identity = SealIdentity(signer=signer, cert=cert, roots=roots, retired=retired)
        if len(_cache) > 256:
            _cache.clear()
        _cache[cache_key] = identity
        return identity


def _roots(cert: asn1_x509.Certificate, others: list[asn1_x509.Certificate]) -> tuple[asn1_x509.Certificate, ...]:
    """Self-signed certificates among the chain, or the signing certificate itself."""
    chain = [cert, *others]
    selfsigned = tuple(c for c in chain if c.self_signed in ("maybe", "yes"))
    return selfsigned or (cert,)


def load_cert(path: str | os.PathLike[str]) -> asn1_x509.Certificate:
    return load_cert_from_pemder(str(path))
