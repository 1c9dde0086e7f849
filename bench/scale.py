"""Pages at trust scale: statements per request at two sizes, p50/p95, and a worker's peak memory.

Builds a fictional trust (``bench/world.py``, bulk Core inserts) on a throwaway PostgreSQL (by
default 50 schools of 1,000 pupils: about 130,000 people, two years of signatures, 20,000
concerns of which nine in ten are closed) and, on SQLite, one large school (2,000 pupils). Each
database is measured twice: first at a small size, then after growing it to full size. The
measuring runs in a fresh process (a "worker"): it signs in through the login form, requests
each page a few times to warm up, then times each request and counts its SQL statements. The
floor is a minimal Flask + Jinja page doing one indexed SELECT of 20 people on the same
database, in the same process, through the same test client; page times are printed as
multiples of it too.

Targets (issue 13): statements per page the same at both sizes; p95 <= 100 ms per page at trust
scale on PostgreSQL; a worker's peak memory under 300 MiB. Nothing is asserted; read the table.

    .venv/bin/python bench/scale.py [--backend postgresql|sqlite|both] [--schools 50] [--pupils 1000]
                                    [--sqlite-pupils 2000] [--requests 30] [--code DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def build(backend: str, url: str, root: Path, args, *, small: bool, world=None):
    """Create (``small``) or grow the fictional trust; returns the world."""
    from world import World

    from portal.app import create_app

    app = world.app if world is not None else create_app(common.app_config(url, root))
    if world is None:
        world = World(app)
        world.add_trust()
    t = time.perf_counter()
    if backend == "postgresql":
        small_schools, small_pupils = max(2, args.schools // 10), max(28, args.pupils // 10)
        if small:
            for _ in range(small_schools):
                world.add_school(small_pupils)
        else:
            for info in world.schools:
                world.add_pupils(info, args.pupils - info.pupils)
            while len(world.schools) < args.schools:
                world.add_school(args.pupils)
    else:
        small_pupils = max(28, args.sqlite_pupils // 10)
        if small:
            world.add_school(small_pupils)
        else:
            world.add_pupils(world.schools[0], args.sqlite_pupils - world.schools[0].pupils)
    world.finish()
    print(f"  built {'small' if small else 'full'} {backend}: {len(world.schools)} school(s), "
          f"{world.people_count():,} people in {time.perf_counter() - t:.0f} s", flush=True)
    return world


def pages(world) -> list[tuple[str, str, str]]:
    """(page, who signs in, path) measured in the first school (and its trust)."""
    s = world.schools[0]
    year = _year()
    policy = s.versions.get("parent")
    class_id = s.classes[len(s.classes) // 2][0]
    t = world.trust_id
    return [
        ("parent home", s.logins["parent"], "/portal/parent/"),
        ("Head home", s.logins["head"], "/portal/staff/"),
        ("compliance dashboard", s.logins["head"], "/portal/policies/compliance/"),
        ("concerns inbox", s.logins["head"], "/portal/concerns/inbox"),
        ("links register", s.logins["head"], "/portal/links/register"),
        ("auditor list", s.logins["auditor"], "/portal/auditor/"),
        ("auditor list: year", s.logins["auditor"], f"/portal/auditor/?year={year}"),
        ("auditor list: policy", s.logins["auditor"], f"/portal/auditor/?policy={_policy_id(world, policy)}"),
        ("auditor list: audience", s.logins["auditor"], "/portal/auditor/?audience=pupil_eyfs_ks1"),
        ("auditor list: class", s.logins["auditor"], f"/portal/auditor/?school_class={class_id}"),
        ("auditor list: person", s.logins["auditor"], "/portal/auditor/?person=abbott"),
        ("trust compliance", world.trust_logins["trust_compliance"], f"/portal/trust/{t}/compliance"),
        ("trust safeguarding", world.trust_logins["trust_safeguarding"], f"/portal/trust/{t}/safeguarding"),
        ("trust records", world.trust_logins["trust_auditor"], f"/portal/trust/{t}/records"),
    ]


def _year() -> int:
    from world import _academic_year

    return _academic_year()


def _policy_id(world, version_id) -> int:
    from sqlalchemy import text

    with world.app.extensions["portal"].engine.connect() as conn:
        return conn.execute(text("SELECT policy_id FROM portal_policy_versions WHERE id = :v"),
                            {"v": version_id}).scalar()


def measure(url: str, root: Path, plan: list, requests: int, code: str | None) -> dict:
    """Run the measuring worker in a fresh process; returns its JSON report."""
    cmd = [sys.executable, __file__, "--worker", "--url", url, "--root", str(root), "--requests", str(requests),
           "--plan", json.dumps(plan)]
    if code:
        cmd += ["--code", code]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def worker(args) -> None:
    """One process: sign in, warm up, then time and count every request of every page."""
    import resource

    from flask import Flask, render_template
    from sqlalchemy import create_engine, event, text
    from world import BENCH_PASSWORD

    from portal.app import create_app

    app = create_app(common.app_config(args.url, Path(args.root)))
    engine = app.extensions["portal"].engine
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_a):
        statements[0] += 1

    from jinja2 import DictLoader

    floor = Flask("floor")
    floor_engine = create_engine(args.url)
    floor.jinja_loader = DictLoader(
        {"floor.html": "<ul>{% for r in rows %}<li>{{ r.given_name }} {{ r.family_name }}</li>{% endfor %}</ul>"})

    @floor.get("/")
    def _floor():
        with floor_engine.connect() as conn:
            rows = conn.execute(text("SELECT given_name, family_name FROM portal_people WHERE id > :i "
                                     "ORDER BY id LIMIT 20"), {"i": 1000}).all()
        return render_template("floor.html", rows=rows)

    def timed(client, path):
        statements[0] = 0
        t = time.perf_counter()
        resp = client.get(path)
        elapsed = time.perf_counter() - t
        if resp.status_code != 200:
            raise SystemExit(f"{path}: HTTP {resp.status_code}")
        return elapsed, statements[0]

    floor_client = floor.test_client()
    for _ in range(5):
        floor_client.get("/")
    floor_times = [timed(floor_client, "/")[0] for _ in range(args.requests)]
    report = {"floor_p50": common.median(floor_times), "pages": {}}
    clients = {}
    for name, email, path in json.loads(args.plan):
        if email not in clients:
            c = app.test_client()
            resp = c.post("/portal/auth/login", data={"email": email, "password": BENCH_PASSWORD})
            if resp.status_code != 302:
                raise SystemExit(f"sign-in failed for {email}: HTTP {resp.status_code}")
            clients[email] = c
        client = clients[email]
        for _ in range(3):
            timed(client, path)
        runs = [timed(client, path) for _ in range(args.requests)]
        times = [t for t, _ in runs]
        counts = sorted({n for _, n in runs})
        report["pages"][name] = {"p50": common.median(times), "p95": common.percentile(times, 95),
                                 "statements": counts[0] if len(counts) == 1 else counts}
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report))


def run_backend(backend: str, args) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"bench-scale-{backend}-"))
    server = None
    try:
        if backend == "postgresql":
            server = common.start_postgres()
        url = common.new_database(server, root, "bench")
        print(f"{backend}: {common.load()}", flush=True)
        world = build(backend, url, root, args, small=True)
        small_plan = pages(world)
        small = measure(url, root, small_plan, args.requests, args.code)
        small_people = world.people_count()
        world = build(backend, url, root, args, small=False, world=world)
        full = measure(url, root, pages(world), args.requests, args.code)
        people = world.people_count()
        world.app.extensions["portal"].engine.dispose()
        print(f"\n{backend}: {len(world.schools)} school(s), {people:,} people (small size: {small_people:,}); "
              f"{common.load()}")
        print(f"floor (Flask + Jinja + one SELECT of 20 rows, same database and process): "
              f"p50 {full['floor_p50'] * 1000:.2f} ms (small size run: {small['floor_p50'] * 1000:.2f} ms)")
        head = f"{'page':<24} {'stmts small':>11} {'stmts full':>10} {'same':>5} {'p50 ms':>8} {'p95 ms':>8} " \
               f"{'p50/floor':>10} {'p95<=100':>9}"
        print(head)
        print("-" * len(head))
        for name, f in full["pages"].items():
            s = small["pages"][name]
            same = "yes" if s["statements"] == f["statements"] else "NO"
            ok = "yes" if f["p95"] * 1000 <= 100 else "no"
            print(f"{name:<24} {s['statements']!s:>11} {f['statements']!s:>10} {same:>5} {f['p50'] * 1000:>8.1f} "
                  f"{f['p95'] * 1000:>8.1f} {f['p50'] / full['floor_p50']:>10.1f} {ok:>9}")
        print(f"peak memory of the measuring worker: {full['peak_rss_mib']:.0f} MiB (target < 300 MiB; "
              f"small size: {small['peak_rss_mib']:.0f} MiB)\n", flush=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--schools", type=int, default=50)
    parser.add_argument("--pupils", type=int, default=1000, help="pupils per school on PostgreSQL")
    parser.add_argument("--sqlite-pupils", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--code", default=None, help="the portal checkout to measure (default: this one)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    args = parser.parse_args()
    common.use_code(args.code)
    if args.worker:
        worker(args)
        return
    os.environ.setdefault("PORTAL_MAIL_BACKEND", "log")
    for backend in (["postgresql", "sqlite"] if args.backend == "both" else [args.backend]):
        run_backend(backend, args)


if __name__ == "__main__":
    main()
