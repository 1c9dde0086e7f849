"""The archive on S3-compatible object storage (AWS S3, MinIO, Ceph, moto's server...), via boto3.

``PORTAL_ARCHIVE_STORE=s3://bucket/prefix`` with ``PORTAL_S3_ENDPOINT_URL`` (empty for AWS),
``PORTAL_S3_REGION`` and the credentials keys. Objects are ``<prefix>/<school prefix>/ab/<sha256>.pdf``
and are written once:

* ``put`` first asks whether the name exists (then checks the stored bytes against it, as the
  folder store does) and then writes with ``If-None-Match: *``, so a store that supports
  conditional writes refuses to replace an object even in a race;
* with ``PORTAL_S3_OBJECT_LOCK_DAYS`` > 0 each object gets an Object Lock retention date in
  compliance mode (the bucket must have been created with Object Lock on): nobody, not even the
  account's owner, can delete that version before the date;
* every read is checked against the name (:meth:`ArchiveStore.get`, ``iter_verified``).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, BinaryIO

from portal.records.archive import ArchiveError, ArchiveStore, _check_name, sha256_hex


class S3Store(ArchiveStore):
    """Write-once objects in one bucket, under *prefix*."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any, object_lock_days: int = 0,
                 suffix: str = ".pdf") -> None:
        if not bucket:
            raise ValueError("an S3 archive needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.object_lock_days = int(object_lock_days or 0)
        self.suffix = suffix

    @classmethod
    def from_url(cls, url: str, config: Any) -> S3Store:
        """``s3://bucket/prefix`` plus the ``PORTAL_S3_*`` settings in *config*."""
        import boto3
        from botocore.config import Config

        if not url.startswith("s3://"):
            raise ValueError("PORTAL_ARCHIVE_STORE must look like s3://bucket/prefix")
        bucket, _, prefix = url[len("s3://"):].partition("/")
        timeout = float(config.get("PORTAL_S3_TIMEOUT") or 10)
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=config.get("PORTAL_S3_ENDPOINT_URL") or None,
            region_name=config.get("PORTAL_S3_REGION") or None,
            aws_access_key_id=config.get("PORTAL_S3_ACCESS_KEY_ID") or None,
            aws_secret_access_key=config.get("PORTAL_S3_SECRET_ACCESS_KEY") or None,
            config=Config(connect_timeout=timeout, read_timeout=timeout, s3={"addressing_style": "path"},
                          retries={"max_attempts": 3, "mode": "standard"}),
        )
        return cls(bucket, prefix, client=client, object_lock_days=int(config.get("PORTAL_S3_OBJECT_LOCK_DAYS") or 0))

    def with_prefix(self, prefix: str) -> ArchiveStore:
        joined = "/".join(p for p in (self.prefix, prefix.strip("/")) if p)
        return S3Store(self.bucket, joined, client=self.client, object_lock_days=self.object_lock_days,
                       suffix=self.suffix)

    def key(self, sha: str) -> str:
        _check_name(sha)
        name = f"{sha[:2]}/{sha}{self.suffix}"
        return f"{self.prefix}/{name}" if self.prefix else name

    # ------------------------------------------------------------ reading

    def exists(self, sha: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha))
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise ArchiveError(f"the object store could not be asked about {sha[:12]}…: {_code(exc)}") from exc
        return True

    def open(self, sha: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha))["Body"]
        except ClientError as exc:
            if _status(exc) == 404:
                raise ArchiveError(f"archived object {sha[:12]}… is missing") from None
            raise ArchiveError(f"the object store did not give {sha[:12]}…: {_code(exc)}") from exc
        return body  # botocore's StreamingBody: read(n), close(), usable in ``with``

    # ------------------------------------------------------------ writing

    def put(self, data: bytes) -> str:
        from botocore.exceptions import ClientError

        sha = sha256_hex(data)
        if self.exists(sha):
            self.get(sha)  # same name, so it must be the same bytes; raises if tampered
            return sha
        extra: dict[str, Any] = {}
        if self.object_lock_days > 0:
            until = dt.datetime.now(dt.UTC) + dt.timedelta(days=self.object_lock_days)
            extra = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(sha), Body=data, ContentType="application/pdf",
                                   IfNoneMatch="*", **extra)
        except ClientError as exc:
            if _status(exc) in (409, 412):  # written meanwhile by another worker: it must be the same
                self.get(sha)
                return sha
            raise ArchiveError(f"the object store did not keep {sha[:12]}…: {_code(exc)}") from exc
        return sha

    def dispose(self, sha: str) -> None:
        """Delete the object (audited disposal only). With Object Lock, a locked version stays
        until its retention date: the store refuses and this raises."""
        from botocore.exceptions import ClientError

        try:
            versions = self.client.list_object_versions(Bucket=self.bucket, Prefix=self.key(sha)).get("Versions", [])
            for v in versions:
                if v["Key"] == self.key(sha):
                    self.client.delete_object(Bucket=self.bucket, Key=v["Key"], VersionId=v["VersionId"])
            if not versions:
                self.client.delete_object(Bucket=self.bucket, Key=self.key(sha))
        except ClientError as exc:
            raise ArchiveError(f"the object store refused to delete {sha[:12]}…: {_code(exc)}") from exc


def _status(exc: Any) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
