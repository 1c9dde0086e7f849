"""``countersign-verify``: a small command, installable on its own (it depends only on pyHanko), that checks
a record offline with the portal's own rules. Built as a wheel and installed into a fresh virtualenv."""
from __future__ import annotations

import datetime as dt
import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import select

from portal.records.archive import archive_store
from portal.records.models import SignedRecord
from portal.signals import signature_committed
from tests.records_support import *  # noqa: F403  (the records fixtures)
from tests.records_support import root_cert
from tests.venvs import fresh_venv, pip

ROOT = Path(__file__).resolve().parent.parent
# The command reads a file and nothing else: the database only makes the record, so one backend is enough.
pytestmark = pytest.mark.one_backend


@pytest.fixture(scope="session")
def verifier(tmp_path_factory):
    """The installed ``countersign-verify`` script in a virtualenv of its own.

    Built once per run: the pytest-xdist workers share one run folder, and the first worker to take
    the lock builds the wheel and the virtualenv while the others wait and then use it."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    tmp = shared / "countersign-verify"
    script = tmp / "venv" / "bin" / "countersign-verify"
    tmp.mkdir(exist_ok=True)
    with open(tmp / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (tmp / "failed").exists():  # another worker tried and failed: do not build it again
            pytest.fail(f"countersign-verify could not be built:\n{(tmp / 'failed').read_text()}")
        if not (tmp / "ready").exists():
            try:
                _build_verifier(tmp)
            except BaseException as exc:
                (tmp / "failed").write_text(f"{type(exc).__name__}: {exc}"[-4000:])
                raise
            (tmp / "ready").write_text("built\n")
    return script


def _build_verifier(tmp: Path) -> None:
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"),
                    str(ROOT / "tools" / "countersign-verify")], check=True, capture_output=True, text=True)
    [wheel] = list((tmp / "dist").glob("*.whl"))
    python = fresh_venv(tmp / "venv")
    install = pip(python, "install", "-q", str(wheel))
    assert install.returncode == 0, install.stderr[-2000:]
    listed = pip(python, "list", "--format=freeze")
    assert listed.returncode == 0, listed.stderr[-2000:]
    installed = listed.stdout.lower()
    assert "countersign-verify" in installed and "pyhanko" in installed, installed
    for unwanted in ("flask", "sqlalchemy", "weasyprint", "countersign-portal"):
        assert unwanted not in installed, f"{unwanted} came with countersign-verify"


def _run(verifier, *args):
    return subprocess.run([str(verifier), *map(str, args)], capture_output=True, text=True, timeout=120)


def _sealed_file(app, db, make_signature, tmp_path, name):
    sig = make_signature()
    signature_committed.send(app, signature=sig)
    db.expire_all()
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert record.is_sealed, record.last_error
    path = tmp_path / name
    path.write_bytes(archive_store().get(record.pdf_sha256))
    return path


def _seal_expiry(seal_keys) -> dt.datetime:
    cert = x509.load_pem_x509_certificate((Path(seal_keys) / "school-seal.cert.pem").read_bytes())
    return cert.not_valid_after_utc


def test_genuine_changed_and_not_ours(verifier, app, db, make_signature, seal_keys, tmp_path):
    pdf = _sealed_file(app, db, make_signature, tmp_path, "record.pdf")
    root = root_cert(app)
    ok = _run(verifier, pdf, "--trust", root)
    assert ok.returncode == 0 and ok.stdout.startswith("Genuine"), ok.stdout + ok.stderr
    assert "Seal level: PAdES B-LT" in ok.stdout and "Signed by:" in ok.stdout

    data = bytearray(pdf.read_bytes())
    data[data.index(b"stream", 200) + 40] ^= 1
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(bytes(data))
    out = _run(verifier, changed, "--trust", root)
    assert out.returncode == 1 and out.stdout.startswith("Changed"), out.stdout

    # Another installation's root: the seal is not ours.
    other_app_keys = tmp_path / "other-keys"
    app.config["PORTAL_KEYS_DIR"] = str(other_app_keys)
    assert app.test_cli_runner().invoke(args=["portal", "keys", "init"]).exit_code == 0
    out = _run(verifier, pdf, "--trust", other_app_keys / "ca" / "installation" / "root.cert.pem")
    assert out.returncode == 1 and out.stdout.startswith("Not ours"), out.stdout

    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"not a pdf")
    out = _run(verifier, junk, "--trust", root)
    assert out.returncode == 2 and "not a PDF" in out.stderr
    assert _run(verifier, pdf).returncode == 2  # --trust is required


def test_b_lta_stays_genuine_after_the_certificate_expires_b_lt_does_not(verifier, app, db, make_signature,
                                                                        seal_keys, tsa, tmp_path):
    lta = _sealed_file(app, db, make_signature, tmp_path, "lta.pdf")
    app.config["PORTAL_TSA_URL"] = None
    lt = _sealed_file(app, db, make_signature, tmp_path, "lt.pdf")
    later = (_seal_expiry(seal_keys) + dt.timedelta(days=30)).isoformat()
    root = root_cert(app)
    out = _run(verifier, lta, "--trust", root, "--at", later)
    assert out.returncode == 0 and out.stdout.startswith("Genuine"), out.stdout + out.stderr
    assert "Seal level: PAdES B-LTA" in out.stdout and "Document time stamp:" in out.stdout
    out = _run(verifier, lt, "--trust", root, "--at", later)
    assert out.returncode == 1 and out.stdout.startswith("Not confirmed"), out.stdout


def test_a_revocation_after_sealing_spares_time_stamped_records(verifier, app, db, make_signature, seal_keys, tsa,
                                                                tmp_path):
    """With the current CRL (from the verification page): a record time-stamped before the certificate
    was revoked stays genuine; one without a time stamp can no longer be trusted."""
    lta = _sealed_file(app, db, make_signature, tmp_path, "lta.pdf")
    app.config["PORTAL_TSA_URL"] = None
    lt = _sealed_file(app, db, make_signature, tmp_path, "lt.pdf")
    # A CRL gives revocation times to the second: revoke in a later second than the time stamp,
    # as any real revocation is (one in the same second counts as before it, and rightly fails).
    time.sleep(1.1)
    assert app.test_cli_runner().invoke(args=["portal", "keys", "revoke", "--reason", "key_compromise"]).exit_code == 0
    crl = tmp_path / "installation.crl"
    crl.write_bytes(app.test_client().get("/portal/verify/ca/installation.crl").data)
    root = root_cert(app)
    out = _run(verifier, lta, "--trust", root, "--crl", crl)
    assert out.returncode == 0 and out.stdout.startswith("Genuine"), out.stdout + out.stderr
    out = _run(verifier, lt, "--trust", root, "--crl", crl)
    assert out.returncode == 1 and "revoked" in out.stdout, out.stdout
    # Without the new CRL the offline check cannot know (the file's own CRL predates the revocation).
    assert _run(verifier, lt, "--trust", root).returncode == 0


def test_json_output(verifier, app, db, make_signature, seal_keys, tmp_path):
    import json

    pdf = _sealed_file(app, db, make_signature, tmp_path, "record.pdf")
    out = _run(verifier, pdf, "--trust", root_cert(app), "--json")
    result = json.loads(out.stdout)
    assert result["outcome"] == "genuine" and result["evidence"]["format"] == "countersign-evidence"
