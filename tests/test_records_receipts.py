"""Parents, pupils and staff download the sealed PDF of their own signatures from their signing history,
and get an emailed receipt (the PDF attached, or a link when it is too large) when it is sealed."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.people.models import Role
from portal.records.models import SignedRecord
from portal.records.operations import make_record, send_receipt
from portal.signals import signature_committed
from tests.records_support import *  # noqa: F403  (the records fixtures)


def _record(db, sig):
    db.expire_all()
    return db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))


def _pdf_parts(msg):
    return [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]


@pytest.mark.parametrize("role", [Role.PARENT, Role.TEACHER, Role.PUPIL])
def test_people_download_the_sealed_pdf_of_their_own_signature(app, db, make_person, make_signature, login_as,
                                                               seal_keys, mailbox, role):
    person = make_person(role, given="Hazel")
    sig = make_signature(signer=person)
    signature_committed.send(app, signature=sig)
    record = _record(db, sig)
    client = login_as(person)
    history = client.get("/portal/policies/history").get_data(as_text=True)
    assert f"/portal/policies/signatures/{sig.id}.pdf" in history
    resp = client.get(f"/portal/policies/signatures/{sig.id}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert hashlib.sha256(resp.data).hexdigest() == record.pdf_sha256
    assert "attachment" in resp.headers["Content-Disposition"]
    last = db.scalar(select(AuditEntry).where(AuditEntry.action == "record.downloaded").order_by(AuditEntry.id.desc()))
    assert last is not None and last.actor_id == person.id
    # Nobody else can, not even by guessing the number.
    stranger = make_person(role, given="Stranger")
    assert login_as(stranger).get(f"/portal/policies/signatures/{sig.id}.pdf").status_code == 404


def test_a_parent_cannot_download_another_familys_or_another_signers_record(app, db, make_parent, make_pupil,
                                                                           make_signature, login_as, seal_keys):
    kid = make_pupil(year_group=1, given="Kit")
    parent, other_parent = make_parent(kid, given="Paula"), make_parent(kid, given="Pete")
    sig = make_signature(signer=other_parent, on_behalf_of=kid)
    signature_committed.send(app, signature=sig)
    client = login_as(parent)
    # The other parent's countersignature shows in Paula's history (it is for her child) ...
    assert f"/portal/policies/signatures/{sig.id}\"" in client.get("/portal/policies/history").get_data(as_text=True)
    # ... but its sealed copy (with Pete's address and browser) is Pete's to download.
    assert client.get(f"/portal/policies/signatures/{sig.id}.pdf").status_code == 404
    assert login_as(other_parent).get(f"/portal/policies/signatures/{sig.id}.pdf").status_code == 200


def test_a_record_not_made_yet_is_made_on_download_or_says_it_is_not_ready(app, db, make_person, make_signature,
                                                                         login_as, tmp_path):
    person = make_person(Role.PARENT, given="Iris")
    sig = make_signature(signer=person)
    client = login_as(person)
    resp = client.get(f"/portal/policies/signatures/{sig.id}.pdf")  # no keys yet: cannot seal
    assert resp.status_code == 503 and "not ready yet" in resp.get_data(as_text=True)
    assert app.test_cli_runner().invoke(args=["portal", "keys", "init"]).exit_code == 0
    assert client.get(f"/portal/policies/signatures/{sig.id}.pdf").status_code == 200


def test_the_receipt_carries_the_sealed_pdf(app, db, make_person, make_signature, seal_keys, mailbox):
    person = make_person(Role.PARENT, given="Rosa", email="rosa@family.example")
    sig = make_signature(signer=person)
    signature_committed.send(app, signature=sig)
    record = _record(db, sig)
    [msg] = mailbox.to("rosa@family.example")
    [pdf] = _pdf_parts(msg)
    assert hashlib.sha256(pdf.get_content()).hexdigest() == record.pdf_sha256
    body = msg.get_body(("plain",)).get_content()
    assert f"/portal/verify/r/{record.public_id}" in body and sig.version.title in body
    assert record.receipt_sent_at is not None
    # Sent once: sealing again (repair, a job retry) sends nothing more.
    assert send_receipt(record.id) is False and make_record(sig.id).is_sealed
    assert len(mailbox.to("rosa@family.example")) == 1


def test_a_large_record_is_sent_as_a_link(app, db, make_person, make_signature, seal_keys, mailbox):
    app.config["PORTAL_RECEIPT_MAX_ATTACHMENT_BYTES"] = 1000
    person = make_person(Role.PARENT, given="Lena", email="lena@family.example")
    sig = make_signature(signer=person)
    signature_committed.send(app, signature=sig)
    [msg] = mailbox.to("lena@family.example")
    assert _pdf_parts(msg) == []
    body = msg.get_body(("plain",)).get_content()
    assert f"http://portal.test/portal/policies/signatures/{sig.id}.pdf" in body and "too large" in body


def test_no_address_no_receipt_and_receipts_can_be_turned_off(app, db, make_person, make_signature, seal_keys,
                                                              mailbox):
    pupil = make_person(Role.PUPIL, given="Noa", email="")
    pupil.email = None
    db.commit()
    sig = make_signature(signer=pupil)
    signature_committed.send(app, signature=sig)
    assert _record(db, sig).is_sealed and _record(db, sig).receipt_sent_at is None
    app.config["PORTAL_RECEIPTS"] = False
    person = make_person(Role.PARENT, given="Otto", email="otto@family.example")
    signature_committed.send(app, signature=make_signature(signer=person))
    assert mailbox.messages == []


def test_a_mail_server_that_is_down_does_not_stop_the_seal(app, db, make_person, make_signature, seal_keys,
                                                         mailbox):
    port = app.config["PORTAL_SMTP_PORT"]
    app.config["PORTAL_SMTP_PORT"] = 9  # nothing listens
    person = make_person(Role.PARENT, given="Uma", email="uma@family.example")
    sig = make_signature(signer=person)
    signature_committed.send(app, signature=sig)
    record = _record(db, sig)
    assert record.is_sealed and record.receipt_sent_at is None
    app.config["PORTAL_SMTP_PORT"] = port
    assert send_receipt(record.id) is True  # the job queue's retry
    assert len(mailbox.to("uma@family.example")) == 1


def test_a_welsh_readers_receipt_arrives_in_welsh(app, db, make_person, make_signature, seal_keys, mailbox):
    person = make_person(Role.PARENT, given="Rhian", email="rhian@family.example")
    person.account.language = "cy"
    db.commit()
    sig = make_signature(signer=person)
    signature_committed.send(app, signature=sig)
    record = _record(db, sig)
    [msg] = mailbox.to("rhian@family.example")
    assert msg["Subject"] == f"Eich cofnod wedi’i lofnodi: {sig.version.title}"
    body = msg.get_body(("plain",)).get_content()
    assert body.startswith("Annwyl Rhian,")
    assert f'Dyma eich derbynneb: gwnaethoch lofnodi "{sig.version.title}" (fersiwn {sig.version.number})' in body
    assert "Mae’r cofnod wedi’i selio ynghlwm fel PDF." in body
    assert f"Cyfeirnod y cofnod: {record.public_id}" in body and "This is your receipt" not in body
    # The date in Welsh too (the month's Welsh name), with the time in UTC.
    from babel.dates import format_date

    assert f"{format_date(sig.signed_at, 'long', locale='cy')} am {sig.signed_at:%H:%M} UTC" in body
    assert _pdf_parts(msg)  # the sealed PDF is still attached
