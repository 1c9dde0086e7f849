"""Wrong passwords: progressive delays per account (never a lock-out, and none at all on a device
the account has signed in on before), a budget per client address, and an email to the holder."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.people.models import LoginAttempt, Role
from portal.schools.isolation import all_schools
from tests.factories import PASSWORD


def _login(client, email, password):
    return client.post("/portal/auth/login", data={"email": email, "password": password})


def _age_attempts(db, seconds: int) -> None:
    """Move every recorded failure *seconds* into the past (instead of waiting)."""
    for row in db.scalars(select(LoginAttempt)):
        row.at = row.at - dt.timedelta(seconds=seconds)
    db.commit()


@pytest.fixture
def dsl(school, db):
    school.dsl_person.email = school.dsl_person.account.email = "dsl@test.example"
    db.commit()
    return school.dsl_person


def test_a_stranger_cannot_lock_the_dsl_out(app, db, dsl):
    """Finding: five wrong passwords locked any named account (the DSL's) for 15 minutes."""
    own_device = app.test_client()
    assert _login(own_device, "dsl@test.example", PASSWORD).status_code == 302
    own_device.post("/portal/auth/logout")
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    for _ in range(6):
        _login(stranger, "dsl@test.example", "guessing wrongly")
    # The DSL's own device (where they signed in before) is not slowed down at all...
    assert _login(own_device, "dsl@test.example", PASSWORD).status_code == 302
    # ...and on a new device the DSL waits seconds, not a quarter of an hour.
    new_device = app.test_client()
    resp = _login(new_device, "dsl@test.example", PASSWORD)
    assert resp.status_code == 429 and b"wait" in resp.data
    _age_attempts(db, app.config["PORTAL_LOGIN_DELAY_SECONDS"] * 2 ** 3 + 1)
    assert _login(new_device, "dsl@test.example", PASSWORD).status_code == 302


def test_delays_start_after_the_free_attempts_and_double(app, db, make_person):
    make_person(Role.PARENT, email="pat@test.example")
    app.config.update(PORTAL_LOGIN_FREE_ATTEMPTS=3, PORTAL_LOGIN_DELAY_SECONDS=2, PORTAL_LOGIN_MAX_DELAY_SECONDS=10)
    client = app.test_client()
    assert [_login(client, "pat@test.example", "wrong one").status_code for _ in range(3)] == [200, 200, 200]
    # The third failure starts a 2-second delay: the next attempt is refused unchecked...
    resp = _login(client, "pat@test.example", PASSWORD)
    assert resp.status_code == 429 and b"wait 2 seconds" in resp.data
    # ...and does not count as another failure.
    assert db.scalar(select(LoginAttempt.id).where(LoginAttempt.key == "email:pat@test.example")
                     .order_by(LoginAttempt.id.desc()).offset(3)) is None
    _age_attempts(db, 1)  # a second later: one second, not "1 seconds" (walk)
    assert b"wait 1 second and try again" in _login(client, "pat@test.example", PASSWORD).data
    _age_attempts(db, 3)
    assert _login(client, "pat@test.example", "wrong two").status_code == 200
    resp = _login(client, "pat@test.example", PASSWORD)
    assert resp.status_code == 429 and b"wait 4 seconds" in resp.data
    _age_attempts(db, 5)
    for _ in range(3):
        _login(client, "pat@test.example", "wrong again")
        _age_attempts(db, 11)
    _login(client, "pat@test.example", "wrong at last")
    assert b"wait 10 seconds" in _login(client, "pat@test.example", PASSWORD).data  # capped
    _age_attempts(db, 11)
    assert _login(client, "pat@test.example", PASSWORD).status_code == 302


def test_one_address_cannot_try_passwords_across_many_accounts(app, db, make_person):
    app.config["PORTAL_LOGIN_ADDRESS_MAX_ATTEMPTS"] = 4
    for i in range(5):
        make_person(Role.PARENT, email=f"p{i}@test.example")
    sprayer = app.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    statuses = [_login(sprayer, f"p{i}@test.example", "Summer2026!").status_code for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert _login(sprayer, "p4@test.example", PASSWORD).status_code == 429
    # Another address, and the accounts themselves, are unaffected.
    assert _login(app.test_client(), "p4@test.example", PASSWORD).status_code == 302



def test_one_address_cannot_keep_out_an_account_on_its_own_device(app, db, make_person):
    """Finding: made-up emails from a school's shared address used up its budget, and then even a teacher on
    the laptop they always use was refused with the right password."""
    app.config["PORTAL_LOGIN_ADDRESS_MAX_ATTEMPTS"] = 4
    make_person(Role.TEACHER, email="head@test.example")
    shared = "198.51.100.20"
    laptop, pupil = app.test_client(), app.test_client()
    for client in (laptop, pupil):
        client.environ_base["REMOTE_ADDR"] = shared
    assert _login(laptop, "head@test.example", PASSWORD).status_code == 302
    laptop.post("/portal/auth/logout")
    for i in range(5):
        _login(pupil, f"nobody-{i}@nowhere.example", "anything")
    assert _login(pupil, "head@test.example", PASSWORD).status_code == 429  # a new device: the budget holds
    assert _login(laptop, "head@test.example", "a wrong one").status_code == 200  # checked, not let in
    assert _login(laptop, "head@test.example", PASSWORD).status_code == 302


def test_a_known_device_has_a_budget_of_its_own(app, db, make_person):
    """Review finding: with the address's budget waived, a known device could guess its account's password
    without any limit (a shared classroom computer is "known" for the teacher who once signed in on it). After
    PORTAL_LOGIN_DEVICE_MAX_ATTEMPTS failures it is treated as a new device."""
    app.config.update(PORTAL_LOGIN_ADDRESS_MAX_ATTEMPTS=4, PORTAL_LOGIN_DEVICE_MAX_ATTEMPTS=6,
                      PORTAL_LOGIN_FREE_ATTEMPTS=3)
    make_person(Role.TEACHER, email="tam@test.example")
    classroom_pc = app.test_client()
    classroom_pc.environ_base["REMOTE_ADDR"] = "198.51.100.30"
    assert _login(classroom_pc, "tam@test.example", PASSWORD).status_code == 302
    classroom_pc.post("/portal/auth/logout")
    statuses = [_login(classroom_pc, "tam@test.example", f"guess {i}").status_code for i in range(8)]
    # Six wrong guesses are checked (the known device passes the address's budget of 4 and has no delays)...
    assert statuses[:6] == [200] * 6
    # ...then the device is new again: the address's budget (and the account's delays) refuse it unchecked.
    assert statuses[6:] == [429, 429]
    assert _login(classroom_pc, "tam@test.example", PASSWORD).status_code == 429
    _age_attempts(db, app.config["PORTAL_LOGIN_WINDOW_SECONDS"] + 1)
    assert _login(classroom_pc, "tam@test.example", PASSWORD).status_code == 302

def test_the_holder_is_told_once_when_delays_start(app, db, make_person, mailbox):
    make_person(Role.PARENT, email="pat@test.example")
    client = app.test_client()
    for _ in range(app.config["PORTAL_LOGIN_FREE_ATTEMPTS"] - 1):
        _login(client, "pat@test.example", "wrong")
    assert mailbox.to("pat@test.example") == []
    _login(client, "pat@test.example", "wrong")
    [msg] = mailbox.to("pat@test.example")
    assert msg["Subject"] == "Failed sign-ins to your school portal account"
    assert "wrong" not in msg.get_content()  # never the password tried
    _age_attempts(db, 600)
    _login(client, "pat@test.example", "wrong")
    assert len(mailbox.to("pat@test.example")) == 1
    # Unknown addresses get no mail and the same answer.
    resp = _login(client, "nobody@test.example", "wrong")
    assert b"do not match an account" in resp.data


def test_failed_sign_ins_are_audited_without_the_password(app, db, make_person):
    parent = make_person(Role.PARENT, email="pat@test.example")
    _login(app.test_client(), "pat@test.example", "hunter2 wrong")
    with all_schools(db):
        [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login_failed")).all()
    assert entry.chain == 0 and entry.data == {"account_id": parent.account_id, "step": "password", "ip": "127.0.0.1"}
    assert "hunter2" not in str(entry.data)
