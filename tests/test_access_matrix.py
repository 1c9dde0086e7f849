"""Every portal route x every persona x school -> the expected status (see tests/access/)."""
from __future__ import annotations

import importlib
import pkgutil
import re
from types import SimpleNamespace

import pytest

import tests.access as access_pkg
from portal.people.models import Role
from tests.access import PERSONAS, SCHOOL_PERSONAS, Rule
from tests.schools import as_school

MODULES = [importlib.import_module(f"tests.access.{m.name}") for m in pkgutil.iter_modules(access_pkg.__path__)]
RULES: list[Rule] = [r for m in MODULES for r in m.RULES]


def _populate(db, make_person, make_pupil, make_class, make_parent, school) -> SimpleNamespace:
    """Every persona and object the rules need, in the session's school."""
    w = SimpleNamespace()
    w.head, w.dsl, w.governor = school.head, school.dsl_person, school.chair
    w.teacher = make_person(Role.TEACHER, given="Tara")
    w.other_teacher = make_person(Role.TEACHER, given="Otto")
    w.support = make_person(Role.SUPPORT_STAFF, given="Sam")
    w.volunteer = make_person(Role.VOLUNTEER, given="Val")
    w.contractor = make_person(Role.CONTRACTOR, given="Cora")
    w.auditor = make_person(Role.AUDITOR, given="Audra")
    w.admin = make_person(Role.ADMIN, given="Adam")
    w.school_class = make_class(year_group=1, teacher=w.teacher)
    w.other_class = make_class(year_group=4, teacher=w.other_teacher)
    w.child = make_pupil(year_group=1, school_class=w.school_class, given="Kit")
    w.other_child = make_pupil(year_group=4, school_class=w.other_class, given="Oli")
    w.parent = make_parent(w.child, given="Paula")
    w.other_parent = make_parent(w.other_child, given="Omar")
    w.pupil = make_pupil(year_group=8, school_class=w.other_class, given="Pia", email="pia@test.example",
                         password="pupil password 1")
    w.school = school
    for module in MODULES:
        if hasattr(module, "setup"):
            module.setup(w, db)
    db.expire_all()
    return w


@pytest.fixture
def world(db, make_person, make_pupil, make_class, make_parent, school):
    return _populate(db, make_person, make_pupil, make_class, make_parent, school)


@pytest.fixture
def other_world(db, world, make_school, make_person, make_pupil, make_class, make_parent):
    """The same people and objects in a second school of the same installation."""
    from portal.schools.models import School

    other = make_school("other-school", with_policies=True)
    with as_school(other.id):
        head = make_person(Role.TEACHER, given="Hugo", family="Headfield")
        dsl = make_person(Role.TEACHER, given="Delia", family="Safeford")
        chair = make_person(Role.GOVERNOR, given="Cyril", family="Chairman")
        school = db.get(School, other.id)
        school.head_teacher_id, school.dsl_id, school.chair_of_governors_id = head.id, dsl.id, chair.id
        db.commit()
        school.head, school.dsl_person, school.chair = head, dsl, chair
        w = _populate(db, make_person, make_pupil, make_class, make_parent, school)
    return w

def _address_and_data(rule: Rule, world) -> tuple[str, dict]:
    """What *rule* requests in *world*: its path and the form it posts."""
    path = rule.path(world) if callable(rule.path) else rule.path
    return path, (rule.data(world) if callable(rule.data) else dict(rule.data))


def _first_allowed(rule: Rule) -> str | None:
    """The first signed-in persona *rule* lets in (None when only strangers are)."""
    return next((p for p in rule.allow if p != "anonymous"), None)


def test_every_portal_route_has_a_rule(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("portal.") and r.endpoint != "portal.static"}
    covered = {r.endpoint for r in RULES}
    assert endpoints - covered == set(), "routes without an access rule"
    assert covered - endpoints == set(), "rules for routes that do not exist"


class _Clients:
    """A test client per persona, signed in once and used again for the next GET, as a browser would.

    A client is retired (the next rule signs in afresh) after a POST that was let through, which may sign out,
    end sessions or change the account, and after any request that changes anything in its session other than
    the form token and flashed messages (see HARMLESS), or sets a cookie other than the session's (joining a
    classroom as a device, starting two-step set-up, choosing a school...), so no rule is answered in a state an
    earlier rule made. A POST refused with 403 or 404 changed nothing tied to its client (its session, cookies or
    sign-in): what a refusal may write, such as a rate-limit count by address, a fresh client would meet too. So
    its client is kept like a GET's."""

    #: Session keys a page may add without changing what the next request may do: the form token,
    #: flashed messages, and the cached answer to "does the header offer Switch school?".
    HARMLESS = frozenset({"csrf_token", "_flashes", "portal_places"})

    def __init__(self, app, login_as, world):
        self.app, self.login_as, self.world = app, login_as, world
        self.session_cookie = app.config["SESSION_COOKIE_NAME"]
        self.clients: dict[str, tuple[object, dict]] = {}
        self.signed_in = 0

    def _state(self, client) -> dict:
        with client.session_transaction() as sess:
            return {k: v for k, v in sess.items() if k not in self.HARMLESS}

    def open(self, persona: str, method: str, path: str, data=None):
        client, state = self.clients.pop(persona, (None, None))
        if client is None:
            self.signed_in += 1
            client = self.app.test_client() if persona == "anonymous" else self.login_as(getattr(self.world, persona))
            state = self._state(client)
        resp = client.open(path, method=method, data=data)
        cookies = {c.split("=", 1)[0].strip() for c in resp.headers.getlist("Set-Cookie")}
        unchanged = method == "GET" or resp.status_code in (403, 404)
        if unchanged and (not cookies or (cookies == {self.session_cookie} and self._state(client) == state)):
            self.clients[persona] = (client, state)
        return resp


def test_access_matrix(app, world, login_as):
    failures = []
    clients = _Clients(app, login_as, world)
    for persona in PERSONAS:
        for rule in RULES:
            path, data = _address_and_data(rule, world)
            resp = clients.open(persona, rule.method, path, data)
            if persona in rule.allow:
                ok = resp.status_code == rule.allow[persona]
            elif persona == "anonymous":
                ok = resp.status_code == 302 and "/auth/login" in resp.headers.get("Location", "")
            else:
                ok = resp.status_code in rule.deny
            if not ok:
                failures.append(f"{persona:>14} {rule.method} {path} -> {resp.status_code}")
    assert not failures, "unexpected statuses:\n" + "\n".join(failures)
    print(f"{len(PERSONAS) * len(RULES)} requests, {clients.signed_in} sign-ins")


def test_people_of_another_school_never_reach_this_schools_ids(app, world, other_world, login_as):
    """Everyone in school B, requesting every route that names an id with school A's ids: 403 or 404.

    Routes anyone may open (sign-in links, a classroom device page) must answer B's people the
    way they answer a stranger, never with school A's page."""
    failures = []
    clients = _Clients(app, login_as, other_world)
    for rule in RULES:
        if not callable(rule.path):
            continue
        path, data = _address_and_data(rule, world)
        stranger = rule.allow.get("anonymous")
        for persona in SCHOOL_PERSONAS[1:]:
            resp = clients.open(persona, rule.method, path, data)
            # (429: a public join address refusing wrong codes from this device is a refusal too.)
            refused = (403, 404) if stranger is None else (400, 403, 404, 429, stranger)
            ok = resp.status_code in refused
            if not ok:
                failures.append(f"{persona:>14} of school B {rule.method} {path} -> {resp.status_code}")
    assert not failures, "school B reached school A:\n" + "\n".join(failures)


def test_a_parent_never_sees_another_familys_child(app, world, login_as):
    client = login_as(world.parent)
    own = client.get(f"/portal/parent/children/{world.child.id}")
    assert own.status_code == 200 and b"Kit" in own.data
    other = client.get(f"/portal/parent/children/{world.other_child.id}")
    assert other.status_code == 404 and b"Oli" not in other.data
    home = client.get("/portal/parent/").data
    assert b"Kit" in home and b"Oli" not in home


#: Past the largest id PostgreSQL's ``integer`` holds (2**31 - 1), and past SQLite's 64 bits.
TOO_LARGE = ("2147483648", "99999999999999999999")
#: The names the portal's forms and query strings give to ids (and to years, pages and steps).
ID_NAMES = ("pupil_id", "adult_id", "class_id", "version_id", "policy_id", "person_id", "school_id", "child_id",
            "about_person_id", "assignee_id", "subject_id", "requester_id", "child", "assignee", "year", "policy",
            "school_class", "school", "page", "step", "period")


def _answer(clients: _Clients, persona: str, method: str, path: str, data=None) -> int | str:
    """The status, or the exception a server error would have been (TESTING lets it through)."""
    try:
        return clients.open(persona, method, path, data).status_code
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc)[:120]}"


def _address(url_rule, ids: list[str], value: str) -> str:
    """*url_rule*'s path with *value* for each id in it (and "x" for any other part)."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: value if m.group(1) in ids else "x", url_rule.rule)


def test_ids_too_large_for_the_database_are_refused_never_a_server_error(app, world, login_as):
    """An outsider's probe. Every route that names an id, asked by someone it allows with an id the
    database cannot hold: 404. Every route, asked by someone it allows with such numbers in every
    id-like field of its query string or form: any answer but a server error."""
    from werkzeug.routing import IntegerConverter

    first_allowed = {r.endpoint: _first_allowed(r) for r in RULES}
    failures = []
    clients = _Clients(app, login_as, world)
    for url_rule in app.url_map.iter_rules():
        ids = [n for n, conv in url_rule._converters.items() if isinstance(conv, IntegerConverter)]
        persona = first_allowed.get(url_rule.endpoint)
        if not url_rule.endpoint.startswith("portal.") or not ids or persona is None:
            continue
        method = "GET" if "GET" in url_rule.methods else "POST"
        for big in TOO_LARGE:
            path = _address(url_rule, ids, big)
            answer = _answer(clients, persona, method, path)
            if answer != 404:
                failures.append(f"{persona:>14} {method} {path} -> {answer}")
    for rule in RULES:
        persona = first_allowed[rule.endpoint]
        if persona is None:
            continue
        path, data = _address_and_data(rule, world)
        for big in TOO_LARGE:
            fields = dict.fromkeys(ID_NAMES, big)
            if rule.method == "GET":
                query = "&".join(f"{k}={v}" for k, v in fields.items())
                answer = _answer(clients, persona, "GET", path + ("&" if "?" in path else "?") + query)
            else:
                answer = _answer(clients, persona, rule.method, path, {**data, **fields})
            if not isinstance(answer, int) or answer >= 500:
                failures.append(f"{persona:>14} {rule.method} {path} with id fields {big} -> {answer}")
    assert not failures, "ids too large for the database:\n" + "\n".join(failures)


def test_a_nul_character_anywhere_in_what_is_sent_is_refused_before_any_view(app, db, world, login_as):
    """An outsider's probe: PostgreSQL cannot keep a NUL character in text, and no keyboard types one.
    Every route, asked by someone it allows with one in a query string, a form field's value or name,
    or a file's name: 400 with a page that says why, and nothing saved."""
    from io import BytesIO

    from sqlalchemy import func, select

    from portal.audit.models import AuditEntry

    entries = db.scalar(select(func.count()).select_from(AuditEntry))
    failures = []
    for n, rule in enumerate(RULES):
        persona = _first_allowed(rule) or "anonymous"
        client = app.test_client() if persona == "anonymous" else login_as(getattr(world, persona))
        path, data = _address_and_data(rule, world)
        if rule.method == "GET":
            resp = client.get(path + ("&" if "?" in path else "?") + ("q=a%00b" if n % 2 else "a%00b=1"))
        else:
            odd = [{**data, "note": "a\x00b"}, {**data, "a\x00b": "1"},
                   {**data, "file": (BytesIO(b"%PDF-1.7"), "scan\x00.pdf")}][n % 3]
            resp = client.open(path, method=rule.method, data=odd)
        if resp.status_code != 400 or "NUL character" not in resp.get_data(as_text=True):
            failures.append(f"{persona:>14} {rule.method} {path} -> {resp.status_code}")
    assert not failures, "a NUL character was not refused:\n" + "\n".join(failures)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == entries
