"""Security headers: a full Content-Security-Policy with no inline script or style anywhere,
Referrer-Policy, Permissions-Policy, and Cache-Control: no-store on every page that shows a
concern, an incident, a family link or a signed record."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from portal.headers import parse_csp
from portal.people.models import Role

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "portal"


def test_every_portal_page_has_the_full_policy(app):
    resp = app.test_client().get("/portal/auth/login")
    csp = parse_csp(resp.headers["Content-Security-Policy"])
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no nonces: scripts are files
    assert csp["style-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert csp["form-action"] == "'self'"
    assert csp["frame-ancestors"] == "'self'"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in resp.headers["Permissions-Policy"]
    assert "geolocation=()" in resp.headers["Permissions-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_https_pages_tell_the_browser_to_keep_to_https(app):
    """Security probe: no Strict-Transport-Security, so a first plain-HTTP visit could be downgraded."""
    secure = app.test_client().get("/portal/auth/login", base_url="https://portal.test")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    # Not on plain HTTP (a browser ignores it there), and never for the host's own pages.
    assert "Strict-Transport-Security" not in app.test_client().get("/portal/auth/login").headers


def test_host_pages_are_untouched(app):
    from flask import Flask

    from portal import Portal

    host = Flask("host_app")
    host.config.update(SECRET_KEY="k", PORTAL_DATABASE_URI=app.config["PORTAL_DATABASE_URI"], TESTING=True)
    host.add_url_rule("/", "home", lambda: "host")
    Portal(host)
    resp = host.test_client().get("/")
    assert "Content-Security-Policy" not in resp.headers and "Cache-Control" not in resp.headers
    host.extensions["portal"].engine.dispose()


def test_a_missing_portal_page_has_the_portals_headers_too(app, school, login_as, db_url):
    """No route matched, but the address is the portal's: its "Page not found" (which shows a signed-in person's
    menu) and a refused method are neither stored nor left without the policy. A host's own missing page, outside
    the portal's addresses, is left alone."""
    from flask import Flask

    from portal import Portal

    for client in (app.test_client(), login_as(school.head)):
        for method, path, code in (("GET", "/portal/no-such-page", 404), ("DELETE", "/portal/staff/", 405)):
            resp = client.open(path, method=method)
            assert resp.status_code == code, path
            assert parse_csp(resp.headers.get("Content-Security-Policy"))["frame-ancestors"] == "'self'", path
            assert resp.headers["Cache-Control"] == "no-store", path
            assert resp.headers["X-Content-Type-Options"] == "nosniff", path
    host = Flask("host_app")
    host.config.update(SECRET_KEY="k", PORTAL_DATABASE_URI=db_url, TESTING=True)
    Portal(host)
    resp = host.test_client().get("/no-such-host-page")
    assert resp.status_code == 404
    assert "Content-Security-Policy" not in resp.headers and "Cache-Control" not in resp.headers
    host.extensions["portal"].engine.dispose()


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
_STYLE_ATTR = re.compile(r"\sstyle\s*=", re.I)
_HANDLER_ATTR = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I)


#: Templates that are never served as pages, so no Content-Security-Policy applies to them.
NOT_PAGES = {
    "dataprotection/transfer_pack_pdf.html": "rendered to PDF by WeasyPrint",
    "dataprotection/sar_index.html": "the index inside a subject access ZIP, opened from the reader's own disk",
}


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")
                                            if "pdf" not in p.parts
                                            and p.relative_to(TEMPLATES).as_posix() not in NOT_PAGES))
def test_no_inline_script_style_or_handlers_in_templates(template):
    """The policy forbids them, so a page that used one would silently break."""
    text = (TEMPLATES / template).read_text()
    assert not _INLINE_SCRIPT.search(text), "inline <script>: move it to portal/static/*.js"
    assert not _STYLE_ATTR.search(text), "style= attribute: use a class in portal/static/*.css"
    assert "<style" not in text.lower(), "<style> element: use portal/static/*.css"
    assert not _HANDLER_ATTR.search(text), "on...= handler attribute: attach it in portal/static/*.js"
    assert "javascript:" not in text.lower()


@pytest.fixture
def pages(db, school, make_person, make_class, make_pupil, make_parent):
    """One concern, one incident, one approved family link, and the people who may see them."""
    from portal.concerns import operations as concern_ops
    from portal.concerns.models import Category
    from portal.concerns.storage import UploadBatch
    from portal.incidents import operations as incident_ops
    from portal.links import operations as link_ops
    from portal.links.models import LinkSource

    cls = make_class(year_group=4, name="Year 4 Wrens")
    pupil = make_pupil(year_group=4, school_class=cls, given="Wyn")
    parent = make_parent(pupil, given="Pru")
    teacher = make_person(Role.TEACHER, given="Tom")
    with UploadBatch() as batch:
        concern = concern_ops.raise_concern(parent, category=Category("teaching"), subject="Homework",
                                            description="A question about homework.", at_risk=False, batch=batch)
        db.commit()
        batch.keep()
    incident = incident_ops.record_contact(by=teacher, pupil=pupil, adult=teacher, kind="friend_request",
                                           direction="from_pupil", platform="", occurred_on=dt.date.today(),
                                           summary="A friend request was seen by a classmate.")
    decl = link_ops.declare(declared_by=teacher, source=LinkSource.ADULT, adult=teacher, pupil=pupil,
                            relationship="aunt_uncle", note="")
    db.commit()
    link_ops.decide(decl, by=school.head, approve=True, reason="")
    db.commit()
    return {"parent": parent, "head": school.head, "dsl": school.dsl_person, "teacher": teacher,
            "concern": concern, "incident": incident, "decl": decl}


@pytest.mark.parametrize("who, path", [
    ("parent", "/portal/concerns/{concern}"),
    ("head", "/portal/concerns/inbox/{concern}"),
    ("head", "/portal/concerns/inbox"),
    ("dsl", "/portal/incidents/contact/{incident}"),
    ("dsl", "/portal/incidents/"),
    ("head", "/portal/links/register"),
    ("head", "/portal/links/declarations/{decl}"),
    ("teacher", "/portal/links/"),
    ("head", "/portal/auditor/"),
])
def test_pages_with_concerns_incidents_links_and_records_are_never_stored(app, pages, login_as, who, path):
    url = path.format(concern=pages["concern"].id, incident=pages["incident"].id, decl=pages["decl"].id)
    resp = login_as(pages[who]).get(url)
    assert resp.status_code == 200, url
    assert "no-store" in resp.headers.get("Cache-Control", ""), url


def test_static_files_may_still_be_cached(app):
    resp = app.test_client().get("/portal/static/portal.css")
    assert resp.status_code == 200
    assert "no-store" not in resp.headers.get("Cache-Control", "")
    resp.close()


def test_the_deep_link_return_form_may_post_to_the_lms_only_there(app):
    """form-action 'self' everywhere, widened to the LMS origin on the one page that posts there."""
    from flask import make_response

    from portal.headers import CSP, format_csp, set_directive

    resp = make_response("x")
    resp.headers["Content-Security-Policy"] = format_csp(CSP)
    set_directive(resp, "form-action", "'self' https://lms.fictional.example")
    csp = parse_csp(resp.headers["Content-Security-Policy"])
    assert csp["form-action"] == "'self' https://lms.fictional.example" and csp["script-src"] == "'self'"
