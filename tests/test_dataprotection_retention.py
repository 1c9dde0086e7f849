"""The retention schedule applied with a moving clock: each rule type, holds, tombstones, idempotency."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.audit import verify_chain
from portal.dataprotection import retention
from portal.dataprotection.models import DisposalRecord
from portal.records.models import SignedRecord
from portal.signatures.models import ConsentAnswer, Signature
from tests.dataprotection_helpers import *  # noqa: F401,F403
from tests.dataprotection_helpers import D, audit_actions, leave
from tests.records_support import seal_keys  # noqa: F401


def run(fam, today, **kw):
    return retention.run_school(fam.school.id, today, **kw)


def exists(db, model, id_):
    db.expire_all()
    return db.get(model, id_) is not None


def test_a_pupils_signature_goes_a_year_after_they_leave_with_its_sealed_pdf_and_a_tombstone(
        app, db, fam, sign, seal_keys):
    from portal.records.archive import archive_store
    from portal.records.operations import make_record

    sig = sign(fam.parent, D(2026, 9, 14), audience="pupil_ks2", for_child=fam.child)
    record = make_record(sig.id)
    assert record.is_sealed
    sha = record.pdf_sha256
    assert archive_store().exists(sha)
    leave(db, fam.child, D(2027, 7, 21))

    report = run(fam, D(2028, 7, 20))
    assert report.count("deleted") == 0 and exists(db, Signature, sig.id)

    report = run(fam, D(2028, 7, 21))
    # Then nothing refers to the child or (their only child having left) the parent: both are anonymised.
    assert [(o.record_type, o.target_id, o.result) for o in report.outcomes] == [
        ("signatures_pupil", sig.id, "deleted"), ("people", fam.child.id, "anonymised"),
        ("people", fam.parent.id, "anonymised")]
    assert not exists(db, Signature, sig.id)
    assert db.scalar(select(func.count(SignedRecord.id))) == 0
    assert db.scalar(select(func.count(ConsentAnswer.id))) == 0
    assert not archive_store().exists(sha)
    tomb = audit_actions(db, "retention.disposed")
    assert len(tomb) == 1
    data = tomb[0].data
    assert data["record_type"] == "signatures_pupil" and data["target_id"] == sig.id
    assert data["rule"]["period"] == 1 and data["rule"]["trigger"] == "superseded_or_leaves"
    assert data["due_on"] == "2028-07-21" and data["trigger_on"] == "2027-07-21"
    disposal = db.scalar(select(DisposalRecord))
    assert disposal.removed_sha256 == data["removed_sha256"] and len(data["removed_sha256"]) == 64
    assert data["counts"] == {"portal_signatures": 1, "portal_consent_answers": 1, "portal_signed_records": 1,
                              "files": 1}
    assert verify_chain().ok

    # The same day again: nothing more to do, nothing more written.
    entries = len(audit_actions(db, "retention.run"))
    report = run(fam, D(2028, 7, 21))
    assert report.outcomes == [] and len(audit_actions(db, "retention.run")) == entries
