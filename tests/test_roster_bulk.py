"""Roster import at trust scale: no row limit, set-based writes, only changed rows written,
all or nothing, a progress report."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event, func, select

from portal.people.models import Account, GuardianLink, Person, PupilProfile, Role, SchoolClass
from portal.people.roster import RosterError, import_roster

HEADER = "type,external_id,given_name,family_name,email,year_group,date_of_birth,class_code,class_name,send,roles," \
         "children,teachers\n"


def roster(pupils: int, *, renamed: frozenset[int] = frozenset(), moved_email: frozenset[int] = frozenset(),
           parents: bool = True) -> str:
    """A class per 30 pupils, one parent per two pupils, a teacher per class."""
    lines = [HEADER]
    classes = -(-pupils // 30)
    for c in range(classes):
        lines.append(f"staff,T{c},Teach,Er{c},t{c}@bulk.example,,,,,,teacher,,\n")
        lines.append(f"class,C{c},,,,4,,,Class {c},,,,T{c}\n")
    for p in range(pupils):
        family = f"Fam{p}x" if p in renamed else f"Fam{p}"
        lines.append(f"pupil,P{p},Kid,{family},,4,2017-05-01,C{p // 30},,{'yes' if p % 9 == 0 else 'no'},,,\n")
    for g in range(0, pupils if parents else 0, 2):
        email = f"g{g}-new@bulk.example" if g in moved_email else f"g{g}@bulk.example"
        kids = ";".join(f"P{k}" for k in (g, g + 1) if k < pupils)
        lines.append(f"parent,G{g},Par,Ent{g},{email},,,,,,,{kids},\n")
    return "".join(lines)


@contextlib.contextmanager
def rows_written(app, db):
    """Rows inserted, updated or deleted per table while the block runs (not the audit log):
    updates and deletes by the database's row counts, inserts by the tables' sizes."""
    from portal.db import Base

    engine = app.extensions["portal"].engine
    tables = [t for name, t in Base.metadata.tables.items() if name != "portal_audit_log"]

    def sizes() -> dict[str, int]:
        with engine.connect() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in tables}

    written: dict[str, int] = {}

    def after(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        if words[0].upper() in ("UPDATE", "DELETE"):
            table = words[1] if words[0].upper() == "UPDATE" else words[2]
            written[table] = written.get(table, 0) + max(cursor.rowcount, 0)

    before = sizes()
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield written
    finally:
        event.remove(engine, "after_cursor_execute", after)
        written.pop("portal_audit_log", None)
        for name, n in sizes().items():
            if n != before[name]:
                written[name] = written.get(name, 0) + abs(n - before[name])
        for name in [k for k, v in written.items() if not v]:
            del written[name]


def _import(db, text: str, **kw):
    summary = import_roster(text.encode(), "bulk.csv", **kw)
    db.commit()
    return summary


def test_a_reimport_with_a_few_changes_writes_only_those_rows(app, db):
    first = _import(db, roster(300))
    assert first.created == {"class": 10, "pupil": 300, "parent": 150, "staff": 10}
    with rows_written(app, db) as same:
        again = _import(db, roster(300))
    assert same == {} and again.unchanged == 470
    # 1% of the 470 rows change: three pupils' names, and one parent's address, which is not applied (an import
    # never moves an existing account: see tests/test_roster_addresses.py) and so writes nothing.
    with rows_written(app, db) as written:
        summary = _import(db, roster(300, renamed=frozenset({5, 50, 250}), moved_email=frozenset({10})))
    assert summary.updated == {"class": 0, "pupil": 3, "parent": 0, "staff": 0}
    assert summary.unchanged == 466 and summary.kept_ids == {"G10"}
    # Besides those rows, one mark that the school's stored compliance counts are stale (and none
    # for the unchanged import above).
    assert written == {"portal_people": 3, "portal_compliance_changes": 1}, written
    db.expire_all()
    kept = db.scalar(select(Person).where(Person.external_id == "G10"))
    assert kept.email == "g10@bulk.example" and kept.account.email == "g10@bulk.example"
    assert db.scalar(select(Person.family_name).where(Person.external_id == "P50")) == "Fam50x"


def test_no_row_limit(app, db):
    summary = _import(db, roster(20_010, parents=False))  # 21,344 rows
    assert summary.created["pupil"] == 20_010
    assert db.scalar(select(func.count(PupilProfile.person_id))) == 20_010
    assert db.scalar(select(func.count(SchoolClass.id))) == 667


def test_what_is_written_matches_the_file(app, db):
    _import(db, roster(61))
    pupil = db.scalar(select(Person).where(Person.external_id == "P60"))
    assert pupil.has_role(Role.PUPIL) and pupil.pupil.school_class.code == "C2" and pupil.pupil.send is False
    assert db.scalar(select(Person).where(Person.external_id == "P9")).pupil.send is True
    parent = db.scalar(select(Person).where(Person.external_id == "G60"))
    assert parent.has_role(Role.PARENT) and parent.account.email == "g60@bulk.example"
    assert [link.pupil_id for link in db.scalars(select(GuardianLink).where(GuardianLink.parent_id == parent.id))] \
        == [pupil.id]
    cls = db.scalar(select(SchoolClass).where(SchoolClass.code == "C1"))
    assert [t.teacher.external_id for t in cls.teachers] == ["T1"]
    # A class's teachers follow the file: a new teacher replaces the old one.
    changed = roster(61).replace("class,C1,,,,4,,,Class 1,,,,T1", "class,C1,,,,4,,,Class 1,,,,T0")
    summary = _import(db, changed)
    assert summary.updated["class"] == 1
    db.expire_all()
    assert [t.teacher.external_id for t in db.scalar(select(SchoolClass).where(SchoolClass.code == "C1")).teachers] \
        == ["T0"]


def test_an_address_in_another_case_is_someone_elses(app, db):
    _import(db, roster(4))
    clash = HEADER + "parent,G99,Other,Person,G0@BULK.example,,,,,,,P3,\n"
    with pytest.raises(RosterError) as exc:
        import_roster(clash.encode(), "bulk.csv")
    db.rollback()
    assert exc.value.errors == ["bulk.csv row 2: email g0@bulk.example already belongs to someone else in the portal."]
    assert db.scalar(select(func.count(Person.id)).where(Person.external_id == "G99")) == 0


def test_a_bad_row_in_a_large_file_writes_nothing(app, db):
    bad = roster(3000) + "pupil,P-bad,Kid,Bad,,4,2017-02-30,C0,,,,,\n"
    with pytest.raises(RosterError) as exc:
        import_roster(bad.encode(), "big.csv")
    db.rollback()
    assert exc.value.errors == [f"big.csv row {bad.count(chr(10))}: date_of_birth '2017-02-30' is not a date written "
                                "YYYY-MM-DD (for example 2017-03-14)."]
    assert db.scalar(select(func.count(Person.id))) == 0
    assert db.scalar(select(func.count(Account.id))) == 0


def test_progress_is_reported_while_checking_and_writing(app, db):
    seen: list[tuple[str, int, int]] = []
    _import(db, roster(5000), progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [s for s, _, _ in seen]
    assert stages[0] == "Checking" and stages[-1] == "Writing"
    total = len(roster(5000).splitlines()) - 1
    assert ("Checking", total, total) in seen and ("Writing", total, total) in seen
    assert all(done <= t for _, done, t in seen)


def test_the_command_shows_progress_and_imports_a_large_file(app, db, tmp_path):
    path = tmp_path / "trust.csv"
    path.write_text(roster(2500))
    app.config["PORTAL_MAX_ROSTER_BYTES"] = 1000  # an upload limit; the command reads its own disk
    result = app.test_cli_runner().invoke(args=["portal", "import-roster", str(path)])
    assert result.exit_code == 0, result.output
    # Not a terminal here, so each stage's bar is its label (on the error stream).
    assert "Importing trust.csv: checking 3,918 rows" in result.stderr
    assert "Importing trust.csv: writing 3,918 rows" in result.stderr
    assert "Created 84 class, 2500 pupil, 1250 parent, 84 staff" in result.stdout


@pytest.mark.postgres_only
def test_plans_made_while_the_tables_were_nearly_empty_are_not_used_for_a_large_import(app, db, make_person):
    """A web process's pooled connection keeps the plans it has made. One made while the school's tables
    were nearly empty (here: ANALYZE sees only the default school's few people, then people added through the
    same session plan and keep the foreign-key check on portal_people) reads the whole of portal_people for
    each check. The import plans again, so a large file's checks use the primary key, not whole-table reads."""
    from sqlalchemy import text

    def people_rows_read() -> int:
        db.execute(text("SELECT pg_stat_force_next_flush()"))
        db.commit()
        db.execute(text("SELECT pg_stat_clear_snapshot()"))
        return db.scalar(text("SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables "
                              "WHERE relname = 'portal_people'"))

    db.execute(text("ANALYZE portal_people"))
    for i in range(8):  # past the five custom plans: the check's generic plan is kept from now on
        make_person(Role.TEACHER, given=f"Early{i}")
    before = people_rows_read()
    pupils = 3_000
    _import(db, roster(pupils, parents=False))
    read = people_rows_read() - before
    # A whole-table read for each new row's role and profile is millions of rows (4.8 million when the import
    # kept the old plan: a table growing to 3,000 rows, read 6,000 times); planned again, a handful.
    assert read < 5 * pupils, f"{read:,} rows of portal_people read by whole-table scans during the import"
