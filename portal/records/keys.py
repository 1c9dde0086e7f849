"""The certificates that seal signed records: a small hierarchy per trust.

``flask portal keys init`` makes, under ``PORTAL_KEYS_DIR``:

* a **root CA** per trust (``ca/trust-<slug>/``), or one for the installation when a school has no
  trust (``ca/installation/``): ``root.cert.pem``, ``root.key.pem`` (mode 0600; it can be moved off
  the server with ``keys export-root``), the current CRL ``crl.der`` and ``ca.json`` (issued and
  revoked serial numbers, the CRL number);
* a **sealing certificate per school**, issued by its trust's root, in the school's folder
  (``School.keys_path``; the first school of an installation uses ``PORTAL_KEYS_DIR`` itself):
  ``school-seal.key.pem`` (0600), ``school-seal.cert.pem``, ``school-seal.chain.pem`` (the
  issuer's certificates) and ``retired/`` (earlier certificates, kept so records they sealed still
  count as the school's).

The root key is needed only to issue, rotate or revoke a school certificate and to re-issue the
CRL; it can stay on removable media and be given with ``--root-key FILE`` when needed (there is
no CSR flow). The CRL is published at a stable public URL (``/portal/verify/ca/<name>.crl``),
named in every school certificate, and embedded in every sealed PDF (PAdES B-LT).

A school with a certificate from a commercial CA loads its PKCS#12 file with
``keys import-p12`` (or, for the first school, sets ``PORTAL_SIGNING_P12``): its key and chain go
in the same files and nothing else changes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from flask import current_app
from pyhanko.keys import load_cert_from_pemder, load_certs_from_pemder
from pyhanko_certvalidator.registry import SimpleCertificateStore

if TYPE_CHECKING:
    from pyhanko.sign import signers

KEY_FILE = "school-seal.key.pem"
CERT_FILE = "school-seal.cert.pem"
CHAIN_FILE = "school-seal.chain.pem"
#: Certificates replaced by ``keys rotate`` (or ``init --force``); records they sealed still count as ours.
RETIRED_DIR = "retired"
CA_DIR = "ca"
ROOT_CERT = "root.cert.pem"
ROOT_KEY = "root.key.pem"
CRL_FILE = "crl.der"
STATE_FILE = "ca.json"

#: Reasons accepted by ``keys revoke`` (RFC 5280 names).
REVOCATION_REASONS = {
    "key_compromise": x509.ReasonFlags.key_compromise,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "unspecified": x509.ReasonFlags.unspecified,
}


class SealingKeyMissing(RuntimeError):
    """No school certificate is configured."""


class SealingCertUnusable(RuntimeError):
    """The school's certificate must not seal now (expired, not yet valid, revoked, stale CRL)."""


class RootKeyUnavailable(RuntimeError):
    """The operation needs the root CA's private key, which is not on this server."""


# ---------------------------------------------------------------------------- helpers


def fingerprint(cert: asn1_x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, as lower-case hex."""
    return hashlib.sha256(cert.dump()).hexdigest()


def load_cert(path: str | os.PathLike[str]) -> asn1_x509.Certificate:
    return load_cert_from_pemder(str(path))


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _write_private(path: Path, data: bytes) -> None:
    """Write *data* to *path* with mode 0600 (atomically)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: Any, passphrase: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _keys_base() -> Path:
    return Path(current_app.config["PORTAL_KEYS_DIR"])


def school_keys_dir(school: Any) -> Path:
    """The folder holding *school*'s sealing key and certificates."""
    base = _keys_base()
    return base / school.keys_path if school.keys_path else base


def ca_name(school: Any) -> str:
    """The CA that issues *school*'s certificate: ``trust-<slug>`` or ``installation``."""
    trust = getattr(school, "trust", None)
    return f"trust-{trust.slug}" if trust is not None else "installation"


def ca_dir(name: str) -> Path:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"not a CA name: {name!r}")
    return _keys_base() / CA_DIR / name


def ca_names() -> list[str]:
    """Every CA of this installation (folders with a root certificate)."""
    base = _keys_base() / CA_DIR
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / ROOT_CERT).is_file())


# ---------------------------------------------------------------------------- the root CA


@dataclass
class CertificateAuthority:
    """One root CA on disk (its key may be absent: moved offline)."""

    name: str
    folder: Path

    @property
    def cert_path(self) -> Path:
        return self.folder / ROOT_CERT

    @property
    def key_path(self) -> Path:
        return self.folder / ROOT_KEY

    @property
    def crl_path(self) -> Path:
        return self.folder / CRL_FILE

    @property
    def exists(self) -> bool:
        return self.cert_path.is_file()

    @property
    def key_online(self) -> bool:
        return self.key_path.is_file()

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_path.read_bytes())

    def root(self) -> asn1_x509.Certificate:
        return load_cert(self.cert_path)

    def crl_der(self) -> bytes | None:
        return self.crl_path.read_bytes() if self.crl_path.is_file() else None

    def crl(self) -> x509.CertificateRevocationList | None:
        der = self.crl_der()
        return x509.load_der_x509_crl(der) if der else None

    def state(self) -> dict[str, Any]:
        try:
            return json.loads((self.folder / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"crl_number": 0, "issued": [], "revoked": []}

    def _save_state(self, state: dict[str, Any]) -> None:
        _write_public(self.folder / STATE_FILE, json.dumps(state, indent=2, sort_keys=True).encode("utf-8"))

    def revoked_serials(self) -> dict[int, dict[str, Any]]:
        return {int(r["serial"], 16): r for r in self.state().get("revoked", [])}

    def private_key(self, key_file: str | os.PathLike[str] | None = None, passphrase: bytes | None = None) -> Any:
        """The root key: from *key_file* (e.g. removable media) if given, else from the server.

        :raises RootKeyUnavailable: no key, a wrong passphrase, or a key that does not match the root.
        """
        path = Path(key_file) if key_file else self.key_path
        if not path.is_file():
            raise RootKeyUnavailable(
                f"The root key of {self.name} is not on this server (it was moved offline). Give it with "
                "--root-key FILE (for example from the removable drive it was exported to).")
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase or None)
        except (ValueError, TypeError) as exc:
            raise RootKeyUnavailable(f"The root key in {path} could not be opened: {exc}") from None
        pub = self.certificate().public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo) != pub:
            raise RootKeyUnavailable(f"The key in {path} is not the root key of {self.name}.")
        return key

    def crl_is_fresh(self, margin: dt.timedelta = dt.timedelta(0)) -> bool:
        crl = self.crl()
        if crl is None or crl.next_update_utc is None:
            return False
        return crl.next_update_utc > _now() + margin

    def issue_crl(self, key: Any) -> bytes:
        """Sign and publish a new CRL listing every revoked serial; returns its DER."""
        state = self.state()
        number = int(state.get("crl_number", 0)) + 1
        now = _now()
        root = self.certificate()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(root.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + dt.timedelta(days=int(current_app.config["PORTAL_CRL_DAYS"])))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        )
        for entry in state.get("revoked", []):
            revoked = (
                x509.RevokedCertificateBuilder()
                .serial_number(int(entry["serial"], 16))
                .revocation_date(dt.datetime.fromisoformat(entry["at"]))
            )
            reason = REVOCATION_REASONS.get(entry.get("reason", "unspecified"))
            if reason is not None and reason != x509.ReasonFlags.unspecified:
                revoked = revoked.add_extension(x509.CRLReason(reason), critical=False)
            builder = builder.add_revoked_certificate(revoked.build())
        der = builder.sign(key, hashes.SHA384()).public_bytes(serialization.Encoding.DER)
        _write_public(self.crl_path, der)
        state["crl_number"] = number
        self._save_state(state)
        _cache.clear()
        return der

    def note_issued(self, cert: x509.Certificate, school_slug: str) -> None:
        state = self.state()
        state.setdefault("issued", []).append({
            "serial": format(cert.serial_number, "x"), "school": school_slug,
            "sha256": cert.fingerprint(hashes.SHA256()).hex(),
            "not_after": cert.not_valid_after_utc.isoformat(),
        })
        self._save_state(state)

    def revoke(self, key: Any, serial: int, reason: str = "unspecified") -> bytes:
        """Add *serial* to the revoked list and publish a new CRL."""
        if reason not in REVOCATION_REASONS:
            raise ValueError(f"unknown reason {reason!r}; one of {', '.join(REVOCATION_REASONS)}")
        state = self.state()
        revoked = state.setdefault("revoked", [])
        if not any(int(r["serial"], 16) == serial for r in revoked):
            revoked.append({"serial": format(serial, "x"), "at": _now().isoformat(), "reason": reason})
            self._save_state(state)
        return self.issue_crl(key)


def authority(name: str) -> CertificateAuthority:
    return CertificateAuthority(name=name, folder=ca_dir(name))


def authority_of(school: Any) -> CertificateAuthority:
    """The CA that issues *school*'s next certificate (its trust's, or the installation's)."""
    return authority(ca_name(school))


def authority_for(cert: asn1_x509.Certificate) -> CertificateAuthority | None:
    """The portal's own CA that issued *cert* (None: another issuer). A school that joins a trust
    keeps its earlier certificates, issued by the installation's CA, until it rotates."""
    for name in ca_names():
        ca = authority(name)
        root = ca.root()
        if cert.issuer == root.subject and fingerprint(cert) != fingerprint(root):
            try:
                x509.load_der_x509_certificate(cert.dump()).verify_directly_issued_by(ca.certificate())
            except Exception:  # noqa: BLE001 - any failure: not issued by this CA
                continue
            return ca
    return None


def ca_display_name(name: str, school: Any) -> str:
    trust = getattr(school, "trust", None)
    if trust is not None:
        return trust.name
    return str(current_app.config.get("PORTAL_PRODUCT_NAME") or "Countersign")


def init_authority(ca: CertificateAuthority, display_name: str, *, years: int = 30) -> x509.Certificate:
    """Create the root key, self-signed root certificate and first CRL of *ca* (key mode 0600).

    :raises FileExistsError: when the CA exists already.
    """
    if ca.exists:
        raise FileExistsError(f"{ca.cert_path} already exists")
    ca.folder.mkdir(parents=True, exist_ok=True)
    os.chmod(ca.folder, 0o700)
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{display_name} records root"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, display_name[:64]),
    ])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    _write_private(ca.key_path, _key_pem(key))
    _write_public(ca.cert_path, _pem(cert))
    ca._save_state({"crl_number": 0, "issued": [], "revoked": []})
    ca.issue_crl(key)
    return cert


def export_root_key(ca: CertificateAuthority, out: Path, passphrase: bytes) -> Path:
    """Write the root key to *out*, encrypted with *passphrase*, check it, then delete the server copy."""
    if not ca.key_online:
        raise RootKeyUnavailable(f"The root key of {ca.name} is not on this server.")
    if out.exists():
        raise FileExistsError(f"{out} already exists")
    if len(passphrase) < 12:
        raise ValueError("Use a passphrase of at least 12 characters.")
    key = ca.private_key()
    _write_private(out, _key_pem(key, passphrase))
    ca.private_key(out, passphrase)  # raises if the copy cannot be read back
    size = ca.key_path.stat().st_size
    with ca.key_path.open("r+b") as f:  # overwrite before unlinking (best effort on journaling filesystems)
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())
    ca.key_path.unlink()
    _cache.clear()
    return out


def crl_url(name: str) -> str:
    """The stable public address of CA *name*'s CRL (written into every certificate it issues)."""
    from portal.urls import public_url

    return public_url("portal.verify.ca_crl", name=name)


# ---------------------------------------------------------------------------- school certificates


def issue_school_certificate(school: Any, *, root_key: Any = None, years: int | None = None,
                             force: bool = False) -> tuple[Path, Path]:
    """Make a new key and a sealing certificate for *school*, issued by its CA.

    The CA is created first when it does not exist. An existing certificate moves to
    ``retired/`` (records it sealed stay the school's); without *force* an existing key is an error.

    :raises FileExistsError: the school has a key and *force* is not set.
    :raises RootKeyUnavailable: the CA exists but its key is not on the server (give *root_key*).
    """
    folder = school_keys_dir(school)
    key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
    if key_path.exists() and not force:
        raise FileExistsError(f"{key_path} already exists")
    ca = authority_of(school)
    if not ca.exists:
        init_authority(ca, ca_display_name(ca.name, school))
    key_of_root = root_key if root_key is not None else ca.private_key()
    years = years or int(current_app.config["PORTAL_SEAL_CERT_YEARS"])
    key = ec.generate_private_key(ec.SECP256R1())
    root = ca.certificate()
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{school.name} records seal"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, school.name[:64]),
    ])
    now = _now()
    not_after = min(now + dt.timedelta(days=365 * years), root.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(root.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key_of_root.public_key()), critical=False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url(ca.name))], relative_name=None, reasons=None,
            crl_issuer=None)]), critical=False)
        .sign(key_of_root, hashes.SHA384())
    )
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    _retire_current(folder)
    _write_private(key_path, _key_pem(key))
    _write_public(cert_path, _pem(cert))
    _write_public(folder / CHAIN_FILE, _pem(root))
    ca.note_issued(cert, school.slug)
    if not ca.crl_is_fresh(dt.timedelta(days=1)):
        ca.issue_crl(key_of_root)
    _cache.clear()
    return key_path, cert_path


def _retire_current(folder: Path) -> None:
    """Move the current certificate (never its key) to ``retired/``."""
    cert_path = folder / CERT_FILE
    if cert_path.exists():
        retired = folder / RETIRED_DIR
        retired.mkdir(exist_ok=True)
        old = load_cert(cert_path)
        (retired / f"{fingerprint(old)}.cert.pem").write_bytes(cert_path.read_bytes())


def import_pkcs12(school: Any, data: bytes, password: bytes | None,
                  chain_pem: bytes | None = None) -> asn1_x509.Certificate:
    """Use the key and certificate of a PKCS#12 file (e.g. from a commercial CA) to seal *school*'s records.

    The file's extra certificates (and *chain_pem*) become the chain; the old certificate is retired.

    :raises ValueError: the file cannot be opened, has no key, or the key does not match the certificate.
    """
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"The PKCS#12 file could not be opened (file or password): {exc}") from None
    if key is None or cert is None:
        raise ValueError("The PKCS#12 file holds no private key and certificate.")
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, pub) != cert.public_key().public_bytes(
            serialization.Encoding.DER, pub):
        raise ValueError("The key in the PKCS#12 file does not belong to its certificate.")
    chain = list(extra or [])
    if chain_pem:
        chain += x509.load_pem_x509_certificates(chain_pem)
    folder = school_keys_dir(school)
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    _retire_current(folder)
    _write_private(folder / KEY_FILE, _key_pem(key))
    _write_public(folder / CERT_FILE, _pem(cert))
    _write_public(folder / CHAIN_FILE, b"".join(_pem(c) for c in chain))
    _cache.clear()
    return _to_asn1(cert)


# ---------------------------------------------------------------------------- the sealing identity


@dataclass(frozen=True)
class SealIdentity:
    signer: signers.SimpleSigner
    #: The certificate that seals records (asn1crypto).
    cert: asn1_x509.Certificate
    #: Trust roots for validating our seals: the top of the chain (the cert itself when self-signed).
    roots: tuple[asn1_x509.Certificate, ...]
    #: Earlier sealing certificates of this school (``retired/``).
    retired: tuple[asn1_x509.Certificate, ...] = ()
    #: The issuing certificates between the seal and its root (root included).
    chain: tuple[asn1_x509.Certificate, ...] = ()
    #: The portal's own CA that issued the certificate (None: commercial CA or a legacy self-signed one).
    ca: CertificateAuthority | None = None
    #: The CA's current CRL (asn1crypto), when the CA is ours.
    crls: tuple[asn1_crl.CertificateList, ...] = field(default=())

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)

    @property
    def known_fingerprints(self) -> frozenset[str]:
        """Every certificate whose seals count as this school's."""
        return frozenset({self.fingerprint, *(fingerprint(c) for c in self.retired)})

    @property
    def all_roots(self) -> list[asn1_x509.Certificate]:
        """Roots that validate this school's seals, old ones included (a legacy self-signed seal is its own)."""
        out = {fingerprint(c): c for c in self.roots}
        for c in self.retired:
            if c.self_signed in ("maybe", "yes"):
                out.setdefault(fingerprint(c), c)
        return list(out.values())

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after

    def check_usable(self, when: dt.datetime | None = None) -> bool:
        """Refuse to seal with an expired, not yet valid or revoked certificate, or a stale CRL.

        A stale CRL of our own CA is re-issued when the root key is on the server; then the result is
        True and the caller must take a fresh :func:`seal_identity` (it holds the new CRL).

        :raises SealingCertUnusable: with a message saying what to do.
        """
        when = when or _now()
        cert = self.cert
        if when < cert.not_valid_before:
            raise SealingCertUnusable(
                f"The school's sealing certificate is not valid until {cert.not_valid_before:%Y-%m-%d %H:%M} UTC.")
        if when >= cert.not_valid_after:
            raise SealingCertUnusable(
                f"The school's sealing certificate expired on {cert.not_valid_after:%Y-%m-%d}. Make a new one with "
                "`flask portal keys rotate` (it needs the root key) or load a new PKCS#12 file.")
        if self.ca is None:
            return False
        revoked = self.ca.revoked_serials().get(int(cert.serial_number))
        if revoked is not None:
            raise SealingCertUnusable(
                f"The school's sealing certificate was revoked on {revoked['at'][:10]} ({revoked.get('reason')}). "
                "Make a new one with `flask portal keys rotate` (it needs the root key).")
        if not self.ca.crl_is_fresh():
            if not self.ca.key_online:
                crl = self.ca.crl()
                until = f" on {crl.next_update_utc:%Y-%m-%d}" if crl is not None and crl.next_update_utc else ""
                raise SealingCertUnusable(
                    f"The certificate revocation list of {self.ca.name} expired{until}, so seals would carry stale "
                    "revocation data. Run `flask portal keys crl --root-key FILE` with the root key.")
            self.ca.issue_crl(self.ca.private_key())
            return True
        return False


_cache: dict[tuple, SealIdentity] = {}
_lock = threading.Lock()


def _mtime(path: str | Path | None) -> float | None:
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None


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
    key_path, cert_path, chain_path = keys_dir / KEY_FILE, keys_dir / CERT_FILE, keys_dir / CHAIN_FILE
    cas = [authority(n) for n in ca_names()]
    cache_key = (p12, _mtime(p12), str(keys_dir), _mtime(key_path), _mtime(cert_path), _mtime(chain_path),
                 _mtime(keys_dir / RETIRED_DIR), *((str(ca.folder), _mtime(ca.crl_path), _mtime(ca.folder / STATE_FILE))
                                                  for ca in cas))
    with _lock:
        if cache_key in _cache:
            return _cache[cache_key]
        # pyHanko's signers (with its time-stamping client and aiohttp) load when a process first seals,
        # not at the start of every web process and CLI command.
        from pyhanko.sign import signers

        if p12:
            password = cfg.get("PORTAL_SIGNING_P12_PASSWORD")
            signer = signers.SimpleSigner.load_pkcs12(
                p12, passphrase=password.encode() if isinstance(password, str) else password)
            if signer is None:
                raise SealingKeyMissing("PORTAL_SIGNING_P12 could not be opened (file or password).")
            chain = tuple(c for c in signer.cert_registry if c.dump() != signer.signing_cert.dump())
        elif key_path.is_file() and cert_path.is_file():
            chain = tuple(load_certs_from_pemder([str(chain_path)])) if chain_path.is_file() else ()
            signer = signers.SimpleSigner.load(str(key_path), str(cert_path))
            if signer is None:
                raise SealingKeyMissing(f"the key in {keys_dir} could not be loaded")
            signer = signers.SimpleSigner(signing_cert=signer.signing_cert, signing_key=signer.signing_key,
                                          cert_registry=SimpleCertificateStore.from_certs(chain))
        else:
            raise SealingKeyMissing(f"No certificate for {school.name}: run `flask portal keys init` "
                                    "or load a PKCS#12 file with `flask portal keys import-p12`.")
        cert = signer.signing_cert
        own = authority_for(cert)
        crls: tuple[asn1_crl.CertificateList, ...] = ()
        if own is not None and (der := own.crl_der()):
            crls = (asn1_crl.CertificateList.load(der),)
        roots = _roots(cert, list(chain))
        retired_dir = keys_dir / RETIRED_DIR
        retired = tuple(load_cert(p) for p in sorted(retired_dir.glob("*.cert.pem"))) if retired_dir.is_dir() else ()
        identity = SealIdentity(signer=signer, cert=cert, roots=roots, retired=retired, chain=chain, ca=own,
                                crls=crls)
        if len(_cache) > 256:
            _cache.clear()
        _cache[cache_key] = identity
        return identity


def _roots(cert: asn1_x509.Certificate, others: list[asn1_x509.Certificate]) -> tuple[asn1_x509.Certificate, ...]:
    """Self-signed certificates among the chain, or the signing certificate itself."""
    chain = [cert, *others]
    selfsigned = tuple(c for c in chain if c.self_signed in ("maybe", "yes"))
    return selfsigned or (cert,)


def installation_roots() -> list[asn1_x509.Certificate]:
    """The root certificate of every CA of this installation."""
    return [authority(n).root() for n in ca_names()]


def installation_crls() -> list[asn1_crl.CertificateList]:
    """The current CRL of every CA of this installation."""
    out = []
    for n in ca_names():
        der = authority(n).crl_der()
        if der:
            out.append(asn1_crl.CertificateList.load(der))
    return out


def init_keys(keys_dir: str | os.PathLike[str], common_name: str, *, force: bool = False,
              years: int | None = None) -> tuple[Path, Path]:
    """The school certificate for the school whose keys live in *keys_dir* (kept for callers
    that name the folder; ``keys init`` uses :func:`issue_school_certificate`)."""
    from sqlalchemy import select

    from portal.db import session
    from portal.schools.models import School

    base = _keys_base()
    rel = Path(keys_dir).resolve().relative_to(base.resolve()).as_posix()
    rel = "" if rel == "." else rel
    school = session.scalar(select(School).where(School.keys_path == rel))
    if school is None:
        raise SealingKeyMissing(f"No school keeps its keys in {keys_dir}.")
    return issue_school_certificate(school, force=force, years=years)
