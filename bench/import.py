"""Roster import throughput, as a ratio of a plain bulk INSERT of the same rows.

Makes one roster CSV for a whole trust's worth of people (by default about 130,000: 50,000
pupils in classes of 28, their parents and carers, 5,000 staff), imports it into one school of
a fresh database (PostgreSQL by default, or SQLite) with ``portal.people.roster.import_roster``
(checking, accounts, people, roles, profiles, classes, teachers and family links, then one
commit), then re-imports the same file with 1% of the people changed and counts the rows that
re-import wrote. The floor is a plain bulk INSERT of the same CSV rows, as text columns, into a
scratch table of the same database (SQLAlchemy Core executemany, one transaction), measured
before and after the import; the printed floor is the median. A second floor is printed beside it:
the very database rows the import wrote (people, accounts, roles, profiles, classes, family links,
audit entries... several per CSV row), bulk INSERTed the same way into the portal's own tables, with
their keys and indexes, in a fresh database of the same schema. It measures what the import adds to
writing its result; the first floor measures the import against writing the file's rows once.

Targets (issue 13): >= 5,000 rows/s on PostgreSQL and within 3x of the floor; a re-import that
changes 1% of rows writes only those rows. Nothing is asserted; read the lines.

    .venv/bin/python bench/import.py [--backend postgresql|sqlite] [--pupils 50000] [--code DIR]
                                     [--without-foreign-keys]   (diagnosis: what the per-row key checks cost)
"""
from __future__ import annotations

import argparse
import inspect
import io
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

COLUMNS = ("type", "external_id", "given_name", "family_name", "email", "year_group", "date_of_birth",
           "class_code", "class_name", "send", "roles", "children", "teachers")


def make_roster(pupils: int, staff: int, seed: int = 13) -> tuple[list[list[str]], int]:
    """The roster's rows (no header) and how many of them are people."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    for s in range(staff):
        rows.append(["staff", f"S{s}", "Staff", f"Member{s}", f"staff{s}@import-bench.example", "", "", "", "", "",
                     "teacher" if s % 4 else "support_staff", "", ""])
    classes = -(-pupils // 28)
    for c in range(classes):
        rows.append(["class", f"C{c}", "", "", "", str(c % 13 + 1), "", "", f"Class {c}", "", "", "", f"S{c % staff}"])
    for p in range(pupils):
        year = (p // 28) % 13 + 1
        email = f"pupil{p}@import-bench.example" if year >= 7 else ""
        rows.append(["pupil", f"P{p}", "Pupil", f"Family{p}", email, str(year), f"{2020 - year}-03-01", f"C{p // 28}",
                     "", "yes" if p % 17 == 0 else "no", "", "", ""])
    p = 0
    family = 0
    while p < pupils:
        size = 2 if rng.random() < 0.4 and p + 1 < pupils else 1
        kids = ";".join(f"P{k}" for k in range(p, p + size))
        for carer in range(2 if rng.random() < 0.75 else 1):
            email = f"g{family}-{carer}@import-bench.example"
            rows.append(["parent", f"G{family}-{carer}", "Parent", f"Family{p}", email, "", "", "", "", "", "",
                         kids, ""])
        family += 1
        p += size
    people = sum(1 for r in rows if r[0] != "class")
    return rows, people


def to_csv(rows: list[list[str]]) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode()


def change_one_percent(rows: list[list[str]], seed: int = 7) -> tuple[list[list[str]], int]:
    """A copy with the family name of 1% of the people changed."""
    rng = random.Random(seed)
    people = [i for i, r in enumerate(rows) if r[0] != "class"]
    picked = set(rng.sample(people, len(people) // 100))
    out = [list(r) for r in rows]
    for i in picked:
        out[i][3] = out[i][3] + "-Changed"
    return out, len(picked)


def floor(engine, rows: list[list[str]]) -> float:
    """Seconds for a plain bulk INSERT of *rows* into a scratch table of text columns."""
    from sqlalchemy import Column, MetaData, Table, Text, insert

    meta = MetaData()
    table = Table("bench_floor_roster", meta, *(Column(c, Text) for c in COLUMNS))
    meta.drop_all(engine)
    meta.create_all(engine)
    params = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
    t = time.perf_counter()
    with engine.begin() as conn:
        for start in range(0, len(params), 2000):
            conn.execute(insert(table), params[start:start + 2000])
    elapsed = time.perf_counter() - t
    meta.drop_all(engine)
    return elapsed


def primary_keys(engine) -> dict[str, set]:
    """The primary key of every row of every portal table (taken before the import: a small database)."""
    from sqlalchemy import select

    from portal.db import Base

    with engine.connect() as conn:
        return {t.name: {tuple(r) for r in conn.execute(select(*t.primary_key.columns))}
                for t in Base.metadata.sorted_tables}


def written_rows_floor(engine, floor_url: str, before: dict[str, set]) -> tuple[float, dict[str, int]]:
    """(seconds, rows written per table) for a plain bulk INSERT of the very rows the import wrote (every
    table, in the order of their foreign keys) into a fresh database of the same schema: the same tables
    with their keys and indexes, as SQLAlchemy Core executemany in one transaction. The rows that were
    there before the import (the school) are copied first, untimed."""
    from sqlalchemy import create_engine, insert, select

    from portal.db import Base

    old: list[tuple] = []
    new: list[tuple] = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            key = [c.name for c in table.primary_key.columns]
            rows = [dict(r) for r in conn.execute(select(table)).mappings()]
            seen = before.get(table.name, set())
            old.append((table, [r for r in rows if tuple(r[k] for k in key) in seen]))
            new.append((table, [r for r in rows if tuple(r[k] for k in key) not in seen]))
    target = create_engine(floor_url)

    def copy(batches: list[tuple]) -> None:
        with target.begin() as conn:
            for table, rows in batches:
                for start in range(0, len(rows), 2000):
                    conn.execute(insert(table), rows[start:start + 2000])

    copy(old)
    t = time.perf_counter()
    copy(new)
    elapsed = time.perf_counter() - t
    target.dispose()
    return elapsed, {table.name: len(rows) for table, rows in new if rows}


def drop_roster_foreign_keys(url: str) -> int:
    """Drop the foreign keys of the tables an import writes (PostgreSQL checks each one per row with a query
    of its own, a cost the floor's scratch table does not pay). Returns how many were dropped."""
    from sqlalchemy import create_engine, text

    from portal.people import models as m

    tables = [model.__table__.name for model in (m.Account, m.Person, m.PersonRole, m.SchoolClass, m.ClassTeacher,
                                                  m.PupilProfile, m.GuardianLink)]
    engine = create_engine(url)
    with engine.begin() as conn:
        found = conn.execute(text(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid::regclass::text = ANY(:tables)"), {"tables": tables}).all()
        for table, name in found:
            conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    engine.dispose()
    return len(found)


def table_sizes(engine) -> dict[str, int]:
    from sqlalchemy import func, select

    from portal.db import Base

    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar()
                for name, t in Base.metadata.tables.items() if name != "portal_audit_log"}


def run_import(app, school_id: int, data: bytes, name: str) -> tuple[float, object, int]:
    """(seconds, summary, rows updated or deleted) for one import and its commit."""
    from sqlalchemy import event

    from portal.db import session
    from portal.people.roster import import_roster
    from portal.schools.isolation import set_school

    engine = app.extensions["portal"].engine
    changed = [0]

    def after(conn, cursor, statement, parameters, context, executemany):
        verb = statement.split(None, 1)[0].upper()
        if verb in ("UPDATE", "DELETE") and "portal_audit_log" not in statement.split("WHERE")[0]:
            changed[0] += max(cursor.rowcount, 0)

    kwargs = {}
    if "progress" in inspect.signature(import_roster).parameters:
        kwargs["progress"] = lambda stage, done, total: None
    event.listen(engine, "after_cursor_execute", after)
    try:
        with app.app_context():
            set_school(session, school_id)
            t = time.perf_counter()
            summary = import_roster(data, name, **kwargs)
            session.commit()
            elapsed = time.perf_counter() - t
    finally:
        event.remove(engine, "after_cursor_execute", after)
    return elapsed, summary, changed[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pupils", type=int, default=50_000)
    parser.add_argument("--staff", type=int, default=5_000)
    parser.add_argument("--code", default=None, help="the portal checkout to measure (default: this one)")
    parser.add_argument("--without-foreign-keys", action="store_true",
                        help="diagnosis only (PostgreSQL): drop the foreign keys of the roster's tables in the bench "
                             "database and the second floor's first, to see what their per-row checks cost; the "
                             "portal never runs so")
    args = parser.parse_args()
    if args.without_foreign_keys and args.backend != "postgresql":
        parser.error("--without-foreign-keys is a PostgreSQL diagnosis")
    common.use_code(args.code)
    root = Path(tempfile.mkdtemp(prefix="bench-import-"))
    server = None
    try:
        if args.backend == "postgresql":
            server = common.start_postgres()
        url = common.new_database(server, root, "bench")
        floor_url = common.new_database(server, root, "bench_floor")
        if args.without_foreign_keys:
            print(f"diagnosis: dropped {drop_roster_foreign_keys(url)} foreign keys of the roster's tables", flush=True)
            drop_roster_foreign_keys(floor_url)
        from portal.app import create_app
        from portal.db import session
        from portal.schools.operations import create_school

        app = create_app(common.app_config(url, root))
        with app.app_context():
            school = create_school(slug="import-bench", name="Import Bench School (fictional)", with_policies=False)
            session.commit()
            school_id = school.id
        engine = app.extensions["portal"].engine
        rows, people = make_roster(args.pupils, args.staff)
        data = to_csv(rows)
        print(f"{args.backend}: roster of {len(rows):,} rows ({people:,} people, {len(data) / 1e6:.1f} MB) "
              f"into one school; {common.load()}", flush=True)
        floors = [floor(engine, rows)]
        before_import = primary_keys(engine)
        seconds, summary, _ = run_import(app, school_id, data, "trust-roster.csv")
        floors.append(floor(engine, rows))
        f = common.median(floors)
        print(f"first import:  {len(rows) / seconds:>8,.0f} rows/s ({seconds:.1f} s); floor (plain bulk INSERT of the "
              f"same rows): {len(rows) / f:,.0f} rows/s ({f:.1f} s, runs {', '.join(f'{x:.1f}' for x in floors)} s); "
              f"import takes {seconds / f:.1f}x the floor (target <= 3x, >= 5,000 rows/s)")
        print(f"               {summary.describe()}", flush=True)
        f2, written = written_rows_floor(engine, floor_url, before_import)
        print(f"second floor:  the {sum(written.values()):,} database rows the import wrote, bulk INSERTed into the "
              f"portal's own tables (keys and indexes) of a fresh database: {f2:.1f} s; import takes "
              f"{seconds / f2:.1f}x this floor", flush=True)
        print("               " + ", ".join(f"{name.removeprefix('portal_')} {n:,}" for name, n in
                                            sorted(written.items(), key=lambda kv: -kv[1])), flush=True)
        changed_rows, n_changed = change_one_percent(rows)
        before = table_sizes(engine)
        seconds2, summary2, updated = run_import(app, school_id, to_csv(changed_rows), "trust-roster.csv")
        inserted = sum(n - before[t] for t, n in table_sizes(engine).items())
        print(f"re-import with {n_changed:,} people changed (1%): {len(rows) / seconds2:,.0f} rows/s "
              f"({seconds2:.1f} s); rows written: {updated:,} updated or deleted, {inserted:,} inserted "
              f"(target: {n_changed:,} and 0)")
        print(f"               {summary2.describe()}")
        print(f"after: {common.load()}")
        engine.dispose()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
