"""The job queue for real: Huey on its SQLite file and on a real Redis, with a consumer running in
this process's threads, the broker stopped and started again, retries with backoff, failures
listed for admins, and jobs whose rows have gone."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.jobs import enqueue, job
from portal.jobs.models import JobFailure
from portal.people.models import Role
from portal.records.models import SignedRecord
from portal.signals import signature_committed
from tests.records_support import *  # noqa: F401,F403


@job("tests.flaky", retries=1)
def flaky(flag: str) -> str:
    """Fails while the file *flag* exists (a test-only job)."""
    if Path(flag).exists():
        raise RuntimeError("the test says no")
    return "ok"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_JOBS_IMMEDIATE": False, "PORTAL_JOBS_RETRY_DELAY": 0.2,
            "PORTAL_JOBS_RETRY_BACKOFF": 2.0}


@pytest.fixture
def consumer(app):
    # Due retries are picked up within a tenth of a second (Huey's own scheduler looks once a second).
    worker = app.extensions["portal"].jobs.embedded_consumer(workers=1, tick=0.1)
    worker.start()
    yield worker
    worker.stop(graceful=True)


def wait_for(check, what: str, timeout: float = 45.0):
    """Poll *check* until it returns something true (bounded; not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def _record(db, signature_id):
    db.expire_all()
    return db.scalar(select(SignedRecord).where(SignedRecord.signature_id == signature_id))


def test_signing_queues_the_seal_and_the_worker_makes_it(app, db, make_signature, seal_keys, consumer):
    sig = make_signature()
    signature_committed.send(app, signature=sig)
    record = _record(db, sig.id)
    assert record.status == "pending" and record.queued_at is not None  # the signer did not wait for it
    sealed = wait_for(lambda: (r := _record(db, sig.id)).is_sealed and r, "the sealed record")
    assert sealed.attempts == 1 and sealed.pdf_sha256
    # Idempotent: the same job again changes nothing (no second seal, no second audit entry).
    enqueue("records.seal", school_id=1, signature_id=sig.id)
    enqueue("tests.flaky", school_id=1, flag="/nonexistent/flag")  # a marker: runs after the seal job
    wait_for(lambda: app.extensions["portal"].jobs.pending_count() == 0, "the queue to drain")
    time.sleep(0.5)
    again = _record(db, sig.id)
    assert (again.attempts, again.pdf_sha256) == (1, sealed.pdf_sha256)
    assert db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "record.sealed")) == 1


def test_a_job_whose_rows_are_gone_finishes_quietly_and_is_logged(app, db, consumer, caplog):
    caplog.set_level(logging.INFO, logger="portal")
    enqueue("records.seal", school_id=1, signature_id=987654)
    enqueue("records.seal", school_id=4321, signature_id=1)
    enqueue("lti.post_score", school_id=1, grade_link_id=55555, signature_id=66666)
    wait_for(lambda: sum("no longer exists" in r.getMessage() for r in caplog.records) >= 3, "the three log lines")
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(JobFailure)) == 0


def test_a_job_that_keeps_failing_is_retried_then_listed_for_admins(app, db, consumer, tmp_path, make_person,
                                                                      login_as, school):
    flag = tmp_path / "fail"
    flag.write_text("yes")
    enqueue("tests.flaky", school_id=1, flag=str(flag))
    row = wait_for(lambda: db.expire_all() or db.scalar(select(JobFailure)), "the failure listing")
    assert (row.name, row.attempts, row.arguments["flag"], row.resolved_at) == ("tests.flaky", 2, str(flag), None)
    assert "RuntimeError: the test says no" in row.error

    # Admins see it on a page; others do not.
    admin = make_person(Role.ADMIN, given="Ada")
    page = login_as(admin).get("/portal/admin/jobs")
    assert page.status_code == 200 and b"tests.flaky" in page.data and b"the test says no" in page.data
    assert login_as(make_person(Role.PARENT, given="Pam")).get("/portal/admin/jobs").status_code in (403, 404)
    # ... and on the command line (exit 1 while any are listed).
    result = app.test_cli_runner().invoke(args=["portal", "jobs", "failed"])
    assert result.exit_code == 1 and "tests.flaky" in result.output and "2 attempts" in result.output

    # Fixed: queued again from the page, it succeeds and the listing is resolved.
    flag.unlink()
    resp = login_as(admin).post(f"/portal/admin/jobs/{row.id}/retry")
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(JobFailure, row.id).resolution == "requeued"
    result = app.test_cli_runner().invoke(args=["portal", "jobs", "failed"])
    assert result.exit_code == 0 and "No failed jobs." in result.output


def test_a_later_success_of_the_same_job_resolves_its_listing(app, db, consumer, tmp_path):
    flag = tmp_path / "fail"
    flag.write_text("yes")
    enqueue("tests.flaky", school_id=1, flag=str(flag))
    row = wait_for(lambda: db.expire_all() or db.scalar(select(JobFailure)), "the failure listing")
    flag.unlink()
    enqueue("tests.flaky", school_id=1, flag=str(flag))
    wait_for(lambda: db.expire_all() or db.get(JobFailure, row.id).resolution == "succeeded", "the resolution")


def test_an_embedded_consumer_reads_the_schedule_every_tick(app):
    jobs = app.extensions["portal"].jobs
    assert jobs.embedded_consumer(tick=0.1).schedule_reader.interval == 0.1
    assert jobs.embedded_consumer().schedule_reader.interval == 1  # Huey's own (and least) interval
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="tick must be a positive number"):
            jobs.embedded_consumer(tick=bad)


def test_requeue_of_an_unknown_failure_is_refused(app):
    result = app.test_cli_runner().invoke(args=["portal", "jobs", "retry", "424242"])
    assert result.exit_code != 0 and "No open failure 424242" in result.output


class TestRedis:
    """The same queue on a real Redis, which is stopped while someone signs."""

    @pytest.fixture
    def app_config(self, app_config, redis_url):
        return {**app_config, "PORTAL_JOBS_URL": redis_url, "PORTAL_JOBS_REQUEUE_AFTER": 3600}

    def test_the_broker_down_at_signing_keeps_the_signature_and_seals_once_it_is_back(
            self, app, db, make_signature, seal_keys, redis_server, consumer):
        from portal.signatures.models import Signature

        # Works with Redis up.
        first = make_signature()
        signature_committed.send(app, signature=first)
        wait_for(lambda: _record(db, first.id).is_sealed, "the first sealed record")

        redis_server.stop()
        try:
            sig = make_signature()
            signature_committed.send(app, signature=sig)  # never raises to the signer
            record = _record(db, sig.id)
            assert db.get(Signature, sig.id) is not None
            assert (record.status, record.queued_at, record.attempts) == ("pending", None, 0)
            # The sweep, run while the broker is still down, keeps it waiting.
            result = app.test_cli_runner().invoke(args=["portal", "jobs", "run", "records.sweep"])
            assert "0 queued, 1 still waiting" in result.output
        finally:
            redis_server.start()
        result = app.test_cli_runner().invoke(args=["portal", "jobs", "run", "records.sweep"])
        assert "1 queued, 0 still waiting" in result.output, result.output
        sealed = wait_for(lambda: (r := _record(db, sig.id)).is_sealed and r, "the record sealed after the outage")
        assert sealed.attempts == 1
        # A queued record is not queued again by the next sweep.
        result = app.test_cli_runner().invoke(args=["portal", "jobs", "run", "records.sweep"])
        assert "0 queued, 0 still waiting" in result.output

    def test_a_failing_job_is_retried_through_redis(self, app, db, consumer, tmp_path):
        flag = tmp_path / "fail"
        flag.write_text("yes")
        enqueue("tests.flaky", school_id=1, flag=str(flag))
        row = wait_for(lambda: db.expire_all() or db.scalar(select(JobFailure)), "the failure listing")
        assert row.attempts == 2

    def test_trying_a_job_again_while_the_broker_is_down_keeps_it_listed(self, app, db, redis_server, make_person,
                                                                         login_as):
        row = JobFailure(school_id=1, name="tests.flaky", arguments={"school_id": 1, "flag": "/nonexistent/flag"},
                         error="RuntimeError: the test says no", attempts=2)
        db.add(row)
        db.commit()
        admin = login_as(make_person(Role.ADMIN, given="Ada"))
        redis_server.stop()
        try:
            resp = admin.post(f"/portal/admin/jobs/{row.id}/retry", follow_redirects=True)
            assert b"cannot be reached just now" in resp.data
        finally:
            redis_server.start()
        db.expire_all()
        assert (db.get(JobFailure, row.id).resolved_at, db.get(JobFailure, row.id).resolution) == (None, None)
        assert db.scalar(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "job.requeued")) == 0
        resp = admin.post(f"/portal/admin/jobs/{row.id}/retry", follow_redirects=True)
        assert b"queued again" in resp.data
        db.expire_all()
        assert db.get(JobFailure, row.id).resolution == "requeued"
        assert app.extensions["portal"].jobs.pending_count() == 1
        assert db.scalar(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "job.requeued")) == 1


def test_many_signatures_at_once_are_handed_over_in_one_job_and_all_sealed(app, db, make_signature, seal_keys,
                                                                             consumer):
    """A class closing: one transaction of pending records, one job that fans out to one seal each."""
    from portal.signals import announce_signatures

    sigs = [make_signature() for _ in range(3)]
    with app.test_request_context("/portal/classroom/sessions/1/close", method="POST"):
        announce_signatures(sigs)
    records = [_record(db, s.id) for s in sigs]
    assert all(r.status == "pending" and r.queued_at is not None for r in records)
    wait_for(lambda: all(_record(db, s.id).is_sealed for s in sigs), "all three sealed records")


def test_a_reset_is_queued_whether_or_not_the_address_has_an_account(app, db, make_person, mailbox):
    """Security probe: the reset email went out inside the request only for an address with an account, so the
    answer took longer (57 ms against 15 ms) and told a stranger who has an account. Now the page queues the
    same job either way and the worker decides; the job carries the address, never a link."""
    make_person(Role.PARENT, email="known@test.example")
    queue = app.extensions["portal"].jobs
    client = app.test_client()
    for address in ("known@test.example", "unknown@test.example"):
        resp = client.post("/portal/auth/forgot", data={"email": address})
        assert resp.status_code == 302
    assert queue.pending_count() == 2 and mailbox.messages == []
    worker = queue.embedded_consumer(workers=1, tick=0.1)
    worker.start()
    try:
        wait_for(lambda: queue.pending_count() == 0 and mailbox.to("known@test.example"), "the reset email")
    finally:
        worker.stop(graceful=True)
    assert [m["To"] for m in mailbox.messages] == ["known@test.example"]
