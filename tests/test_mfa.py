"""Two-step sign-in: required for staff (with a grace period), authenticator codes (TOTP) with
single use, recovery codes, an audited reset by an administrator; nothing changes for parents
who do not turn it on. (Passkeys are driven in real Chromium: tests/test_mfa_browser.py.)"""
from __future__ import annotations

import datetime as dt
import json
import re

import pyotp
import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.auth.models import AccountSession, RecoveryCode, TotpFactor
from portal.db import utcnow
from portal.people.models import Role
from portal.schools.isolation import all_schools
from tests.factories import PASSWORD

HOST = "portal.test"


def _audit(db, action):
    with all_schools(db):
        return db.scalars(select(AuditEntry).where(AuditEntry.action.like(action)).order_by(AuditEntry.id)).all()


def _password(client, email, password=PASSWORD, **extra):
    return client.post("/portal/auth/login", data={"email": email, "password": password, **extra})


def _enrol(client) -> tuple[str, list[str]]:
    """Set up an authenticator app through the pages; returns its secret and the recovery codes."""
    page = client.get("/portal/auth/security/app").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    # Finding: the secret sat in the session cookie, which Flask signs but does not encrypt.
    app = client.application
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"], domain=HOST).value
    assert secret not in json.dumps(app.session_interface.get_signing_serializer(app).loads(cookie))
    resp = client.post("/portal/auth/security/app", data={"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200, resp.data
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", resp.get_data(as_text=True))
    return secret, codes


def _next_code(secret: str) -> str:
    """The code of the next 30-second step (accepted, and never used before)."""
    return pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))


@pytest.fixture
def teacher(make_person):
    return make_person(Role.TEACHER, email="tess@test.example", given="Tess")


def test_staff_sign_in_starts_a_grace_period_then_must_set_up(app, db, teacher):
    client = app.test_client()
    resp = _password(client, "tess@test.example")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/")
    db.refresh(teacher.account)
    assert teacher.account.mfa_required_since is not None
    page = client.get("/portal/staff/", follow_redirects=True).get_data(as_text=True)
    assert "needs two-step sign-in" in page
    assert client.get("/portal/staff/").status_code == 200
    # After the grace period, nothing but the Security page (and sign-out) opens.
    teacher.account.mfa_required_since = utcnow() - dt.timedelta(days=app.config["PORTAL_MFA_GRACE_DAYS"] + 1)
    db.commit()
    resp = client.get("/portal/staff/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/auth/security")
    assert client.get("/portal/links/").status_code == 302
    assert client.get("/portal/auth/security").status_code == 200
    _enrol(client)
    assert client.get("/portal/staff/").status_code == 200
    assert [e.data["method"] for e in _audit(db, "auth.mfa_added")] == ["totp"]


def test_an_authenticator_app_is_the_second_step_and_each_code_works_once(app, db, teacher):
    client = app.test_client()
    _password(client, "tess@test.example")
    secret, codes = _enrol(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.scalar(select(TotpFactor))
    assert secret not in stored.secret_encrypted  # kept encrypted
    client.post("/portal/auth/logout")

    # The password alone no longer signs in.
    resp = _password(client, "tess@test.example")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/auth/verify")
    assert client.get("/portal/staff/").status_code == 302
    wrong = client.post("/portal/auth/verify", data={"code": "000000"})
    assert wrong.status_code == 400 and b"That code is not right" in wrong.data
    code = _next_code(secret)
    resp = client.post("/portal/auth/verify", data={"code": code})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/")
    assert client.get("/portal/staff/").status_code == 200
    db.expire_all()
    row = db.scalar(select(AccountSession).where(AccountSession.ended_at.is_(None)))
    assert row.second_factor == "totp"
    client.post("/portal/auth/logout")
    # The same code cannot be used again (someone who saw it over a shoulder).
    _password(client, "tess@test.example")
    assert client.post("/portal/auth/verify", data={"code": code}).status_code == 400
    assert [e.data["step"] for e in _audit(db, "auth.login_failed")] == ["code", "code"]


def test_recovery_codes_work_once_each(app, db, teacher):
    client = app.test_client()
    _password(client, "tess@test.example")
    _secret, codes = _enrol(client)
    client.post("/portal/auth/logout")
    _password(client, "tess@test.example")
    resp = client.post("/portal/auth/verify", data={"code": codes[3].upper()})
    assert resp.status_code == 302
    client.post("/portal/auth/logout")
    _password(client, "tess@test.example")
    assert client.post("/portal/auth/verify", data={"code": codes[3]}).status_code == 400
    assert db.scalar(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))) is not None
    assert [e.data["left"] for e in _audit(db, "auth.recovery_code_used")] == [9]
    assert codes[3] not in str([e.data for e in _audit(db, "auth.%")])


def test_half_signed_in_is_not_signed_in_and_expires(app, db, teacher):
    client = app.test_client()
    _password(client, "tess@test.example")
    secret, _codes = _enrol(client)
    client.post("/portal/auth/logout")
    _password(client, "tess@test.example")
    for path in ("/portal/staff/", "/portal/auth/security"):
        assert client.get(path).status_code == 302
    with client.session_transaction() as sess:
        sess["portal_mfa_pending"] = {**sess["portal_mfa_pending"], "t": sess["portal_mfa_pending"]["t"] - 301}
    resp = client.post("/portal/auth/verify", data={"code": _next_code(secret)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/auth/login")


def test_wrong_codes_slow_down_a_new_device(app, db, teacher):
    app.config["PORTAL_LOGIN_FREE_ATTEMPTS"] = 2
    client = app.test_client()
    _password(client, "tess@test.example")
    secret, _ = _enrol(client)
    thief = app.test_client()  # knows the password, not the phone
    _password(thief, "tess@test.example")
    assert [thief.post("/portal/auth/verify", data={"code": "123456"}).status_code for _ in range(3)] == [400, 400, 429]
    # While it waits, even the right code is not checked.
    assert thief.post("/portal/auth/verify", data={"code": _next_code(secret)}).status_code == 429


def test_parents_see_no_change_unless_they_turn_it_on(app, db, make_person):
    parent = make_person(Role.PARENT, email="pam@test.example")
    client = app.test_client()
    resp = _password(client, "pam@test.example")
    assert resp.headers["Location"].endswith("/portal/")
    page = client.get("/portal/parent/").get_data(as_text=True)
    assert "two-step" not in page.lower()
    db.refresh(parent.account)
    assert parent.account.mfa_required_since is None
    # A parent may turn it on; then it is asked for like anyone else's.
    _secret, _codes = _enrol(client)
    client.post("/portal/auth/logout")
    assert _password(client, "pam@test.example").headers["Location"].endswith("/portal/auth/verify")


def test_enrolling_ends_the_other_sessions(app, db, teacher):
    first = app.test_client()
    _password(first, "tess@test.example")
    second = app.test_client()
    _password(second, "tess@test.example")
    _enrol(first)
    assert first.get("/portal/staff/").status_code == 200
    assert second.get("/portal/staff/").status_code == 302


def test_removing_the_app_needs_the_password(app, db, teacher):
    client = app.test_client()
    _password(client, "tess@test.example")
    _enrol(client)
    resp = client.post("/portal/auth/security/app/remove", data={"password": "not my password"})
    assert resp.status_code == 303
    assert db.scalar(select(TotpFactor)) is not None
    client.post("/portal/auth/security/app/remove", data={"password": PASSWORD})
    db.expire_all()
    assert db.scalar(select(TotpFactor)) is None
    assert db.scalar(select(RecoveryCode)) is None  # codes go with the last method
    assert [e.data["method"] for e in _audit(db, "auth.mfa_removed")] == ["totp"]


def test_password_guesses_on_the_security_page_are_limited(app, db, teacher, mailbox):
    """Security probe: with a session in hand, 40 wrong passwords were checked here, then the right one: no
    limit, and the holder was never told."""
    client = app.test_client()
    _password(client, "tess@test.example")
    _enrol(client)
    free = app.config["PORTAL_LOGIN_FREE_ATTEMPTS"]
    for n in range(free):
        page = client.post("/portal/auth/security/app/remove", data={"password": f"guess {n}"},
                           follow_redirects=True).get_data(as_text=True)
        assert "That password is not right" in page
    page = client.post("/portal/auth/security/app/remove", data={"password": PASSWORD},
                       follow_redirects=True).get_data(as_text=True)
    assert "Too many wrong passwords" in page  # not even the right one is checked now
    assert db.scalar(select(TotpFactor)) is not None
    assert len(_audit(db, "auth.password_check_failed")) == free
    assert "failed attempt" not in page  # they are not failed sign-ins (walk)
    # They count towards the account's sign-in delays, so the holder hears of them.
    assert [m["Subject"] for m in mailbox.to("tess@test.example")] == [
        "Two-step sign-in changed on your school portal account",  # the app added by _enrol
        "Failed sign-ins to your school portal account"]


@pytest.mark.parametrize("code, message", [
    ("", b"Type the code your app shows."),
    ("12345", b"The code has 6 digits."),
    ("12a456", b"The code has 6 digits."),
    ("1" * 13, b"The code has 6 digits."),
    ("000000", b"That code is not right."),
])
def test_bad_setup_codes_are_explained_and_save_nothing(app, db, teacher, code, message):
    client = app.test_client()
    _password(client, "tess@test.example")
    client.get("/portal/auth/security/app")
    resp = client.post("/portal/auth/security/app", data={"code": code})
    assert resp.status_code == 400 and message in resp.data
    assert db.scalar(select(TotpFactor)) is None


@pytest.mark.parametrize("form, message", [
    ({"name": "", "credential": "{}"}, "Give the passkey a name"),
    ({"name": "x" * 61, "credential": "{}"}, "under 60 characters"),
    ({"name": "Laptop", "credential": "not json"}, "could not be read"),
    ({"name": "Laptop", "credential": '{"id": "x", "response": {}}'}, "expired"),
])
def test_bad_passkey_forms_are_explained_and_save_nothing(app, db, teacher, form, message):
    from portal.auth.models import PasskeyFactor

    client = app.test_client()
    _password(client, "tess@test.example")
    resp = client.post("/portal/auth/security/passkeys", data=form, follow_redirects=True)
    assert message in resp.get_data(as_text=True)
    assert db.scalar(select(PasskeyFactor)) is None


def test_an_administrator_resets_it_audited_and_the_holder_is_told(app, db, teacher, make_person, login_as,
                                                                   mailbox):
    client = app.test_client()
    _password(client, "tess@test.example")
    _enrol(client)
    admin = make_person(Role.ADMIN, given="Ada")
    page = login_as(admin).get("/portal/admin/people").get_data(as_text=True)
    assert "Reset<span class=\"visually-hidden\"> two-step sign-in of Tess" in page
    resp = login_as(admin).post(f"/portal/admin/people/{teacher.id}/reset-mfa")
    assert resp.status_code == 302
    assert db.scalar(select(TotpFactor)) is None and db.scalar(select(RecoveryCode)) is None
    assert client.get("/portal/staff/").status_code == 302  # every session ended
    added, msg = mailbox.to("tess@test.example")  # the app set up (by _enrol), then the reset
    assert "changed" in added["Subject"] and "reset" in msg["Subject"]
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "auth.mfa_reset"))
    assert entry.actor_id == admin.id and entry.data["account_id"] == teacher.account_id
    # Next sign-in: straight to setting it up again (no grace).
    resp = _password(client, "tess@test.example")
    assert resp.headers["Location"].endswith("/portal/auth/security")
    assert client.get("/portal/staff/").status_code == 302


def test_an_administrator_cannot_reset_their_own_or_a_shared_account(app, db, make_person, make_school, login_as):
    from tests.schools import as_school

    admin = make_person(Role.ADMIN, email="ada@test.example")
    client = app.test_client()
    _password(client, "ada@test.example")
    _enrol(client)
    login_as(admin).post(f"/portal/admin/people/{admin.id}/reset-mfa")
    assert db.scalar(select(TotpFactor)) is not None
    other = make_school("other-school")
    with as_school(other.id):
        make_person(Role.TEACHER, email="ada@test.example", account=admin.account)
    other_admin = make_person(Role.ADMIN, given="Otto")
    resp = login_as(other_admin).post(f"/portal/admin/people/{admin.id}/reset-mfa", follow_redirects=True)
    assert b"also used elsewhere" in resp.data
    assert db.scalar(select(TotpFactor)) is not None
    # The installation's operator can.
    result = app.test_cli_runner().invoke(args=["portal", "accounts", "reset-mfa", "ADA@test.example"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert db.scalar(select(TotpFactor)) is None


def test_the_second_step_without_passkeys_does_not_begin_with_or(app, db, teacher):
    """Walk finding: with no passkey, the page's only choice was headed "Or type a code"."""
    client = app.test_client()
    _password(client, "tess@test.example")
    _enrol(client)
    client.post("/portal/auth/logout")
    _password(client, "tess@test.example")
    page = client.get("/portal/auth/verify").get_data(as_text=True)
    assert ">Type a code</h2>" in page and "Or type a code" not in page


def test_adding_a_second_step_needs_the_password_again_and_the_holder_is_told(app, db, teacher, mailbox):
    """Security probe: at a browser left signed in, anyone could add their own authenticator app (signing the owner
    out everywhere else, and seeing the new recovery codes) with no password and no email, and so lock the owner
    out. Adding a second step, or new recovery codes, now needs the password typed within PORTAL_REAUTH_SECONDS,
    and the holder is emailed."""
    client = app.test_client()
    _password(client, "tess@test.example")
    secret, _codes = _enrol(client)  # just signed in: no second password
    [told] = mailbox.to("tess@test.example")
    assert told["Subject"] == "Two-step sign-in changed on your school portal account"
    body = told.get_payload(decode=True).decode() if not told.is_multipart() else told.get_payload(0).get_payload(
        decode=True).decode()
    assert "An authenticator app was added" in body and "tell the school office at once" in body
    _signed_in_long_ago(db, app)
    # The browser left signed in, later: new recovery codes and a passkey are refused until the password.
    resp = client.post("/portal/auth/security/recovery-codes")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/portal/auth/security/confirm")
    assert client.post("/portal/auth/security/passkeys/options").status_code == 403
    resp = client.post("/portal/auth/security/passkeys", data={"name": "Mine", "credential": "{}"})
    assert resp.status_code == 303 and "/security/confirm" in resp.headers["Location"]
    wrong = client.post("/portal/auth/security/confirm", data={"password": "not it"})
    assert wrong.status_code == 400 and "That password is not right." in wrong.get_data(as_text=True)
    assert client.post("/portal/auth/security/recovery-codes").status_code == 303
    ok = client.post("/portal/auth/security/confirm", data={"password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/portal/auth/security")
    page = client.post("/portal/auth/security/recovery-codes")
    assert page.status_code == 200 and len(re.findall(r"<code>[a-z0-9]{5}-[a-z0-9]{5}</code>",
                                                       page.get_data(as_text=True))) == 10
    subjects = [m["Subject"] for m in mailbox.to("tess@test.example")]
    assert subjects == ["Two-step sign-in changed on your school portal account"] * 2


def _signed_in_long_ago(db, app) -> None:
    """Every session began longer ago than PORTAL_REAUTH_SECONDS (a browser left signed in)."""
    from sqlalchemy import update

    db.execute(update(AccountSession).values(
        created_at=utcnow() - dt.timedelta(seconds=app.config["PORTAL_REAUTH_SECONDS"] + 60)))
    db.commit()


def test_setting_up_an_app_in_an_old_session_asks_for_the_password_first(app, db, teacher):
    client = app.test_client()
    _password(client, "tess@test.example")
    _signed_in_long_ago(db, app)
    resp = client.get("/portal/auth/security/app")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/security/confirm?next=app")
    # A POST straight to the setup (no secret shown yet) is sent to confirm too: nothing is saved.
    assert client.post("/portal/auth/security/app", data={"code": "123456"}).status_code == 303
    ok = client.post("/portal/auth/security/confirm", data={"password": PASSWORD, "next": "app"})
    assert ok.headers["Location"].endswith("/portal/auth/security/app")
    assert 'data-testid="totp-secret"' in client.get("/portal/auth/security/app").get_data(as_text=True)
    assert db.scalar(select(TotpFactor)) is None


def test_passkeys_belong_to_the_portals_own_address_not_the_host_header(app):
    """Probe note: with PORTAL_WEBAUTHN_RP_ID and _ORIGIN unset, the site of a passkey came from the request's Host
    header. It comes from PORTAL_PUBLIC_URL when that is set."""
    from portal.auth import mfa

    app.config["PORTAL_PUBLIC_URL"] = "https://portal.school.example/"
    with app.test_request_context("/portal/auth/security", base_url="http://evil.example:8080"):
        assert (mfa.rp_id(), mfa.expected_origin()) == ("portal.school.example", "https://portal.school.example")
    app.config["PORTAL_PUBLIC_URL"] = None
    with app.test_request_context("/portal/auth/security", base_url="http://dev.example:5000"):
        assert (mfa.rp_id(), mfa.expected_origin()) == ("dev.example", "http://dev.example:5000")
