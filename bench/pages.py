"""Main pages under load, as a ratio of a floor measured in the same run.

Builds a fictional school on SQLite (``bench/world.py``: by default 1,000 pupils, about 2,600
people, two years of signatures, 400 concerns), starts the portal under gunicorn (2 sync
workers) and the floor app (``bench/floor_app.py``: Flask + Jinja + one SQLite SELECT, 2 sync
workers) side by side on 127.0.0.1, signs in as each role through the real login form, then for
each page runs a bounded load loop (wrk, or a Python loop when wrk is missing), alternating the
floor and the page, and prints req/s, p50, p99 and the ratio page req/s / floor req/s (median of
the rounds). The load average is printed before and after: the machine is shared.

Two reference rows (``bench/chrome_app.py``, served only here) show what every signed-in page
costs before its own work: the sign-in alone, then the sign-in and the portal's layout around one
paragraph. They have no target; a page's ratio cannot be above theirs.

Targets (issue 13): every parent and pupil page >= 0.5 of the floor; every staff page >= 0.3.
Nothing is asserted; read the table.

    .venv/bin/python bench/pages.py [--pupils 1000] [--seconds 3] [--rounds 3] [--connections 4]
                                    [--only NAME] [--code DIR]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

UA = "countersign-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not start")


def gunicorn(app_spec: str, port: int, env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("gunicorn")
    cmd = [str(exe) if exe.exists() else "gunicorn", "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{port}",
           "--log-level", "warning", app_spec]
    return subprocess.Popen(cmd, env=env, cwd=str(cwd), stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# ------------------------------------------------------------------ signing in


def sign_in(base: str, email: str, password: str) -> str:
    """The session cookie after signing in through the real form (CSRF token included)."""
    import requests

    s = requests.Session()
    s.headers["User-Agent"] = UA
    page = s.get(f"{base}/portal/auth/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or \
        re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    data = {"email": email, "password": password}
    if token:
        data["csrf_token"] = token.group(1)
    resp = s.post(f"{base}/portal/auth/login", data=data, allow_redirects=False)
    if resp.status_code != 302:
        raise SystemExit(f"sign-in as {email} failed: HTTP {resp.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


# ------------------------------------------------------------------ load loops


def run_wrk(url: str, cookie: str | None, seconds: int, connections: int) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"User-Agent: {UA}"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx or 3xx responses" in out:
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out).group(1)
        raise SystemExit(f"{url}: {bad} responses were not 2xx/3xx\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    return {"rps": rps, "p50": _ms(lat.get("50", "nan")), "p99": _ms(lat.get("99", "nan"))}


def _ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    if not m:
        return float("nan")
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n


def run_python(url: str, cookie: str | None, seconds: int, connections: int) -> dict:
    """A fallback load loop: *connections* threads with keep-alive, for *seconds*."""
    import http.client

    parts = urllib.parse.urlsplit(url)
    times: list[float] = []
    stop_at = time.perf_counter() + seconds
    lock = threading.Lock()
    errors = []

    def loop():
        conn = http.client.HTTPConnection(parts.hostname, parts.port)
        headers = {"User-Agent": UA, **({"Cookie": cookie} if cookie else {})}
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status >= 400:
                errors.append(resp.status)
            with lock:
                times.append(time.perf_counter() - t)
        conn.close()

    threads = [threading.Thread(target=loop) for _ in range(connections)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{url}: {len(errors)} error responses")
    elapsed = time.perf_counter() - start
    return {"rps": len(times) / elapsed, "p50": common.percentile(times, 50) * 1000,
            "p99": common.percentile(times, 99) * 1000}


# ------------------------------------------------------------------ the run


PAGES = [
    # (name, kind, login key, path)
    ("sign-in", "parent", None, "/portal/auth/login"),
    # Reference rows (bench/chrome_app.py): what every signed-in page costs before its own work.
    ("ref: signed in, no page", "reference", "parent", "/bench/signed-in"),
    ("ref: signed in, layout", "reference", "parent", "/bench/layout"),
    ("parent home", "parent", "parent", "/portal/parent/"),
    ("signing page", "parent", "parent", "/portal/policies/versions/{parent_version}/sign"),
    ("signing history", "parent", "parent", "/portal/policies/history"),
    ("pupil home", "pupil", "pupil", "/portal/pupil/"),
    ("staff home", "staff", "class_teacher", "/portal/staff/"),
    ("Head home", "staff", "head", "/portal/staff/"),
    ("concerns inbox", "staff", "head", "/portal/concerns/inbox"),
    ("a concern", "staff", "head", "/portal/concerns/inbox/{concern}"),
    ("compliance dashboard", "staff", "head", "/portal/policies/compliance/"),
    ("links register", "staff", "head", "/portal/links/register"),
    ("incidents list", "staff", "head", "/portal/incidents/"),
    ("auditor list", "staff", "auditor", "/portal/auditor/"),
    ("classroom teacher view", "staff", "class_teacher", "/portal/classroom/"),
]
TARGET: dict[str, float | None] = {"parent": 0.5, "pupil": 0.5, "staff": 0.3, "reference": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pupils", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=3, help="length of each load run")
    parser.add_argument("--rounds", type=int, default=3, help="floor/page pairs per page")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--only", action="append", help="measure only these pages (repeatable)")
    parser.add_argument("--code", default=None, help="the portal checkout to measure (default: this one)")
    args = parser.parse_args()
    code = common.use_code(args.code)
    loop = run_wrk if shutil.which("wrk") else run_python
    root = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    procs = []
    try:
        from sqlalchemy import text
        from world import BENCH_PASSWORD, World

        from portal.app import create_app

        url = f"sqlite:///{root / 'portal.sqlite'}"
        common.fresh_database(url)
        cfg = common.app_config(url, root)
        cfg["WTF_CSRF_ENABLED"] = True
        app = create_app(cfg)
        world = World(app)
        info = world.add_school(args.pupils, in_trust=False)
        world.finish()
        with app.extensions["portal"].engine.connect() as conn:
            concern = conn.execute(text("SELECT id FROM portal_concerns WHERE route = 'general' AND status != "
                                        "'closed' ORDER BY id LIMIT 1")).scalar()
        app.extensions["portal"].engine.dispose()
        fill = {"parent_version": info.versions["parent"], "concern": concern}
        people = world.people_count()

        from floor_app import make_db

        floor_db = root / "floor.sqlite"
        make_db(str(floor_db))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), str(common.REPO)]),
               "SECRET_KEY": "bench-only-not-secret", "PORTAL_DATABASE_URI": url,
               "PORTAL_ARCHIVE_DIR": str(root / "archive"), "PORTAL_UPLOAD_DIR": str(root / "uploads"),
               "PORTAL_KEYS_DIR": str(root / "keys"), "PORTAL_MAIL_BACKEND": "log",
               "PORTAL_SECURE_COOKIES": "false", "PORTAL_ARGON2_PROFILE": "cheapest",
               "PORTAL_INSTANCE_DIR": str(root / "instance"), "BENCH_FLOOR_DB": str(floor_db)}
        portal_port, floor_port = free_port(), free_port()
        # The portal app with the two reference pages (bench/chrome_app.py), from *code*.
        env["PYTHONPATH"] = os.pathsep.join([str(code), str(common.REPO), str(Path(__file__).resolve().parent)])
        procs.append(gunicorn("chrome_app:app", portal_port, env, code, root / "portal.log"))
        procs.append(gunicorn("floor_app:app", floor_port, env, Path(__file__).resolve().parent, root / "floor.log"))
        for port, proc in ((portal_port, procs[0]), (floor_port, procs[1])):
            wait_for(port, proc)
        base = f"http://127.0.0.1:{portal_port}"
        floor_url = f"http://127.0.0.1:{floor_port}/floor"
        cookies = {key: sign_in(base, info.logins[key], BENCH_PASSWORD)
                   for key in {k for _, _, k, _ in PAGES if k}}
        print(f"School: {people:,} people ({args.pupils} pupils), SQLite; portal and floor each gunicorn -w 2 "
              f"(sync); load loop: {loop.__name__.removeprefix('run_')} {args.connections} connections, "
              f"{args.seconds} s per run, {args.rounds} floor/page pairs per page")
        print(f"before: {common.load()}", flush=True)
        head = f"{'page':<24} {'floor req/s':>11} {'page req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6} " \
               f"{'target':>6}"
        print(head)
        print("-" * len(head), flush=True)
        # Warm both servers (each worker imports and compiles templates on first use).
        for _name, _kind, key, path in PAGES:
            loop(base + path.format(**fill), cookies.get(key), 1, args.connections)
        loop(floor_url, None, 1, args.connections)
        for name, kind, key, path in PAGES:
            if args.only and name not in args.only:
                continue
            floors, runs = [], []
            for _ in range(args.rounds):
                floors.append(loop(floor_url, None, args.seconds, args.connections))
                runs.append(loop(base + path.format(**fill), cookies.get(key), args.seconds, args.connections))
            f_rps = common.median([r["rps"] for r in floors])
            p_rps = common.median([r["rps"] for r in runs])
            ratio = p_rps / f_rps
            target = TARGET[kind]
            mark = "" if target is None or ratio >= target else " below"
            print(f"{name:<24} {f_rps:>11.0f} {p_rps:>10.0f} {common.median([r['p50'] for r in runs]):>7.1f} "
                  f"{common.median([r['p99'] for r in runs]):>7.1f} {ratio:>6.2f} {target or '-':>6}{mark}",
                  flush=True)
        print(f"after: {common.load()}")
    finally:
        for proc in procs:
            stop(proc)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
