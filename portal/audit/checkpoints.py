"""Sealed checkpoints of each audit chain's head, so that deleting the newest entries is caught.

A hash chain proves that no entry *inside* it changed, but not that its end is still there:
delete the newest entries and what is left still verifies. So, at intervals
(``flask portal audit checkpoint``, from cron like ``records repair``), the head of each chain
(its last position and hash) is written down as a small JSON document, sealed with the school's
certificate (a detached CMS signature; with ``PORTAL_TSA_URL``, time-stamped too), and stored
write-once in the school's archive (``<archive>/<school prefix>/audit-checkpoints/``; the
installation's own chain under ``<archive>/installation-audit-checkpoints/``, sealed with the
first school's certificate). Each checkpoint names the one before it.

``flask portal audit verify`` then reads every checkpoint in the archive (it does not trust the
database's list, which whoever deleted entries could also have edited), keeps those whose seal
verifies with one of the school's certificates, and checks the chain against the newest: the
entry at the checkpoint's position must still exist with the same hash. If it does not, the
log has been truncated (or rewritten) since that checkpoint.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import cms
from flask import current_app
from sqlalchemy import Boolean, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from portal import audit
from portal.audit.models import GENESIS, INSTALLATION_CHAIN, AuditEntry
from portal.db import Base, UTCDateTime, session, utcnow
from portal.records import aio
from portal.records.archive import ArchiveError, ArchiveStore, FilesystemStore
from portal.schools.isolation import all_schools

FORMAT = "countersign-audit-checkpoint/1"


class AuditCheckpoint(Base):
    """The database's note of a checkpoint it made (the sealed object is in the archive)."""

    __tablename__ = "portal_audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The chain: a school's id, or 0 for the installation's own.
    chain: Mapped[int] = mapped_column(Integer, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: SHA-256 of the sealed object in the archive.
    object_sha256: Mapped[str] = mapped_column(String(64))
    timestamped: Mapped[bool] = mapped_column(Boolean, default=False)


class CheckpointError(RuntimeError):
    """A checkpoint could not be made (no certificate, TSA unreachable, archive refused)."""


# ------------------------------------------------------------------ where, and with which key


def _installation_school() -> Any:
    """The school whose certificate seals the installation's own chain (the first school)."""
    from portal.schools.models import School

    return session.scalar(select(School).order_by(School.id).limit(1))


def _school(chain: int) -> Any:
    from portal.schools.models import School

    return session.get(School, chain) if chain != INSTALLATION_CHAIN else _installation_school()


def checkpoint_store(chain: int) -> ArchiveStore:
    """Where a chain's sealed checkpoints are kept (write-once, named by SHA-256)."""
    school = None if chain == INSTALLATION_CHAIN else _school(chain)
    if chain != INSTALLATION_CHAIN and school is None:
        raise CheckpointError(f"there is no school {chain}")
    folder = "installation-audit-checkpoints" if school is None else \
        "/".join(p for p in (school.archive_prefix, "audit-checkpoints") if p)
    configured = current_app.config.get("PORTAL_ARCHIVE_STORE")
    if isinstance(configured, ArchiveStore):
        return configured.with_prefix(folder)
    return FilesystemStore(Path(current_app.config["PORTAL_ARCHIVE_DIR"]) / folder, suffix=".json")


def _head(chain: int) -> tuple[int, str]:
    with all_schools(session):  # the audit log of one chain, named by its number
        row = session.execute(select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.chain == chain)
                              .order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


# ------------------------------------------------------------------ making one


def make_checkpoint(chain: int) -> AuditCheckpoint:
    """Seal the chain's head now and store it (flushes and audits; the caller commits).

    :raises CheckpointError: when the school has no certificate, the TSA cannot be reached, or
        the archive refuses the object.
    """
    from portal.records.keys import SealingKeyMissing, seal_identity

    school = _school(chain)
    if school is None:
        raise CheckpointError("there is no school whose certificate could seal the checkpoint")
    seq, head = _head(chain)
    previous = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.chain == chain)
                              .order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc()).limit(1))
    made_at = utcnow()
    payload = json.dumps({
        "format": FORMAT, "school": school.uid if chain != INSTALLATION_CHAIN else None,
        "installation_sealed_by": school.uid if chain == INSTALLATION_CHAIN else None,
        "chain": chain, "seq": seq, "head": head,
        "made_at": made_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "previous": previous.object_sha256 if previous else None,
    }, sort_keys=True, separators=(",", ":")).encode()
    try:
        identity = seal_identity(school)
    except SealingKeyMissing as exc:
        raise CheckpointError(str(exc)) from exc
    tsa_url = current_app.config.get("PORTAL_TSA_URL")
    timestamper = None
    if tsa_url:
        from pyhanko.sign import timestamps

        timestamper = timestamps.HTTPTimeStamper(tsa_url, timeout=10)
    try:
        signed = aio.run(lambda: identity.signer.async_sign_general_data(
            payload, "sha256", detached=True, timestamper=timestamper))
    except Exception as exc:  # noqa: BLE001 - a TSA or key problem: say so, make nothing
        raise CheckpointError(f"the checkpoint could not be sealed: {type(exc).__name__}: {exc}") from exc
    document = json.dumps({"payload": payload.decode(), "cms": base64.b64encode(signed.dump()).decode()},
                          sort_keys=True).encode()
    try:
        sha = checkpoint_store(chain).put(document)
    except (ArchiveError, OSError) as exc:
        raise CheckpointError(f"the archive refused the checkpoint: {exc}") from exc
    row = AuditCheckpoint(chain=chain, seq=seq, head=head, made_at=made_at, object_sha256=sha,
                          timestamped=timestamper is not None)
    session.add(row)
    session.flush()
    audit.record("audit.checkpoint_made", school=None if chain == INSTALLATION_CHAIN else chain,
                 seq=seq, head=head, sha256=sha, timestamped=timestamper is not None)
    return row


# ------------------------------------------------------------------ checking against them


@dataclass
class Sealed:
    sha256: str
    seq: int
    head: str
    made_at: str
    timestamped: bool


@dataclass
class CheckpointReport:
    ok: bool
    #: The newest checkpoint whose seal verifies (None: there is none yet).
    latest: Sealed | None
    problems: list[str]

    def describe(self) -> str:
        if self.latest is None:
            return "no sealed checkpoint yet (run `flask portal audit checkpoint`)"
        stamp = ", time-stamped" if self.latest.timestamped else ""
        return f"matches the sealed checkpoint of {self.latest.made_at} (entry {self.latest.seq}{stamp})"


def _names(store: ArchiveStore, chain: int) -> list[str]:
    """Every checkpoint object in the store (else, for a store that cannot list, the database's list)."""
    try:
        return list(store.names())
    except NotImplementedError:
        return list(session.scalars(select(AuditCheckpoint.object_sha256).where(AuditCheckpoint.chain == chain)))


def _open(store: ArchiveStore, sha: str, chain: int, school: Any) -> tuple[Sealed | None, str | None]:
    """The checkpoint in object *sha* if its seal verifies for this chain, else a problem."""
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    from portal.records.keys import seal_identity

    try:
        document = json.loads(store.get(sha))
        payload = document["payload"].encode()
        data = json.loads(payload)
        signed = cms.ContentInfo.load(base64.b64decode(document["cms"]))["content"]
    except (ArchiveError, OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"checkpoint {sha[:12]}… cannot be read ({type(exc).__name__})"
    if data.get("format") != FORMAT or data.get("chain") != chain:
        return None, None  # another chain's (a school's archive holds only its own; stray files are ignored)
    uid = school.uid if school is not None else None
    if chain != INSTALLATION_CHAIN and data.get("school") != uid:
        return None, f"checkpoint {sha[:12]}… names another school"
    identity = seal_identity(school)
    context = ValidationContext(trust_roots=identity.all_roots, allow_fetching=False)
    try:
        status = aio.run(lambda: async_validate_detached_cms(payload, signed, signer_validation_context=context))
    except Exception as exc:  # noqa: BLE001 - any failure to validate is a seal that does not verify
        return None, f"checkpoint {sha[:12]}…: its seal cannot be checked ({type(exc).__name__})"
    from portal.records.keys import fingerprint

    if not (status.intact and status.valid) or fingerprint(status.signing_cert) not in identity.known_fingerprints:
        return None, f"checkpoint {sha[:12]}…: its seal does not verify with the school's certificate"
    return Sealed(sha, int(data["seq"]), str(data["head"]), str(data["made_at"]), _has_timestamp(signed)), None


def _has_timestamp(signed: cms.SignedData) -> bool:
    """Whether the seal carries an RFC 3161 time stamp (an unsigned attribute of the signer)."""
    for info in signed["signer_infos"]:
        attrs = info["unsigned_attrs"]
        if attrs.native and any(a["type"].native == "signature_time_stamp_token" for a in attrs):
            return True
    return False


def check_chain(chain: int) -> CheckpointReport:
    """Check the chain's current end against its newest verifying checkpoint."""
    from portal.records.keys import SealingKeyMissing

    school = _school(chain)
    if school is None:
        return CheckpointReport(True, None, [])
    store = checkpoint_store(chain)
    problems: list[str] = []
    sealed: list[Sealed] = []
    names = _names(store, chain)
    try:
        for sha in names:
            found, problem = _open(store, sha, chain, school)
            if problem:
                problems.append(problem)
            if found is not None:
                sealed.append(found)
    except SealingKeyMissing as exc:
        return CheckpointReport(False, None, [f"the school's certificate is missing, so checkpoints cannot be "
                                              f"checked: {exc}"])
    noted = set(session.scalars(select(AuditCheckpoint.object_sha256).where(AuditCheckpoint.chain == chain)))
    for sha in sorted(noted - set(names)):
        problems.append(f"checkpoint {sha[:12]}… is listed in the database but missing from the archive")
    if not sealed:
        return CheckpointReport(not problems, None, problems)
    latest = max(sealed, key=lambda s: (s.seq, s.made_at))
    with all_schools(session):
        at = session.scalar(select(AuditEntry.hash).where(AuditEntry.chain == chain, AuditEntry.seq == latest.seq))
        last = session.scalar(select(AuditEntry.seq).where(AuditEntry.chain == chain)
                              .order_by(AuditEntry.seq.desc()).limit(1)) or 0
    if latest.seq and at is None:
        problems.append(f"TRUNCATED: the sealed checkpoint of {latest.made_at} saw {latest.seq} entries "
                        f"(head {latest.head}); the log now ends at entry {last}")
    elif latest.seq and at != latest.head:
        problems.append(f"REWRITTEN: entry {latest.seq} no longer has the hash the sealed checkpoint of "
                        f"{latest.made_at} recorded")
    return CheckpointReport(not problems, latest, problems)


__all__ = ["AuditCheckpoint", "CheckpointError", "CheckpointReport", "check_chain", "checkpoint_store",
           "make_checkpoint"]
