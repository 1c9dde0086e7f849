"""Roster import from one documented CSV file (see README, "Roster CSV").

Columns (header row required; unknown columns and a column named twice are errors, missing optional ones
are fine):

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

A changed ``email`` for someone who already has a sign-in account is not applied: the account keeps its
address and the summary says so, since whoever holds the new address could otherwise take over the account
by asking for a password reset there (see :func:`_keep_addresses`); ``flask portal accounts change-email``
changes it.

The import is all-or-nothing: every row is checked first, and any error (named by file and
row) means nothing is written. Re-importing the same file changes nothing, and a re-import writes
only the rows that changed. There is no row limit: the school's current people, classes, roles,
profiles and links are read in a few set-based statements, compared in memory, and only the
differences are written with bulk statements (``school_id`` given explicitly), so the cost grows
with the file, not with a look-up per row. ``progress(stage, done, total)`` is told how far it is
(the command line shows a progress bar).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from babel.lists import format_list
from flask_babel import get_locale, gettext, ngettext
from sqlalchemy import String, any_, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from portal import audit
from portal.db import session, table_of, utcnow
from portal.messages import N_, Count, Message
from portal.people.folding import name_key
from portal.people.models import (
    Account,
    ClassTeacher,
    GuardianLink,
    Person,
    PersonRole,
    PupilProfile,
    Role,
    SchoolClass,
)
from portal.schools.isolation import ScopeError, get_scope

if TYPE_CHECKING:
    import psycopg

COLUMNS = ("type", "external_id", "given_name", "family_name", "email", "year_group", "date_of_birth",
           "class_code", "class_name", "send", "roles", "children", "teachers")
REQUIRED_COLUMNS = ("type", "external_id")
STAFF_ROLE_NAMES = {"teacher", "support_staff", "governor", "volunteer", "contractor", "auditor", "admin", "visitor"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
#: Rows per bulk statement, and per step of the progress report.
CHUNK = 2000


def place(filename: str, row: int | str) -> Message:
    """"roster.csv row 5": where a problem is (a value of the problem's sentence)."""
    return Message(N_("%(file)s row %(row)s"), file=filename, row=row)


def row_ref(row: int | str) -> Message:
    """"row 3": another row of the same file."""
    return Message(N_("row %(row)s"), row=row)


class RosterError(Exception):
    """The roster was refused; ``errors`` lists every problem found, by file and row (each a
    :class:`~portal.messages.Message`, or plain English: pages show them with ``shown``)."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors[:5]))
        self.errors = errors


@dataclass
class ImportSummary:
    created: dict[str, int] = field(default_factory=lambda: {"class": 0, "pupil": 0, "parent": 0, "staff": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"class": 0, "pupil": 0, "parent": 0, "staff": 0})
    unchanged: int = 0
    #: (row, name) of each person whose address was kept: they already have a sign-in account.
    kept: list[tuple[int, str]] = field(default_factory=list)
    #: Their external ids (a kept row with nothing else to change is not "already up to date").
    kept_ids: set[str] = field(default_factory=set)
    #: Where a row of the imported CSV came from, when that was made from other files (OneRoster:
    #: ``users.csv row 5``), so messages name the place the school can find.
    places: dict[int, str] = field(default_factory=dict)

    def kept_people(self) -> list[str]:
        """"Name (row N)", or "Name (users.csv row 5)", for each kept address, in the page's language."""
        return [gettext("%(name)s (%(where)s)", name=name, where=self.places[number]) if number in self.places
                else gettext("%(name)s (row %(row)s)", name=name, row=number) for number, name in self.kept]

    def describe(self) -> str:
        """The summary in English, on one line (what the command line prints)."""
        made = ", ".join(f"{n} {k}" for k, n in self.created.items() if n) or "nothing new"
        changed = ", ".join(f"{n} {k}" for k, n in self.updated.items() if n) or "nothing"
        kept = (f" Sign-in address NOT changed (a roster never moves an existing account; use `flask portal "
                f"accounts change-email`): {', '.join(self.kept_people())}.") if self.kept else ""
        return f"Created {made}; updated {changed}; {self.unchanged} row(s) already up to date.{kept}"

    def sentences(self) -> list[str]:
        """The summary in the page's language: one whole sentence per kind of change."""
        lines = [_created(kind, num) for kind, num in self.created.items() if num]
        lines += [_updated(kind, num) for kind, num in self.updated.items() if num]
        if not lines:
            lines.append(gettext("Nothing was created or updated."))
        if self.unchanged:
            lines.append(ngettext("%(num)s row was already up to date.", "%(num)s rows were already up to date.",
                                  self.unchanged))
        return lines

    def kept_sentence(self) -> str | None:
        """Whose new email address was not applied, and why, in the page's language (a warning of its own)."""
        if not self.kept:
            return None
        return ngettext(
            "The email address of %(names)s was not changed: they already have an account and sign in with "
            "their old address. An import never moves an account to a new address, because whoever reads the "
            "new one could then take the account over. Ask your IT support or portal administrator to change it "
            "(the command flask portal accounts change-email).",
            "The email addresses of %(names)s were not changed: they already have accounts and sign in with "
            "their old addresses. An import never moves an account to a new address, because whoever reads the "
            "new one could then take the account over. Ask your IT support or portal administrator to change them "
            "(the command flask portal accounts change-email).", len(self.kept),
            names=format_list(self.kept_people(), locale=get_locale() or "en_GB"))

    def shown(self) -> str:
        """:meth:`sentences` as one paragraph (the import page's flash)."""
        return " ".join(self.sentences())


def _created(kind: str, num: int) -> str:
    if kind == "class":
        return ngettext("Created %(num)s class.", "Created %(num)s classes.", num)
    if kind == "pupil":
        return ngettext("Created %(num)s pupil.", "Created %(num)s pupils.", num)
    if kind == "parent":
        return ngettext("Created %(num)s parent or carer.", "Created %(num)s parents or carers.", num)
    return ngettext("Created %(num)s member of staff.", "Created %(num)s members of staff.", num)


def _updated(kind: str, num: int) -> str:
    if kind == "class":
        return ngettext("Updated %(num)s class.", "Updated %(num)s classes.", num)
    if kind == "pupil":
        return ngettext("Updated %(num)s pupil.", "Updated %(num)s pupils.", num)
    if kind == "parent":
        return ngettext("Updated %(num)s parent or carer.", "Updated %(num)s parents or carers.", num)
    return ngettext("Updated %(num)s member of staff.", "Updated %(num)s members of staff.", num)


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
    if v.isdecimal() and 1 <= int(v) <= 13:
        return int(v)
    raise ValueError


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def read_rows(data: bytes, filename: str) -> list[_Row]:
    """Decode and parse; raises :class:`RosterError` for an unreadable file or header."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError([Message(N_("%(file)s: the file is not UTF-8 text (save it as 'CSV UTF-8')."),
                                   file=filename)]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise _unreadable(exc, filename, 1) from None
    if not header:
        raise RosterError([Message(N_("%(file)s: the file is empty."), file=filename)])
    if len(header) == 1 and (separator := other_separator(text, filename)):
        raise RosterError([separator])
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    errors: list[str] = []
    if unknown:
        errors.append(Message(N_("%(where)s: unknown column(s) %(columns)s."), where=place(filename, 1),
                              columns=", ".join(unknown)))
    if missing:
        errors.append(Message(N_("%(where)s: missing column(s) %(columns)s."), where=place(filename, 1),
                              columns=", ".join(missing)))
    if twice := repeated_columns(header, place(filename, 1)):
        errors.append(twice)
    if errors:
        raise RosterError(errors)
    rows = []
    last = 1  # the last row read: the header is row 1
    try:
        for number, raw in enumerate(reader, start=2):
            last = number
            # A line break inside a value comes from the file: the reader joins lines while a quotation
            # mark is open, so one left open swallows the rows after it (the row so far was one line).
            broken = next((k for k, v in raw.items() if k and v and ("\n" in v or "\r" in v)), None)
            if broken is not None:
                raise RosterError([unclosed_quote(place(filename, number), broken.strip())])
            if None in raw:
                raise RosterError([Message(N_("%(where)s: more values than columns."),
                                           where=place(filename, number))])
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            if not any(row.values()):
                continue
            rows.append(_Row(number, row))
    except csv.Error as exc:
        # The row after the last one read (reader.line_num counts lines, not rows, and not the line it gave up on).
        raise _unreadable(exc, filename, last + 1) from None
    if not rows:
        raise RosterError([Message(N_("%(file)s: no rows after the header."), file=filename)])
    return rows


#: What to say when the values are separated by something other than commas: Excel's "CSV" is
#: separated by semicolons where the comma is the decimal mark (much of Europe), and a sheet copied
#: out of a spreadsheet is separated by tabs.
_SEPARATORS = {
    ";": N_("%(file)s: the values are separated by semicolons (;), not commas. In Excel, save the file as "
            "'CSV UTF-8 (comma delimited)' and import it again."),
    "\t": N_("%(file)s: the values are separated by tabs, not commas. In Excel, save the file as "
             "'CSV UTF-8 (comma delimited)' and import it again."),
}


def other_separator(text: str, filename: str, known: Iterable[str] = COLUMNS) -> Message | None:
    """The file's separator in plain words, when its header (read as one column: no comma) is *known*
    columns separated by semicolons or tabs (also used by OneRoster)."""
    first = text.splitlines()[0]
    for separator, sentence in _SEPARATORS.items():
        names = {h.strip() for h in next(csv.reader([first], delimiter=separator))}
        if len(names & set(known)) >= 2:
            return Message(sentence, file=filename)
    return None


def repeated_columns(header: list[str], where: Message) -> Message | None:
    """A header naming a column twice (the reader keeps the last, so a second "email" would hide the
    first); also used by OneRoster."""
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if not twice:
        return None
    return Message(N_("%(where)s: column(s) %(columns)s appear more than once."), where=where,
                   columns=", ".join(twice))


def unclosed_quote(where: Message, column: str) -> Message:
    """A quotation mark left open in *column*: the reader joined the lines after it into one value (also
    used by OneRoster)."""
    return Message(N_("%(where)s: a quotation mark (\") in %(column)s seems not to be closed, so the value runs on "
                      "over the lines after it. Close or remove the quotation mark and import the file again."),
                   where=where, column=column)


def _unreadable(exc: csv.Error, filename: str, number: int) -> RosterError:
    return RosterError([csv_problem(exc, place(filename, number))])


def csv_problem(exc: csv.Error, where: str) -> Message:
    """What the CSV reader could not read, in plain words where we know them (also used by OneRoster)."""
    if "field limit" in str(exc):
        return Message(N_("%(where)s: a value is longer than %(limit)s characters."), where=where,
                       limit=Count(csv.field_size_limit()))
    return Message(N_("%(where)s: %(reason)s."), where=where, reason=str(exc))


def import_roster(data: bytes, filename: str = "roster.csv", *, actor: Person | None = None,
                  progress: Progress | None = None) -> ImportSummary:
    """Check every row, then write what changed (flush only; the caller commits).

    :param progress: called as ``progress(stage, done, total)`` while checking and writing.
    :raises RosterError: listing every problem; nothing has been written.
    """
    report = progress or (lambda stage, done, total: None)
    rows = read_rows(data, filename)
    errors: list[str] = []
    by_type: dict[str, list[_Row]] = {"staff": [], "class": [], "pupil": [], "parent": []}
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    # Rows refused below: a reference to one of them is not reported again (it is the row that is wrong).
    refused: set[str] = set()
    for i, r in enumerate(rows, start=1):
        if i % CHUNK == 0:
            report("Checking", i, len(rows))
        where = place(filename, r.number)
        kind = r.data.get("type", "").lower()
        if kind not in by_type:
            refused.add(r.data.get("external_id", ""))
            errors.append(Message(N_("%(where)s: type must be class, pupil, parent or staff (got %(value)r)."),
                                  where=where, value=r.data.get("type")))
            continue
        ext = r.data.get("external_id", "")
        if not _ID.match(ext):
            errors.append(Message(N_("%(where)s: external_id is missing or has characters other than letters, "
                                     "digits and . _ : -"), where=where))
            continue
        key = f"{'class' if kind == 'class' else 'person'}:{ext}"
        if key in seen_ids:
            errors.append(Message(N_("%(where)s: external_id %(id)s already used on %(other)s."), where=where, id=ext,
                                  other=row_ref(seen_ids[key])))
            continue
        seen_ids[key] = r.number
        row_errors = _check_row(kind, r, where, seen_emails)
        if row_errors:
            refused.add(ext)
            errors.extend(row_errors)
        by_type[kind].append(r)
    report("Checking", len(rows), len(rows))
    # Walk finding: the references below were checked only once every row was right, so an office fixed a file
    # twice (the bad email and role first, then the unknown class and child). Every problem is reported at once.

    school_id = _school_id()
    state = _SchoolState.load()
    # References: resolved against the file and the database.
    file_people = {r.data["external_id"]: k for k in ("staff", "pupil", "parent") for r in by_type[k]}
    file_classes = {r.data["external_id"] for r in by_type["class"]}
    for r in by_type["class"]:
        for t in _split(r.data.get("teachers", "")):
            if t in refused:
                continue
            known_staff = t in state.people and state.people[t].id not in state.pupil_ids
            if file_people.get(t, "staff" if known_staff else None) != "staff":
                errors.append(Message(N_("%(where)s: teacher %(id)s is not a staff row or known member of staff."),
                                      where=place(filename, r.number), id=t))
    for r in by_type["pupil"]:
        code = r.data.get("class_code", "")
        if code and code not in file_classes and code not in state.classes and code not in refused:
            errors.append(Message(N_("%(where)s: class_code %(code)s is not a class in this file or the portal."),
                                  where=place(filename, r.number), code=code))
    for r in by_type["parent"]:
        for c in _split(r.data.get("children", "")):
            if c in refused:
                continue
            child_kind = file_people.get(c)
            if child_kind is None and c in state.people:
                child_kind = "pupil" if state.people[c].id in state.pupil_ids else "other"
            if child_kind != "pupil":
                errors.append(Message(N_("%(where)s: child %(id)s is not a pupil in this file or the portal."),
                                      where=place(filename, r.number), id=c))
    # Email uniqueness against people already in the portal (whatever the case).
    owners = state.email_owners
    row_of = {r.number: r for r in rows}
    for email, number in seen_emails.items():
        owner = owners.get(email)
        if owner is not None and owner != row_of[number].data["external_id"]:
            errors.append(Message(N_("%(where)s: email %(email)s already belongs to someone else in the portal."),
                                  where=place(filename, number), email=email))
    if errors:
        raise RosterError(errors)

    summary = ImportSummary()
    summary.kept, summary.kept_ids = _keep_addresses(by_type, state)
    with session.begin_nested():
        _Writer(school_id, state, summary, report, len(rows)).run(by_type)
    session.expire_all()  # the bulk statements went around the session's objects
    audit.record("roster.imported", actor=actor, file=filename[:100], rows=len(rows),
                 created=summary.created, updated=summary.updated, addresses_kept=len(summary.kept))
    return summary


def _keep_addresses(by_type: dict[str, list[_Row]], state: _SchoolState) -> tuple[list[tuple[int, str]], set[str]]:
    """Rows that would move a person who already has a sign-in account to the account of another address keep
    the current address; returns them as (row, name) and their external ids.

    Finding (security probe): an office administrator changed the Head Teacher's address to their own in the
    roster, asked for a password reset at that address, and signed in as the Head; the same went for the DSL and
    any parent. The review then found that "an account in use" (a password or a second factor) was not enough: an
    account used only from the LMS, or an invitation not yet accepted, moved the same way. So no existing account
    moves; ``flask portal accounts change-email`` changes the address of an account, keeping it."""
    moving: dict[int, list[_Row]] = defaultdict(list)
    for kind in ("staff", "pupil", "parent"):
        for r in by_type[kind]:
            known = state.people.get(r.data["external_id"])
            if known is not None and known.account_id is not None and r.data.get("email"):
                moving[known.account_id].append(r)
    if not moving:
        return [], set()
    addresses: dict[int, str | None] = {}
    for chunk in _chunks(sorted(moving), 500):
        addresses.update((i, e) for i, e in session.execute(select(Account.id, Account.email)
                                                            .where(Account.id.in_(chunk))))
    kept = []
    for account_id, rows in moving.items():
        address = addresses.get(account_id)
        for r in rows:
            if address and r.data["email"].lower() != address:
                r.data["email"] = address  # as it is: nothing to change
                kept.append((r.number, f"{r.data['given_name']} {r.data['family_name']}", r.data["external_id"]))
    kept.sort()
    return [(number, name) for number, name, _ext in kept], {ext for _n, _name, ext in kept}


#: Longest value accepted in each column (the database column's size, or a generous bound for
#: lists and short codes), so an over-long value is a row error rather than a database failure.
MAX_LENGTHS = {"type": 10, "external_id": 100, "given_name": 100, "family_name": 100, "email": 254,
               "year_group": 2, "date_of_birth": 10, "class_code": 50, "class_name": 100, "send": 3,
               "roles": 300, "children": 2000, "teachers": 2000}
_CLASS_LENGTHS = {**MAX_LENGTHS, "external_id": 50}
#: Characters never accepted in a roster value: NUL and other control characters, and the
#: bidirectional overrides that make a name display differently from what it is.
UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]")


def _check_values(kind: str, d: dict[str, str], where: Message) -> list[str]:
    """Length and characters of every value in the row (one message per column)."""
    errs: list[str] = []
    # One search of the whole row first: a bad character is rare, so name its column only then.
    if UNSAFE_CHARS.search("".join(d.values())):
        for col, value in d.items():
            bad = UNSAFE_CHARS.search(value)
            if bad:
                errs.append(Message(N_("%(where)s: %(column)s contains a control or invisible formatting character "
                                       "(%(char)s); remove it."), where=where, column=col,
                                    char=f"U+{ord(bad.group()):04X}"))
    limits = _CLASS_LENGTHS if kind == "class" else MAX_LENGTHS
    for col, value in d.items():
        limit = limits.get(col, 100)
        if len(value) > limit:
            errs.append(Message(N_("%(where)s: %(column)s is longer than %(max)s characters (%(length)s)."),
                                where=where, column=col, max=limit, length=len(value)))
    for col in ("children", "teachers"):
        for item in _split(d.get(col, "")):
            if not _ID.match(item):
                errs.append(Message(N_("%(where)s: %(column)s has an identifier with characters other than "
                                       "letters, digits and . _ : -"), where=where, column=col))
                break
    return errs
Progress = Callable[[str, int, int], None]


def _school_id() -> int:
    scope = get_scope(session)
    if scope is None or scope.write is None:
        raise ScopeError("a roster is imported into one school: none is chosen")
    return scope.write


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class _Known:
    id: int
    given_name: str
    family_name: str
    email: str | None
    account_id: int | None
    name_key: str


class _SchoolState:
    """The school's people, classes and links as they are now, read in a few statements."""

    #: external id -> the person of this school who has it.
    people: dict[str, _Known]
    #: lower-cased address -> external id (or None) of the person of this school who has it.
    email_owners: dict[str, str | None]
    #: person id -> the roles they hold.
    roles: dict[int, set[str]]
    #: pupil id -> (year group, date of birth, class id, SEND) of their profile.
    profiles: dict[int, tuple[int, dt.date, int | None, bool]]
    pupil_ids: set[int]
    #: class code -> (class id, name, year group).
    classes: dict[str, tuple[int, str, int]]
    #: class id -> {teacher id: row id}.
    teachers: dict[int, dict[int, int]]
    #: (parent id, pupil id) of every guardian link.
    links: set[tuple[int, int]]

    @classmethod
    def load(cls) -> _SchoolState:
        self = cls()
        self.people = {}
        self.email_owners = {}
        for ext, pid, g, f, e, a, k in session.execute(
                select(Person.external_id, Person.id, Person.given_name, Person.family_name, Person.email,
                       Person.account_id, Person.name_key)):
            if ext is not None:
                self.people[ext] = _Known(pid, g, f, e, a, k)
            if e:
                self.email_owners[e.lower()] = ext
        self.roles = defaultdict(set)
        for pid, role in session.execute(select(PersonRole.person_id, PersonRole.role)):
            self.roles[pid].add(role)
        self.profiles = {pid: (yg, dob, cls_id, bool(send)) for pid, yg, dob, cls_id, send in session.execute(
            select(PupilProfile.person_id, PupilProfile.year_group, PupilProfile.date_of_birth,
                   PupilProfile.class_id, PupilProfile.send))}
        self.pupil_ids = set(self.profiles)
        self.classes = {code: (cid, name, yg) for code, cid, name, yg in session.execute(
            select(SchoolClass.code, SchoolClass.id, SchoolClass.name, SchoolClass.year_group))}
        self.teachers = defaultdict(dict)
        for row_id, class_id, teacher_id in session.execute(
                select(ClassTeacher.id, ClassTeacher.class_id, ClassTeacher.teacher_id)):
            self.teachers[class_id][teacher_id] = row_id
        self.links = {(parent_id, pupil_id) for parent_id, pupil_id in session.execute(
            select(GuardianLink.parent_id, GuardianLink.pupil_id))}
        return self


class _Writer:
    """Works out the differences between the file and the school, and writes only those."""

    def __init__(self, school_id: int, state: _SchoolState, summary: ImportSummary, report: Progress,
                 total: int) -> None:
        self.school_id, self.state, self.summary, self.report = school_id, state, summary, report
        self.total, self.done = total, 0
        self.conn = session.connection()
        self.postgresql = self.conn.dialect.name == "postgresql"
        if self.postgresql:
            # A pooled connection keeps the plans it made earlier, the foreign-key checks' among them. One made
            # while the tables were nearly empty reads the whole of portal_people for every check, and the work
            # grows with the square of the rows (20,000 pupils: 20 s instead of 1.5 s; see
            # tests/test_roster_bulk.py). Plan again, with the sizes as they are now.
            self.conn.execute(text("DISCARD PLANS"))
        #: external id -> person id, for everyone after the people are written.
        self.ids = {ext: k.id for ext, k in state.people.items()}

    def insert(self, table, rows: list[dict], key: str | None = None) -> dict[str, int]:
        """Insert *rows* into *table*; with *key*, return {row[key]: new id}.

        PostgreSQL: ids are reserved from the table's sequence in one statement (safe alongside
        other writers) and the rows go in with ``COPY``. SQLite: multi-row INSERTs, with
        ``RETURNING`` when the ids are needed.
        """
        if not rows:
            return {}
        if not self.postgresql:
            if key is None:
                for chunk in _chunks(rows):
                    self.conn.execute(insert(table), chunk)
                return {}
            out: dict[str, int] = {}
            for chunk in _chunks(rows):
                out.update((k, i) for i, k in self.conn.execute(
                    insert(table).returning(table.c.id, table.c[key]), chunk))
            return out
        out = {}
        if key is not None:
            ids = self.conn.execute(text(
                f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)"),
                {"n": len(rows)}).scalars().all()
            rows = [{"id": i, **row} for i, row in zip(ids, rows, strict=True)]
            out = {row[key]: row["id"] for row in rows}
        columns = list(rows[0])
        # On PostgreSQL the DBAPI connection is psycopg's (typed as Any | None: None once closed).
        driver = cast("psycopg.Connection[Any]", self.conn.connection.driver_connection)
        cursor = driver.cursor()
        try:
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        finally:
            cursor.close()
        return out

    def step(self, n: int) -> None:
        self.done += n
        self.report("Writing", self.done, self.total)

    def run(self, by_type: dict[str, list[_Row]]) -> None:
        people = by_type["staff"] + by_type["pupil"] + by_type["parent"]
        kinds = {r.data["external_id"]: k for k in ("staff", "pupil", "parent") for r in by_type[k]}
        changed: dict[str, bool] = {}
        accounts = self._accounts(people)
        self._people(people, kinds, accounts, changed)
        self._roles(people, kinds, changed)
        self._classes(by_type["class"], changed)
        self._profiles(by_type["pupil"], changed)
        self._links(by_type["parent"], changed)
        for r in by_type["class"]:
            ext = r.data["external_id"]
            _count(self.summary, "class", ext not in self.state.classes, changed.get("class:" + ext, False))
        for r in people:
            ext = r.data["external_id"]
            if ext in self.summary.kept_ids and not changed.get(ext, False):
                continue  # its change was not applied: neither updated nor "already up to date"
            _count(self.summary, kinds[ext], ext not in self.state.people, changed.get(ext, False))
        from portal.signals import bulk_data_changed

        if any(self.summary.created.values()) or any(self.summary.updated.values()):
            # Only a roster that changed something makes the school's compliance counts stale.
            bulk_data_changed.send(None, school_ids=[self.school_id], conn=self.conn)
        self.report("Writing", self.total, self.total)

    # -- accounts and people

    def _accounts(self, people: list[_Row]) -> dict[str, int]:
        """address -> account id for every address in the file, making the missing accounts (one
        per address, no password yet; an address already used in another school is shared)."""
        emails = sorted({r.data["email"].lower() for r in people if r.data.get("email")})
        found: dict[str, int] = {}
        if self.postgresql:
            # One array parameter rather than thousands of placeholders.
            if emails:
                found.update((cast(str, e), i) for i, e in self.conn.execute(  # matched by address
                    select(Account.id, Account.email).where(Account.email == any_(
                        bindparam("emails", emails, type_=ARRAY(String))))))
        else:
            for chunk in _chunks(emails, 500):
                found.update((cast(str, e), i) for i, e in self.conn.execute(  # matched by address
                    select(Account.id, Account.email).where(Account.email.in_(chunk))))
        names = {r.data["email"].lower(): f"{r.data['given_name']} {r.data['family_name']}"[:200]
                 for r in people if r.data.get("email")}
        new = [{"email": e, "display_name": names[e], "active": True, "created_at": utcnow()}
               for e in emails if e not in found]
        found.update(self.insert(Account.__table__, new, key="email"))
        return found

    def _people(self, people: list[_Row], kinds: dict[str, str], accounts: dict[str, int],
                changed: dict[str, bool]) -> None:
        table = table_of(Person)
        new, updates = [], []
        for r in people:
            d = r.data
            ext = d["external_id"]
            email = d.get("email", "").lower() or None
            known = self.state.people.get(ext)
            if known is None:
                new.append({"external_id": ext, "given_name": d["given_name"], "family_name": d["family_name"],
                            "name_key": name_key(d["given_name"], d["family_name"]), "email": email,
                            "account_id": accounts.get(email) if email else None, "active": True,
                            "created_at": utcnow(), "school_id": self.school_id})
                continue
            values: dict[str, str | None] = {"given_name": d["given_name"], "family_name": d["family_name"]}
            if email or kinds[ext] != "pupil":
                values["email"] = email
            diff: dict[str, str | int | None] = {k: v for k, v in values.items() if getattr(known, k) != v}
            if diff:
                changed[ext] = True
            # What the person is found by: changed with the names, and mended if it was ever not made.
            key = name_key(d["given_name"], d["family_name"])
            if key != known.name_key:
                diff["name_key"] = key
            # Link to the account of the address: a person without one gets it (an existing account never moves:
            # _keep_addresses put its own address back in the row).
            if email and accounts[email] != known.account_id:
                diff["account_id"] = accounts[email]
            if diff:
                updates.append((known.id, diff))
        self.ids.update(self.insert(table, new, key="external_id"))
        self.step(len(new))
        # One statement per set of changed columns, each for all the rows that changed them.
        by_columns: dict[tuple[str, ...], list[dict]] = defaultdict(list)
        for pid, diff in updates:
            by_columns[tuple(sorted(diff))].append({"row_id": pid, **{f"v_{k}": v for k, v in diff.items()}})
        for columns, params in by_columns.items():
            stmt = (update(table).where(table.c.id == bindparam("row_id"), table.c.school_id == self.school_id)
                    .values({c: bindparam(f"v_{c}") for c in columns}))
            for chunk in _chunks(params):
                self.conn.execute(stmt, chunk)
        self.step(len(people) - len(new))

    def _roles(self, people: list[_Row], kinds: dict[str, str], changed: dict[str, bool]) -> None:
        rows = []
        for r in people:
            ext = r.data["external_id"]
            kind = kinds[ext]
            wanted = {Role.PUPIL.value} if kind == "pupil" else {Role.PARENT.value} if kind == "parent" \
                else {x.lower() for x in _split(r.data["roles"])}
            pid = self.ids[ext]
            missing = wanted - self.state.roles.get(pid, set())
            if missing:
                changed[ext] = True
                rows += [{"person_id": pid, "role": role, "school_id": self.school_id} for role in sorted(missing)]
        self.insert(PersonRole.__table__, rows)

    # -- classes, pupils, families

    def _classes(self, classes: list[_Row], changed: dict[str, bool]) -> None:
        table = table_of(SchoolClass)
        self.class_ids = {code: v[0] for code, v in self.state.classes.items()}
        new, updates = [], []
        for r in classes:
            d = r.data
            code, name, year = d["external_id"], d["class_name"], parse_year(d["year_group"])
            known = self.state.classes.get(code)
            if known is None:
                new.append({"code": code, "name": name, "year_group": year, "school_id": self.school_id})
            elif (known[1], known[2]) != (name, year):
                changed["class:" + code] = True
                updates.append({"row_id": known[0], "v_name": name, "v_year_group": year})
        self.class_ids.update(self.insert(table, new, key="code"))
        if updates:
            self.conn.execute(update(table).where(table.c.id == bindparam("row_id"),
                                                  table.c.school_id == self.school_id)
                              .values(name=bindparam("v_name"), year_group=bindparam("v_year_group")), updates)
        add, remove = [], []
        for r in classes:
            code = r.data["external_id"]
            class_id = self.class_ids[code]
            current = self.state.teachers.get(class_id, {})
            wanted = {self.ids[t] for t in _split(r.data.get("teachers", ""))}
            for teacher_id in sorted(wanted - set(current)):
                add.append({"class_id": class_id, "teacher_id": teacher_id, "school_id": self.school_id})
            for teacher_id in sorted(set(current) - wanted):
                remove.append({"row_id": current[teacher_id]})
            if wanted != set(current):
                changed["class:" + code] = True
        self.insert(ClassTeacher.__table__, add)
        if remove:
            t = table_of(ClassTeacher)
            self.conn.execute(delete(t).where(t.c.id == bindparam("row_id"), t.c.school_id == self.school_id),
                              remove)

    def _profiles(self, pupils: list[_Row], changed: dict[str, bool]) -> None:
        table = table_of(PupilProfile)
        new, updates = [], []
        for r in pupils:
            d = r.data
            pid = self.ids[d["external_id"]]
            values = (parse_year(d["year_group"]), dt.date.fromisoformat(d["date_of_birth"]),
                      self.class_ids[d["class_code"]] if d.get("class_code") else None,
                      d.get("send", "").lower() == "yes")
            known = self.state.profiles.get(pid)
            if known == values:
                continue
            changed[d["external_id"]] = True
            row = {"year_group": values[0], "date_of_birth": values[1], "class_id": values[2], "send": values[3]}
            if known is None:
                new.append({"person_id": pid, "school_id": self.school_id, **row})
            else:
                updates.append({"row_id": pid, **{f"v_{k}": v for k, v in row.items()}})
        self.insert(table, new)
        stmt = (update(table).where(table.c.person_id == bindparam("row_id"), table.c.school_id == self.school_id)
                .values({k: bindparam(f"v_{k}") for k in ("year_group", "date_of_birth", "class_id", "send")}))
        for chunk in _chunks(updates):
            self.conn.execute(stmt, chunk)

    def _links(self, parents: list[_Row], changed: dict[str, bool]) -> None:
        # Links are not removed by omission: a roster that lists a parent's children from one
        # school site only must not cut links the school added by hand.
        rows = []
        for r in parents:
            parent_id = self.ids[r.data["external_id"]]
            for ext in _split(r.data.get("children", "")):
                pair = (parent_id, self.ids[ext])
                if pair not in self.state.links:
                    self.state.links.add(pair)
                    changed[r.data["external_id"]] = True
                    rows.append({"parent_id": pair[0], "pupil_id": pair[1], "relationship_label": "parent",
                                 "school_id": self.school_id})
        self.insert(GuardianLink.__table__, rows)


def _check_row(kind: str, r: _Row, where: Message, seen_emails: dict[str, int]) -> list[str]:
    d = r.data
    errs: list[str] = _check_values(kind, d, where)
    if errs:
        return errs  # the other checks would only repeat the problem
    if kind == "class":
        if not d.get("class_name"):
            errs.append(Message(N_("%(where)s: class_name is required for a class."), where=where))
        try:
            parse_year(d.get("year_group", ""))
        except ValueError:
            errs.append(Message(N_("%(where)s: year_group must be N, R or 1 to 13."), where=where))
        return errs
    for col in ("given_name", "family_name"):
        if not d.get(col):
            errs.append(Message(N_("%(where)s: %(column)s is required."), where=where, column=col))
        elif len(d[col]) > 100:
            errs.append(Message(N_("%(where)s: %(column)s is longer than %(max)s characters."), where=where,
                                column=col, max=100))
    email = d.get("email", "").lower()
    if kind in ("parent", "staff") and not email:
        errs.append(Message(N_("%(where)s: email is required for a parent.") if kind == "parent"
                            else N_("%(where)s: email is required for a staff."), where=where))
    if email:
        if not _EMAIL.match(email) or len(email) > 254:
            errs.append(Message(N_("%(where)s: email %(email)r is not an email address."), where=where, email=email))
        elif email in seen_emails:
            errs.append(Message(N_("%(where)s: email %(email)s already used on %(other)s."), where=where, email=email,
                                other=row_ref(seen_emails[email])))
        else:
            seen_emails[email] = r.number
    if kind == "pupil":
        try:
            parse_year(d.get("year_group", ""))
        except ValueError:
            errs.append(Message(N_("%(where)s: year_group must be N, R or 1 to 13."), where=where))
        try:
            dob = dt.date.fromisoformat(d.get("date_of_birth", ""))
            if not dt.date(1990, 1, 1) <= dob <= dt.date.today():
                errs.append(Message(N_("%(where)s: date_of_birth %(date)s is not a plausible pupil's birth date."),
                                    where=where, date=str(dob)))
        except ValueError:
            errs.append(Message(N_("%(where)s: date_of_birth %(value)r is not a date written YYYY-MM-DD (for "
                                   "example 2017-03-14)."), where=where, value=d.get("date_of_birth", "")[:40]))
        if d.get("send", "").lower() not in ("", "yes", "no"):
            errs.append(Message(N_("%(where)s: send must be yes, no or empty."), where=where))
    if kind == "staff":
        roles = [x.lower() for x in _split(d.get("roles", ""))]  # walk finding: "Teacher" was refused
        if not roles:
            errs.append(Message(N_("%(where)s: roles is required for staff (e.g. teacher)."), where=where))
        bad = [x for x in roles if x not in STAFF_ROLE_NAMES]
        if bad:
            errs.append(Message(N_("%(where)s: unknown role(s) %(roles)s. The roles are %(known)s."), where=where,
                                roles=", ".join(bad), known=", ".join(sorted(STAFF_ROLE_NAMES))))
    return errs


def _count(summary: ImportSummary, kind: str, created: bool, changed: bool) -> None:
    if created:
        summary.created[kind] += 1
    elif changed:
        summary.updated[kind] += 1
    else:
        summary.unchanged += 1
