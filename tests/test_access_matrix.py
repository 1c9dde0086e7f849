"""Every portal route x every persona -> the expected status (see tests/access/)."""
from __future__ import annotations

import importlib
import pkgutil
from types import SimpleNamespace

import pytest

import tests.access as access_pkg
from portal.people.models import Role
from tests.access import PERSONAS, Rule

MODULES = [importlib.import_module(f"tests.access.{m.name}") for m in pkgutil.iter_modules(access_pkg.__path__)]
RULES: list[Rule] = [r for m in MODULES for r in m.RULES]


@pytest.fixture
def world(db, make_person, make_pupil, make_class, make_parent, school):
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


def test_every_portal_route_has_a_rule(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("portal.") and r.endpoint != "portal.static"}
    covered = {r.endpoint for r in RULES}
    assert endpoints - covered == set(), "routes without an access rule"
    assert covered - endpoints == set(), "rules for routes that do not exist"


def test_access_matrix(app, world, login_as):
    failures = []
    for persona in PERSONAS:
        for rule in RULES:
            client = app.test_client() if persona == "anonymous" else login_as(getattr(world, persona))
            path = rule.path(world) if callable(rule.path) else rule.path
            data = rule.data(world) if callable(rule.data) else rule.data
            resp = client.open(path, method=rule.method, data=data)
            if persona in rule.allow:
                ok = resp.status_code == rule.allow[persona]
            elif persona == "anonymous":
                ok = resp.status_code == 302 and "/auth/login" in resp.headers.get("Location", "")
            else:
                ok = resp.status_code in rule.deny
            if not ok:
                failures.append(f"{persona:>14} {rule.method} {path} -> {resp.status_code}")
    assert not failures, "unexpected statuses:\n" + "\n".join(failures)


def test_a_parent_never_sees_another_familys_child(app, world, login_as):
    client = login_as(world.parent)
    own = client.get(f"/portal/parent/children/{world.child.id}")
    assert own.status_code == 200 and b"Kit" in own.data
    other = client.get(f"/portal/parent/children/{world.other_child.id}")
    assert other.status_code == 404 and b"Oli" not in other.data
    home = client.get("/portal/parent/").data
    assert b"Kit" in home and b"Oli" not in home
