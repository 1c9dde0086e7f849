"""Where areas meet: the signing page, the signal receivers, LTI sessions and sealed records."""
from __future__ import annotations

import logging
import re
import subprocess

from sqlalchemy import select

from portal import signals
from portal.policies.models import Policy
from portal.records.models import SignedRecord
from portal.schools.models import School
from portal.signatures.models import Signature
from tests.records_support import seal_keys  # noqa: F401  (fixture)


def _hash(page: bytes) -> str:
    return re.search(r'name="text_hash" type="hidden" value="([0-9a-f]{64})"', page.decode()).group(1)


def _current(db, slug):
    policy = db.scalar(select(Policy).where(Policy.slug == slug))
    return next(v for v in policy.versions if v.status == "published")


def _sign_own(client, version, person):
    page = client.get(f"/portal/policies/versions/{version.id}/sign")
    data = {"action": "sign", "text_hash": _hash(page.data), "agree": "y", "typed_name": person.full_name}
    for item in version.consent_items:
        data[f"consent_{item.id}"] = "yes"
    return client.post(f"/portal/policies/versions/{version.id}/sign", data=data)


def _pack(app, db, school):
    from portal.policies.pack import load_default_pack

    load_default_pack()
    db.commit()


def test_a_failing_receiver_cannot_undo_or_hide_a_signature(app, db, school, make_parent, login_as, caplog):
    _pack(app, db, school)
    parent = make_parent()

    def broken(sender, signature):
        raise RuntimeError("receiver exploded")

    signals.signature_committed.connect(broken)
    try:
        with caplog.at_level(logging.ERROR, logger="portal.signals"):
            resp = _sign_own(login_as(parent), _current(db, "aup-parent"), parent)
    finally:
        signals.signature_committed.disconnect(broken)
    assert resp.status_code == 302
    assert db.scalar(select(Signature.signer_id)) == parent.id
    assert "a receiver of signature_committed failed" in caplog.text


def test_signing_after_an_lti_launch_is_recorded_as_lti(app, db, school, make_parent, login_as):
    _pack(app, db, school)
    parent = make_parent()
    client = login_as(parent)
    with client.session_transaction() as sess:
        sess["portal_via_lti"] = True
    assert _sign_own(client, _current(db, "aup-parent"), parent).status_code == 302
    assert db.scalar(select(Signature.method)) == "lti"


def test_the_sealed_pdf_shows_the_exact_text_signed_even_after_settings_change(app, db, school, make_parent,
                                                                              login_as, seal_keys, tmp_path):  # noqa: F811
    """The record renders the kept text (by SHA-256), not today's rendering of the policy."""
    settings = School.get()
    settings.official_channel = "the fictional office hotline 0000 111"
    db.commit()
    _pack(app, db, school)
    parent = make_parent()
    assert _sign_own(login_as(parent), _current(db, "aup-parent"), parent).status_code == 302
    # The school later changes its official channel.
    settings = db.scalar(select(School))
    settings.official_channel = "a brand new channel"
    db.commit()
    db.expire_all()
    record = db.scalar(select(SignedRecord))
    assert record is not None and record.status == "sealed", record and record.last_error
    from portal.records.archive import archive_store

    pdf = archive_store().get(record.pdf_sha256)
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "fictional office hotline" in " ".join(text.split())
    assert "brand new channel" not in text


def test_signing_in_normally_ends_the_lti_marker(app, db, school, make_parent):
    from tests.factories import PASSWORD

    _pack(app, db, school)
    parent = make_parent()
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["portal_via_lti"] = True
    client.post("/portal/auth/login", data={"email": parent.email, "password": PASSWORD})
    with client.session_transaction() as sess:
        assert "portal_via_lti" not in sess
    assert _sign_own(client, _current(db, "aup-parent"), parent).status_code == 302
    assert db.scalar(select(Signature.method)) == "online"
