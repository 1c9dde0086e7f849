"""A school leaves (or joins) an installation: export, import, remove.

The export is a folder::

    manifest.json          format, version, schema revision, the school, row counts, the SHA-256 of
                           every other file, the audit chain's length and head, and
                           ``missing_attachments`` (stored names of attachments whose file was
                           already lost in the exporting installation)
    school.json            the school's own row (settings, designations, trust)
    accounts.jsonl         the sign-in accounts of the school's people: email and name, never
                           passwords (people set a new one in the receiving installation)
    tables/<table>.jsonl   every row the school owns, one JSON object per line, by primary key
    files/records/<sha256>.pdf      the sealed PDFs, byte for byte
    files/attachments/<name>        concern attachments
    files/agreements/<name>         scans of parents' signed paper slips (paper agreements the office
                                    recorded); ``missing_agreement_scans`` as for attachments
    files/keys/<sha256>.cert.pem    the school's sealing certificates (public parts only), so its
                                    records still verify as the school's after the move

Nothing of any other school is read: every table is selected by ``school_id``. ``import``
checks every file against the manifest (no file missing, added, changed or outside this layout;
every data file readable with the rows the manifest counts; the file of every sealed record and
attachment present) and the audit chain before writing anything, gives every
row a new id (ids of the receiving installation never clash), and keeps the audit entries as
they were (their hashes cover the old ids; ``import_id`` records the id offsets). ``remove``
deletes a school only after checking that an export of its current state exists (its rows and
its own row are exactly as exported, not only its audit chain head).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Date, DateTime, Integer, Table, delete, func, insert, select, text, update

from portal import audit
from portal.db import Base, session, utcnow
from portal.schools.isolation import SchoolOwned, all_schools, school_scope
from portal.schools.models import School, Trust

FORMAT = "countersign-school-export"
VERSION = 1
#: Columns of the school row copied as they are.
SCHOOL_FIELDS = ("uid", "slug", "name", "urn", "phases", "academic_year_start_month", "academic_year_start_day",
                 "official_channel", "helpline_contact")
DESIGNATIONS = ("head_teacher_id", "dsl_id", "chair_of_governors_id")


class TransferError(RuntimeError):
    """The export, import or removal cannot go ahead (the message says why; nothing was written)."""


Progress = Callable[[str, int], Any]


def _no_progress(label: str, total: int) -> Any:
    return nullcontext(_Bar())


class _Bar:
    def update(self, n: int) -> None:
        return None


# ---------------------------------------------------------------- what a school owns


def school_tables(*, operational: bool = False) -> list[Table]:
    """Every table of school data, parents before children (the order rows are inserted in).

    Tables of operational state whose model says ``__transfer__ = False`` (background jobs' failures
    and done-marks, which name rows by id) are neither exported nor imported; with *operational*
    they are listed too (removing a school deletes them). Derived tables (``__portal_derived__``,
    e.g. the stored compliance counts) are not the school's data either: the importing installation
    counts again; they too are listed only with *operational*."""
    import portal.models  # noqa: F401  (every model registered)

    # A declarative model's local table is its Table (typed as the general FromClause).
    owned = {cast(Table, m.local_table).name for m in Base.registry.mappers if issubclass(m.class_, SchoolOwned)
             and (operational or (getattr(m.class_, "__transfer__", True)
                                  and not getattr(m.class_, "__portal_derived__", False)))}
    return [t for t in Base.metadata.sorted_tables if t.name in owned]


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _decoder(table: Table) -> Callable[[dict[str, Any]], dict[str, Any]]:
    kinds: dict[str, str] = {}
    for col in table.columns:
        impl = getattr(col.type, "impl", col.type)
        if isinstance(impl, DateTime):
            kinds[col.name] = "datetime"
        elif isinstance(impl, Date):
            kinds[col.name] = "date"

    def decode(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for name, kind in kinds.items():
            v = out.get(name)
            if v is None:
                continue
            out[name] = dt.datetime.fromisoformat(v) if kind == "datetime" else dt.date.fromisoformat(v)
        return out

    return decode


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 16):
            h.update(block)
    return h.hexdigest()


def _rows(table: Table, school_id: int) -> Iterator[dict[str, Any]]:
    pk = list(table.primary_key.columns)
    stmt = select(table).where(table.c.school_id == school_id).order_by(*pk)
    for row in session.execute(stmt.execution_options(yield_per=1000)).mappings():
        yield {k: _encode(v) for k, v in row.items()}


def _lines(table: Table, school_id: int) -> Iterator[str]:
    """The lines of ``tables/<table>.jsonl`` for the school as it is now."""
    for row in _rows(table, school_id):
        yield json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n"


def _school_json(school: School) -> str:
    """The text of ``school.json`` for the school as it is now."""
    school_row = {f: getattr(school, f) for f in SCHOOL_FIELDS}
    school_row.update({f: getattr(school, f) for f in DESIGNATIONS})
    school_row["trust"] = {"slug": school.trust.slug, "name": school.trust.name} if school.trust else None
    return json.dumps(school_row, indent=2, sort_keys=True)


def _revision() -> str | None:
    from portal.migrate import VERSION_TABLE

    try:
        return session.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except Exception:  # noqa: BLE001 - a database made by create_all (tests) has no version table
        session.rollback()
        return None


# ---------------------------------------------------------------- export


def export_school(school: School, out: Path, *, progress: Progress = _no_progress) -> dict[str, Any]:
    """Write everything *school* owns to the folder *out* (new or empty); returns the manifest.

    Audited in the school's chain (before the rows are read, so the export holds that entry)
    and in the installation's chain.
    """
    from portal.concerns.storage import path_of
    from portal.records.archive import ArchiveError, archive_store
    from portal.records.keys import CHAIN_FILE, RETIRED_DIR, school_keys_dir

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TransferError(f"{out} is not an empty folder; choose a new one.")
    with school_scope(session, school.id):
        audit.record("school.exported", slug=school.slug)
        session.commit()
        count, head = audit.chain_head()
        tables_dir, files_dir = out / "tables", out / "files"
        for d in (tables_dir, files_dir / "records", files_dir / "attachments", files_dir / "agreements",
                  files_dir / "keys"):
            d.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "schema_revision": _revision(),
            "exported_at": utcnow().isoformat(),
            "school": {"uid": school.uid, "slug": school.slug, "name": school.name},
            "audit_chain": {"entries": count, "head": head},
            "tables": {}, "files": {},
        }
        (out / "school.json").write_text(_school_json(school), encoding="utf-8")

        tables = school_tables()
        with progress("Tables", len(tables)) as bar:
            for table in tables:
                path = tables_dir / f"{table.name}.jsonl"
                n = 0
                with path.open("w", encoding="utf-8", newline="\n") as fh:
                    for line in _lines(table, school.id):
                        fh.write(line)
                        n += 1
                manifest["tables"][table.name] = {"rows": n}
                bar.update(1)

        from portal.people.models import Account, Person

        account_ids = select(Person.account_id).where(Person.school_id == school.id, Person.account_id.is_not(None))
        with (out / "accounts.jsonl").open("w", encoding="utf-8") as fh:
            for a in session.scalars(select(Account).where(Account.id.in_(account_ids)).order_by(Account.id)):
                fh.write(json.dumps({"id": a.id, "email": a.email, "display_name": a.display_name,
                                     "active": a.active}, sort_keys=True) + "\n")

        from portal.concerns.models import ConcernAttachment
        from portal.records.models import RecordFile, RecordStatus, SignedRecord

        store = archive_store(school)
        # Only records that have a PDF (the query leaves out an empty pdf_sha256).
        shas = cast(list[str], list(session.scalars(select(SignedRecord.pdf_sha256).where(
            SignedRecord.status == RecordStatus.SEALED.value, SignedRecord.pdf_sha256.is_not(None)))))
        # Every earlier version of a record (before a time stamp was added) stays genuine: export them too.
        shas += sorted(set(session.scalars(select(RecordFile.sha256))) - set(shas))
        with progress("Sealed PDFs", len(shas)) as bar:
            for sha in shas:
                try:
                    data = store.get(sha)
                except ArchiveError as exc:
                    raise TransferError(f"The archived PDF {sha[:12]}… cannot be read: {exc}") from None
                (files_dir / "records" / f"{sha}.pdf").write_bytes(data)
                bar.update(1)
        missing: list[str] = []
        for name in session.scalars(select(ConcernAttachment.stored_name).order_by(ConcernAttachment.id)):
            src = path_of(name)
            if src.is_file():
                shutil.copyfile(src, files_dir / "attachments" / name)
            else:  # already lost here: said so, so that import and remove know it is not the export's fault
                missing.append(name)
        manifest["missing_attachments"] = missing
        from portal.signatures.models import OfflineAgreement

        lost_scans: list[str] = []
        scans = [scan for scan in session.scalars(select(OfflineAgreement.scan_stored_name)
                                                  .where(OfflineAgreement.scan_stored_name.is_not(None))
                                                  .order_by(OfflineAgreement.id))
                 if scan is not None]
        for name in scans:
            src = path_of(name, "agreements")
            if src.is_file():
                shutil.copyfile(src, files_dir / "agreements" / name)
            else:
                lost_scans.append(name)
        manifest["missing_agreement_scans"] = lost_scans
        keys = school_keys_dir(school)
        certs = [keys / "school-seal.cert.pem", *sorted((keys / RETIRED_DIR).glob("*.cert.pem"))]
        # The issuer's certificates (the trust's root): the receiving installation trusts them for this
        # school's records, so they still verify there.
        chain = keys / CHAIN_FILE
        if chain.is_file():
            from cryptography import x509 as _x509
            from cryptography.hazmat.primitives.serialization import Encoding

            for i, c in enumerate(_x509.load_pem_x509_certificates(chain.read_bytes())):
                part = files_dir / "keys" / f"chain-{i}.tmp"
                part.write_bytes(c.public_bytes(Encoding.PEM))
                part.rename(files_dir / "keys" / f"{_sha256_file(part)}.cert.pem")
        for cert in certs:
            if cert.is_file():
                shutil.copyfile(cert, files_dir / "keys" / f"{_sha256_file(cert)}.cert.pem")

    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        manifest["files"][rel] = _sha256_file(path)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    audit.record("school.exported", school=None, slug=school.slug, uid=school.uid,
                 manifest_sha256=_sha256_file(out / "manifest.json"))
    return manifest


# ---------------------------------------------------------------- checking an export


def read_export(folder: Path) -> dict[str, Any]:
    """The manifest of *folder*, after checking every file against it and the audit chain.

    :raises TransferError: not an export, a file missing, added or changed, or a broken chain.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise TransferError(f"{folder} has no readable manifest.json: it is not a school export.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise TransferError(f"{folder}/manifest.json is not a Countersign school export.")
    if manifest.get("version") != VERSION:
        raise TransferError(f"This export is version {manifest.get('version')}; this installation reads {VERSION}.")
    listed = manifest.get("files") or {}
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"manifest.json"}
    problems = [f"{name} is missing" for name in sorted(set(listed) - present)]
    problems += [f"{name} is not in the manifest" for name in sorted(present - set(listed))]
    for name in sorted(set(listed) & present):
        if _sha256_file(folder / name) != listed[name]:
            problems.append(f"{name} does not match its checksum")
    tables = manifest.get("tables") or {}
    for name in tables:
        if f"tables/{name}.jsonl" not in listed:
            problems.append(f"tables/{name}.jsonl is missing")
    for name in sorted(listed):
        if not _LAYOUT.match(name):
            problems.append(f"{name} is not part of a school export")
        elif name.startswith("files/records/") and listed[name] != name[len("files/records/"):-len(".pdf")]:
            problems.append(f"{name} does not match its name")
    if problems:
        raise TransferError("The export is damaged: " + "; ".join(problems[:10]) + ".")
    _check_rows(folder, manifest)
    _check_chain(folder, manifest)
    return manifest


#: Every file an export may hold (anything else is refused).
_LAYOUT = re.compile(r"^(school\.json|accounts\.jsonl|tables/portal_[a-z0-9_]+\.jsonl|files/records/[0-9a-f]{64}\.pdf"
                     r"|files/attachments/[A-Za-z0-9_-]{20,80}|files/agreements/[A-Za-z0-9_-]{20,80}"
                     r"|files/keys/[0-9a-f]{64}\.cert\.pem)$")


def _read_rows(folder: Path, rel: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        for row in _jsonl(folder / rel):
            if not isinstance(row, dict):
                raise TypeError(rel)
            rows.append(row)
    except (OSError, ValueError, TypeError):
        raise TransferError(f"The export is damaged: {rel} is not readable at line {len(rows) + 1}.") from None
    return rows


def _check_rows(folder: Path, manifest: dict[str, Any]) -> None:
    """Every data file reads, holds the rows the manifest counts, and the export holds the file of
    every sealed record and attachment its rows name (so nothing fails half-way through an import)."""
    listed = manifest.get("files") or {}
    try:
        school = json.loads((folder / "school.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        school = None
    if not isinstance(school, dict) or any(f not in school for f in (*SCHOOL_FIELDS, *DESIGNATIONS)):
        raise TransferError("The export is damaged: school.json is not readable.")
    if not isinstance(manifest.get("school"), dict) or manifest["school"].get("uid") != school["uid"]:
        raise TransferError("The export is damaged: school.json is not the school its manifest names.")
    for row in _read_rows(folder, "accounts.jsonl"):
        if not {"id", "email", "display_name", "active"} <= set(row):
            raise TransferError("The export is damaged: accounts.jsonl has an incomplete row.")
    problems: list[str] = []
    for name, info in (manifest.get("tables") or {}).items():
        rows = _read_rows(folder, f"tables/{name}.jsonl")
        want = info.get("rows") if isinstance(info, dict) else None
        if len(rows) != want:
            problems.append(f"tables/{name}.jsonl holds {len(rows)} rows, not {want}")
        if name == "portal_signed_records":
            for row in rows:
                sha = row.get("pdf_sha256")
                if row.get("status") == "sealed" and f"files/records/{sha}.pdf" not in listed:
                    problems.append(f"the sealed PDF {str(sha)[:12]}… of record {row.get('id')} is not in it")
        elif name == "portal_record_files":
            for row in rows:
                if f"files/records/{row.get('sha256')}.pdf" not in listed:
                    problems.append(f"the PDF {str(row.get('sha256'))[:12]}… of record {row.get('record_id')} "
                                    "is not in it")
        elif name == "portal_concern_attachments":
            lost = set(manifest.get("missing_attachments") or [])
            for row in rows:
                stored = row.get("stored_name")
                if f"files/attachments/{stored}" not in listed and stored not in lost:
                    problems.append(f"the file of attachment {row.get('id')} is not in it")
        elif name == "portal_offline_agreements":
            lost = set(manifest.get("missing_agreement_scans") or [])
            for row in rows:
                stored = row.get("scan_stored_name")
                if stored and f"files/agreements/{stored}" not in listed and stored not in lost:
                    problems.append(f"the scan of paper agreement {row.get('id')} is not in it")
    if problems:
        raise TransferError("The export is damaged: " + "; ".join(problems[:10]) + ".")


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _check_chain(folder: Path, manifest: dict[str, Any]) -> None:
    from portal.audit.models import GENESIS, AuditEntry

    path = folder / "tables" / "portal_audit_log.jsonl"
    rows = _read_rows(folder, "tables/portal_audit_log.jsonl") if path.exists() else []
    prev, seq = GENESIS, 0
    try:
        rows.sort(key=lambda r: r["seq"])
        for row in rows:
            seq += 1
            entry = AuditEntry(seq=row["seq"], created_at=dt.datetime.fromisoformat(row["created_at"]),
                               actor_id=row["actor_id"], action=row["action"], target_type=row["target_type"],
                               target_id=row["target_id"], data=row["data"], prev_hash=row["prev_hash"])
            if row["seq"] != seq or row["prev_hash"] != prev or entry.compute_hash() != row["hash"]:
                raise TransferError(f"The export's audit log does not verify at entry {seq}.")
            prev = row["hash"]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise TransferError(f"The export's audit log does not verify at entry {max(seq, 1)}.") from None
    want = manifest.get("audit_chain") or {}
    # The export's own "school.exported" entry is the newest one it holds, so an export always
    # has entries: an emptied log does not end where the manifest says either.
    if (want.get("entries"), want.get("head")) != (len(rows), prev):
        raise TransferError("The export's audit log does not end where its manifest says.")


# ---------------------------------------------------------------- import


def import_school(folder: Path, *, trust_slug: str | None = None, progress: Progress = _no_progress) -> School:
    """Load an export into this installation as a new school (flushes; the caller commits).

    :raises TransferError: a damaged export, a slug or school already here, an unknown trust, a
        schema from another version, or an LTI deployment another school here already uses.
    """
    from portal.people.models import Account

    folder = Path(folder)
    manifest = read_export(folder)
    data = json.loads((folder / "school.json").read_text(encoding="utf-8"))
    if session.scalar(select(School.id).where(School.slug == data["slug"])) is not None:
        raise TransferError(f"This installation already has a school with the slug {data['slug']!r}.")
    if session.scalar(select(School.id).where(School.uid == data["uid"])) is not None:
        raise TransferError(f"This installation already holds this school ({data['name']}).")
    here = _revision()
    if manifest.get("schema_revision") and here and manifest["schema_revision"] != here:
        raise TransferError(f"The export was made at schema {manifest['schema_revision']}; this installation is at "
                            f"{here}. Upgrade the older one first (flask portal db upgrade).")
    trust = None
    if trust_slug:
        trust = session.scalar(select(Trust).where(Trust.slug == trust_slug))
        if trust is None:
            raise TransferError(f"There is no trust {trust_slug!r} here.")
    tables = {t.name: t for t in school_tables()}
    unknown = set(manifest["tables"]) - set(tables)
    if unknown:
        raise TransferError(f"The export has tables this installation does not know: {', '.join(sorted(unknown))}.")
    _check_lti_clash(folder)

    first = session.scalar(select(School.id).limit(1)) is None
    slug = data["slug"]
    school = School(**{f: data[f] for f in SCHOOL_FIELDS}, trust=trust,
                    keys_path="" if first else f"schools/{slug}", archive_prefix="" if first else f"schools/{slug}")
    session.add(school)
    session.flush()

    accounts: dict[int, int] = {}
    for row in _jsonl(folder / "accounts.jsonl"):
        existing = session.scalar(select(Account.id).where(Account.email == row["email"])) if row["email"] else None
        if existing is None:
            acct = Account(email=row["email"], display_name=row["display_name"], active=row["active"])
            session.add(acct)
            session.flush()
            existing = acct.id
        accounts[row["id"]] = existing

    def top(table: Table) -> int:
        # The highest id over every school (installation-wide on purpose: the imported rows go above it).
        return int(session.scalar(select(func.coalesce(func.max(table.c.id), 0))
                                  .execution_options(portal_unscoped_ok=True)) or 0)

    audit_table = tables["portal_audit_log"]
    offsets: dict[str, int] = {}
    for name, table in tables.items():
        if table is not audit_table and "id" in table.c and isinstance(table.c.id.type, Integer):
            offsets[name] = top(table)
    # The offsets that translate the imported entries' actor_id/target_id are in the entry; the
    # audit log's own offset is taken after it, so no imported entry can take that entry's id.
    record = audit.record("school.imported", school=None, slug=slug, uid=data["uid"],
                          manifest_sha256=_sha256_file(folder / "manifest.json"), offsets=offsets)
    import_id = record.id
    offsets[audit_table.name] = top(audit_table)

    ordered = [t for t in school_tables() if t.name in manifest["tables"]]
    with progress("Tables", len(ordered)) as bar:
        for table in ordered:
            rows = [_remap(table, r, school.id, offsets, accounts, import_id)
                    for r in _jsonl(folder / "tables" / f"{table.name}.jsonl")]
            decode = _decoder(table)
            for i in range(0, len(rows), 1000):
                session.execute(insert(table), [decode(r) for r in rows[i:i + 1000]])
            bar.update(1)
    _fix_sequences(tables.values())

    people_offset = offsets.get("portal_people", 0)
    session.execute(update(School).where(School.id == school.id).values(
        **{f: (data[f] + people_offset if data.get(f) is not None else None) for f in DESIGNATIONS}))
    session.flush()
    session.expire(school)
    _copy_files(folder, school)
    with school_scope(session, school.id):
        audit.record("school.imported", slug=slug, entries_before=manifest["audit_chain"]["entries"])
    return school


def _remap(table: Table, row: dict[str, Any], school_id: int, offsets: dict[str, int], accounts: dict[int, int],
           import_id: int) -> dict[str, Any]:
    out = dict(row)
    out["school_id"] = school_id
    if table.name == "portal_audit_log":
        out["id"] = row["id"] + offsets[table.name]
        out["chain"] = school_id
        out["import_id"] = import_id
        return out  # actor_id and target_id are covered by the hash: kept as they were
    for col in table.columns:
        value = row.get(col.name)
        if value is None or col.name == "school_id":
            continue
        if col.name == "id" and table.name in offsets:
            out["id"] = value + offsets[table.name]
            continue
        for fk in col.foreign_keys:
            target = fk.column.table.name
            if target == "portal_accounts":
                out[col.name] = accounts.get(value)
            elif target in offsets:
                out[col.name] = value + offsets[target]
    if table.name == "portal_classroom_sessions":
        from portal.classroom.models import ClassroomSession

        with all_schools(session):
            taken = session.scalar(select(ClassroomSession.id).where(ClassroomSession.code == row["code"]))
        if taken is not None:  # a join code is unique in an installation; an old session's can change
            out["code"] = f"X{out['id']:011d}"[-12:]
    return out


def _fix_sequences(tables: Any) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        if "id" in table.c and isinstance(table.c.id.type, Integer):
            session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table.name}), 1))"))


def _check_lti_clash(folder: Path) -> None:
    from portal.lti.models import LtiRegistration

    path = folder / "tables" / "portal_lti_registrations.jsonl"
    if not path.exists():
        return
    with all_schools(session):
        here = session.execute(select(LtiRegistration.issuer, LtiRegistration.client_id,
                                      LtiRegistration.deployment_ids)).all()
    used = {(i, c, d) for i, c, ds in here for d in (ds or [])}
    for row in _jsonl(path):
        for d in row.get("deployment_ids") or []:
            if (row["issuer"], row["client_id"], d) in used:
                raise TransferError(f"LTI deployment {d} of {row['issuer']} is already registered for a school here; "
                                    "remove that registration first.")


def _copy_files(folder: Path, school: School) -> None:
    """Put the export's PDFs, attachments and certificates in place; all or nothing (whatever
    this call wrote is removed again if any part fails)."""
    from portal.concerns.storage import path_of
    from portal.records.archive import archive_store
    from portal.records.keys import RETIRED_DIR, school_keys_dir

    store = archive_store(school)
    pdfs = sorted((folder / "files" / "records").glob("*.pdf"))
    attachments = [(att, path_of(att.name)) for att in sorted((folder / "files" / "attachments").glob("*"))]
    attachments += [(scan, path_of(scan.name, "agreements"))
                    for scan in sorted((folder / "files" / "agreements").glob("*"))]
    for att, target in attachments:
        if target.exists():
            raise TransferError(f"An attachment named {att.name} already exists here.")
    certs = sorted((folder / "files" / "keys").glob("*.cert.pem"))
    retired = school_keys_dir(school) / RETIRED_DIR
    put: list[str] = []
    written: list[Path] = []
    try:
        for pdf in pdfs:
            if not store.exists(pdf.stem):
                put.append(pdf.stem)
            if store.put(pdf.read_bytes()) != pdf.stem:
                raise TransferError(f"{pdf.name} does not match its name.")
        for att, target in attachments:
            target.parent.mkdir(parents=True, exist_ok=True)
            written.append(target)
            shutil.copyfile(att, target)
        if certs:
            retired.mkdir(parents=True, exist_ok=True)
            for cert in certs:
                if not (retired / cert.name).exists():
                    written.append(retired / cert.name)
                    shutil.copyfile(cert, retired / cert.name)
    except BaseException:
        for sha in put:
            store.dispose(sha)
        for path in written:
            path.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- removal


def _export_is_current(school: School, manifest: dict[str, Any]) -> bool:
    """Whether every row the school owns (and its own row) is exactly as the export holds it:
    not every change is audited (a roster sync, a setting), so the chain head alone is not enough."""
    files = manifest.get("files") or {}
    if hashlib.sha256(_school_json(school).encode("utf-8")).hexdigest() != files.get("school.json"):
        return False
    for table in school_tables():
        digest = hashlib.sha256()
        for line in _lines(table, school.id):
            digest.update(line.encode("utf-8"))
        if digest.hexdigest() != files.get(f"tables/{table.name}.jsonl"):
            return False
    return True


def remove_school(school: School, exported_to: Path) -> None:
    """Delete *school*, its rows, sealed PDFs, attachments and keys, and accounts used by no one
    else (flushes; the caller commits). Refused unless *exported_to* is a complete export of the
    school as it is now (its audit chain ends where the school's does)."""
    from portal.concerns.models import ConcernAttachment
    from portal.concerns.storage import path_of
    from portal.people.models import Account, Person
    from portal.records.archive import archive_store
    from portal.records.keys import CERT_FILE, CHAIN_FILE, KEY_FILE, RETIRED_DIR, school_keys_dir
    from portal.records.models import RecordFile, SignedRecord
    from portal.schools.models import TrustMembership

    manifest = read_export(exported_to)
    if manifest["school"]["uid"] != school.uid:
        raise TransferError(f"{exported_to} is the export of another school ({manifest['school']['name']}).")
    with school_scope(session, school.id):
        head = audit.chain_head()
        attachments = list(session.scalars(select(ConcernAttachment.stored_name)))
        from portal.signatures.models import OfflineAgreement

        # Both queries leave out the empty values (agreements without a scan, records without a PDF).
        scans = cast(list[str], list(session.scalars(select(OfflineAgreement.scan_stored_name)
                                                     .where(OfflineAgreement.scan_stored_name.is_not(None)))))
        shas = cast(set[str], set(session.scalars(select(SignedRecord.pdf_sha256)
                                                  .where(SignedRecord.pdf_sha256.is_not(None)))))
        shas |= set(session.scalars(select(RecordFile.sha256)))
        account_ids = set(session.scalars(select(Person.account_id).where(Person.account_id.is_not(None))))
        current = _export_is_current(school, manifest)
    if (head[0], head[1]) != (manifest["audit_chain"]["entries"], manifest["audit_chain"]["head"]) \
            or not current:
        raise TransferError("The school has changed since that export was made; export it again first.")
    session.execute(update(School).where(School.id == school.id).values(
        head_teacher_id=None, dsl_id=None, chair_of_governors_id=None))
    session.execute(update(Account).where(Account.last_school_id == school.id).values(last_school_id=None))
    with school_scope(session, school.id):
        for table in reversed(school_tables(operational=True)):
            session.execute(delete(table).where(table.c.school_id == school.id))
    # Accounts that were only this school's go too (an account is personal data).
    with all_schools(session):
        still_used = set(session.scalars(select(Person.account_id).where(Person.account_id.in_(account_ids))))
    trust_held = set(session.scalars(select(TrustMembership.account_id).where(
        TrustMembership.account_id.in_(account_ids))))
    orphans = account_ids - still_used - trust_held
    if orphans:
        session.execute(delete(Account).where(Account.id.in_(orphans)))
    slug, uid = school.slug, school.uid
    store = archive_store(school)
    keys_dir, own_keys_dir = school_keys_dir(school), bool(school.keys_path)
    session.execute(delete(School).where(School.id == school.id))
    from portal.audit.checkpoints import AuditCheckpoint

    # The database's notes of the chain's checkpoints go with it (the sealed objects stay archived).
    session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.chain == school.id))
    session.flush()
    audit.record("school.removed", school=None, slug=slug, uid=uid, accounts_removed=len(orphans),
                 manifest_sha256=_sha256_file(Path(exported_to) / "manifest.json"))
    for name in attachments:
        path_of(name).unlink(missing_ok=True)
    for name in scans:
        path_of(name, "agreements").unlink(missing_ok=True)
    for sha in shas:  # the write-once archive's explicit disposal path (the export holds the copies)
        store.dispose(sha)
    if own_keys_dir:
        shutil.rmtree(keys_dir, ignore_errors=True)
    else:  # the first school keeps its key in PORTAL_KEYS_DIR itself, beside the other schools' folders
        for name in (KEY_FILE, CERT_FILE, CHAIN_FILE):
            (keys_dir / name).unlink(missing_ok=True)
        shutil.rmtree(keys_dir / RETIRED_DIR, ignore_errors=True)
