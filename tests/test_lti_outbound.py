"""The portal calls an LMS only on the internet, or on a private network the administrator named
(portal/lti/outbound.py): a school's admin cannot point the server at itself or at a cloud's metadata."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import func, select

from portal.db import session
from portal.lti.models import LtiRegistration
from portal.lti.outbound import RefusedAddress, refusal
from portal.lti.tool import http_session
from portal.people.models import Role
from tests.lti_platform import INSTRUCTOR, FakeLms, rsa_pair
from tests.schools import in_school


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_LTI_PRIVATE_NETWORKS": ["10.0.0.0/8", "127.0.0.1/32"]}


@pytest.mark.parametrize(("url", "refused_because"), [
    ("http://169.254.169.254/latest/meta-data/", "private or local network (169.254.169.254)"),
    ("https://127.0.0.2:8443/keys", "private or local network (127.0.0.2)"),
    ("https://localhost/keys", "private or local network"),
    ("https://[::1]/keys", "private or local network (::1)"),
    ("https://[::ffff:192.168.1.5]/keys", "private or local network (192.168.1.5)"),
    ("https://192.168.1.5/keys", "private or local network (192.168.1.5)"),
    ("https://0.0.0.0/keys", "private or local network (0.0.0.0)"),
    ("http://moodle.fictional.example/keys", "not an https:// address"),
    ("http://8.8.8.8/keys", "not an https:// address"),
    ("file:///etc/passwd", "not an https:// address"),
    ("gopher://10.1.2.3/", "not an https:// address"),
])
def test_addresses_the_portal_will_not_call(app, url, refused_because):
    reason = refusal(url, resolve=False)
    assert reason is not None and refused_because in reason


@pytest.mark.parametrize("url", [
    "https://moodle.fictional.example/mod/lti/certs.php",  # a name: checked when it is called
    "https://8.8.8.8/keys",
    "https://10.20.30.40/keys",  # a network the administrator named
    "http://10.20.30.40/keys",  # plain http, on such a network only
    "http://127.0.0.1:8080/keys",
])
def test_addresses_the_portal_calls(app, url):
    assert refusal(url, resolve=False) is None


def test_a_host_name_is_judged_by_the_addresses_it_resolves_to(app):
    """``localhost.`` spelled as a name other than ``localhost`` still resolves to loopback at call time."""
    assert refusal("https://ip6-localhost/keys", resolve=False) is None  # not judged when saved...
    reason = refusal("https://ip6-localhost/keys")
    if reason is None:  # the name is unknown on this machine: the call then fails to connect
        with http_session() as guarded, pytest.raises(requests.exceptions.ConnectionError):
            guarded.get("https://ip6-localhost/keys")
    else:
        assert "private or local network" in reason


def _serve(handler_cls, host):
    server = ThreadingHTTPServer((host, 0), handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_redirect_to_a_refused_address_is_not_followed(app):
    """An allowed address that answers with a redirect to a refused one: the second call is never made."""
    hits: list[str] = []

    class Inner(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"keys": []}')

        def log_message(self, *args):
            pass

    inner = _serve(Inner, "127.0.0.2")  # loopback, but not in the allowed 127.0.0.1/32

    class Outer(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{inner.server_port}/secret")
            self.end_headers()

        def log_message(self, *args):
            pass

    outer = _serve(Outer, "127.0.0.1")
    try:
        with requests.Session() as plain:
            direct = plain.get(f"http://127.0.0.1:{outer.server_port}/keys", timeout=5)
            assert direct.status_code == 200 and hits == ["/secret"]  # the redirect works for anyone else
        hits.clear()
        with http_session() as guarded, pytest.raises(RefusedAddress, match="127.0.0.2"):
            guarded.get(f"http://127.0.0.1:{outer.server_port}/keys")
        assert hits == []
    finally:
        for srv in (outer, inner):
            srv.shutdown()
            srv.server_close()


def test_the_registration_page_refuses_a_local_address_and_saves_nothing(db, make_person, login_as):
    client = login_as(make_person(Role.ADMIN))
    form = {
        "name": "Internal",
        "issuer": "https://moodle.fictional.example",
        "client_id": "abc",
        "deployment_ids": "1",
        "auth_login_url": "https://moodle.fictional.example/mod/lti/auth.php",
        "auth_token_url": "https://moodle.fictional.example/mod/lti/token.php",
        "key_set_url": "http://169.254.169.254/latest/meta-data/iam/",
    }
    resp = client.post("/portal/lms/registrations", data=form)
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert "Public keyset URL: the portal will not use this address" in text
    assert "private or local network (169.254.169.254)" in text
    assert db.scalar(select(func.count()).select_from(LtiRegistration)) == 0
    form["key_set_url"] = "https://moodle.fictional.example/mod/lti/certs.php"
    assert client.post("/portal/lms/registrations", data=form).status_code == 302
    assert db.scalar(select(func.count()).select_from(LtiRegistration)) == 1


def test_a_launch_whose_keyset_is_on_a_network_no_longer_allowed_is_refused(live_app, server, caplog):
    """The test LMS serves on 127.0.0.1. With that network allowed a launch works; once the administrator
    takes it out, the portal does not fetch the LMS's keys and the launch is refused with the reason logged."""
    fake = FakeLms(server.url, rsa_pair())
    fake.start()
    fetched: list[str] = []
    fake.app.before_request(lambda: fetched.append(requests_path()) and None)
    try:
        from portal.lti.operations import add_registration

        with in_school(live_app):
            add_registration(**fake.tool_registration_values())
            session.commit()
        with requests.Session() as http:
            resp, _ = fake.launch(http, sub="outbound-teacher", roles=[INSTRUCTOR])
        assert resp.status_code == 302 and "/jwks" in fetched
        live_app.config["PORTAL_LTI_PRIVATE_NETWORKS"] = ["10.0.0.0/8"]
        fetched.clear()
        caplog.set_level(logging.WARNING, logger="portal.lti")
        with requests.Session() as http:
            resp, _ = fake.launch(http, sub="outbound-teacher-2", roles=[INSTRUCTOR])
        assert resp.status_code == 400 and "could not be checked" in resp.text
        assert "/jwks" not in fetched
        assert any("private or local network (127.0.0.1)" in r.getMessage() for r in caplog.records)
    finally:
        live_app.config["PORTAL_LTI_PRIVATE_NETWORKS"] = ["127.0.0.0/8"]
        fake.stop()


def requests_path() -> str:
    from flask import request

    return request.path
