"""OneRoster 1.1 CSV import (a zip file or a folder of CSV files), built on the roster import.

Files (OneRoster 1.1 CSV binding; header names as in the standard):

``orgs.csv``          sourcedId, name, type (checked; the school itself is not stored)
``users.csv``         sourcedId, status, enabledUser, role, givenName, familyName, email, grades,
                      agentSourcedIds (pupils <-> their parents or guardians), orgSourcedIds
``classes.csv``       sourcedId, title, grades, classType (``homeroom`` classes are form groups)
``enrollments.csv``   classSourcedId, userSourcedId, role (``student`` or ``teacher``)
``demographics.csv``  sourcedId (the user's), birthDate (``YYYY-MM-DD``; required for pupils)

Roles: ``student`` -> pupil; ``teacher`` -> teacher; ``aide`` and ``administrator`` -> support
staff; ``parent``, ``guardian`` and ``relative`` -> parent. Rows with status ``tobedeleted`` or
``enabledUser`` false are left out. Grades: ``PK`` -> Nursery, ``KG`` -> Reception, ``01``-``13``.
Each pupil goes into their homeroom class (or their only class). Everything is checked first;
any error, named by file and row, means nothing is written. Importing again changes nothing.

Schools: ``orgs.csv`` rows of type ``school`` map to the installation's schools, by
``identifier`` = the school's URN, by the same name, or by an explicit ``--org SOURCEDID=SLUG``.
Users belong to the orgs in their ``orgSourcedIds``, classes to their ``schoolSourcedId``; each
school gets only its own. A file with one school goes wholly into the school being imported.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from portal.people.models import Person
from portal.people.roster import COLUMNS, ImportSummary, RosterError, import_roster

FILES = ("orgs.csv", "users.csv", "classes.csv", "enrollments.csv", "demographics.csv")
REQUIRED_FILES = ("orgs.csv", "users.csv", "classes.csv", "enrollments.csv")
OPTIONAL_FILES = ("manifest.csv", "academicSessions.csv", "courses.csv")
REQUIRED_COLUMNS = {
    "orgs.csv": ("sourcedId", "name", "type"),
    "users.csv": ("sourcedId", "role", "givenName", "familyName"),
    "classes.csv": ("sourcedId", "title"),
    "enrollments.csv": ("classSourcedId", "userSourcedId", "role"),
    "demographics.csv": ("sourcedId", "birthDate"),
}
ROLE_MAP = {
    "student": "pupil",
    "teacher": "staff",
    "aide": "staff",
    "administrator": "staff",
    "parent": "parent",
    "guardian": "parent",
    "relative": "parent",
}
STAFF_ROLE = {"teacher": "teacher", "aide": "support_staff", "administrator": "support_staff"}
MAX_MEMBERS = 50


def parse_grade(value: str) -> str | None:
    """OneRoster grade -> roster year_group (``N``, ``R``, ``1``..``13``), or None."""
    v = value.strip().upper()
    if v == "PK":
        return "N"
    if v == "KG":
        return "R"
    if v.isdigit() and 1 <= int(v) <= 13:
        return str(int(v))
    return None


@dataclass
class _Row:
    file: str
    number: int
    data: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.file} row {self.number}"


# ---------------------------------------------------------------- reading


def read_zip(data: bytes, *, max_unzipped: int) -> dict[str, bytes]:
    """The CSV files of a OneRoster zip, guarded against zip bombs and odd paths.

    Members are read into memory (never extracted to disk); names must be plain file names,
    optionally inside one top-level folder; the declared and the actual sizes are both capped.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise RosterError(["The file is not a zip file (or it is damaged)."]) from None
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise RosterError([f"The zip file has {len(infos)} entries; a OneRoster export has at most a dozen."])
    out: dict[str, bytes] = {}
    total = 0
    for info in infos:
        if info.is_dir():
            continue
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or len(path.parts) > 2 or ":" in info.filename:
            raise RosterError([f"The zip file has an entry with an unsafe name: {info.filename[:80]!r}."])
        name = path.name
        if name not in FILES and name not in OPTIONAL_FILES:
            continue
        if name in out:
            raise RosterError([f"The zip file has {name} more than once."])
        if info.file_size > max_unzipped or total + info.file_size > max_unzipped:
            raise RosterError([f"{name}: the unzipped files are larger than {max_unzipped // 1048576} MB."])
        with zf.open(info) as fh:
            content = fh.read(max_unzipped - total + 1)
        total += len(content)
        if total > max_unzipped:
            raise RosterError([f"{name}: the unzipped files are larger than {max_unzipped // 1048576} MB."])
        out[name] = content
    return out


def read_folder(folder: Path, *, max_unzipped: int) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    total = 0
    for name in FILES:
        path = folder / name
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            total += size
            if total > max_unzipped:
                raise RosterError(
                    [f"{name}: the files are larger than {max_unzipped // 1048576} MB in total."]
                )
            out[name] = path.read_bytes()
    return out


def _rows(name: str, data: bytes, errors: list[str]) -> list[_Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        errors.append(f"{name}: the file is not UTF-8 text.")
        return []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS[name] if c not in header]
    if not header:
        errors.append(f"{name}: the file is empty.")
        return []
    if missing:
        errors.append(f"{name} row 1: missing column(s) {', '.join(missing)}.")
        return []
    rows = []
    try:
        for i, raw in enumerate(reader, start=2):
            if None in raw:
                errors.append(f"{name} row {i}: more values than columns.")
                continue
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            if any(row.values()):
                rows.append(_Row(name, i, row))
    except csv.Error as exc:
        errors.append(f"{name} row {reader.line_num}: {exc}.")
    return rows


def _live(row: _Row) -> bool:
    return row.data.get("status", "").lower() != "tobedeleted" and row.data.get(
        "enabledUser", "true"
    ).lower() not in ("false", "0", "no")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


# ---------------------------------------------------------------- converting


def school_orgs(files: dict[str, bytes]) -> list[dict[str, str]]:
    """The ``orgs.csv`` rows of type ``school`` (each a dict of its columns)."""
    errors: list[str] = []
    if "orgs.csv" not in files:
        raise RosterError(["orgs.csv is missing (a OneRoster export needs it)."])
    rows = _rows("orgs.csv", files["orgs.csv"], errors)
    if errors:
        raise RosterError(errors)
    return [r.data for r in rows if r.data.get("type", "").strip().lower() == "school"]


def orgs_by_school(files: dict[str, bytes], schools: list, explicit: dict[str, str] | None = None) -> dict[int, set[str]]:
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


def to_roster(files: dict[str, bytes], *, orgs: set[str] | None = None) -> tuple[bytes, dict[int, str]]:
    """Convert OneRoster files to one roster CSV (see :mod:`portal.people.roster`).

    :param orgs: only the users and classes of these orgs (``None``: everyone in the file).
    :returns: the CSV bytes and, for each of its row numbers, the OneRoster file and row it came from.
    :raises RosterError: every problem found, by OneRoster file and row.
    """
    errors: list[str] = []
    for name in REQUIRED_FILES:
        if name not in files:
            errors.append(f"{name} is missing (a OneRoster export needs {', '.join(REQUIRED_FILES)}).")
    if errors:
        raise RosterError(errors)
    tables = {name: _rows(name, files[name], errors) for name in FILES if name in files}
    if errors:
        raise RosterError(errors)

    org_ids = {r.data["sourcedId"] for r in tables["orgs.csv"]}
    births = {r.data["sourcedId"]: (r.data["birthDate"], r) for r in tables.get("demographics.csv", [])}
    users: dict[str, _Row] = {}
    for r in tables["users.csv"]:
        sid = r.data["sourcedId"]
        if not sid:
            errors.append(f"{r.where}: sourcedId is empty.")
            continue
        if sid in users:
            errors.append(f"{r.where}: sourcedId {sid} already used on row {users[sid].number}.")
            continue
        role = r.data["role"].lower()
        if role not in ROLE_MAP:
            errors.append(f"{r.where}: role {r.data['role']!r} is not one of {', '.join(sorted(ROLE_MAP))}.")
            continue
        for org in _split(r.data.get("orgSourcedIds", "")):
            if org not in org_ids:
                errors.append(f"{r.where}: orgSourcedIds names {org}, which is not in orgs.csv.")
        users[sid] = r
    live_users = {sid: r for sid, r in users.items() if _live(r)
                  and (orgs is None or set(_split(r.data.get("orgSourcedIds", ""))) & orgs)}

    all_classes = {r.data["sourcedId"] for r in tables["classes.csv"] if r.data["sourcedId"]}
    classes = {r.data["sourcedId"]: r for r in tables["classes.csv"] if _live(r) and r.data["sourcedId"]
               and (orgs is None or not r.data.get("schoolSourcedId") or r.data["schoolSourcedId"] in orgs)}
    class_pupils: dict[str, list[str]] = {c: [] for c in classes}
    class_teachers: dict[str, list[str]] = {c: [] for c in classes}
    pupil_classes: dict[str, list[str]] = {}
    for r in tables["enrollments.csv"]:
        if not _live(r):
            continue
        cid, uid, role = r.data["classSourcedId"], r.data["userSourcedId"], r.data["role"].lower()
        if cid not in classes:
            if cid not in all_classes:
                errors.append(f"{r.where}: classSourcedId {cid} is not a class in classes.csv.")
            continue  # a class of another school (or one that has ended)
        if uid not in users:
            errors.append(f"{r.where}: userSourcedId {uid} is not a user in users.csv.")
            continue
        if uid not in live_users:
            continue
        if role == "student":
            class_pupils[cid].append(uid)
            pupil_classes.setdefault(uid, []).append(cid)
        elif role in ("teacher", "aide", "administrator"):
            class_teachers[cid].append(uid)

    # Guardians: agentSourcedIds may point either way (pupil -> parents, parent -> pupils).
    children: dict[str, set[str]] = {}
    for sid, r in live_users.items():
        kind = ROLE_MAP[r.data["role"].lower()]
        for agent in _split(r.data.get("agentSourcedIds", "")):
            other = live_users.get(agent)
            if agent not in users:
                errors.append(f"{r.where}: agentSourcedIds names {agent}, which is not in users.csv.")
            elif other is None:
                continue
            elif kind == "pupil" and ROLE_MAP[other.data["role"].lower()] == "parent":
                children.setdefault(agent, set()).add(sid)
            elif kind == "parent" and ROLE_MAP[other.data["role"].lower()] == "pupil":
                children.setdefault(sid, set()).add(agent)

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    origin: dict[int, str] = {}

    def emit(row: dict[str, str], source: _Row) -> None:
        origin[len(origin) + 2] = source.where
        writer.writerow(row)

    for sid, r in live_users.items():
        if ROLE_MAP[r.data["role"].lower()] == "staff":
            emit(
                {
                    "type": "staff",
                    "external_id": sid,
                    "given_name": r.data["givenName"],
                    "family_name": r.data["familyName"],
                    "email": r.data.get("email", ""),
                    "roles": STAFF_ROLE[r.data["role"].lower()],
                },
                r,
            )
    for cid, r in classes.items():
        grade = next((g for g in (parse_grade(x) for x in _split(r.data.get("grades", ""))) if g), None)
        if grade is None:  # fall back on the pupils' year group
            grades = {
                parse_grade(_split(live_users[p].data.get("grades", ""))[0])
                for p in class_pupils[cid]
                if _split(live_users[p].data.get("grades", ""))
            }
            grade = grades.pop() if len(grades) == 1 else None
        if grade is None:
            errors.append(
                f"{r.where}: grades is missing or not PK, KG or 01 to 13, and the class's pupils "
                f"do not share one grade."
            )
            continue
        emit(
            {
                "type": "class",
                "external_id": cid,
                "class_name": r.data["title"],
                "year_group": grade,
                "teachers": ";".join(sorted(set(class_teachers[cid]) & set(live_users))),
            },
            r,
        )
    for sid, r in live_users.items():
        if ROLE_MAP[r.data["role"].lower()] != "pupil":
            continue
        grades = _split(r.data.get("grades", ""))
        year = parse_grade(grades[0]) if grades else None
        if year is None:
            errors.append(
                f"{r.where}: grades must be PK, KG or 01 to 13 for a student (got {r.data.get('grades')!r})."
            )
        birth = births.get(sid)
        if birth is None or not birth[0]:
            errors.append(f"{r.where}: no birthDate for this student in demographics.csv.")
        mine = pupil_classes.get(sid, [])
        homerooms = [c for c in mine if classes[c].data.get("classType", "").lower() == "homeroom"]
        cls = homerooms[0] if len(homerooms) == 1 else (mine[0] if len(mine) == 1 and not homerooms else "")
        emit(
            {
                "type": "pupil",
                "external_id": sid,
                "given_name": r.data["givenName"],
                "family_name": r.data["familyName"],
                "email": r.data.get("email", ""),
                "year_group": year or "",
                "date_of_birth": birth[0] if birth else "",
                "class_code": cls,
            },
            r,
        )
    for sid, r in live_users.items():
        if ROLE_MAP[r.data["role"].lower()] == "parent":
            emit(
                {
                    "type": "parent",
                    "external_id": sid,
                    "given_name": r.data["givenName"],
                    "family_name": r.data["familyName"],
                    "email": r.data.get("email", ""),
                    "children": ";".join(sorted(children.get(sid, set()))),
                },
                r,
            )
    if errors:
        raise RosterError(errors)
    if not origin:
        raise RosterError(["users.csv: no active users to import."])
    return out.getvalue().encode(), origin


def import_oneroster(files: dict[str, bytes], *, actor: Person | None = None,
                     orgs: set[str] | None = None) -> ImportSummary:
    """Check and import a OneRoster export into the current school (flush only; the caller commits).

    :param orgs: only these orgs' users and classes. By default: the file's one school org, or
        the orgs that map to the current school when the file holds several schools.
    :raises RosterError: every problem, by OneRoster file and row; nothing has been written.
    """
    if orgs is None:
        orgs = _orgs_for_current_school(files)
    data, origin = to_roster(files, orgs=orgs)
    try:
        return import_roster(data, "oneroster", actor=actor)
    except RosterError as exc:
        raise RosterError([_relabel(e, origin) for e in exc.errors]) from None


def _orgs_for_current_school(files: dict[str, bytes]) -> set[str] | None:
    from portal.schools.models import School

    found = school_orgs(files)
    if len(found) <= 1:
        return None
    school = School.get()
    mine = orgs_by_school(files, [school]).get(school.id) if school is not None else None
    if not mine:
        names = ", ".join(f"{o['sourcedId']} ({o.get('name', '')})" for o in found)
        raise RosterError([f"orgs.csv: this export holds several schools ({names}) and none has this school's URN "
                           "or name. Import it as the trust (flask portal import-oneroster --org SOURCEDID=SLUG)."])
    return mine


def import_oneroster_schools(files: dict[str, bytes], mapping: dict[int, set[str]], *,
                             actor: Person | None = None) -> dict[int, ImportSummary]:
    """Import each school's part of a trust-wide export (flush only; the caller commits once, so
    it is all or nothing across the schools).

    :raises RosterError: every problem of every school; nothing has been written.
    """
    from portal.db import session
    from portal.schools.isolation import school_scope

    out: dict[int, ImportSummary] = {}
    errors: list[str] = []
    for school_id, org_ids in mapping.items():
        with school_scope(session, school_id):
            try:
                out[school_id] = import_oneroster(files, actor=actor, orgs=org_ids)
            except RosterError as exc:
                errors += exc.errors
    if errors:
        raise RosterError(errors)
    return out


def _relabel(message: str, origin: dict[int, str]) -> str:
    """``oneroster row 7: ...`` -> ``users.csv row 3: ...`` (the row the problem came from)."""
    prefix = "oneroster row "
    if message.startswith(prefix):
        number, _, rest = message[len(prefix) :].partition(":")
        if number.isdigit() and int(number) in origin:
            return f"{origin[int(number)]}:{rest}"
    return message.replace("oneroster", "OneRoster")
