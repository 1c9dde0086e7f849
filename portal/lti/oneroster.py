"""OneRoster import: 1.1 and 1.2 CSV exports (a zip file or a folder) and records pulled from a
OneRoster REST service (:mod:`portal.lti.oneroster_rest`), built on the roster import.

This module reads: the files, ``manifest.csv`` and the CSV rows, into a :class:`Dataset` whose
records each know their place in the uploaded file (``users.csv row 5``). The conversion to one
roster CSV, and the few changes the roster CSV cannot express, are in
:mod:`portal.lti.oneroster_convert`. Errors are always named by the OneRoster file and row they
came from; nothing is written when there is any.

Files (header names as in the standard; other files of the binding are allowed and not read):

``manifest.csv``      propertyName, value: ``oneroster.version`` (1.1 or 1.2) and, per file,
                      ``file.users`` = ``bulk``, ``delta`` or ``absent``
``orgs.csv``          sourcedId, name, type, identifier
``users.csv``         sourcedId, status, enabledUser, givenName, familyName, email, grades,
                      agentSourcedIds; in 1.1 also role and orgSourcedIds
``roles.csv``         (1.2) userSourcedId, role, roleType, orgSourcedId, beginDate, endDate
``classes.csv``       sourcedId, status, title, grades, classType, schoolSourcedId
``enrollments.csv``   classSourcedId, userSourcedId, role, status
``demographics.csv``  sourcedId (the user's), birthDate (optional)

Schools: ``orgs.csv`` rows of type ``school`` map to the installation's schools, by
``identifier`` = the school's URN, by the same name, or by an explicit ``--org SOURCEDID=SLUG``.
Users belong to the orgs of their roles, classes to their ``schoolSourcedId``; each school gets
only its own. A file with one school goes wholly into the school being imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from portal.messages import N_, Message
from portal.people.models import Person
from portal.people.roster import (
    RosterError,
    csv_problem,
    other_separator,
    place,
    repeated_columns,
    unclosed_quote,
)

#: Columns of the OneRoster files besides the required ones, to recognise a header separated by semicolons or
#: tabs even in a file that requires one column (demographics.csv).
OTHER_COLUMNS = ("status", "dateLastModified", "birthDate", "sex", "givenName", "familyName", "role", "email",
                 "title", "classCode", "userSourcedId", "classSourcedId", "schoolSourcedId", "name", "type")

#: The files Countersign reads.
DATA_FILES = ("orgs.csv", "users.csv", "roles.csv", "classes.csv", "enrollments.csv", "demographics.csv")
MANIFEST = "manifest.csv"
#: The other files of the OneRoster 1.1 and 1.2 CSV bindings: allowed, not read.
OTHER_FILES = (
    "academicSessions.csv", "categories.csv", "classResources.csv", "courseResources.csv", "courses.csv",
    "lineItems.csv", "resources.csv", "results.csv", "userProfiles.csv", "userResources.csv", "scoreScales.csv",
    "lineItemScoreScales.csv", "resultScoreScales.csv", "lineItemLearningObjectiveIds.csv",
    "resultLearningObjectiveIds.csv",
)
#: Without a manifest (or when the manifest lists them), a full export has these.
BULK_FILES = ("orgs.csv", "users.csv", "classes.csv", "enrollments.csv")
VERSIONS = ("1.0", "1.1", "1.2")
MODES = ("absent", "bulk", "delta")
REQUIRED_COLUMNS = {
    "1.1": {
        "orgs.csv": ("sourcedId", "name", "type"),
        "users.csv": ("sourcedId", "role", "givenName", "familyName"),
        "classes.csv": ("sourcedId", "title"),
        "enrollments.csv": ("classSourcedId", "userSourcedId", "role"),
        "demographics.csv": ("sourcedId",),
    },
    "1.2": {
        "orgs.csv": ("sourcedId", "name", "type"),
        "users.csv": ("sourcedId", "givenName", "familyName"),
        "roles.csv": ("userSourcedId", "role", "orgSourcedId"),
        "classes.csv": ("sourcedId", "title"),
        "enrollments.csv": ("classSourcedId", "userSourcedId", "role"),
        "demographics.csv": ("sourcedId",),
    },
}
MAX_MEMBERS = 50


def parse_grade(value: str) -> str | None:
    """OneRoster grade -> roster year_group (``N``, ``R``, ``1``..``13``), or None."""
    v = value.strip().upper()
    if v == "PK":
        return "N"
    if v == "KG":
        return "R"
    if v.isdecimal() and 1 <= int(v) <= 13:
        return str(int(v))
    return None


def split_list(value: str) -> list[str]:
    """A OneRoster list (comma separated) -> its items."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


# ---------------------------------------------------------------- records


@dataclass
class Rec:
    """One record: a CSV row (or a REST object), with its place for messages."""

    where: str
    data: dict[str, str]
    #: It came from a delta file (changed rows only; ``tobedeleted`` means deleted).
    delta: bool = False

    @property
    def sid(self) -> str:
        return self.data.get("sourcedId", "")

    @property
    def deleted(self) -> bool:
        return self.data.get("status", "").strip().lower() == "tobedeleted"

    @property
    def live(self) -> bool:
        """Not deleted, and (for users) not switched off in the source."""
        return not self.deleted and self.data.get("enabledUser", "true").strip().lower() not in ("false", "0", "no")


@dataclass
class RoleRec:
    """One role of a user in an org (1.2: a ``roles.csv`` row; 1.1: the user's ``role`` column)."""

    role: str
    org: str
    primary: bool
    where: str
    live: bool = True
    #: The column that named the org, for messages.
    org_column: str = "orgSourcedIds"


@dataclass
class Dataset:
    """Everything read from one export; ``None`` means the file was not in it."""

    version: str = "1.1"
    orgs: list[Rec] | None = None
    users: list[Rec] | None = None
    #: user sourcedId -> their roles.
    roles: dict[str, list[RoleRec]] = field(default_factory=dict)
    classes: list[Rec] | None = None
    enrollments: list[Rec] | None = None
    demographics: list[Rec] | None = None
    #: Files holding changed rows only (from the manifest).
    delta: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    #: ``files`` (a CSV export) or ``rest`` (records pulled from a service).
    source: str = "files"

    def name(self, file: str) -> str:
        """How to call one of the export's files in a message (``users.csv``, or the service's users)."""
        return file if self.source == "files" else f"the service's {file.removesuffix('.csv')}"


class Bundle(dict):
    """File name -> content of the files Countersign reads; :attr:`present` also names the
    export's files it does not read (for checking the manifest)."""

    def __init__(self, *args: Any, present: set[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.present = set(present or ()) | set(self)


def _present(files: dict[str, bytes]) -> set[str]:
    return getattr(files, "present", set(files))


# ---------------------------------------------------------------- reading


def read_zip(data: bytes, *, max_unzipped: int) -> Bundle:
    """The CSV files of a OneRoster zip, guarded against zip bombs and odd paths.

    Members are read into memory (never extracted to disk); names must be plain file names,
    optionally inside one top-level folder; the declared and the actual sizes are both capped.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise RosterError([N_("The file is not a zip file (or it is damaged).")]) from None
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise RosterError([Message(N_("The zip file has %(num)s entries; a OneRoster export has at most two dozen."),
                                   num=len(infos))])
    out = Bundle()
    total = 0
    for info in infos:
        if info.is_dir():
            continue
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or len(path.parts) > 2 or ":" in info.filename:
            raise RosterError([Message(N_("The zip file has an entry with an unsafe name: %(name)r."),
                                       name=info.filename[:80])])
        name = path.name
        if name in OTHER_FILES:
            out.present.add(name)
            continue
        if name not in DATA_FILES and name != MANIFEST:
            continue
        if name in out:
            raise RosterError([Message(N_("The zip file has %(file)s more than once."), file=name)])
        if info.file_size > max_unzipped or total + info.file_size > max_unzipped:
            raise RosterError([Message(N_("%(file)s: the unzipped files are larger than %(mb)s MB."), file=name,
                                       mb=max_unzipped // 1048576)])
        with zf.open(info) as fh:
            content = fh.read(max_unzipped - total + 1)
        total += len(content)
        if total > max_unzipped:
            raise RosterError([Message(N_("%(file)s: the unzipped files are larger than %(mb)s MB."), file=name,
                                       mb=max_unzipped // 1048576)])
        out[name] = content
        out.present.add(name)
    return out


def read_folder(folder: Path, *, max_unzipped: int) -> Bundle:
    out = Bundle()
    total = 0
    for name in (*DATA_FILES, MANIFEST):
        path = folder / name
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            total += size
            if total > max_unzipped:
                raise RosterError(
                    [Message(N_("%(file)s: the files are larger than %(mb)s MB in total."), file=name,
                             mb=max_unzipped // 1048576)]
                )
            out[name] = path.read_bytes()
    out.present |= {name for name in OTHER_FILES if (folder / name).is_file()} | set(out)
    return out


def _rows(name: str, data: bytes, errors: list[str], required: tuple[str, ...]) -> tuple[list[Rec], list[str]]:
    """The data rows of one CSV file (each numbered by its line in the file) and its header."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        errors.append(Message(N_("%(file)s: the file is not UTF-8 text."), file=name))
        return [], []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        errors.append(csv_problem(exc, place(name, 1)))
        return [], []
    if not header:
        errors.append(Message(N_("%(file)s: the file is empty."), file=name))
        return [], []
    if len(header) == 1 and (separator := other_separator(text, name, (*required, *OTHER_COLUMNS))):
        errors.append(separator)
        return [], header
    missing = [c for c in required if c not in header]
    if missing:
        errors.append(Message(N_("%(where)s: missing column(s) %(columns)s."), where=place(name, 1),
                              columns=", ".join(missing)))
        return [], header
    if twice := repeated_columns(header, place(name, 1)):
        errors.append(twice)
        return [], header
    rows = []
    number = reader.line_num  # the last line read (the header's)
    try:
        for raw in reader:
            before = number
            # line_num is the file's line (blank lines are skipped by the reader, not renumbered).
            number = reader.line_num
            if unclosed := _unclosed_quote(raw):
                errors.append(unclosed_quote(place(name, _first_line(text, before + 1)), unclosed))
                break  # the rows after it were read into it
            if None in raw:
                errors.append(Message(N_("%(where)s: more values than columns."), where=place(name, number)))
                continue
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            if any(row.values()):
                rows.append(Rec(place(name, number), row))
    except csv.Error as exc:
        # The reader has not counted the line it gave up on.
        errors.append(csv_problem(exc, place(name, reader.line_num + 1)))
    return rows, header


def _unclosed_quote(raw: dict[Any, Any]) -> str | None:
    """The column where a quotation mark left open seems to have joined the lines after it into one
    value: the value holds a line break and the row has too few or too many values (a value written
    over two lines on purpose keeps the row's shape)."""
    named = {k: v for k, v in raw.items() if k is not None}
    broken = next((k for k, v in named.items() if v and ("\n" in v or "\r" in v)), None)
    if broken is None or (None not in raw and None not in named.values()):
        return None
    return broken.strip()


def _first_line(text: str, line: int) -> int:
    """*line*, or the first line after it that is not blank (the reader skips blank lines)."""
    lines = io.StringIO(text, newline="").readlines()  # split as the reader splits them
    while line < len(lines) and not lines[line - 1].strip("\r\n"):
        line += 1
    return line


def read_manifest(files: dict[str, bytes], errors: list[str], warnings: list[str]) -> tuple[str | None, dict[str, str]]:
    """``(oneroster.version or None, {file name: bulk|delta|absent})`` from ``manifest.csv``."""
    if MANIFEST not in files:
        return None, {}
    rows, _ = _rows(MANIFEST, files[MANIFEST], errors, ("propertyName", "value"))
    props: dict[str, tuple[str, Rec]] = {}
    for r in rows:
        name = r.data["propertyName"]
        if name in props:
            errors.append(Message(N_("%(where)s: %(name)s is already given on %(other)s."), where=r.where, name=name,
                                  other=props[name][1].where))
            continue
        props[name] = (r.data["value"], r)
    version = None
    if "oneroster.version" in props:
        version, r = props["oneroster.version"]
        if version not in VERSIONS:
            errors.append(Message(N_("%(where)s: oneroster.version %(value)r is not 1.1 or 1.2."), where=r.where,
                                  value=version))
            version = None
    modes: dict[str, str] = {}
    present = _present(files)
    for name, (value, r) in props.items():
        if not name.startswith("file."):
            continue
        file = name[5:] + ".csv"
        mode = value.strip().lower()
        if mode not in MODES:
            errors.append(Message(N_("%(where)s: %(name)s must be absent, bulk or delta (got %(value)r)."),
                                  where=r.where, name=name, value=value))
            continue
        modes[file] = mode
        if mode != "absent" and file not in present:
            errors.append(Message(N_("%(where)s: the manifest lists %(file)s as %(mode)s, but the export has no "
                                     "%(file)s."), where=r.where, file=file, mode=mode))
        elif mode == "absent" and file in files and file in DATA_FILES:
            warnings.append(Message(N_("%(file)s is in the export but %(where)s says it is absent, so it was not "
                                       "read."), file=file, where=r.where))
    return version, modes


def _detect_version(manifest_version: str | None, files: dict[str, bytes]) -> str:
    if manifest_version in ("1.1", "1.2"):
        return manifest_version
    if manifest_version == "1.0":
        return "1.1"
    if "roles.csv" in files:
        return "1.2"
    head = files.get("users.csv", b"").decode("utf-8-sig", "replace").splitlines()[:1]
    columns = {c.strip() for c in head[0].split(",")} if head else set()
    return "1.2" if columns and "role" not in columns and "primaryOrgSourcedId" in columns else "1.1"


def _live_on(r: Rec, today: dt.date) -> bool:
    """A 1.2 role row is live when not deleted and today is within its begin and end dates."""
    if r.deleted:
        return False
    try:
        begin = dt.date.fromisoformat(r.data["beginDate"][:10]) if r.data.get("beginDate") else None
        end = dt.date.fromisoformat(r.data["endDate"][:10]) if r.data.get("endDate") else None
    except ValueError:
        return True  # an unreadable date does not end a role
    return (begin is None or begin <= today) and (end is None or today < end)


def read_dataset(files: dict[str, bytes]) -> Dataset:
    """Read an export's files into a :class:`Dataset`.

    :raises RosterError: every problem found in the files' shape (missing files or columns,
        unreadable rows, a bad manifest), by file and row.
    """
    errors: list[str] = []
    warnings: list[str] = []
    manifest_version, modes = read_manifest(files, errors, warnings)
    version = _detect_version(manifest_version, files)
    ds = Dataset(version=version, warnings=warnings)
    ds.delta = {name for name, mode in modes.items() if mode == "delta"}
    used = {name for name in DATA_FILES if name in files and modes.get(name) != "absent"}
    if not modes:  # no manifest: a OneRoster 1.0/1.1-style full export
        missing = [name for name in BULK_FILES if name not in files]
        if missing:
            errors.append(Message(
                N_("%(files)s is missing (a OneRoster export needs %(needed)s, or a manifest.csv saying which files "
                   "it has).") if len(missing) == 1 else
                N_("%(files)s are missing (a OneRoster export needs %(needed)s, or a manifest.csv saying which "
                   "files it has)."), files=", ".join(missing), needed=", ".join(BULK_FILES)))
    if version == "1.2" and "users.csv" in used and "roles.csv" not in used and "users.csv" not in ds.delta:
        errors.append(N_("roles.csv is missing: in OneRoster 1.2 each user's role and school are in roles.csv."))
    if errors:
        raise RosterError(errors)
    tables: dict[str, list[Rec]] = {}
    for name in DATA_FILES:
        if name not in used:
            continue
        if name == "roles.csv" and version != "1.2":
            warnings.append(N_("roles.csv was not read: it belongs to OneRoster 1.2, and this export is 1.1."))
            continue
        rows, _ = _rows(name, files[name], errors, REQUIRED_COLUMNS[version][name])
        for r in rows:
            r.delta = name in ds.delta
        tables[name] = rows
    if errors:
        raise RosterError(errors)
    ds.orgs = tables.get("orgs.csv")
    ds.users = tables.get("users.csv")
    ds.classes = tables.get("classes.csv")
    ds.enrollments = tables.get("enrollments.csv")
    ds.demographics = tables.get("demographics.csv")
    today = dt.date.today()
    if version == "1.2":
        for r in tables.get("roles.csv", []):
            ds.roles.setdefault(r.data["userSourcedId"], []).append(RoleRec(
                role=r.data["role"], org=r.data["orgSourcedId"], primary=r.data.get("roleType", "") == "primary",
                where=r.where, live=_live_on(r, today), org_column="orgSourcedId"))
    else:
        for r in ds.users or []:
            orgs = split_list(r.data.get("orgSourcedIds", "")) or [""]
            ds.roles[r.sid] = [RoleRec(role=r.data["role"], org=o, primary=True, where=r.where) for o in orgs]
    return ds


# ---------------------------------------------------------------- schools


def school_orgs(files: dict[str, bytes] | Dataset) -> list[dict[str, str]]:
    """The ``orgs.csv`` rows of type ``school`` (each a dict of its columns)."""
    if not isinstance(files, Dataset):
        if "orgs.csv" not in files:
            raise RosterError([N_("orgs.csv is missing (a OneRoster export needs it to name its schools).")])
        errors: list[str] = []
        rows, _ = _rows("orgs.csv", files["orgs.csv"], errors, ("sourcedId", "name", "type"))
        if errors:
            raise RosterError(errors)
    else:
        if files.orgs is None:
            raise RosterError([N_("orgs.csv is missing (a OneRoster export needs it to name its schools).")])
        rows = files.orgs
    return [r.data for r in rows if r.data.get("type", "").strip().lower() == "school"]


def orgs_by_school(files: dict[str, bytes] | Dataset, schools: list,
                   explicit: dict[str, str] | None = None) -> dict[int, set[str]]:
    """{school id: org sourcedIds} for the schools the export's school orgs map to.

    An org maps to the school named for it in *explicit* (sourcedId -> slug), else to the school
    whose URN is the org's ``identifier``, else to the school of the same name.

    :raises RosterError: an explicit mapping names an unknown org or school.
    """
    explicit = explicit or {}
    orgs = school_orgs(files)
    known = {o["sourcedId"] for o in orgs}
    by_slug = {s.slug: s for s in schools}
    errors = [f"--org {org}: orgs.csv has no school with that sourcedId." for org in explicit if org not in known]
    errors += [f"--org {org}={slug}: there is no school {slug!r}." for org, slug in explicit.items()
               if slug not in by_slug]
    if errors:
        raise RosterError(errors)
    out: dict[int, set[str]] = {}
    for org in orgs:
        sid = org["sourcedId"]
        school = by_slug.get(explicit.get(sid, ""))
        if school is None:
            ident = (org.get("identifier") or "").strip()
            school = next((s for s in schools if s.urn and s.urn == ident), None) if ident else None
        if school is None:
            name = (org.get("name") or "").strip().lower()
            school = next((s for s in schools if s.name.strip().lower() == name), None)
        if school is not None:
            out.setdefault(school.id, set()).add(sid)
    return out


def _orgs_for_current_school(ds: Dataset) -> set[str] | None:
    from portal.schools.models import School

    if ds.orgs is None:
        return None  # a delta without orgs.csv: everything goes to the school importing it
    found = school_orgs(ds)
    if len(found) <= 1:
        return None
    school = School.get()
    mine = orgs_by_school(ds, [school]).get(school.id) if school is not None else None
    if not mine:
        names = ", ".join(f"{o['sourcedId']} ({o.get('name', '')})" for o in found)
        raise RosterError([Message(N_("orgs.csv: this export holds several schools (%(names)s) and none has this "
                                      "school's URN or name. Import it as the trust (flask portal import-oneroster "
                                      "--org SOURCEDID=SLUG)."), names=names)])
    return mine


# ---------------------------------------------------------------- importing


def as_dataset(files: dict[str, bytes] | Dataset) -> Dataset:
    return files if isinstance(files, Dataset) else read_dataset(files)


def import_oneroster(files: dict[str, bytes] | Dataset, *, actor: Person | None = None,
                     orgs: set[str] | None = None) -> Any:
    """Check and import a OneRoster export into the current school (flush only; the caller commits).

    :param files: the export's files (see :func:`read_zip`), or records already read.
    :param orgs: only these orgs' users and classes. By default: the file's one school org, or
        the orgs that map to the current school when the file holds several schools.
    :returns: a :class:`~portal.lti.oneroster_convert.OneRosterSummary` (``describe()``, ``warnings``).
    :raises RosterError: every problem, by OneRoster file and row; nothing has been written.
    """
    from portal.lti.oneroster_convert import apply

    ds = as_dataset(files)
    if orgs is None:
        orgs = _orgs_for_current_school(ds)
    return apply(ds, orgs=orgs, actor=actor)


def import_oneroster_schools(files: dict[str, bytes] | Dataset, mapping: dict[int, set[str]], *,
                             actor: Person | None = None) -> dict[int, Any]:
    """Import each school's part of a trust-wide export (flush only; the caller commits once, so
    it is all or nothing across the schools).

    :raises RosterError: every problem of every school; nothing has been written.
    """
    from portal.db import session
    from portal.schools.isolation import school_scope

    ds = as_dataset(files)
    out: dict[int, Any] = {}
    errors: list[str] = []
    for school_id, org_ids in mapping.items():
        with school_scope(session, school_id):
            try:
                out[school_id] = import_oneroster(ds, actor=actor, orgs=org_ids)
            except RosterError as exc:
                errors += exc.errors
    if errors:
        raise RosterError(errors)
    return out
