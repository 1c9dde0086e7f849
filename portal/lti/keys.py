"""The tool's RSA key pairs (PEM files in ``PORTAL_KEYS_DIR/lti``).

The newest key signs (deep-linking responses, OAuth2 client assertions); every key in the
folder is published at the JWKS endpoint so that a rotated-out key keeps verifying until it
is deleted. ``flask portal lti keys`` makes the first key; ``--rotate`` adds a new one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from pylti1p3.registration import Registration


def keys_dir() -> Path:
    return Path(current_app.config["PORTAL_KEYS_DIR"]) / "lti"


def _key_files() -> list[Path]:
    d = keys_dir()
    return sorted(d.glob("tool-*.pem")) if d.is_dir() else []


def generate_key() -> str:
    """Write a new RSA-2048 private key (mode 0600) and return its ``kid``."""
    d = keys_dir()
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    number = len(_key_files()) + 1
    while True:
        path = d / f"tool-{number:04d}.pem"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            number += 1
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        break
    return Registration.get_jwk(public_pem(pem.decode()))["kid"]


def ensure_key() -> None:
    """Make the first key if there is none (the CLI does this too)."""
    if not _key_files():
        generate_key()


#: SHA-256 of a private key's PEM -> its public key's PEM. Loading an RSA private key checks it
#: (tens of milliseconds), and every LTI launch and JWKS request needs the public half; the digest
#: keeps the cache from holding the private key itself.
_public_of: dict[str, str] = {}


def public_pem(private_pem: str) -> str:
    digest = hashlib.sha256(private_pem.encode()).hexdigest()
    public = _public_of.get(digest)
    if public is None:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        if len(_public_of) >= 64:  # a few keys per installation; never grows without bound
            _public_of.clear()
        _public_of[digest] = public
    return public


def signing_key() -> tuple[str, str]:
    """(private PEM, public PEM) of the newest key."""
    ensure_key()
    private = _key_files()[-1].read_text()
    return private, public_pem(private)


def jwks() -> dict:
    """Every tool public key as a JSON Web Key Set."""
    return {"keys": [Registration.get_jwk(public_pem(p.read_text())) for p in _key_files()]}
