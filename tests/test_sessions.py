"""Server-side sessions: a copied cookie stops working once the session ends on the server
(sign-out, sign out everywhere, password change, account switched off, role removed), and
"keep me signed in" is short and configurable. The Security page lists and ends sessions."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.auth.models import AccountSession
from portal.db import utcnow
from portal.people.models import CapabilityGrant, PersonRole, Role
from tests.factories import PASSWORD

HOST = "portal.test"


def _sign_in(app, email, remember=False, ua="Mozilla/5.0 (Windows NT 10.0) Firefox/140.0"):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = ua
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    resp = client.post("/portal/auth/login", data=data)
    assert resp.status_code == 302, resp.data
    return client


def _copy(client, *names, ua="Mozilla/5.0 (Windows NT 10.0) Firefox/140.0"):
    """Another browser holding copies of *client*'s cookies (a stolen cookie)."""
    thief = client.application.test_client()
    thief.environ_base["HTTP_USER_AGENT"] = ua
    for name in names:
        cookie = client.get_cookie(name, domain=HOST)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value, domain=HOST)
    return thief


def _in(client, path="/portal/parent/") -> bool:
    return client.get(path).status_code == 200


def _audit(db, action):
    """Account security events are in the installation's own chain."""
    from portal.schools.isolation import all_schools

    with all_schools(db):
        return db.scalars(select(AuditEntry).where(AuditEntry.action.like(action)).order_by(AuditEntry.id)).all()


@pytest.fixture
def parent(make_person):
    return make_person(Role.PARENT, email="pat@test.example", given="Pat")


def test_a_copied_session_cookie_stops_working_after_sign_out(app, parent):
    """Finding: after signing out, a copy of the session cookie still worked."""
    client = _sign_in(app, "pat@test.example")
    thief = _copy(client, "session")
    assert _in(thief)
    assert client.post("/portal/auth/logout").status_code == 302
    assert not _in(client)
    assert not _in(thief)


def test_a_copied_remember_cookie_stops_working_after_sign_out(app, db, parent):
    """Finding: a copied remember-me cookie still signed in after sign-out."""
    client = _sign_in(app, "pat@test.example", remember=True)
    thief = _copy(client, "remember_token")  # no session cookie: the remember cookie alone signs in
    assert _in(thief)
    client.post("/portal/auth/logout")
    assert not _in(thief)
    row = db.scalar(select(AccountSession))
    assert row.ended_at is not None and row.end_reason == "signed_out"


def test_remember_me_is_short_and_configurable(app, db, parent):
    assert app.config["PORTAL_REMEMBER_SECONDS"] == 14 * 24 * 3600
    assert app.config["REMEMBER_COOKIE_DURATION"] == dt.timedelta(days=14)
    client = _sign_in(app, "pat@test.example", remember=True)
    cookie = client.get_cookie("remember_token", domain=HOST)
    assert cookie.expires is not None
    assert cookie.expires - dt.datetime.now(dt.UTC) < dt.timedelta(days=14, minutes=1)
    row = db.scalar(select(AccountSession))
    assert row.remember and row.expires_at - row.created_at == dt.timedelta(days=14)
    # Past its end on the server, the cookie no longer works, whatever the browser keeps.
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.commit()
    assert not _in(_copy(client, "remember_token"))


def test_idle_sessions_end_but_remembered_ones_do_not(app, db, parent):
    short = _sign_in(app, "pat@test.example")
    kept = _sign_in(app, "pat@test.example", remember=True)
    for row in db.scalars(select(AccountSession)):
        row.last_seen_at = utcnow() - dt.timedelta(seconds=app.config["PORTAL_SESSION_IDLE_SECONDS"] + 5)
    db.commit()
    assert not _in(short)
    assert _in(kept)


@pytest.mark.parametrize("change", ["account_off", "person_off", "role_removed", "password"])
def test_sessions_end_when_the_account_loses_access(app, db, parent, change):
    client = _sign_in(app, "pat@test.example", remember=True)
    thief = _copy(client, "remember_token")
    assert _in(client)
    if change == "account_off":
        parent.account.active = False
    elif change == "person_off":
        parent.active = False
    elif change == "role_removed":
        db.delete(db.scalar(select(PersonRole).where(PersonRole.person_id == parent.id)))
    else:
        from portal.auth.passwords import hash_password

        parent.account.password_hash = hash_password("a different password")
    db.commit()
    # Switched back on (or given the role again), the old cookies still do not work.
    if change == "account_off":
        parent.account.active = True
    elif change == "person_off":
        parent.active = True
    elif change == "role_removed":
        parent.add_role(Role.PARENT)
    db.commit()
    assert not _in(client) and not _in(thief)
    row = db.scalar(select(AccountSession))
    assert row.end_reason == {"account_off": "account_off", "person_off": "account_off",
                              "role_removed": "role_removed", "password": "password_changed"}[change]


def test_a_revoked_delegation_ends_the_holders_sessions(app, db, school, make_person, login_as):
    teacher = make_person(Role.TEACHER, email="tia@test.example")
    grant = CapabilityGrant(person_id=teacher.id, capability="compliance.view", granted_by_id=school.head.id)
    db.add(grant)
    db.commit()
    client = _sign_in(app, "tia@test.example")
    assert _in(client, "/portal/staff/")
    head = login_as(school.head)
    assert head.post(f"/portal/staff/delegation/{grant.id}/revoke").status_code == 302
    assert not _in(client, "/portal/staff/")
    assert _in(head, "/portal/staff/")


def test_password_reset_ends_every_session_and_is_audited(app, db, parent, mailbox):
    client = _sign_in(app, "pat@test.example", remember=True)
    other = _sign_in(app, "pat@test.example")
    anon = app.test_client()
    anon.post("/portal/auth/forgot", data={"email": "pat@test.example"})
    [msg] = mailbox.to("pat@test.example")
    link = re.search(r"https?://\S+", msg.get_body(preferencelist=("plain",)).get_content()).group(0)
    link = link.split(HOST, 1)[1]
    assert anon.post(link, data={"password": "a brand new secret", "confirm": "a brand new secret"}).status_code == 302
    assert not _in(client) and not _in(other)
    entry = _audit(db, "auth.sessions_ended")[0]
    assert entry.data == {"account_id": parent.account_id, "reason": "password_changed", "count": 2}


def test_security_page_lists_sessions_and_signs_out_one_or_all(app, db, parent):
    phone = _sign_in(app, "pat@test.example", ua="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/605.1")
    laptop = _sign_in(app, "pat@test.example", ua="Mozilla/5.0 (Windows NT 10.0) Chrome/140.0 Safari/537.36")
    tablet = _sign_in(app, "pat@test.example", ua="Mozilla/5.0 (Linux; Android 15) Firefox/140.0")
    page = laptop.get("/portal/auth/security").get_data(as_text=True)
    assert "Safari on iPhone" in page and "Chrome on Windows" in page and "Firefox on Android" in page
    assert "(this session)" in page
    assert page.count('data-testid="session-row"') == 3
    phone_row = db.scalar(select(AccountSession).where(AccountSession.user_agent.contains("iPhone")))
    assert laptop.post(f"/portal/auth/security/sessions/{phone_row.id}/end").status_code == 302
    assert not _in(phone) and _in(laptop) and _in(tablet)
    other = _sign_in(app, "pat@test.example")
    assert _in(other)
    assert laptop.post("/portal/auth/security/sessions/end-others").status_code == 302
    assert _in(laptop) and not _in(tablet) and not _in(other)
    laptop.post("/portal/auth/security/sessions/end-all")
    assert not _in(laptop)
    db.expire_all()
    reasons = {r.end_reason for r in db.scalars(select(AccountSession))}
    assert reasons == {"ended_by_user", "signed_out_everywhere"}
    actions = [e.action for e in _audit(db, "auth.session%")]
    assert actions == ["auth.session_ended", "auth.sessions_ended", "auth.sessions_ended"]


def test_another_accounts_session_cannot_be_ended(app, db, parent, make_person):
    make_person(Role.PARENT, email="omar@test.example")
    pat = _sign_in(app, "pat@test.example")
    omar = _sign_in(app, "omar@test.example")
    omar_row = db.scalar(select(AccountSession).order_by(AccountSession.id.desc()))
    assert pat.post(f"/portal/auth/security/sessions/{omar_row.id}/end").status_code == 404
    assert _in(omar)


def test_recent_sign_ins_show_how_and_whether_still_signed_in(app, db, parent):
    first = _sign_in(app, "pat@test.example")
    first.post("/portal/auth/logout")
    second = _sign_in(app, "pat@test.example")
    page = second.get("/portal/auth/security").get_data(as_text=True)
    recent = page.split("Recent sign-ins", 1)[1]
    assert recent.count("<tr>") == 3  # header and two sign-ins
    assert "Ended" in recent and "Signed in" in recent


def test_an_lms_launch_session_is_listed_as_such(app, db, parent):
    from flask import g

    from portal.auth import sessions

    with app.test_request_context():
        sessions.start(parent.account, via="lti")
        db.commit()
        g.pop("_portal_device", None)
    client = _sign_in(app, "pat@test.example")
    assert "(from the LMS)" in client.get("/portal/auth/security").get_data(as_text=True)
