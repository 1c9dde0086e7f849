"""Several web hosts for real: the commands of the deploy/ example (systemd units) run two gunicorn
web processes and one job worker against PostgreSQL, Redis and an S3-compatible server, all
started by the tests on 127.0.0.1. A parent signs on one web process; the sealed PDF, made by the
worker and kept in the bucket, is downloaded from the other. Sign-in limits count the client's
address behind the proxy (PORTAL_PROXY_FIX) in the database, across processes."""
from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.pg import _free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
INSTALL_ROOT = "/opt/countersign"
UNITS = ("countersign-migrate.service", "countersign-web@.service", "countersign-worker.service")


# ---------------------------------------------------------------- reading the deploy example


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as {section: {key: [values]}} (keys may repeat, e.g. ExecStart of a oneshot)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"{path.name}: cannot read {raw!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def parse_env(path: Path) -> dict[str, str]:
    out = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"countersign.env: cannot read {raw!r}"
            out[key] = value
    return out


def command(unit: str, env: dict[str, str], instance: str = "") -> list[list[str]]:
    """The unit's ExecStart lines as argv lists, as systemd would run them here: the install
    folder is this checkout, ``%i`` the instance, ``${VAR}`` from the environment file."""
    service = parse_unit(DEPLOY / unit)["Service"]
    out = []
    for line in service["ExecStart"]:
        line = line.replace("%i", instance)
        line = re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: env[m.group(1)], line)
        argv = shlex.split(line)
        assert argv[0].startswith(f"{INSTALL_ROOT}/.venv/bin/"), argv[0]
        argv[0] = str(Path(sys.executable).parent / Path(argv[0]).name)
        out.append(argv)
    return out


def test_the_deploy_example_parses_and_names_real_settings():
    from portal.config import DEFAULTS

    env = parse_env(DEPLOY / "countersign.env")
    for key in env:
        if key.startswith("PORTAL_") and key != "PORTAL_INSTANCE_DIR":
            assert key in DEFAULTS, f"countersign.env sets an unknown setting {key}"
    for unit in UNITS:
        sections = parse_unit(DEPLOY / unit)
        service = sections["Service"]
        assert service["WorkingDirectory"] == [INSTALL_ROOT]
        assert service["EnvironmentFile"] == ["/etc/countersign/countersign.env"]
        for argv in command(unit, env, "8001"):
            assert Path(argv[0]).name in ("gunicorn", "flask")
    nginx = (DEPLOY / "nginx-countersign.conf").read_text()
    assert nginx.count("{") == nginx.count("}") and "X-Forwarded-For $remote_addr" in nginx


# ---------------------------------------------------------------- the running installation


class Installation:
    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env = env
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.sessions: list[requests.Session] = []

    def run(self, argv: list[str]) -> str:
        done = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self, argv: list[str], name: str) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for http in self.sessions:
            http.close()
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT if "jobs" in " ".join(map(str, proc.args)) else signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.logs if p.exists())


def _wait_http(url: str, proc: subprocess.Popen, inst: Installation, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{url} exited at start:\n{inst.tail()}")
        try:
            if requests.get(url, timeout=2, allow_redirects=False).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer:\n{inst.tail()}")


@pytest.fixture(scope="module")
def installation(tmp_path_factory, pg_server, redis_server, s3_server):
    """One installation for the module (starting it takes a while on 2 cores)."""
    tmp_path = tmp_path_factory.mktemp("deploy")
    if redis_server.proc is None:
        redis_server.start()
    redis_url = redis_server.url
    if isinstance(pg_server, str):
        from tests.deps import unavailable

        unavailable(f"PostgreSQL: {pg_server}")
    admin = create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    name = f"deploy_{os.getpid()}_{_free_port()}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    bucket = f"countersign-deploy-{_free_port()}"
    s3_server.make_bucket(bucket, object_lock=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "FLASK_"))}
    env.update(parse_env(DEPLOY / "countersign.env"))
    env.update({
        "SECRET_KEY": "deploy-test-secret-not-for-production",
        "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"),
        "PORTAL_DATABASE_URI": pg_server.url(name),
        "PORTAL_JOBS_URL": redis_url,
        **{k: str(v) for k, v in s3_server.config(bucket, "records").items()},
        "PORTAL_S3_OBJECT_LOCK_DAYS": "1",
        "PORTAL_KEYS_DIR": str(tmp_path / "keys"),
        "PORTAL_UPLOAD_DIR": str(tmp_path / "uploads"),
        "PORTAL_MAIL_BACKEND": "log",
        "PORTAL_SECURE_COOKIES": "false",
        "PORTAL_ARGON2_PROFILE": "cheapest",
        "SERVER_NAME": "portal.test.example",
        "PREFERRED_URL_SCHEME": "http",
        "COUNTERSIGN_WEB_WORKERS": "1",
        "COUNTERSIGN_JOB_THREADS": "1",
    })
    inst = Installation(env, tmp_path)
    inst.bucket, inst.s3 = bucket, s3_server
    try:
        # In the order of docs/deployment.md: the migrate unit on the new, empty database (its `keys init
        # --if-missing` finds no school yet and succeeds), then the schools: the demo school stands in for a real
        # roster and makes its own certificate.
        for argv in command("countersign-migrate.service", env):
            inst.run(argv)
        # Two of its records sealed now (into the bucket), not the default 24: the test's own signature is the
        # one followed from web process to job worker to the other web process.
        flask = command("countersign-migrate.service", env)[0][0]
        inst.run([flask, "--app", "wsgi:app", "portal", "demo", "--if-empty", "--seal", "2"])
        inst.ports = [_free_port(), _free_port()]
        # The web processes and the worker start side by side, as systemd starts independent units.
        webs = {port: inst.start(command("countersign-web@.service", env, str(port))[0], f"web-{port}")
                for port in inst.ports}
        [argv] = command("countersign-worker.service", env)
        inst.worker = inst.start(argv, "worker")
        for port, proc in webs.items():
            _wait_http(f"http://127.0.0.1:{port}/portal/auth/login", proc, inst)
        yield inst
    finally:
        inst.stop()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def _once(html: str, field: str) -> str:
    """The one-time token (portal/idempotency.py) of the page's form that holds *field*, as a
    browser would send it with that form."""
    form = next((f for f in html.split("<form")[1:] if f'name="{field}"' in f.split("</form>")[0]), None)
    assert form is not None, f"no form with {field} on the page"
    m = re.search(r'name="_once" value="([^"]+)"', form.split("</form>")[0])
    assert m, "the form carries no one-time token"
    return m.group(1)


def _sign_in(http: requests.Session, base: str, email: str, password: str, forwarded_for: str) -> requests.Response:
    """Sign in through "the proxy": every request of this client carries its address."""
    http.headers["X-Forwarded-For"] = forwarded_for
    page = http.get(f"{base}/portal/auth/login", timeout=30)
    return http.post(f"{base}/portal/auth/login", data={"csrf_token": _csrf(page.text), "email": email,
                                                        "password": password}, allow_redirects=False, timeout=30)


def test_sign_on_one_web_process_and_download_the_sealed_pdf_from_the_other(installation):
    from portal.demo import DEMO_PASSWORD

    a, b = (f"http://127.0.0.1:{p}" for p in installation.ports)
    http = requests.Session()
    installation.sessions.append(http)
    resp = _sign_in(http, a, "parent@larkspur.example", DEMO_PASSWORD, "198.51.100.20")
    assert resp.status_code == 302, installation.tail()
    home = http.get(f"{a}/portal/parent/", timeout=30).text
    link = re.search(r'href="(/portal/policies/versions/(\d+)/sign(?:\?pupil_id=\d+)?)"', home)
    assert link, "no policy to sign on the parent's home page"
    page = http.get(a + link.group(1), timeout=30).text
    form = {"csrf_token": _csrf(page), "_once": _once(page, "typed_name"), "action": "sign", "agree": "y",
            "text_hash": re.search(r'name="text_hash" type="hidden" value="([0-9a-f]{64})"', page).group(1)}
    for item in set(re.findall(r'name="(consent_\d+)"', page)):
        form[item] = "yes"
    engine = create_engine(installation.env["PORTAL_DATABASE_URI"])
    with engine.connect() as conn:
        given, family = conn.execute(text("SELECT given_name, family_name FROM portal_people p "
                                          "JOIN portal_accounts a ON a.id = p.account_id "
                                          "WHERE a.email = 'parent@larkspur.example'")).one()
    engine.dispose()
    form["typed_name"] = f"{given} {family}"
    signed = http.post(a + link.group(1), data=form, allow_redirects=False, timeout=30)
    assert signed.status_code == 302, signed.text[:2000]
    signature_page = signed.headers["Location"]
    sig_id = int(re.search(r"/signatures/(\d+)", signature_page).group(1))

    # The other web process serves the signature's page; the worker seals the PDF meanwhile.
    status_url = f"{b}/portal/policies/signatures/{sig_id}/record.json"
    deadline = time.monotonic() + 120
    state = {}
    while time.monotonic() < deadline:
        state = http.get(status_url, timeout=30).json()
        if state["state"] == "sealed":
            break
        time.sleep(0.3)
    assert state.get("state") == "sealed", f"{state}\n{installation.tail()}"
    pdf = http.get(b + state["pdf_url"], timeout=30)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    sha = hashlib.sha256(pdf.content).hexdigest()
    # It is the object in the bucket, under the school's part of the archive, locked.
    key = f"records/{sha[:2]}/{sha}.pdf"
    client = installation.s3.client()
    assert client.get_object(Bucket=installation.bucket, Key=key)["Body"].read() == pdf.content
    assert client.head_object(Bucket=installation.bucket, Key=key)["ObjectLockMode"] == "COMPLIANCE"


def test_sign_in_limits_count_the_client_behind_the_proxy_across_processes(installation):
    from portal.config import DEFAULTS
    from portal.demo import DEMO_PASSWORD

    a, b = (f"http://127.0.0.1:{p}" for p in installation.ports)
    # The failures one client address may make in the window, whatever the accounts (security
    # round 2 replaced the old PORTAL_LOGIN_MAX_ATTEMPTS of 5 with this budget; per account there
    # are progressive delays instead, which these made-up addresses never reach).
    limit = int(installation.env.get("PORTAL_LOGIN_ADDRESS_MAX_ATTEMPTS",
                                     DEFAULTS["PORTAL_LOGIN_ADDRESS_MAX_ATTEMPTS"]))
    for i in range(limit):
        with requests.Session() as http:
            resp = _sign_in(http, (a, b)[i % 2], f"nobody{i}@larkspur.example", "wrong password 1", "203.0.113.7")
        assert resp.status_code == 200 and "do not match an account" in resp.text
    # That client is now refused on either process, even with the right password...
    with requests.Session() as http:
        resp = _sign_in(http, b, "parent@larkspur.example", DEMO_PASSWORD, "203.0.113.7")
    assert resp.status_code == 429 and "Too many failed sign-ins from your network" in resp.text
    # ... while another client behind the same proxy is not.
    with requests.Session() as http:
        resp = _sign_in(http, a, "parent@larkspur.example", DEMO_PASSWORD, "203.0.113.99")
    assert resp.status_code == 302
