"""Retention-run benchmark. Prints ratios; asserts nothing (timings vary by machine).

The disposal run (``run_school``: finding what is due, per-record deletion, a tombstone in the
hash-chained audit log and a disposal-register row for each record, anonymising the people who are
then referred to by nothing, one commit) against the floor: deleting the *same* rows with two bulk
``DELETE`` statements and one commit. Each run starts from a fresh copy of the same seeded SQLite
database; runs alternate between the two. The seed: N parents who left years ago, each with one
signed agreement and one consent answer (no PDFs: the archive's file removal is not measured).

    .venv/bin/python bench/retention.py [--records 500] [--runs 5]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TODAY = dt.date(2035, 1, 1)


def make_app(db: Path, root: Path):
    from portal.app import create_app

    return create_app({
        "SECRET_KEY": "bench-only", "PORTAL_DATABASE_URI": f"sqlite:///{db}",
        "PORTAL_ARCHIVE_DIR": str(root / "archive"), "PORTAL_KEYS_DIR": str(root / "keys"),
        "PORTAL_UPLOAD_DIR": str(root / "uploads"), "PORTAL_MAIL_BACKEND": "log",
        "PORTAL_ARGON2_PROFILE": "cheapest", "SESSION_COOKIE_SECURE": False,
    })


def seed(db: Path, root: Path, n: int) -> int:
    from portal.db import session
    from portal.migrate import upgrade
    from portal.people.models import Person, Role
    from portal.policies.models import ConsentItem, Policy, PolicyVersion
    from portal.schools.isolation import school_scope
    from portal.schools.operations import create_school
    from portal.signatures.models import ConsentAnswer, Signature

    upgrade(f"sqlite:///{db}")
    app = make_app(db, root)
    with app.app_context():
        school = create_school(slug="bench", name="Bench Fictional School", with_policies=False)
        session.commit()
        with school_scope(session, school.id):
            from portal.dataprotection.models import Departure

            policy = Policy(slug="bench-parent", title="Home agreement", audience="parent")
            version = PolicyVersion(policy=policy, number=1, status="published", title="Home agreement",
                                    body_md="Be kind online.", published_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
            version.consent_items.append(ConsentItem(key="photos_website", question="Photos?", position=0))
            session.add(policy)
            session.flush()
            item = version.consent_items[0]
            for i in range(n):
                p = Person(given_name="Bench", family_name=f"Parent{i}", external_id=f"B-{i}")
                p.add_role(Role.PARENT)
                session.add(p)
                session.flush()
                sig = Signature(version_id=version.id, signer_id=p.id, signer_role="parent",
                                signed_name=p.full_name, text_sha256="0" * 64,
                                signed_at=dt.datetime(2026, 9, 14, 8, tzinfo=dt.UTC), ip="192.0.2.1",
                                user_agent="Bench/1.0", academic_year=2026)
                session.add(sig)
                session.flush()
                session.add(ConsentAnswer(consent_item_id=item.id, signature_id=sig.id, person_id=p.id,
                                          answer=True, answered_at=sig.signed_at))
                session.add(Departure(person_id=p.id, left_on=dt.date(2027, 7, 20)))
            session.commit()
        school_id = school.id
    app.extensions["portal"].engine.dispose()
    return school_id


def time_run(db: Path, root: Path, school_id: int) -> tuple[float, int]:
    from portal.dataprotection.retention import run_school

    app = make_app(db, root)
    with app.app_context():
        start = time.perf_counter()
        report = run_school(school_id, TODAY)
        elapsed = time.perf_counter() - start
    app.extensions["portal"].engine.dispose()
    return elapsed, report.count("deleted")


def time_floor(db: Path, root: Path, school_id: int) -> float:
    from sqlalchemy import delete

    from portal.db import session
    from portal.schools.isolation import school_scope
    from portal.signatures.models import ConsentAnswer, Signature

    app = make_app(db, root)
    with app.app_context(), school_scope(session, school_id):
        start = time.perf_counter()
        session.execute(delete(ConsentAnswer))
        session.execute(delete(Signature))
        session.commit()
        elapsed = time.perf_counter() - start
    app.extensions["portal"].engine.dispose()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    try:
        template = root / "seed.sqlite"
        school_id = seed(template, root, args.records)
        runs, floors = [], []
        for i in range(args.runs):
            for kind in ("floor", "run") if i % 2 else ("run", "floor"):
                db = root / f"{kind}-{i}.sqlite"
                shutil.copyfile(template, db)
                if kind == "run":
                    elapsed, deleted = time_run(db, root, school_id)
                    assert deleted == args.records, deleted
                    runs.append(elapsed)
                else:
                    floors.append(time_floor(db, root, school_id))
                db.unlink()
        run_m, floor_m = statistics.median(runs), statistics.median(floors)
        print(f"load average: {os.getloadavg()}")
        print(f"records: {args.records} agreements (+ consent answers, + people anonymised), runs: {args.runs}")
        print(f"retention run: median {run_m * 1000:.0f} ms ({run_m / args.records * 1000:.2f} ms per record)")
        print(f"floor (bulk DELETE): median {floor_m * 1000:.1f} ms")
        print(f"ratio run / floor: {run_m / floor_m:.0f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
