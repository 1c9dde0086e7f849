"""``flask portal lti ...`` commands and the registration page (bad input writes nothing)."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.lti.models import LtiRegistration
from portal.people.models import Role
from tests.schools import in_school

ADD = [
    "portal",
    "lti",
    "add",
    "--name",
    "School Moodle",
    "--issuer",
    "https://moodle.fictional.example",
    "--client-id",
    "abc123",
    "--deployment-id",
    "1",
    "--deployment-id",
    "2",
    "--auth-login-url",
    "https://moodle.fictional.example/mod/lti/auth.php",
    "--auth-token-url",
    "https://moodle.fictional.example/mod/lti/token.php",
    "--key-set-url",
    "https://moodle.fictional.example/mod/lti/certs.php",
]


def test_keys_add_list_remove(app, db, tmp_path):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["portal", "lti", "keys"])
    assert out.exit_code == 0 and "New tool key" in out.output
    key_file = next((tmp_path / "keys" / "lti").glob("tool-*.pem"))
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert "already has 1 key" in runner.invoke(args=["portal", "lti", "keys"]).output
    assert "New tool key" in runner.invoke(args=["portal", "lti", "keys", "--rotate"]).output
    jwks = app.test_client().get("/portal/lti/jwks").get_json()
    assert len(jwks["keys"]) == 2

    out = runner.invoke(args=ADD)
    assert out.exit_code == 0, out.output
    again = runner.invoke(args=ADD)
    assert again.exit_code != 0 and "already exists" in again.output
    listing = runner.invoke(args=["portal", "lti", "list"]).output
    assert "School Moodle" in listing and "deployments 1,2" in listing
    reg_id = db.scalar(select(LtiRegistration.id))
    assert runner.invoke(args=["portal", "lti", "remove", str(reg_id)]).exit_code == 0
    assert "No LMS is registered" in runner.invoke(args=["portal", "lti", "list"]).output


def test_registration_page_adds_and_refuses_bad_input(db, make_person, login_as):
    client = login_as(make_person(Role.ADMIN))
    good = {
        "name": "School Moodle",
        "issuer": "https://moodle.fictional.example",
        "client_id": "abc",
        "deployment_ids": "1\n2",
        "auth_login_url": "https://moodle.fictional.example/mod/lti/auth.php",
        "auth_token_url": "https://moodle.fictional.example/mod/lti/token.php",
        "key_set_url": "https://moodle.fictional.example/mod/lti/certs.php",
    }
    bad = client.post(
        "/portal/lms/registrations", data={**good, "key_set_url": "not a url", "deployment_ids": ""}
    )
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Enter a full https:// address." in text and "Give at least one deployment ID." in text
    assert db.scalar(select(func.count()).select_from(LtiRegistration)) == 0
    ok = client.post("/portal/lms/registrations", data=good, follow_redirects=True)
    assert ok.status_code == 200 and "School Moodle was added" in ok.get_data(as_text=True)
    dup = client.post("/portal/lms/registrations", data=good)
    assert dup.status_code == 400 and "already exists" in dup.get_data(as_text=True)
    reg = db.scalar(select(LtiRegistration))
    assert reg.deployment_ids == ["1", "2"]


def test_head_teacher_does_not_manage_lti_by_default(school, login_as):
    assert login_as(school.head).get("/portal/lms/registrations").status_code == 403


def test_iframe_cookies_are_samesite_none_secure_partitioned_and_framing_is_limited(app_config):
    from portal.app import create_app
    from portal.db import session
    from portal.lti.operations import add_registration

    app = create_app({**app_config, "PORTAL_LTI_IFRAME_COOKIES": True, "WTF_CSRF_ENABLED": True})
    try:
        assert (app.config["SESSION_COOKIE_SAMESITE"], app.config["SESSION_COOKIE_SECURE"]) == ("None", True)
        with in_school(app):
            add_registration(
                name="M",
                issuer="https://moodle.fictional.example",
                client_id="c",
                auth_login_url="https://moodle.fictional.example/mod/lti/auth.php",
                auth_token_url="https://moodle.fictional.example/mod/lti/token.php",
                key_set_url="https://moodle.fictional.example/mod/lti/certs.php",
                deployment_ids=["1"],
            )
            session.commit()
        resp = app.test_client().get("/portal/auth/login")
        csp = resp.headers["Content-Security-Policy"] + ";"
        assert "frame-ancestors 'self' https://moodle.fictional.example;" in csp
        [cookie] = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session=")]
        assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    finally:
        app.extensions["portal"].engine.dispose()


def test_without_iframe_cookies_the_session_stays_lax(app):
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    # Without iframe mode no LMS may frame the portal: only the portal itself.
    csp = app.test_client().get("/portal/auth/login").headers["Content-Security-Policy"] + ";"
    assert "frame-ancestors 'self';" in csp


def test_settings_command_shows_and_changes_an_lms(app, db):
    runner = app.test_cli_runner()
    assert runner.invoke(args=ADD).exit_code == 0
    reg_id = db.scalar(select(LtiRegistration.id))
    out = runner.invoke(args=["portal", "lti", "settings", str(reg_id)])
    assert out.exit_code == 0 and "parent links wait for approval; no role parameter" in out.output
    out = runner.invoke(args=["portal", "lti", "settings", str(reg_id), "--no-approve-mentor-links",
                              "--role-parameter", "countersign_role", "--role-map", "student=pupil",
                              "--role-map", "teacher=support_staff"])
    assert out.exit_code == 0, out.output
    assert "made at once; role parameter countersign_role: student=pupil, teacher=support_staff" in out.output
    bad = runner.invoke(args=["portal", "lti", "settings", str(reg_id), "--role-map", "student=wizard"])
    assert bad.exit_code != 0 and "is not one of" in bad.output
    db.expire_all()
    row = db.get(LtiRegistration, reg_id)
    assert row.role_map == {"student": "pupil", "teacher": "support_staff"} and row.approve_mentor_links is False
    out = runner.invoke(args=["portal", "lti", "settings", str(reg_id), "--role-parameter", ""])
    assert out.exit_code == 0 and "no role parameter" in out.output
