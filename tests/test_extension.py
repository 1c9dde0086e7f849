"""The portal as a Flask plugin: mounted into a host app with its own routes."""
from __future__ import annotations

import pytest
from flask import Flask

from portal import Portal
from portal.config import DEFAULTS


def _host(db_url, **extra) -> Flask:
    host = Flask("host_lms")
    host.config.update(SECRET_KEY="host-secret", PORTAL_DATABASE_URI=db_url, TESTING=True, **extra)

    @host.get("/")
    def host_home():
        return "host home"

    @host.get("/course/<int:cid>")
    def course(cid: int):
        return f"course {cid}"

    return host


def test_mounts_into_a_host_app_with_its_own_routes(db_url):
    host = _host(db_url)
    Portal(host)
    client = host.test_client()
    assert client.get("/").data == b"host home"
    assert client.get("/course/7").data == b"course 7"
    login = client.get("/portal/auth/login")
    assert login.status_code == 200 and b"Sign in" in login.data
    assert client.get("/portal/parent/").status_code == 302
    assert host.extensions["portal"].engine.url.render_as_string(hide_password=False) == db_url
    host.extensions["portal"].engine.dispose()


def test_init_app_pattern_defaults_and_host_overrides(db_url):
    host = _host(db_url, PORTAL_URL_PREFIX="/school", PORTAL_LOGIN_FREE_ATTEMPTS=3)
    portal = Portal()
    portal.init_app(host)
    assert host.extensions["portal"] is portal
    assert host.config["PORTAL_LOGIN_FREE_ATTEMPTS"] == 3  # host value kept
    for key, value in DEFAULTS.items():
        if key not in ("PORTAL_URL_PREFIX", "PORTAL_LOGIN_FREE_ATTEMPTS", "PORTAL_DATABASE_URI"):
            assert host.config[key] == value
    client = host.test_client()
    assert client.get("/school/auth/login").status_code == 200
    assert client.get("/portal/auth/login").status_code == 404
    assert "portal" in host.cli.commands
    portal.engine.dispose()


def test_registering_twice_is_an_error(db_url):
    host = _host(db_url)
    Portal(host)
    with pytest.raises(RuntimeError, match="already registered"):
        Portal(host)
    host.extensions["portal"].engine.dispose()


def test_the_portals_id_converter_leaves_the_hosts_converters_alone(db_url):
    """The portal's addresses take ids up to PostgreSQL's integer (``portal_id``); the host's own ``int``
    routes are untouched, and a host converter already called ``portal_id`` is an error, not replaced."""
    from werkzeug.routing import UnicodeConverter

    host = _host(db_url)
    Portal(host)
    client = host.test_client()
    assert client.get("/course/99999999999999999999").data == b"course 99999999999999999999"
    assert client.get("/portal/parent/children/99999999999999999999").status_code == 404
    host.extensions["portal"].engine.dispose()
    other = _host(db_url)
    other.url_map.converters["portal_id"] = UnicodeConverter
    with pytest.raises(RuntimeError, match="already has a URL converter called 'portal_id'"):
        Portal(other)
    if "portal" in other.extensions:
        other.extensions["portal"].engine.dispose()


def test_the_portals_error_pages_are_for_its_own_addresses_only(db_url):
    """A host's missing page keeps the host's own 404 handler (registered before the portal) or
    Flask's plain page; the portal's addresses get the portal's page."""
    from flask import abort

    plain = _host(db_url)

    @plain.get("/staff-only")
    def staff_only():
        abort(403)

    Portal(plain)
    client = plain.test_client()
    for path, code in (("/no-such-host-page", 404), ("/staff-only", 403)):
        resp = client.get(path)
        assert resp.status_code == code and b"portal home page" not in resp.data, path
    portal_miss = client.get("/portal/no-such-page")
    assert portal_miss.status_code == 404 and b"Go to the portal home page" in portal_miss.data
    plain.extensions["portal"].engine.dispose()

    own = _host(db_url)

    @own.errorhandler(404)
    def host_not_found(e):
        return "the host's own missing page", 404

    Portal(own)
    client = own.test_client()
    assert client.get("/no-such-host-page").data == b"the host's own missing page"
    assert b"Go to the portal home page" in client.get("/portal/no-such-page").data
    own.extensions["portal"].engine.dispose()


def test_a_secret_key_is_required(db_url):
    host = Flask("no_secret")
    host.config["PORTAL_DATABASE_URI"] = db_url
    with pytest.raises(RuntimeError, match="secret_key"):
        Portal(host)


def test_host_login_manager_is_left_alone(db_url):
    from flask_login import LoginManager

    host = _host(db_url)
    manager = LoginManager(host)
    Portal(host)
    assert host.login_manager is manager
    host.extensions["portal"].engine.dispose()


def test_csrf_protects_every_portal_form(app, db_url, make_person):
    """With CSRF on (as in production) a POST without a token is refused and changes nothing."""
    from portal.app import create_app
    from portal.people.models import Role

    make_person(Role.PARENT, email="pat@test.example")
    prod = create_app({"SECRET_KEY": "s" * 32, "PORTAL_DATABASE_URI": db_url, "PORTAL_ARGON2_PROFILE": "cheapest",
                       "SESSION_COOKIE_SECURE": False})
    client = prod.test_client()
    resp = client.post("/portal/auth/login", data={"email": "pat@test.example", "password": "correct horse battery"})
    assert resp.status_code == 400
    assert b"This form had expired" in resp.data
    post_rules = [r for r in prod.url_map.iter_rules() if "POST" in r.methods and r.endpoint.startswith("portal.")]
    csrf = prod.extensions["csrf"]
    exempt = getattr(csrf, "_exempt_blueprints", set()) | getattr(csrf, "_exempt_views", set())
    for rule in post_rules:
        view = prod.view_functions[rule.endpoint]
        assert f"{view.__module__}.{view.__name__}" not in exempt or rule.endpoint.startswith("portal.lti."), rule
    prod.extensions["portal"].engine.dispose()


def test_portal_pages_cannot_be_framed_but_host_pages_are_untouched(db_url):
    host = _host(db_url)
    Portal(host)
    client = host.test_client()
    page = client.get("/portal/auth/login")
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self';" in page.headers["Content-Security-Policy"] + ";"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in client.get("/").headers
    host.extensions["portal"].engine.dispose()
