"""The archive on a real S3-compatible server (moto's standalone server, started by the tests)."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from portal.records.archive import ArchiveError, IntegrityError, archive_store, sha256_hex
from portal.records.models import SignedRecord
from portal.signals import signature_committed
from tests.records_support import *  # noqa: F401,F403

_buckets = itertools.count(1)


@pytest.fixture
def bucket(s3_server):
    name = f"countersign-test-{next(_buckets)}"
    s3_server.make_bucket(name, object_lock=True)
    return name


@pytest.fixture
def app_config(app_config, s3_server, bucket):
    return {**app_config, **s3_server.config(bucket), "PORTAL_S3_OBJECT_LOCK_DAYS": 1}


def _keys(s3_server, bucket):
    listing = s3_server.client().list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_put_get_exists_and_school_prefixes(app, s3_server, bucket):
    store = archive_store()
    data = b"%PDF-1.7 a sealed record"
    sha = store.put(data)
    assert sha == sha256_hex(data) and store.exists(sha) and store.get(sha) == data
    assert b"".join(store.iter_verified(sha)) == data
    assert store.put(data) == sha  # the same bytes again: nothing changes
    assert _keys(s3_server, bucket) == [f"archive/{sha[:2]}/{sha}.pdf"]
    other = store.with_prefix("schools/oak-lane")
    assert not other.exists(sha)
    other.put(data)
    assert f"archive/schools/oak-lane/{sha[:2]}/{sha}.pdf" in _keys(s3_server, bucket)
    missing = "0" * 64
    assert not store.exists(missing)
    with pytest.raises(ArchiveError, match="missing"):
        store.get(missing)
    with pytest.raises(ArchiveError):
        store.exists("../../etc/passwd")


def test_write_once_and_object_lock(app, s3_server, bucket):
    """An object is never replaced, a changed one is detected, and a locked version cannot be deleted."""
    store = archive_store()
    client = s3_server.client()
    data = b"%PDF-1.7 the original"
    sha = store.put(data)
    key = store.key(sha)
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"]
    # The store's own conditional write refuses to replace an object.
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=bucket, Key=key, Body=b"forged", IfNoneMatch="*")
    # Someone with the keys writes over the name anyway (a new version): reads notice, and put
    # refuses to treat the forged bytes as the record.
    client.put_object(Bucket=bucket, Key=key, Body=b"forged")
    with pytest.raises(IntegrityError):
        store.get(sha)
    with pytest.raises(IntegrityError):
        store.put(data)
    # The locked original version cannot be deleted before its retention date.
    with pytest.raises(ArchiveError, match="AccessDenied"):
        store.dispose(sha)


def test_disposal_without_object_lock_deletes(app, s3_server):
    name = f"countersign-plain-{next(_buckets)}"
    s3_server.make_bucket(name)
    app.config.update(s3_server.config(name), PORTAL_S3_OBJECT_LOCK_DAYS=0)
    app.extensions["portal"].archive = None
    store = archive_store()
    sha = store.put(b"%PDF-1.7 to be disposed of")
    store.dispose(sha)
    assert not store.exists(sha)


def test_signing_seals_into_the_bucket_and_the_auditor_downloads_it(app, db, s3_server, bucket, make_signature,
                                                                    seal_keys, make_person, login_as):
    from portal.people.models import Role

    sig = make_signature()
    signature_committed.send(app, signature=sig)
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert record.is_sealed, record.last_error
    assert _keys(s3_server, bucket) == [f"archive/{record.pdf_sha256[:2]}/{record.pdf_sha256}.pdf"]
    auditor = make_person(Role.AUDITOR, given="Audrey")
    resp = login_as(auditor).get(f"/portal/auditor/records/{sig.id}.pdf")
    assert resp.status_code == 200 and sha256_hex(resp.data) == record.pdf_sha256


def test_an_s3_error_leaves_the_record_pending_and_it_is_retried(app, db, s3_server, make_signature, seal_keys):
    """The bucket does not exist yet: the record stays pending with the error; once it exists the
    sweep queues it again and it is sealed."""
    name = f"countersign-late-{next(_buckets)}"
    app.config.update(s3_server.config(name), PORTAL_JOBS_REQUEUE_AFTER=0)
    app.extensions["portal"].archive = None
    sig = make_signature()
    signature_committed.send(app, signature=sig)
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert (record.status, record.attempts) == ("pending", 1) and "NoSuchBucket" in record.last_error
    s3_server.make_bucket(name, object_lock=True)
    result = app.test_cli_runner().invoke(args=["portal", "jobs", "run", "records.sweep"])
    assert result.exit_code == 0 and "1 queued" in result.output, result.output
    db.expire_all()
    record = db.scalar(select(SignedRecord).where(SignedRecord.signature_id == sig.id))
    assert record.is_sealed and record.attempts == 2 and record.last_error is None


def test_a_bad_store_setting_is_refused(app):
    app.config["PORTAL_ARCHIVE_STORE"] = "ftp://example.invalid/archive"
    with pytest.raises(RuntimeError, match="s3://bucket/prefix"):
        archive_store()
