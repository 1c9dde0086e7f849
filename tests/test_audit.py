"""The hash-chained audit log and `flask portal audit verify`."""
from __future__ import annotations

from sqlalchemy import select, text

from portal import audit
from portal.audit.models import GENESIS, AuditEntry
from portal.people.models import Role


def _entries(db, n=4, actor=None):
    for i in range(n):
        audit.record("test.event", actor=actor, n=i)
    db.commit()


def test_chain_links_each_entry_to_the_previous(app, db, make_person):
    person = make_person(Role.TEACHER)
    _entries(db, 3, actor=person)
    rows = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert rows[0].prev_hash == GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert rows[0].actor_id == person.id and rows[2].data == {"n": 2}
    report = audit.verify_chain()
    assert report.ok and report.count == 3 and report.head == rows[-1].hash
    assert audit.chain_head() == (3, rows[-1].hash)


def test_verify_names_the_first_tampered_entry(app, db):
    _entries(db, 5)
    db.execute(text("UPDATE portal_audit_log SET data = :d WHERE id = 3"), {"d": '{"n": 99}'})
    db.commit()
    result = app.test_cli_runner().invoke(args=["portal", "audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at entry 3: content does not match its hash (2 entries before it are intact)" in result.output


def test_verify_detects_a_deleted_entry(app, db):
    _entries(db, 4)
    db.execute(text("DELETE FROM portal_audit_log WHERE id = 2"))
    db.commit()
    report = audit.verify_chain()
    assert not report.ok and report.first_broken_id == 3 and "entry 2 is missing" in report.reason


def test_verify_ok_from_the_cli(app, db):
    _entries(db, 2)
    result = app.test_cli_runner().invoke(args=["portal", "audit", "verify"])
    assert result.exit_code == 0 and "Audit chain intact: 2 entries" in result.output


def test_two_entries_cannot_share_a_predecessor(app, db):
    """The unique prev_hash keeps the chain linear even if two writers race."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    _entries(db, 1)
    first = db.scalar(select(AuditEntry))
    from portal.db import utcnow

    clash = AuditEntry(id=99, created_at=utcnow(), action="x", data={}, prev_hash=GENESIS, hash="f" * 64)
    db.add(clash)
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()
    assert first.prev_hash == GENESIS


def test_entries_appended_together_chain_like_entries_appended_one_by_one(app, db, make_person):
    """A class closing appends its 30 signatures' entries with one read of the chain's head."""
    teacher = make_person(Role.TEACHER, given="Batch")
    pupils = [make_person(Role.PUPIL, given=f"Batch{i}") for i in range(3)]
    audit.record("test.before", actor=teacher)
    entries = audit.record_each("test.each", [(p, {"n": i}) for i, p in enumerate(pupils)], actor=teacher)
    audit.record("test.after", actor=teacher)
    db.commit()
    rows = db.scalars(select(AuditEntry).where(AuditEntry.action.like("test.%")).order_by(AuditEntry.seq)).all()
    assert [r.action for r in rows] == ["test.before", "test.each", "test.each", "test.each", "test.after"]
    assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + 5))
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert [(e.target_type, e.target_id, e.data, e.actor_id) for e in entries] == [
        ("Person", str(p.id), {"n": i}, teacher.id) for i, p in enumerate(pupils)]
    assert audit.verify_chain().ok
