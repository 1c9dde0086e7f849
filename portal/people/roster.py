"""Roster import from one documented CSV file (see README, "Roster CSV").

Columns (header row required; unknown columns are an error, missing optional ones are fine):

``type``         one of ``class``, ``pupil``, ``parent``, ``staff``
``external_id``  the MIS identifier; rows are matched on it, so re-importing updates
``given_name``, ``family_name``  (not for classes)
``email``        required for parents and staff; optional for pupils
``year_group``   classes and pupils: ``N`` (Nursery), ``R`` (Reception) or 1-13
``date_of_birth`` pupils: ``YYYY-MM-DD``
``class_code``   pupils: the class ``external_id``
``class_name``   classes: the display name
``send``         pupils: ``yes`` to use the SEND version of their policy
``roles``        staff: ``;``-separated from teacher, support_staff, governor, volunteer,
                 contractor, auditor, admin
``children``     parents: ``;``-separated pupil ``external_id`` values
``teachers``     classes: ``;``-separated staff ``external_id`` values

The import is all-or-nothing: every row is checked first, and any error (named by file and
row) means nothing is written. Re-importing the same file changes nothing.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import func, select

from portal import audit
from portal.db import session
from portal.people.accounts import ensure_account
from portal.people.models import ClassTeacher, GuardianLink, Person, PupilProfile, Role, SchoolClass

COLUMNS = ("type", "external_id", "given_name", "family_name", "email", "year_group", "date_of_birth",
           "class_code", "class_name", "send", "roles", "children", "teachers")
REQUIRED_COLUMNS = ("type", "external_id")
STAFF_ROLE_NAMES = {"teacher", "support_staff", "governor", "volunteer", "contractor", "auditor", "admin", "visitor"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
MAX_ROWS = 20000


class RosterError(Exception):
    """The roster was refused; ``errors`` lists every problem found, by file and row."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors[:5]))
        self.errors = errors


@dataclass
class ImportSummary:
    created: dict[str, int] = field(default_factory=lambda: {"class": 0, "pupil": 0, "parent": 0, "staff": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"class": 0, "pupil": 0, "parent": 0, "staff": 0})
    unchanged: int = 0

    def describe(self) -> str:
        made = ", ".join(f"{n} {k}" for k, n in self.created.items() if n) or "nothing new"
        changed = ", ".join(f"{n} {k}" for k, n in self.updated.items() if n) or "nothing"
        return f"Created {made}; updated {changed}; {self.unchanged} row(s) already up to date."


@dataclass
class _Row:
    number: int
    data: dict[str, str]


def parse_year(value: str) -> int:
    v = value.strip().upper()
    if v == "N":
        return -1
    if v == "R":
        return 0
    if v.isdigit() and 1 <= int(v) <= 13:
        return int(v)
    raise ValueError


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def read_rows(data: bytes, filename: str) -> list[_Row]:
    """Decode and parse; raises :class:`RosterError` for an unreadable file or header."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError([f"{filename}: the file is not UTF-8 text (save it as 'CSV UTF-8')."]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise RosterError([f"{filename}: the file is empty."])
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    errors = []
    if unknown:
        errors.append(f"{filename} row 1: unknown column(s) {', '.join(unknown)}.")
    if missing:
        errors.append(f"{filename} row 1: missing column(s) {', '.join(missing)}.")
    if errors:
        raise RosterError(errors)
    rows = []
    try:
        for i, raw in enumerate(reader, start=2):
            if None in raw:
                raise RosterError([f"{filename} row {i}: more values than columns."])
            if i - 1 > MAX_ROWS:
                raise RosterError([f"{filename}: more than {MAX_ROWS} rows; split the file."])
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            if not any(row.values()):
                continue
            rows.append(_Row(i, row))
    except csv.Error as exc:
        raise RosterError([f"{filename} row {reader.line_num}: {exc}."]) from None
    if not rows:
        raise RosterError([f"{filename}: no rows after the header."])
    return rows


def import_roster(data: bytes, filename: str = "roster.csv", *, actor: Person | None = None) -> ImportSummary:
    """Check every row, then write them all (flush only; the caller commits).

    :raises RosterError: listing every problem; nothing has been written.
    """
    rows = read_rows(data, filename)
    errors: list[str] = []
    by_type: dict[str, list[_Row]] = {"staff": [], "class": [], "pupil": [], "parent": []}
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for r in rows:
        where = f"{filename} row {r.number}"
        kind = r.data.get("type", "").lower()
        if kind not in by_type:
            errors.append(f"{where}: type must be class, pupil, parent or staff (got {r.data.get('type')!r}).")
            continue
        ext = r.data.get("external_id", "")
        if not _ID.match(ext):
            errors.append(f"{where}: external_id is missing or has characters other than letters, digits and . _ : -")
            continue
        key = f"{'class' if kind == 'class' else 'person'}:{ext}"
        if key in seen_ids:
            errors.append(f"{where}: external_id {ext} already used on row {seen_ids[key]}.")
            continue
        seen_ids[key] = r.number
        errors.extend(_check_row(kind, r, where, seen_emails))
        by_type[kind].append(r)
    if errors:
        raise RosterError(errors)

    # References: resolved against the file and the database.
    file_people = {r.data["external_id"]: k for k in ("staff", "pupil", "parent") for r in by_type[k]}
    file_classes = {r.data["external_id"] for r in by_type["class"]}
    db_people = dict(session.execute(
        select(Person.external_id, Person.id).where(Person.external_id.is_not(None))).all())
    db_classes = set(session.scalars(select(SchoolClass.code)))
    for r in by_type["class"]:
        for t in _split(r.data.get("teachers", "")):
            if file_people.get(t, "staff" if t in db_people else None) != "staff":
                errors.append(f"{filename} row {r.number}: teacher {t} is not a staff row or known member of staff.")
    for r in by_type["pupil"]:
        code = r.data.get("class_code", "")
        if code and code not in file_classes and code not in db_classes:
            errors.append(f"{filename} row {r.number}: class_code {code} is not a class in this file or the portal.")
    for r in by_type["parent"]:
        for c in _split(r.data.get("children", "")):
            child_kind = file_people.get(c)
            if child_kind is None and c in db_people:
                person = session.get(Person, db_people[c])
                child_kind = "pupil" if person is not None and person.pupil is not None else "other"
            if child_kind != "pupil":
                errors.append(f"{filename} row {r.number}: child {c} is not a pupil in this file or the portal.")
    # Email uniqueness against people already in the portal.
    for email, number in seen_emails.items():
        owner = session.scalar(select(Person.external_id).where(func.lower(Person.email) == email))
        row = next(r for r in rows if r.number == number)
        if owner is not None and owner != row.data["external_id"]:
            errors.append(f"{filename} row {number}: email {email} already belongs to someone else in the portal.")
    if errors:
        raise RosterError(errors)

    summary = ImportSummary()
    with session.begin_nested():
        for r in by_type["staff"]:
            _apply_person(r, "staff", summary)
        session.flush()
        for r in by_type["class"]:
            _apply_class(r, summary)
        session.flush()
        for r in by_type["pupil"]:
            _apply_person(r, "pupil", summary)
        session.flush()
        for r in by_type["parent"]:
            _apply_person(r, "parent", summary)
        session.flush()
    audit.record("roster.imported", actor=actor, file=filename[:100], rows=len(rows),
                 created=summary.created, updated=summary.updated)
    return summary


#: Longest value accepted in each column (the database column's size, or a generous bound for
#: lists and short codes), so an over-long value is a row error rather than a database failure.
MAX_LENGTHS = {"type": 10, "external_id": 100, "given_name": 100, "family_name": 100, "email": 254,
               "year_group": 2, "date_of_birth": 10, "class_code": 50, "class_name": 100, "send": 3,
               "roles": 300, "children": 2000, "teachers": 2000}
#: Characters never accepted in a roster value: NUL and other control characters, and the
#: bidirectional overrides that make a name display differently from what it is.
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]")


def _check_values(kind: str, d: dict[str, str], where: str) -> list[str]:
    """Length and characters of every value in the row (one message per column)."""
    errs = []
    for col, value in d.items():
        bad = _BAD_CHARS.search(value)
        if bad:
            errs.append(f"{where}: {col} contains a control or invisible formatting character "
                        f"(U+{ord(bad.group()):04X}); remove it.")
        limit = 50 if (kind == "class" and col == "external_id") else MAX_LENGTHS.get(col, 100)
        if len(value) > limit:
            errs.append(f"{where}: {col} is longer than {limit} characters ({len(value)}).")
    for col in ("roles", "children", "teachers"):
        for item in _split(d.get(col, "")):
            if col != "roles" and not _ID.match(item):
                errs.append(f"{where}: {col} has an identifier with characters other than letters, digits "
                            "and . _ : -")
                break
    return errs


def _check_row(kind: str, r: _Row, where: str, seen_emails: dict[str, int]) -> list[str]:
    d = r.data
    errs: list[str] = _check_values(kind, d, where)
    if errs:
        return errs  # the other checks would only repeat the problem
    if kind == "class":
        if not d.get("class_name"):
            errs.append(f"{where}: class_name is required for a class.")
        try:
            parse_year(d.get("year_group", ""))
        except ValueError:
            errs.append(f"{where}: year_group must be N, R or 1 to 13.")
        return errs
    for col in ("given_name", "family_name"):
        if not d.get(col):
            errs.append(f"{where}: {col} is required.")
        elif len(d[col]) > 100:
            errs.append(f"{where}: {col} is longer than 100 characters.")
    email = d.get("email", "").lower()
    if kind in ("parent", "staff") and not email:
        errs.append(f"{where}: email is required for a {kind}.")
    if email:
        if not _EMAIL.match(email) or len(email) > 254:
            errs.append(f"{where}: email {email!r} is not an email address.")
        elif email in seen_emails:
            errs.append(f"{where}: email {email} already used on row {seen_emails[email]}.")
        else:
            seen_emails[email] = r.number
    if kind == "pupil":
        try:
            parse_year(d.get("year_group", ""))
        except ValueError:
            errs.append(f"{where}: year_group must be N, R or 1 to 13.")
        try:
            dob = dt.date.fromisoformat(d.get("date_of_birth", ""))
            if not dt.date(1990, 1, 1) <= dob <= dt.date.today():
                errs.append(f"{where}: date_of_birth {dob} is not a plausible pupil's birth date.")
        except ValueError:
            errs.append(f"{where}: date_of_birth must be a date written YYYY-MM-DD.")
        if d.get("send", "").lower() not in ("", "yes", "no"):
            errs.append(f"{where}: send must be yes, no or empty.")
    if kind == "staff":
        roles = _split(d.get("roles", ""))
        if not roles:
            errs.append(f"{where}: roles is required for staff (e.g. teacher).")
        bad = [x for x in roles if x not in STAFF_ROLE_NAMES]
        if bad:
            errs.append(f"{where}: unknown role(s) {', '.join(bad)}.")
    return errs


def _count(summary: ImportSummary, kind: str, created: bool, changed: bool) -> None:
    if created:
        summary.created[kind] += 1
    elif changed:
        summary.updated[kind] += 1
    else:
        summary.unchanged += 1


def _set(obj: object, attr: str, value: object) -> bool:
    if getattr(obj, attr) != value:
        setattr(obj, attr, value)
        return True
    return False


def _apply_class(r: _Row, summary: ImportSummary) -> None:
    d = r.data
    cls = session.scalar(select(SchoolClass).where(SchoolClass.code == d["external_id"]))
    created = cls is None
    if cls is None:
        cls = SchoolClass(code=d["external_id"], name=d["class_name"], year_group=parse_year(d["year_group"]))
        session.add(cls)
        session.flush()
    changed = _set(cls, "name", d["class_name"]) | _set(cls, "year_group", parse_year(d["year_group"]))
    wanted = set(_split(d.get("teachers", "")))
    current = {t.teacher.external_id: t for t in cls.teachers}
    for ext in wanted - set(current):
        teacher = session.scalar(select(Person).where(Person.external_id == ext))
        cls.teachers.append(ClassTeacher(teacher=teacher))
        changed = True
    for gone in set(current) - wanted:
        cls.teachers.remove(current[gone])
        changed = True
    _count(summary, "class", created, changed)


def _apply_person(r: _Row, kind: str, summary: ImportSummary) -> None:
    d = r.data
    person = session.scalar(select(Person).where(Person.external_id == d["external_id"]))
    created = person is None
    if person is None:
        person = Person(external_id=d["external_id"], given_name=d["given_name"], family_name=d["family_name"])
        session.add(person)
    changed = _set(person, "given_name", d["given_name"]) | _set(person, "family_name", d["family_name"])
    email = d.get("email", "").lower() or None
    if email or kind != "pupil":
        changed |= _set(person, "email", email)
    if email:
        ensure_account(person)
    roles = ({Role.PUPIL} if kind == "pupil" else {Role.PARENT} if kind == "parent"
             else {Role(x) for x in _split(d["roles"])})
    for role in roles:
        if not person.has_role(role):
            person.add_role(role)
            changed = True
    session.flush()
    if kind == "pupil":
        cls_id = None
        if d.get("class_code"):
            cls_id = session.scalar(select(SchoolClass.id).where(SchoolClass.code == d["class_code"]))
        profile = person.pupil
        values = {"year_group": parse_year(d["year_group"]), "date_of_birth": dt.date.fromisoformat(d["date_of_birth"]),
                  "class_id": cls_id, "send": d.get("send", "").lower() == "yes"}
        if profile is None:
            session.add(PupilProfile(person_id=person.id, **values))
            session.flush()
            session.refresh(person)
            changed = True
        else:
            for k, v in values.items():
                changed |= _set(profile, k, v)
    if kind == "parent":
        wanted = set(_split(d.get("children", "")))
        links = session.scalars(select(GuardianLink).where(GuardianLink.parent_id == person.id)).all()
        have = {link.pupil.external_id for link in links}
        for ext in wanted - have:
            pupil_id = session.scalar(select(Person.id).where(Person.external_id == ext))
            session.add(GuardianLink(parent_id=person.id, pupil_id=pupil_id))
            changed = True
        # Links are not removed by omission: a roster that lists a parent's children from one
        # school site only must not cut links the school added by hand.
    _count(summary, kind, created, changed)
