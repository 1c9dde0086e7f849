"""Sign-in, sign-out, invitations, password reset and rate limiting."""
from __future__ import annotations

import re

import pytest

from portal.auth.tokens import INVITE, RESET, make_token
from portal.people.models import Role
from tests.factories import PASSWORD


def _login(client, email, password, next_url=""):
    return client.post("/portal/auth/login", data={"email": email, "password": password, "next": next_url})


def test_sign_in_and_out(app, make_person):
    """A parent with the right password reaches the parent portal; sign-out ends the session."""
    make_person(Role.PARENT, email="pat@test.example")
    client = app.test_client()
    resp = _login(client, "PAT@test.example ", PASSWORD)
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/portal/")
    assert client.get("/portal/parent/").status_code == 200
    assert client.post("/portal/auth/logout").status_code == 302
    assert client.get("/portal/parent/").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part(app, make_person):
    make_person(Role.PARENT, email="pat@test.example")
    client = app.test_client()
    for email in ("pat@test.example", "nobody@test.example"):
        resp = _login(client, email, "wrong password!")
        assert resp.status_code == 200
        assert b"do not match an account" in resp.data
    assert client.get("/portal/parent/").status_code == 302


def test_inactive_account_cannot_sign_in(app, make_person):
    make_person(Role.PARENT, email="gone@test.example", active=False)
    resp = _login(app.test_client(), "gone@test.example", PASSWORD)
    assert b"do not match an account" in resp.data


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/portal/parent/", "/portal/parent/"),
        ("//evil.example/x", "/portal/"),
        ("/\\evil.example", "/portal/"),
        ("\\\\evil.example", "/portal/"),
        ("https://evil.example/", "/portal/"),
        ("/%0d%0aevil", "/%0d%0aevil"),
        ("/ok\r\nSet-Cookie: x=1", "/portal/"),
        ("javascript:alert(1)", "/portal/"),
    ],
)
def test_post_login_redirect_only_to_same_site_paths(app, make_person, target, expected):
    make_person(Role.PARENT, email="pat@test.example")
    resp = _login(app.test_client(), "pat@test.example", PASSWORD, target)
    assert resp.status_code == 302
    assert resp.headers["Location"] == expected


def _link_from(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S+", body)
    assert match, body
    return match.group(0).split("portal.test", 1)[1]


def test_password_reset_by_email(app, make_person, mailbox):
    """The reset email arrives at the real SMTP server; its link sets a password once."""
    make_person(Role.PARENT, email="pat@test.example")
    client = app.test_client()
    resp = client.post("/portal/auth/forgot", data={"email": "pat@test.example"})
    assert resp.status_code == 302
    [msg] = mailbox.to("pat@test.example")
    assert "Reset" in msg["Subject"]
    link = _link_from(msg)
    assert client.get(link).status_code == 200
    resp = client.post(link, data={"password": "a brand new secret", "confirm": "a brand new secret"})
    assert resp.status_code == 302
    assert _login(client, "pat@test.example", "a brand new secret").status_code == 302
    # The link is spent.
    again = client.get(link)
    assert again.status_code == 400
    assert b"already been used" in again.data


def test_reset_links_never_follow_the_host_the_request_names(app, make_person, mailbox, caplog):
    """Security probe: a reset asked for with ``Host: evil.example`` mailed a link to evil.example, so the
    victim's click gave the attacker the token. Links come from PORTAL_PUBLIC_URL, else SERVER_NAME."""
    make_person(Role.PARENT, email="pat@test.example")

    def link() -> str:
        resp = app.test_client().post("/portal/auth/forgot", data={"email": "pat@test.example"},
                                      headers={"Host": "evil.example"})
        assert resp.status_code == 302
        [msg] = mailbox.to("pat@test.example")
        mailbox.clear()
        return re.search(r"https?://\S+", msg.get_body(preferencelist=("plain",)).get_content()).group(0)

    assert link().startswith("http://portal.test/portal/auth/reset/")  # SERVER_NAME
    app.config["PORTAL_PUBLIC_URL"] = "https://portal.school.example/"
    assert link().startswith("https://portal.school.example/portal/auth/reset/")
    # Neither: nothing is sent (the page says the same as ever), and the log says what to set.
    app.config["PORTAL_PUBLIC_URL"] = app.config["SERVER_NAME"] = None
    resp = app.test_client().post("/portal/auth/forgot", data={"email": "pat@test.example"},
                                  headers={"Host": "evil.example"})
    assert resp.status_code == 302 and mailbox.messages == []
    assert "set PORTAL_PUBLIC_URL" in caplog.text


def test_reset_for_unknown_address_sends_nothing_and_says_the_same(app, mailbox):
    resp = app.test_client().post("/portal/auth/forgot", data={"email": "nobody@test.example"}, follow_redirects=True)
    assert b"If that address has an account" in resp.data
    assert mailbox.messages == []


def test_invitation_link_sets_first_password(app, make_person, db):
    person = make_person(Role.PARENT, email="new@test.example", password=None)
    token = make_token(person, INVITE)
    client = app.test_client()
    page = client.get(f"/portal/auth/invite/{token}")
    assert page.status_code == 200 and b"Welcome" in page.data
    bad = client.post(f"/portal/auth/invite/{token}", data={"password": "short", "confirm": "short"})
    assert b"at least" in bad.data
    db.refresh(person)
    assert person.password_hash is None
    client.post(f"/portal/auth/invite/{token}", data={"password": "long enough pass", "confirm": "long enough pass"})
    assert _login(client, "new@test.example", "long enough pass").status_code == 302


def test_tampered_and_expired_tokens_are_refused(app, make_person):
    person = make_person(Role.PARENT)
    token = make_token(person, RESET)
    client = app.test_client()
    assert client.get(f"/portal/auth/reset/{token[:-2]}xx").status_code == 400
    # A reset token is not an invitation token.
    assert client.get(f"/portal/auth/invite/{token}").status_code == 400
    app.config["PORTAL_RESET_MAX_AGE"] = -1
    resp = client.get(f"/portal/auth/reset/{token}")
    assert resp.status_code == 400 and b"expired" in resp.data


def test_password_change_signs_out_other_sessions(app, make_person, db, login_as):
    person = make_person(Role.PARENT)
    client = login_as(person)
    assert client.get("/portal/parent/").status_code == 200
    from portal.auth.passwords import hash_password

    person.password_hash = hash_password("another password here")
    db.commit()
    assert client.get("/portal/parent/").status_code == 302


def test_session_cookie_flags_in_production_settings(db_url, tmp_path):
    from portal.app import create_app

    prod = create_app({"SECRET_KEY": "x" * 32, "PORTAL_DATABASE_URI": db_url})
    assert prod.config["SESSION_COOKIE_SECURE"] is True
    assert prod.config["SESSION_COOKIE_HTTPONLY"] is True
    assert prod.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert prod.config["REMEMBER_COOKIE_SECURE"] is True
    prod.extensions["portal"].engine.dispose()
