"""Fixtures for the signed-records tests: policies, signatures, keys, pdfsig with an NSS db.

Signature rows are created directly (the signing UI is built elsewhere); all names invented.
Import the fixtures with ``from tests.records_support import *``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import shutil
import subprocess

import pytest

from portal.people.models import Role
from portal.policies.models import ConsentItem, Policy, PolicyVersion, VersionStatus
from portal.signatures.models import ConsentAnswer, Signature

__all__ = ["POLICY_MD", "TSAServer", "make_signature", "make_version", "nss_db", "pdfsig", "pdfsig_text", "root_cert",
           "seal_keys", "signed_record_in_school", "tsa"]

POLICY_MD = """# Using the school's computers

We ask everyone to use the school's devices kindly and safely.

## What I will do

- I will keep my password to myself.
- I will tell a trusted adult if something online worries me.

| Rule | Why |
|------|-----|
| Log off | So nobody uses my account |
"""

_seq = itertools.count(1)


@pytest.fixture
def make_version(db, make_person):
    def _make(body_md: str = POLICY_MD, audience: str = "parent", title: str | None = None,
              consents: tuple[tuple[str, str], ...] = (("photos_website", "Photos on the school website?"),)):
        n = next(_seq)
        publisher = make_person(Role.TEACHER, given="Pablo")
        policy = Policy(slug=f"aup-test-{n}", title=title or f"Acceptable use {n}", audience=audience)
        version = PolicyVersion(policy=policy, number=1, status=VersionStatus.PUBLISHED.value,
                                title=policy.title, body_md=body_md,
                                published_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
                                published_by_id=publisher.id)
        for i, (key, question) in enumerate(consents):
            version.consent_items.append(ConsentItem(key=key, question=question, position=i))
        db.add(policy)
        db.commit()
        return version

    return _make


@pytest.fixture
def make_signature(db, make_version, make_person):
    """``make_signature(version=None, signer=None, on_behalf_of=None, ...)`` -> committed Signature."""

    def _make(version=None, signer=None, on_behalf_of=None, answers=(True,), year=2026, method="online",
              witness=None, decision="signed"):
        version = version or make_version()
        signer = signer or make_person(Role.PARENT, given="Sigrid")
        sig = Signature(
            version_id=version.id, signer_id=signer.id, signer_role="parent" if on_behalf_of else "pupil"
            if Role.PUPIL in signer.role_set else "parent",
            on_behalf_of_id=on_behalf_of.id if on_behalf_of else None, decision=decision,
            signed_name=signer.full_name, text_sha256=hashlib.sha256(version.body_md.encode()).hexdigest(),
            signed_at=dt.datetime(2026, 9, 14, 8, 30, 5, tzinfo=dt.UTC), ip="192.0.2.10",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0", method=method,
            witness_id=witness.id if witness else None, academic_year=year,
        )
        db.add(sig)
        db.flush()
        # A test may pass fewer or more answers than the version has items: pair what there is.
        for item, answer in zip(version.consent_items, answers, strict=False):
            db.add(ConsentAnswer(consent_item_id=item.id, signature_id=sig.id, person_id=signer.id,
                                 pupil_id=on_behalf_of.id if on_behalf_of else None, answer=answer))
        db.commit()
        return sig

    return _make


@pytest.fixture
def seal_keys(app):
    """The installation's root CA and the school's sealing certificate, made by ``flask portal keys init``."""
    result = app.test_cli_runner().invoke(args=["portal", "keys", "init"])
    assert result.exit_code == 0, result.output
    return app.config["PORTAL_KEYS_DIR"]


def root_cert(app, name: str = "installation"):
    """Path of a CA's root certificate (the only trust anchor a reader needs)."""
    from pathlib import Path

    return Path(app.config["PORTAL_KEYS_DIR"]) / "ca" / name / "root.cert.pem"


class TSAServer:
    """A real RFC 3161 time-stamping authority over HTTP on 127.0.0.1 (pyHanko's TSA responder
    classes behind a werkzeug server in a thread). ``stop()`` makes it unreachable, ``start()``
    brings it back on the same port."""

    def __init__(self, cert_pem: bytes, key_pem: bytes):
        import tempfile
        from pathlib import Path

        from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

        d = Path(tempfile.mkdtemp(prefix="tsa-"))
        (d / "tsa.pem").write_bytes(cert_pem)
        (d / "tsa.key").write_bytes(key_pem)
        self.cert_path = d / "tsa.pem"
        self.responder = DummyTimeStamper(tsa_cert=load_cert_from_pemder(str(d / "tsa.pem")),
                                          tsa_key=load_private_key_from_pemder(str(d / "tsa.key"), passphrase=None))
        self.hits: list[str] = []
        self.port = 0
        self._server = None

    def _app(self, environ, start_response):
        from asn1crypto import tsp
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        self.hits.append(request.path)
        if request.method != "POST" or request.mimetype != "application/timestamp-query":
            return Response("RFC 3161 time-stamp requests only", status=400)(environ, start_response)
        req = tsp.TimeStampReq.load(request.get_data())
        body = self.responder.request_tsa_response(req).dump()
        return Response(body, content_type="application/timestamp-reply")(environ, start_response)

    def start(self) -> None:
        from tests.http_server import ThreadedServer

        self._server = ThreadedServer(self._app, self.port)
        self.port = self._server.port
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"


def make_tsa_cert(issuer_cert_pem: bytes | None, issuer_key_pem: bytes | None, *, years: int = 10):
    """(cert PEM, key PEM) of a TSA certificate issued by the given CA (self-issued root + TSA when None)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    extra = b""
    if issuer_cert_pem is None:  # an independent TSA with its own root
        root_key = ec.generate_private_key(ec.SECP256R1())
        rname = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fictional Time Stamps Root")])
        root = (x509.CertificateBuilder().subject_name(rname).issuer_name(rname).public_key(root_key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                .not_valid_after(now + dt.timedelta(days=365 * 20))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                               critical=True)
                .sign(root_key, hashes.SHA256()))
        issuer, issuer_key = root, root_key
        extra = root.public_bytes(serialization.Encoding.PEM)
    else:
        issuer = x509.load_pem_x509_certificate(issuer_cert_pem)
        issuer_key = serialization.load_pem_private_key(issuer_key_pem, password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fictional Time Stamps TSU 1")]))
            .issuer_name(issuer.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, extra


@pytest.fixture
def tsa(app, seal_keys):
    """A running TSA whose certificate is issued by the installation's root (so the root is the only
    anchor a reader needs); ``PORTAL_TSA_URL`` points at it."""
    from pathlib import Path

    ca = Path(seal_keys) / "ca" / "installation"
    cert_pem, key_pem, _ = make_tsa_cert((ca / "root.cert.pem").read_bytes(), (ca / "root.key.pem").read_bytes())
    server = TSAServer(cert_pem, key_pem)
    server.start()
    app.config["PORTAL_TSA_URL"] = server.url
    yield server
    server.stop()


def _need(tool: str) -> str:
    from tests.deps import unavailable

    path = shutil.which(tool)
    if not path:
        unavailable(f"{tool} is not installed")
    return path


@pytest.fixture
def nss_db(tmp_path, seal_keys):
    """An NSS database that trusts the installation's root certificate (for pdfsig)."""
    from pathlib import Path

    certutil = _need("certutil")
    d = tmp_path / "nss"
    d.mkdir()
    subprocess.run([certutil, "-N", "-d", f"sql:{d}", "--empty-password"], check=True, capture_output=True)
    subprocess.run([certutil, "-A", "-d", f"sql:{d}", "-n", "records-root", "-t", "CT,C,C",
                    "-i", str(Path(seal_keys) / "ca" / "installation" / "root.cert.pem")], check=True,
                   capture_output=True)
    return d


def pdfsig_text(path, nss=None) -> str:
    """pdfsig's report. pdfsig exits 0 even on failures, so callers check the text."""
    args = [_need("pdfsig")]
    if nss is not None:
        args += ["-nssdir", f"sql:{nss}"]
    return subprocess.run(args + [str(path)], capture_output=True, check=False, text=True, timeout=60).stdout


@pytest.fixture
def pdfsig():
    return pdfsig_text


def signed_record_in_school(db, school_id: int) -> str:
    """A parent's signature in *school_id* with its sealed PDF (keys made if missing); returns
    the PDF's SHA-256. The session's scope is left as it was."""
    from portal.auth.passwords import hash_password  # noqa: F401  (app context needed below)
    from portal.people.models import Person
    from portal.records.keys import init_keys, school_keys_dir
    from portal.records.operations import make_record
    from portal.schools.isolation import school_scope
    from portal.schools.models import School

    n = next(_seq)
    with school_scope(db, school_id):
        school = db.get(School, school_id)
        keys = school_keys_dir(school)
        if not (keys / "school-seal.key.pem").exists():
            init_keys(keys, school.name)
        signer = Person(given_name="Sigrid", family_name=f"Sealwell{n}", external_id=f"SIG-{n}")
        signer.add_role(Role.PARENT)
        policy = Policy(slug=f"aup-sealed-{n}", title=f"Home agreement {n}", audience="parent")
        version = PolicyVersion(policy=policy, number=1, status=VersionStatus.PUBLISHED.value, title=policy.title,
                                body_md=POLICY_MD, published_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
        db.add_all([signer, policy])
        db.flush()
        sig = Signature(version_id=version.id, signer_id=signer.id, signer_role="parent", signed_name=signer.full_name,
                        text_sha256=hashlib.sha256(POLICY_MD.encode()).hexdigest(),
                        signed_at=dt.datetime(2026, 9, 14, 8, 30, tzinfo=dt.UTC), ip="192.0.2.10",
                        user_agent="TestBrowser/1.0", academic_year=2026)
        db.add(sig)
        db.commit()
        record = make_record(sig.id)
        assert record is not None and record.is_sealed, record and record.last_error
        return record.pdf_sha256
