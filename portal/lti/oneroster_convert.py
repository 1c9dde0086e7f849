"""OneRoster records -> one roster CSV for :func:`portal.people.roster.import_roster`, plus the
few changes a roster CSV cannot express (people deleted in a delta export are switched off; a
member of staff who is also a parent keeps both roles).

Roles (1.1 ``users.csv`` role, 1.2 ``roles.csv`` role; case does not matter):

=============================================  =================================================
``student``                                    pupil
``teacher``, ``principal``                     teacher (never a Head Teacher designation)
``aide``, ``administrator``,                   support staff
``siteAdministrator``, ``counselor``
``parent``, ``guardian``, ``relative``         parent or carer
``proctor``, ``districtAdministrator``,        not used by Countersign: the person is left out,
``systemAdministrator``, ``ext:...``           with a warning (not an error)
=============================================  =================================================

Bulk files are the whole truth for what they hold (rows ``tobedeleted`` or ``enabledUser`` false
are left out; nobody is deleted). Delta files hold changed rows only: references may name people
and classes already in Countersign, ``tobedeleted`` users are switched off, and enrollments
``tobedeleted`` take a pupil out of the class or a teacher off it. What a file does not say is
kept: a pupil's class, birth date and SEND flag, a class's teachers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any, cast

from flask_babel import gettext, ngettext
from sqlalchemy import select

from portal import audit
from portal.db import session
from portal.lti.oneroster import Dataset, Rec, parse_grade, split_list
from portal.messages import N_, Message
from portal.people.models import ClassTeacher, GuardianLink, Person, PupilProfile, Role, SchoolClass
from portal.people.roster import COLUMNS, ImportSummary, RosterError, import_roster

#: OneRoster role (lower case) -> what it becomes; None: not used (left out with a warning).
ROLES: dict[str, str | None] = {
    "student": "pupil",
    "teacher": "teacher",
    "principal": "teacher",
    "aide": "support_staff",
    "administrator": "support_staff",
    "siteadministrator": "support_staff",
    "counselor": "support_staff",
    "parent": "parent",
    "guardian": "parent",
    "relative": "parent",
    "proctor": None,
    "districtadministrator": None,
    "systemadministrator": None,
}
SPEC_ROLES = ("administrator, aide, counselor, districtAdministrator, guardian, parent, principal, proctor, "
              "relative, siteAdministrator, student, systemAdministrator, teacher")
#: Enrollment roles that make someone a class's teacher.
TEACHING = {"teacher", "aide", "administrator"}
STAFF_KINDS = {"teacher", "support_staff"}


@dataclass
class OneRosterSummary:
    """What an import did: the roster import's counts, plus what only OneRoster does."""

    roster: ImportSummary | None = None
    warnings: list[str] = field(default_factory=list)
    switched_off: int = 0
    merged: int = 0
    estimated_births: int = 0

    def describe(self) -> str:
        text = self.roster.describe() if self.roster else "No people or classes to add or change."
        if self.merged:
            text += f" {self.merged} member(s) of staff are also parents (one person each, both roles)."
        if self.switched_off:
            text += f" {self.switched_off} person(s) deleted in the export were switched off."
        if self.estimated_births:
            text += (f" {self.estimated_births} pupil(s) had no birth date: 1 September of their year group's "
                     "birth year was used until the export gives it.")
        return text

    def sentences(self) -> list[str]:
        """The summary in the page's language, one whole sentence each (see :meth:`describe`)."""
        lines = self.roster.sentences() if self.roster else [gettext("No people or classes to add or change.")]
        if self.merged:
            lines.append(ngettext("%(num)s member of staff is also a parent (one person, both roles).",
                                  "%(num)s members of staff are also parents (one person each, both roles).",
                                  self.merged))
        if self.switched_off:
            lines.append(ngettext("%(num)s person deleted in the export was switched off.",
                                  "%(num)s people deleted in the export were switched off.", self.switched_off))
        if self.estimated_births:
            lines.append(ngettext("%(num)s pupil had no birth date: 1 September of their year group's birth year "
                                  "was used until the export gives it.",
                                  "%(num)s pupils had no birth date: 1 September of their year group's birth year "
                                  "was used until the export gives it.", self.estimated_births))
        return lines

    def shown(self) -> str:
        """:meth:`sentences` as one paragraph (the import page's flash)."""
        return " ".join(self.sentences())

    def kept_sentence(self) -> str | None:
        """Whose new email address was not applied (see :meth:`ImportSummary.kept_sentence`)."""
        return self.roster.kept_sentence() if self.roster else None


@dataclass
class _Kind:
    """What a user becomes: pupil, staff (with roles), parent, or staff and parent."""

    pupil: bool = False
    staff: set[str] = field(default_factory=set)
    parent: bool = False


@dataclass
class Conversion:
    csv: bytes | None
    origin: dict[int, str]
    warnings: list[str]
    switch_off: list[tuple[str, str]]
    #: Staff who are also parents: external id -> (children's external ids, where).
    merged: dict[str, tuple[set[str], str]]
    estimated_births: int
    #: Parents already in Countersign whose children a delta named: external id -> children.
    links: dict[str, set[str]] = field(default_factory=dict)


class _Db:
    """What Countersign already holds (looked up once per external id)."""

    def __init__(self) -> None:
        self._people: dict[str, Person | None] = {}
        self._classes: dict[str, SchoolClass | None] = {}

    def person(self, ext: str) -> Person | None:
        if ext not in self._people:
            self._people[ext] = session.scalar(select(Person).where(Person.external_id == ext))
        return self._people[ext]

    def pupil(self, ext: str) -> PupilProfile | None:
        person = self.person(ext)
        return person.pupil if person is not None else None

    def klass(self, code: str) -> SchoolClass | None:
        if code not in self._classes:
            self._classes[code] = session.scalar(select(SchoolClass).where(SchoolClass.code == code))
        return self._classes[code]

    def teachers(self, code: str) -> set[str]:
        cls = self.klass(code)
        if cls is None:
            return set()
        return set(session.scalars(select(Person.external_id).join(ClassTeacher, ClassTeacher.teacher_id == Person.id)
                                   .where(ClassTeacher.class_id == cls.id, Person.external_id.is_not(None))))


def _rows_label(wheres: list[str]) -> str:
    """``users.csv row 5``, ``users.csv rows 5, 9`` or a list of places."""
    files = {w.rsplit(" row ", 1)[0] for w in wheres}
    if len(files) == 1 and all(" row " in w for w in wheres):
        rows = [w.rsplit(" row ", 1)[1] for w in wheres]
        return f"{files.pop()} row{'s' if len(rows) > 1 else ''} {', '.join(rows)}"
    return "; ".join(wheres)


def convert(ds: Dataset, *, orgs: set[str] | None, merge_same_email: bool) -> Conversion:
    """The roster CSV for *ds* (only the users and classes of *orgs*; ``None``: all).

    :raises RosterError: every problem, by OneRoster file and row.
    """
    errors: list[str] = []
    warnings = list(ds.warnings)
    db = _Db()
    users_delta = "users.csv" in ds.delta

    # ------------------------------------------------------------ users and their roles
    users: dict[str, Rec] = {}
    for r in ds.users or []:
        if not r.sid:
            errors.append(Message(N_("%(where)s: sourcedId is empty."), where=r.where))
        elif r.sid in users:
            errors.append(Message(N_("%(where)s: sourcedId %(id)s is already used on %(other)s."), where=r.where,
                                  id=r.sid, other=users[r.sid].where))
        else:
            users[r.sid] = r
    org_ids = {o.sid for o in ds.orgs} if ds.orgs is not None else None
    for sid, roles in ds.roles.items():
        for rr in roles:
            key = rr.role.strip().lower()
            if key not in ROLES and not key.startswith("ext:"):
                errors.append(Message(N_("%(where)s: role %(role)r is not one of %(roles)s (or ext:...)."),
                                      where=rr.where, role=rr.role, roles=SPEC_ROLES))
            if org_ids is not None and rr.org and rr.org not in org_ids:
                errors.append(Message(N_("%(where)s: %(column)s names %(org)s, which is not in %(file)s."),
                                      where=rr.where, column=rr.org_column, org=rr.org, file=ds.name("orgs.csv")))
        if sid not in users and ds.version == "1.2":
            wheres = [rr.where for rr in roles]
            if ds.users is not None and not users_delta:
                errors.append(Message(N_("%(where)s: userSourcedId %(id)s is not a user in %(file)s."),
                                      where=_rows_label(wheres), id=sid, file=ds.name("users.csv")))
            else:
                warnings.append(Message(N_("%(where)s: user %(id)s has no row in users.csv, so their role was "
                                           "not imported (send their users.csv row with it)."),
                                        where=_rows_label(wheres), id=sid))
    if errors:
        raise RosterError(errors)

    def in_scope(org: str) -> bool:
        return orgs is None or org in orgs

    kinds: dict[str, _Kind] = {}
    left_out: dict[str, list[str]] = {}
    for sid, r in users.items():
        if not r.live:
            continue
        if not ds.roles.get(sid):
            known = db.person(sid) if r.delta else None
            if known is not None:
                kinds[sid] = _existing_kind(known)  # a changed name or email; the roles stay
            elif orgs is None:
                errors.append(Message(N_("%(where)s: no role for this user in %(file)s."), where=r.where,
                                      file=ds.name("roles.csv")))
            continue
        roles = [rr for rr in ds.roles[sid] if rr.live and in_scope(rr.org)]
        if not roles:
            continue  # of another school, or their roles have ended
        usable = [(ROLES.get(rr.role.strip().lower()), rr) for rr in roles]
        mapped = {m for m, _ in usable if m}
        if not mapped:
            for rr in roles:
                left_out.setdefault(rr.role, []).append(rr.where)
            continue
        kind = _Kind()
        if "pupil" in mapped:
            kind.pupil = True
            if mapped - {"pupil"}:
                warnings.append(Message(N_("%(where)s: a student is only ever a pupil in Countersign; their other "
                                           "role(s) were not imported."), where=r.where))
        else:
            kind.staff = mapped & STAFF_KINDS
            kind.parent = "parent" in mapped
            if kind.staff and kind.parent and not merge_same_email:
                primary = next((m for m, rr in usable if m and rr.primary), None)
                if primary == "parent":
                    kind.staff = set()
                else:
                    kind.parent = False
                warnings.append(Message(
                    N_("%(where)s: this person is both staff and a parent; only the parent role was imported. "
                       "If they are the same person, turn on \"one person for staff who are also parents\" on "
                       "the OneRoster page (Admin), or give them different emails.") if kind.parent else
                    N_("%(where)s: this person is both staff and a parent; only the staff role was imported. "
                       "If they are the same person, turn on \"one person for staff who are also parents\" on "
                       "the OneRoster page (Admin), or give them different emails."), where=r.where))
        kinds[sid] = kind
    for role, wheres in sorted(left_out.items()):
        warnings.append(Message(N_("%(where)s: role %(role)s is not used by Countersign; %(num)s person was left "
                                   "out.") if len(wheres) == 1 else
                                N_("%(where)s: role %(role)s is not used by Countersign; %(num)s people were left "
                                   "out."), where=_rows_label(wheres), role=role, num=len(wheres)))

    # ------------------------------------------------------------ one person per email (1.1: two users)
    alias: dict[str, str] = {}
    by_email: dict[str, list[str]] = {}
    for sid, kind in kinds.items():
        email = users[sid].data.get("email", "").strip().lower()
        if email and not kind.pupil:
            by_email.setdefault(email, []).append(sid)
    for email, sids in by_email.items():
        staff = [s for s in sids if kinds[s].staff and not kinds[s].parent]
        parents = [s for s in sids if kinds[s].parent and not kinds[s].staff]
        if len(sids) != 2 or len(staff) != 1 or len(parents) != 1:
            continue  # anything else is for the roster import to report
        s, p = staff[0], parents[0]
        if not merge_same_email:
            errors.append(Message(N_("%(where)s: email %(email)s is also the email of the member of staff on "
                                     "%(other)s. If they are the same person, turn on \"one person for staff who "
                                     "are also parents\" on the OneRoster page (Admin), or give them different "
                                     "emails."), where=users[p].where, email=email, other=users[s].where))
            continue
        keep, drop = (p, s) if db.person(p) is not None and db.person(s) is None else (s, p)
        kinds[keep] = _Kind(staff=kinds[s].staff, parent=True)
        del kinds[drop]
        alias[drop] = keep

    def real(sid: str) -> str:
        return alias.get(sid, sid)

    # ------------------------------------------------------------ classes and enrollments
    classes_file: dict[str, Rec] = {}
    for r in ds.classes or []:
        if not r.sid:
            errors.append(Message(N_("%(where)s: sourcedId is empty."), where=r.where))
        elif r.sid in classes_file:
            errors.append(Message(N_("%(where)s: sourcedId %(id)s is already used on %(other)s."), where=r.where,
                                  id=r.sid, other=classes_file[r.sid].where))
        else:
            classes_file[r.sid] = r
    classes = {sid: r for sid, r in classes_file.items()
               if r.live and (orgs is None or not r.data.get("schoolSourcedId") or r.data["schoolSourcedId"] in orgs)}
    enrol_bulk = ds.enrollments is not None and "enrollments.csv" not in ds.delta
    class_pupils: dict[str, list[str]] = {}
    added_teachers: dict[str, set[str]] = {}
    removed_teachers: dict[str, set[str]] = {}
    pupil_classes: dict[str, list[str]] = {}
    pupil_left: dict[str, set[str]] = {}
    touched: dict[str, Rec] = {}  # classes and pupils in Countersign changed by a delta enrollment
    for e in ds.enrollments or []:
        cid, uid, role = e.data["classSourcedId"], real(e.data["userSourcedId"]), e.data["role"].strip().lower()
        if e.deleted and not e.delta:
            continue
        if cid not in classes:
            if cid in classes_file:
                continue  # a class of another school (or one that has ended)
            if not (e.delta or ds.classes is None) or db.klass(cid) is None:
                errors.append(Message(N_("%(where)s: classSourcedId %(id)s is not a class in %(file)s or in "
                                         "Countersign.") if e.delta or ds.classes is None else
                                      N_("%(where)s: classSourcedId %(id)s is not a class in %(file)s."),
                                      where=e.where, id=cid, file=ds.name("classes.csv")))
                continue
            touched.setdefault(f"class:{cid}", e)
        if uid not in users and e.data["userSourcedId"] not in users:
            if not (e.delta or ds.users is None) or db.person(uid) is None:
                errors.append(Message(N_("%(where)s: userSourcedId %(id)s is not a user in %(file)s or in "
                                         "Countersign.") if e.delta or ds.users is None else
                                      N_("%(where)s: userSourcedId %(id)s is not a user in %(file)s."),
                                      where=e.where, id=uid, file=ds.name("users.csv")))
                continue
        elif uid not in kinds:
            continue  # left out, deleted or of another school
        if role == "student":
            if e.deleted:
                pupil_left.setdefault(uid, set()).add(cid)
            else:
                class_pupils.setdefault(cid, []).append(uid)
                pupil_classes.setdefault(uid, []).append(cid)
            if uid not in users:
                touched.setdefault(f"pupil:{uid}", e)
        elif role in TEACHING:
            (removed_teachers if e.deleted else added_teachers).setdefault(cid, set()).add(uid)
            if cid not in classes:
                touched.setdefault(f"class:{cid}", e)

    # ------------------------------------------------------------ guardians
    # agentSourcedIds may point either way (pupil -> parents, parent -> pupils).
    children: dict[str, set[str]] = {}
    for sid, r in users.items():
        if real(sid) not in kinds:
            continue
        kind = kinds[real(sid)]
        for agent in split_list(r.data.get("agentSourcedIds", "")):
            agent = real(agent)
            other = kinds.get(agent)
            if agent not in users:
                known = db.person(agent) if users_delta else None
                if known is None:
                    errors.append(Message(N_("%(where)s: agentSourcedIds names %(id)s, which is not in %(file)s or "
                                             "in Countersign.") if users_delta else
                                          N_("%(where)s: agentSourcedIds names %(id)s, which is not in %(file)s."),
                                          where=r.where, id=agent, file=ds.name("users.csv")))
                elif kind.parent and known.pupil is not None:
                    children.setdefault(real(sid), set()).add(agent)
                elif kind.pupil and Role.PARENT in known.role_set:
                    children.setdefault(agent, set()).add(real(sid))
            elif other is None:
                continue
            elif kind.pupil and other.parent:
                children.setdefault(agent, set()).add(real(sid))
            elif kind.parent and other.pupil:
                children.setdefault(real(sid), set()).add(agent)

    # ------------------------------------------------------------ the roster CSV
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    origin: dict[int, str] = {}

    def emit(row: dict[str, str], where: str) -> None:
        origin[len(origin) + 2] = where
        writer.writerow(row)

    staff_ids = {sid for sid, k in kinds.items() if k.staff}
    for sid, kind in kinds.items():
        if kind.staff:
            r = users[sid]
            emit({"type": "staff", "external_id": sid, "given_name": r.data["givenName"],
                  "family_name": r.data["familyName"], "email": r.data.get("email", ""),
                  "roles": ";".join(sorted(kind.staff))}, r.where)

    def teachers_of(cid: str) -> str:
        if enrol_bulk:
            current = set(added_teachers.get(cid, set()))
        else:
            current = (db.teachers(cid) | added_teachers.get(cid, set())) - removed_teachers.get(cid, set())
        return ";".join(sorted(t for t in current if t in staff_ids or (t not in kinds and db.person(t))))

    class_years: dict[str, str] = {}
    for cid, r in classes.items():
        grade = next((g for g in (parse_grade(x) for x in split_list(r.data.get("grades", ""))) if g), None)
        if grade is None:  # fall back on the pupils' year group
            shared = {parse_grade(split_list(users[p].data.get("grades", ""))[0])
                      for p in class_pupils.get(cid, []) if p in users and split_list(users[p].data.get("grades", ""))}
            grade = shared.pop() if len(shared) == 1 else None
        known_class = db.klass(cid)
        if grade is None and known_class is not None:
            grade = _year_code(known_class.year_group)
        if grade is None:
            errors.append(Message(N_("%(where)s: grades is missing or not PK, KG or 01 to 13, and the class's "
                                     "pupils do not share one grade."), where=r.where))
            continue
        class_years[cid] = grade
        emit({"type": "class", "external_id": cid, "class_name": r.data["title"], "year_group": grade,
              "teachers": teachers_of(cid)}, r.where)
    for key, e in touched.items():
        kind_of, _, ext = key.partition(":")
        if kind_of == "class" and ext not in classes:
            cls = cast(SchoolClass, db.klass(ext))  # a touched class not in the file is one the portal has
            emit({"type": "class", "external_id": ext, "class_name": cls.name,
                  "year_group": _year_code(cls.year_group), "teachers": teachers_of(ext)}, e.where)

    estimated = 0
    births = {r.sid: r for r in ds.demographics or [] if r.sid and not r.deleted}

    def class_of(uid: str) -> str:
        """The pupil's class: their homeroom (or only class) in a bulk file; in a delta, a new
        homeroom, else the class they are in unless they left it; with no enrollments, as now."""
        mine = pupil_classes.get(uid, [])
        current = db.pupil(uid)
        current_code = current.school_class.code if current is not None and current.school_class else ""
        homerooms = [c for c in mine if c in classes and classes[c].data.get("classType", "").lower() == "homeroom"]
        if enrol_bulk and uid in users:
            if len(homerooms) == 1:
                return homerooms[0]
            return mine[0] if len(mine) == 1 and not homerooms else ""
        if len(homerooms) == 1:
            return homerooms[0]
        if current_code and current_code not in pupil_left.get(uid, set()):
            return current_code
        return mine[0] if len(mine) == 1 else ""

    from portal.lti.operations import estimated_birth_date

    for sid, kind in kinds.items():
        if not kind.pupil:
            continue
        r = users[sid]
        current = db.pupil(sid)
        grades = split_list(r.data.get("grades", ""))
        year = parse_grade(grades[0]) if grades else None
        code = class_of(sid)
        if year is None and not grades:
            year = class_years.get(code) or (_year_code(current.year_group) if current is not None else None)
        if year is None:
            errors.append(Message(N_("%(where)s: grades must be PK, KG or 01 to 13 for a student (got %(value)r)."),
                                  where=r.where, value=r.data.get("grades")))
            continue
        birth = births.get(sid)
        dob = birth.data.get("birthDate", "")[:10] if birth is not None else ""
        if birth is not None and dob:
            try:
                dt.date.fromisoformat(dob)
            except ValueError:
                errors.append(Message(N_("%(where)s: birthDate %(value)r is not a date written YYYY-MM-DD."),
                                      where=birth.where, value=birth.data["birthDate"]))
                continue
        elif current is not None:
            dob = current.date_of_birth.isoformat()
        else:
            dob = estimated_birth_date(_year_int(year)).isoformat()
            estimated += 1
        emit({"type": "pupil", "external_id": sid, "given_name": r.data["givenName"],
              "family_name": r.data["familyName"], "email": r.data.get("email", ""), "year_group": year,
              "date_of_birth": dob, "class_code": code, "send": _send(current)}, r.where)
    for key, e in touched.items():
        kind_of, _, ext = key.partition(":")
        if kind_of != "pupil" or ext in users:
            continue
        person, current = db.person(ext), db.pupil(ext)
        if person is None or current is None:  # (no person, no pupil profile)
            errors.append(Message(N_("%(where)s: %(id)s is a student here, but not a pupil in Countersign."),
                                  where=e.where, id=ext))
            continue
        emit({"type": "pupil", "external_id": ext, "given_name": person.given_name,
              "family_name": person.family_name, "email": "", "year_group": _year_code(current.year_group),
              "date_of_birth": current.date_of_birth.isoformat(), "class_code": class_of(ext),
              "send": _send(current)}, e.where)

    merged: dict[str, tuple[set[str], str]] = {}
    for sid, kind in kinds.items():
        if kind.parent and kind.staff:
            merged[sid] = (children.get(sid, set()), users[sid].where if sid in users else "")
        elif kind.parent:
            r = users[sid]
            emit({"type": "parent", "external_id": sid, "given_name": r.data["givenName"],
                  "family_name": r.data["familyName"], "email": r.data.get("email", ""),
                  "children": ";".join(sorted(children.get(sid, set())))}, r.where)
    for kids, where in merged.values():
        for kid in kids:
            if kid not in kinds and (db.pupil(kid) is None):
                errors.append(Message(N_("%(where)s: child %(id)s is not a pupil in this export or in Countersign."),
                                      where=where, id=kid))

    switch_off = [(r.sid, r.where) for r in ds.users or [] if r.delta and r.deleted and r.sid]
    if errors:
        raise RosterError(errors)
    if not origin and not switch_off and not merged and not (ds.delta or users_delta):
        raise RosterError([Message(N_("%(file)s: no active users to import."), file=ds.name("users.csv"))])
    links = {p: kids for p, kids in children.items() if p not in kinds}  # parents only a delta's pupils name
    return Conversion(out.getvalue().encode() if origin else None, origin, warnings, switch_off, merged, estimated,
                      links)


def _existing_kind(person: Person) -> _Kind:
    roles = person.role_set
    return _Kind(pupil=person.pupil is not None,
                 staff={r.value for r in roles & {Role.TEACHER, Role.SUPPORT_STAFF}},
                 parent=Role.PARENT in roles)


def _send(profile: PupilProfile | None) -> str:
    """OneRoster has no SEND flag: keep the one the school set."""
    return "yes" if profile is not None and profile.send else ""


def _year_code(year_group: int) -> str:
    return {-1: "N", 0: "R"}.get(year_group, str(year_group))


def _year_int(code: str) -> int:
    return {"N": -1, "R": 0}[code] if code in ("N", "R") else int(code)


def relabel(message: str, origin: dict[int, str]) -> str:
    """``oneroster row 7: ... on row 3.`` -> ``users.csv row 5: ... on users.csv row 2.``: every row
    the roster import names is the OneRoster file and row it came from."""
    if isinstance(message, Message):  # the roster import's problems: change the places it names
        places: dict[str, Any] = {}
        for key in ("where", "other"):
            value = message.params.get(key)
            row = getattr(value, "params", {}).get("row")
            if isinstance(value, Message) and isinstance(row, int) and row in origin:
                places[key] = origin[row]
            elif key == "where" and isinstance(value, Message) and value.params.get("file") == "oneroster":
                places[key] = value.replace_params(file="OneRoster")
        if "file" in message.params and message.params["file"] == "oneroster":
            places["file"] = "OneRoster"
        return message.replace_params(**places) if places else message
    m = re.match(r"oneroster row (\d+):(.*)", message, re.S)
    if m and int(m.group(1)) in origin:
        message = f"{origin[int(m.group(1))]}:{m.group(2)}"
    message = re.sub(r"\bon row (\d+)", lambda x: f"on {origin[int(x.group(1))]}" if int(x.group(1)) in origin
                     else x.group(0), message)
    if message.startswith("oneroster"):
        message = "OneRoster" + message[len("oneroster"):]
    return message


def apply(ds: Dataset, *, orgs: set[str] | None, actor: Person | None = None) -> OneRosterSummary:
    """Convert, import the roster and make the changes only OneRoster makes (flush only).

    :raises RosterError: every problem, by OneRoster file and row; nothing has been written.
    """
    from portal.schools.models import School

    school = School.get()
    conv = convert(ds, orgs=orgs, merge_same_email=bool(school and school.roster_merge_same_email))
    summary = OneRosterSummary(warnings=conv.warnings, estimated_births=conv.estimated_births)
    if conv.csv is not None:
        try:
            summary.roster = import_roster(conv.csv, "oneroster", actor=actor)
        except RosterError as exc:
            raise RosterError([relabel(e, conv.origin) for e in exc.errors]) from None
        summary.roster.places = conv.origin  # kept addresses name the OneRoster file and row
    summary.merged = _merge_parents(conv.merged)
    for ext, kids in conv.links.items():
        _link_children(session.scalar(select(Person).where(Person.external_id == ext)), kids)
    summary.switched_off = _switch_off(conv.switch_off, summary.warnings)
    if summary.merged or summary.switched_off:
        audit.record("oneroster.applied", actor=actor, merged=summary.merged, switched_off=summary.switched_off)
    return summary


def _merge_parents(merged: dict[str, tuple[set[str], str]]) -> int:
    """Give staff who are also parents the parent role and their children (flush)."""
    for ext, (kids, _where) in merged.items():
        person = session.scalars(select(Person).where(Person.external_id == ext)).one()  # just imported
        person.add_role(Role.PARENT)
        _link_children(person, kids)
    session.flush()
    return len(merged)


def _link_children(parent: Person | None, kids: set[str]) -> None:
    """Guardian links from *parent* to the pupils *kids* (external ids); never removes one."""
    if parent is None:
        return
    have = set(session.scalars(select(GuardianLink.pupil_id).where(GuardianLink.parent_id == parent.id)))
    for kid in sorted(kids):
        pupil_id = session.scalar(select(Person.id).where(Person.external_id == kid))
        if pupil_id is not None and pupil_id not in have:
            session.add(GuardianLink(parent_id=parent.id, pupil_id=pupil_id))
            have.add(pupil_id)
    session.flush()


def _switch_off(people: list[tuple[str, str]], warnings: list[str]) -> int:
    """Switch off the people a delta export deleted (records and signatures are kept; flush)."""
    from portal.security import designations

    count = 0
    for ext, where in people:
        person = session.scalar(select(Person).where(Person.external_id == ext))
        if person is None or not person.active:
            continue
        if designations(person):
            warnings.append(Message(N_("%(where)s: %(name)s is %(roles)s here, so they were not switched off. "
                                       "Change the school's settings first."), where=where, name=person.full_name,
                                    roles=", ".join(sorted(designations(person)))))
            continue
        person.active = False
        count += 1
    session.flush()
    return count
