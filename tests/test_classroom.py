"""Classroom acknowledgements: session lifecycle, join codes, pupils on class devices, closing."""
from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.auth.models import AccountSession
from portal.classroom import operations as ops
from portal.classroom.models import ClassroomEntry, ClassroomSession
from portal.classroom.rendering import render_html, screens, shown_text
from portal.classroom.versions import academic_year
from portal.db import utcnow
from portal.people.models import Role
from portal.policies.models import Audience
from portal.signals import signature_committed
from portal.signatures.models import Method, Signature
from tests.classroom_fixtures import OLDER_RULES, YOUNG_RULES, make_rules  # noqa: F401
from tests.schools import in_school

UA = {"User-Agent": "ClassTablet/1.0 (test)"}


@pytest.fixture
def teacher(make_person):
    return make_person(Role.TEACHER, given="Tilda", family="Tutor")


@pytest.fixture
def y2(make_class, teacher, make_pupil, make_rules):
    """A Year 2 class of three pupils (one with SEND) and published KS1 rules (and a SEND variant)."""
    cls = make_class(year_group=2, teacher=teacher, name="Year 2 Owls")
    cls.amy = make_pupil(2, cls, given="Amy")
    cls.ben = make_pupil(2, cls, given="Ben")
    cls.cal = make_pupil(2, cls, given="Cal", send=True)
    cls.rules = make_rules(Audience.PUPIL_EYFS_KS1)
    cls.send_rules = make_rules(Audience.PUPIL_EYFS_KS1, "# Easy rules\n\n- I ask before I go online.\n", send=True)
    return cls


def _start(client, cls):
    resp = client.post("/portal/classroom/start", data={"class_id": cls.id})
    assert resp.status_code == 302, resp.data
    sid = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    return sid


def _device(app, code):
    """A pupil device (no account) that has joined with *code*."""
    device = app.test_client()
    resp = device.post("/portal/classroom/join", data={"code": code})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/classroom/device/"), resp.data
    return device


@pytest.fixture
def received():
    got = []

    def _receiver(sender, signature):
        got.append(signature.id)

    signature_committed.connect(_receiver)
    yield got
    signature_committed.disconnect(_receiver)


# ------------------------------------------------------------------ rendering


def test_markdown_is_rendered_safely_and_split_one_rule_per_screen():
    body = "Intro <script>alert(1)</script>\n\n- Rule **one** [x](javascript:alert(1))\n- Rule two\n\nThe end"
    html = render_html(body)
    assert "<script" not in html and "javascript:" not in html.replace("[x](javascript:alert(1))", "")
    parts = screens(body)
    assert [p.is_rule for p in parts] == [False, True, True, False]
    assert "<strong>one</strong>" in parts[1].html
    assert "<script" not in "".join(p.html for p in parts)
    assert shown_text(body, young=True) == "\n".join(p.html for p in parts)


# ------------------------------------------------------------------ lifecycle


def test_teacher_starts_a_session_and_sees_code_qr_and_progress(app, db, y2, teacher, login_as):
    client = login_as(teacher)
    home = client.get("/portal/classroom/")
    assert home.status_code == 200 and b"Year 2 Owls" in home.data and b"0 of 3 agreed" in home.data
    sid = _start(client, y2)
    cs = db.get(ClassroomSession, sid)
    assert cs.version_id == y2.rules.id and cs.send_version_id == y2.send_rules.id
    assert re.fullmatch(f"[{ops.CODE_ALPHABET}]{{6}}", cs.code)
    page = client.get(f"/portal/classroom/sessions/{sid}")
    text = page.get_data(as_text=True)
    assert cs.code in text and "<svg" in text and 'role="img"' in text
    assert "0</span> of <span data-total>3" in text
    live = client.get(f"/portal/classroom/sessions/{sid}/progress.json").json
    assert "No one yet" in live.pop("entries_html")
    assert live == {
        "done": 0, "total": 3, "in_session": 0, "missing": [p.short_name for p in (y2.amy, y2.ben, y2.cal)],
        "accepts_pupils": True, "closed": False}
    # Starting again for the same class goes back to the open session.
    again = client.post("/portal/classroom/start", data={"class_id": y2.id})
    assert again.headers["Location"].endswith(f"/sessions/{sid}")
    assert db.scalar(select(func.count(ClassroomSession.id))) == 1


def test_full_lifecycle_close_writes_witnessed_signatures_and_signals(app, db, y2, teacher, login_as, received):
    client = login_as(teacher)
    sid = _start(client, y2)
    code = db.get(ClassroomSession, sid).code
    device = _device(app, code)
    names = device.get("/portal/classroom/device/").get_data(as_text=True)
    assert "Amy" in names and "Ben" in names and "Cal" in names
    # Walk finding: a long sentence for Reception, and nothing read aloud on this page.
    assert "Year 2 Owls. Find your name and tap it." in names
    assert 'data-read-aloud="#names-heading, #names-intro"' in names
    # Young pupils step through one screen per rule; "I agree" is on the last one.
    first = device.get(f"/portal/classroom/device/pupils/{y2.amy.id}").get_data(as_text=True)
    assert "Page 1 of 6" in first and "I agree" not in first and "data-read-aloud" in first
    last = device.get(f"/portal/classroom/device/pupils/{y2.amy.id}?step=6").get_data(as_text=True)
    assert "I agree" in last
    rule = device.get(f"/portal/classroom/device/pupils/{y2.amy.id}?step=3").get_data(as_text=True)
    assert "password secret" in rule and 'aria-hidden="true"' in rule
    assert device.post(f"/portal/classroom/device/pupils/{y2.amy.id}", headers=UA).status_code == 302
    assert device.post(f"/portal/classroom/device/pupils/{y2.cal.id}", headers=UA).status_code == 302
    after = device.get("/portal/classroom/device/").get_data(as_text=True)
    assert "Thank you, Amy" in after and "Amy P" not in after.split("Tap your name")[1]
    # Nothing is a signature until the teacher closes the session.
    assert db.scalar(select(func.count(Signature.id))) == 0
    assert client.get(f"/portal/classroom/sessions/{sid}/progress.json").json["done"] == 2

    resp = client.post(f"/portal/classroom/sessions/{sid}/close")
    assert resp.status_code == 302
    db.expire_all()
    sigs = db.scalars(select(Signature).order_by(Signature.signer_id)).all()
    assert [s.signer_id for s in sigs] == [y2.amy.id, y2.cal.id]
    for s in sigs:
        assert s.method == Method.IN_CLASS.value and s.witness_id == teacher.id
        assert s.signer_role == "pupil" and s.on_behalf_of_id is None
        assert s.user_agent == UA["User-Agent"] and s.ip == "127.0.0.1"
        assert s.academic_year == academic_year()
    amy, cal = sigs
    assert amy.signed_name == y2.amy.short_name and amy.version_id == y2.rules.id
    assert amy.text_sha256 == hashlib.sha256(shown_text(YOUNG_RULES, young=True).encode()).hexdigest()
    assert cal.version_id == y2.send_rules.id  # the SEND pupil got the SEND variant
    assert sorted(received) == sorted(s.id for s in sigs)
    assert db.get(ClassroomSession, sid).closed_at is not None
    assert all(e.signature_id for e in db.get(ClassroomSession, sid).entries)
    # The code no longer works, and closing twice records nothing more.
    assert app.test_client().post("/portal/classroom/join", data={"code": code}).status_code == 400
    assert device.get("/portal/classroom/device/").status_code == 302
    client.post(f"/portal/classroom/sessions/{sid}/close")
    assert db.scalar(select(func.count(Signature.id))) == 2
    # Absent pupils later: a new session lists only Ben.
    sid2 = _start(client, y2)
    device2 = _device(app, db.get(ClassroomSession, sid2).code)
    names = device2.get("/portal/classroom/device/").get_data(as_text=True)
    assert "Ben" in names and "Amy" not in names and "Cal" not in names
    assert device2.post(f"/portal/classroom/device/pupils/{y2.amy.id}").status_code == 409


def test_a_parent_reads_a_class_record_as_chosen_and_witnessed(app, db, y2, teacher, login_as, make_parent):
    """Walk finding: a Reception child's class record told the parent "Name typed when signing" (she tapped her
    name) and "Theirs to download" (she is four and has no account)."""
    parent = make_parent(y2.amy, given="Abel")
    client = login_as(teacher)
    sid = _start(client, y2)
    device = _device(app, db.get(ClassroomSession, sid).code)
    assert device.post(f"/portal/classroom/device/pupils/{y2.amy.id}", headers=UA).status_code == 302
    client.post(f"/portal/classroom/sessions/{sid}/close")
    sig = db.scalar(select(Signature).where(Signature.signer_id == y2.amy.id))
    reader = login_as(parent)
    history = reader.get("/portal/policies/history").get_data(as_text=True)
    assert "Kept by the school" in history and "Theirs to download" not in history
    detail = re.sub(r"\s+", " ", reader.get(f"/portal/policies/signatures/{sig.id}").get_data(as_text=True))
    assert f"Name chosen on the class device: “{y2.amy.short_name}”, witnessed by Tilda Tutor" in detail
    assert "Name typed" not in detail
    assert "Ask the school office if you need a copy." in detail and "only they can download it" not in detail


def test_close_is_all_or_nothing(app, db, y2, teacher, login_as, received):
    """If the database fails once the signatures are written (their audit entries are refused),
    none of them stays, the session stays open with its entries pending, and no signal is sent.
    (The fault is injected at the driver: the first INSERT into the audit log after the
    signatures' INSERT fails, as a lost connection would. SQLite inserts the signatures one by
    one, PostgreSQL in one batch.)"""
    from sqlalchemy import event

    client = login_as(teacher)
    sid = _start(client, y2)
    device = _device(app, db.get(ClassroomSession, sid).code)
    for pupil in (y2.amy, y2.ben, y2.cal):
        assert device.post(f"/portal/classroom/device/pupils/{pupil.id}").status_code == 302
    engine = app.extensions["portal"].engine
    inserts = []

    def fail_after_the_signatures(conn, cursor, statement, params, context, executemany):
        verb = statement.lstrip().upper()
        if verb.startswith("INSERT INTO PORTAL_SIGNATURES"):
            inserts.append(statement)
        elif verb.startswith("INSERT INTO PORTAL_AUDIT_LOG") and inserts:
            raise RuntimeError("database went away")

    event.listen(engine, "before_cursor_execute", fail_after_the_signatures)
    try:
        with pytest.raises(RuntimeError, match="database went away"):
            client.post(f"/portal/classroom/sessions/{sid}/close")
    finally:
        event.remove(engine, "before_cursor_execute", fail_after_the_signatures)
    db.expire_all()
    assert inserts  # the signatures had been sent to the database before the failure
    assert db.scalar(select(func.count(Signature.id))) == 0
    cs = db.get(ClassroomSession, sid)
    assert cs.closed_at is None and len(cs.entries) == 3 and all(e.signature_id is None for e in cs.entries)
    assert received == []
    # Once the database is back, closing records all three.
    assert client.post(f"/portal/classroom/sessions/{sid}/close").status_code == 302
    db.expire_all()
    assert db.scalar(select(func.count(Signature.id))) == 3
    assert len(received) == 3


# ------------------------------------------------------------------ codes


def test_code_expires_after_60_minutes(app, db, y2, teacher, login_as):
    client = login_as(teacher)
    sid = _start(client, y2)
    cs = db.get(ClassroomSession, sid)
    assert cs.expires_at - cs.created_at == dt.timedelta(minutes=60)
    device = _device(app, cs.code)  # works now
    assert ops.find_by_code(cs.code, now=cs.created_at + dt.timedelta(minutes=59)) is not None
    assert ops.find_by_code(cs.code, now=cs.created_at + dt.timedelta(minutes=60)) is None
    # Move the session into the past: the code and the device token stop working.
    cs.created_at = utcnow() - dt.timedelta(minutes=61)
    cs.expires_at = utcnow() - dt.timedelta(minutes=1)
    db.commit()
    resp = app.test_client().post("/portal/classroom/join", data={"code": cs.code})
    assert resp.status_code == 400 and b"does not match" in resp.data
    ended = device.get("/portal/classroom/device/", follow_redirects=True)
    assert b"That class session has ended" in ended.data
    resp = device.post(f"/portal/classroom/device/pupils/{y2.amy.id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/classroom/join")
    assert db.scalar(select(func.count(ClassroomEntry.id))) == 0
    with pytest.raises(ops.ClassroomError):
        ops.acknowledge(cs, y2.amy, ip="1.2.3.4", user_agent="x")
    # Kiosk mode is refused too; the teacher can still close it (recording nothing) and start a new one.
    kiosk = client.post(f"/portal/classroom/sessions/{sid}/kiosk")
    assert kiosk.headers["Location"].endswith(f"/sessions/{sid}")
    assert client.get("/portal/classroom/device/").status_code == 302
    page = client.get(f"/portal/classroom/sessions/{sid}").get_data(as_text=True)
    assert "join code has expired" in page and "kiosk" not in page.lower().split("progress")[0]
    assert client.post(f"/portal/classroom/sessions/{sid}/close").status_code == 302
    assert _start(client, y2) != sid


def test_codes_are_normalised_and_bad_input_is_explained(app, db, y2, teacher, login_as):
    cs = db.get(ClassroomSession, _start(login_as(teacher), y2))
    spaced = cs.code[:3].lower() + " " + cs.code[3:].lower()
    device = app.test_client()
    assert device.post("/portal/classroom/join", data={"code": spaced}).status_code == 302
    # The format message only for a malformed code; a well-formed one that opens nothing "does not match".
    for bad, message in [("", b"Type the code from the board."), ("AB", b"The code has 6 letters"),
                         ("ABC-12345", b"The code has 6 letters"), ("AB*12!", b"The code has 6 letters"),
                         ("OOOOOO", b"does not match an open class session"),
                         ("ACD 479" if cs.code != "ACD479" else "ACD 47X", b"does not match an open class session")]:
        resp = app.test_client().post("/portal/classroom/join", data={"code": bad})
        assert resp.status_code == 400 and message in resp.data, bad
        other = b"does not match" if message.startswith(b"The code") else b"The code has 6 letters"
        assert other not in resp.data, bad
    # The QR link fills the code in.
    page = app.test_client().get(f"/portal/classroom/join?code={cs.code.lower()}")
    assert f'value="{cs.code}"'.encode() in page.data


def test_wrong_codes_are_limited_per_device_then_per_address(app, db, y2, teacher, login_as):
    """Finding: 15 wrong codes from one address all answered 400. Every wrong code now counts
    (well-formed or not) against the device's cookie, and a larger budget holds per address."""
    app.config["PORTAL_CLASSROOM_JOIN_ADDRESS_MAX_ATTEMPTS"] = 12
    cs = db.get(ClassroomSession, _start(login_as(teacher), y2))
    wrong = "ACDEFH" if cs.code != "ACDEFH" else "ACDEFJ"
    guesser = app.test_client()
    statuses = [guesser.post("/portal/classroom/join", data={"code": code}).status_code
                for code in [wrong, "nonsense", wrong, "x", wrong]]
    assert statuses == [400] * 5
    # The 6th try is refused, even with the right code, from that device...
    resp = guesser.post("/portal/classroom/join", data={"code": cs.code})
    assert resp.status_code == 429 and b"Too many wrong codes from this device" in resp.data
    # ...but another device behind the same address (a classroom's shared connection) still gets in.
    classmate = app.test_client()
    assert classmate.post("/portal/classroom/join", data={"code": cs.code}).status_code == 302
    # Throwing the cookie away does not give unlimited guesses: the address budget holds.
    statuses = []
    for _ in range(10):
        fresh = app.test_client()
        statuses.append(fresh.post("/portal/classroom/join", data={"code": wrong}).status_code)
    assert statuses == [400] * 7 + [429] * 3
    # A device that joined before is not held back by the address budget; a new one is.
    assert classmate.post("/portal/classroom/join", data={"code": cs.code}).status_code == 302
    blocked = app.test_client().post("/portal/classroom/join", data={"code": cs.code})
    # That new device typed nothing wrong: the page says it is the connection's devices.
    assert blocked.status_code == 429 and b"Too many wrong codes from devices on this connection" in blocked.data
    assert b"from this device" not in blocked.data
    # Probe finding: devices that joined once (with a code the guesser knew) skipped the address budget, so 50 of
    # them made 250 wrong guesses in 10 minutes. They now have an address budget of their own, as large.
    joined = []
    for _ in range(4):
        device = app.test_client()
        device.environ_base["REMOTE_ADDR"] = "10.0.0.7"
        assert device.post("/portal/classroom/join", data={"code": cs.code}).status_code == 302
        joined.append(device)
    statuses = [device.post("/portal/classroom/join", data={"code": wrong}).status_code
                for device in joined[:3] for _ in range(4)]
    assert statuses == [400] * 12
    assert joined[3].post("/portal/classroom/join", data={"code": wrong}).status_code == 429
    # A new device at that address is counted apart, so it is not locked out by them.
    newcomer = app.test_client()
    newcomer.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert newcomer.post("/portal/classroom/join", data={"code": cs.code}).status_code == 302
    # Another address still gets in; after the window, the first address and device can try again.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert other.post("/portal/classroom/join", data={"code": cs.code}).status_code == 302
    device_id = guesser.get_cookie("portal_device", domain="portal.test").value
    from portal.devices import _serializer

    did = _serializer().loads(device_id)["d"]
    assert ops.join_limited("127.0.0.1", did) == "device"
    assert ops.join_limited("127.0.0.1", did, now=utcnow() + dt.timedelta(minutes=11)) is None


def test_device_pages_need_the_code(app, y2):
    anon = app.test_client()
    assert b"has ended" not in anon.get("/portal/classroom/device/", follow_redirects=True).data
    for path in ("/portal/classroom/device/", f"/portal/classroom/device/pupils/{y2.amy.id}"):
        resp = anon.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/classroom/join")
    assert anon.post(f"/portal/classroom/device/pupils/{y2.amy.id}").status_code == 302


def test_pupil_from_another_class_is_refused(app, db, y2, teacher, login_as, make_class, make_pupil, make_person):
    other_cls = make_class(year_group=2, teacher=make_person(Role.TEACHER))
    stranger = make_pupil(2, other_cls, given="Zed")
    adult = make_person(Role.PARENT)
    cs = db.get(ClassroomSession, _start(login_as(teacher), y2))
    device = _device(app, cs.code)
    assert b"Zed" not in device.get("/portal/classroom/device/").data
    for pid in (stranger.id, adult.id, 987654):
        assert device.get(f"/portal/classroom/device/pupils/{pid}").status_code == 404
        assert device.post(f"/portal/classroom/device/pupils/{pid}").status_code == 404
    assert db.scalar(select(func.count(ClassroomEntry.id))) == 0


def test_a_pupil_cannot_agree_twice_in_a_session(app, db, y2, teacher, login_as):
    cs = db.get(ClassroomSession, _start(login_as(teacher), y2))
    one, two = _device(app, cs.code), _device(app, cs.code)
    assert one.post(f"/portal/classroom/device/pupils/{y2.amy.id}").status_code == 302
    again = two.post(f"/portal/classroom/device/pupils/{y2.amy.id}")
    assert again.status_code == 409 and b"already agreed" in again.data
    assert two.get(f"/portal/classroom/device/pupils/{y2.amy.id}").data.count(b"I agree") == 0
    assert db.scalar(select(func.count(ClassroomEntry.id))) == 1


def test_teacher_can_remove_a_wrong_tap_before_closing(app, db, y2, teacher, login_as):
    client = login_as(teacher)
    sid = _start(client, y2)
    device = _device(app, db.get(ClassroomSession, sid).code)
    device.post(f"/portal/classroom/device/pupils/{y2.ben.id}")
    entry = db.scalars(select(ClassroomEntry)).one()
    assert client.post(f"/portal/classroom/sessions/{sid}/entries/{entry.id}/remove").status_code == 302
    assert db.scalar(select(func.count(ClassroomEntry.id))) == 0
    assert b"Ben" in device.get("/portal/classroom/device/").data


def test_start_form_errors(app, db, teacher, login_as, make_class, make_person):
    client = login_as(teacher)
    mine = make_class(year_group=5, teacher=teacher, name="Year 5 Larks")
    theirs = make_class(year_group=5, teacher=make_person(Role.TEACHER), name="Year 5 Crows")
    # No rules published for Key Stage 2.
    resp = client.post("/portal/classroom/start", data={"class_id": mine.id})
    assert resp.status_code == 400 and b"no published online-safety rules" in resp.data
    # Someone else's class, and nonsense.
    for value in (theirs.id, "abc", ""):
        resp = client.post("/portal/classroom/start", data={"class_id": value})
        assert resp.status_code == 400 and b"Please check the form" in resp.data, value
    assert db.scalar(select(func.count(ClassroomSession.id))) == 0


def test_only_the_sessions_teacher_sees_or_closes_it(app, db, y2, teacher, login_as, make_person):
    sid = _start(login_as(teacher), y2)
    colleague = login_as(make_person(Role.TEACHER))
    for method, path in [("GET", f"/portal/classroom/sessions/{sid}"),
                         ("GET", f"/portal/classroom/sessions/{sid}/progress.json"),
                         ("POST", f"/portal/classroom/sessions/{sid}/close"),
                         ("POST", f"/portal/classroom/sessions/{sid}/kiosk")]:
        assert colleague.open(path, method=method).status_code == 404, path
    assert db.get(ClassroomSession, sid).closed_at is None


def test_kiosk_mode_uses_the_teachers_device(app, db, y2, teacher, login_as, received):
    client = login_as(teacher)
    sid = _start(client, y2)
    resp = client.post(f"/portal/classroom/sessions/{sid}/kiosk", data={"pin": "2468"})
    assert resp.headers["Location"].endswith("/portal/classroom/device/")
    names = client.get("/portal/classroom/device/").get_data(as_text=True)
    assert "Back to the teacher screen" in names and "Sign out" not in names and "Tilda" not in names
    # (Same User-Agent as the sign-in: Flask-Login's "strong" protection is tied to it.)
    assert client.post(f"/portal/classroom/device/pupils/{y2.ben.id}").status_code == 302
    # Nothing of the teacher's account while in kiosk mode: every other page leads back to the names.
    for path in ("/portal/", "/portal/staff/", f"/portal/classroom/sessions/{sid}", "/portal/policies/history"):
        moved = client.get(path)
        assert moved.status_code == 302 and moved.headers["Location"].endswith("/portal/classroom/device/"), path
    assert client.post("/portal/auth/logout").headers["Location"].endswith("/portal/classroom/device/")
    # "Leave" asks for the teacher; a wrong PIN is refused, the PIN (or the password) opens the way back.
    assert client.post("/portal/classroom/device/leave").headers["Location"].endswith("/classroom/kiosk/exit")
    wrong = client.post("/portal/classroom/kiosk/exit", data={"secret": "1357"})
    assert wrong.status_code == 400 and b"not the PIN" in wrong.data
    assert b"After 4 more wrong tries, the teacher is signed out on this device." in wrong.data
    back = client.post("/portal/classroom/kiosk/exit", data={"secret": "2468"})
    assert back.headers["Location"].endswith(f"/sessions/{sid}")
    assert client.get("/portal/staff/").status_code == 200
    client.post(f"/portal/classroom/sessions/{sid}/close")
    sig = db.scalars(select(Signature)).one()
    assert sig.signer_id == y2.ben.id and sig.witness_id == teacher.id and sig.method == "in_class"


def test_a_kiosk_stays_a_kiosk_when_its_session_cookie_is_deleted(app, db, y2, teacher):
    """Probe finding: the teacher had chosen "keep me signed in"; a pupil deleted only the session cookie (browser
    settings) and the remember cookie signed the teacher back in, out of kiosk mode, one page per deletion: the
    staff home, a class with dates of birth, incidents. The server session now remembers the kiosk."""
    from tests.factories import PASSWORD

    client = app.test_client()
    assert client.post("/portal/auth/login", data={"email": teacher.email, "password": PASSWORD,
                                                   "remember": "y"}).status_code == 302
    remember = client.get_cookie("remember_token", domain="portal.test").value
    sid = _start(client, y2)
    assert client.post(f"/portal/classroom/sessions/{sid}/kiosk", data={"pin": "2468"}).status_code == 302

    def only_the_remember_cookie():
        client.delete_cookie("session", domain="portal.test")
        client.set_cookie("remember_token", remember, domain="portal.test")

    for path in ("/portal/staff/", f"/portal/staff/classes/{y2.id}", "/portal/incidents/", "/portal/auth/security"):
        only_the_remember_cookie()
        moved = client.get(path)
        assert moved.status_code == 302 and moved.headers["Location"].endswith("/portal/classroom/device/"), path
        names = client.get("/portal/classroom/device/").get_data(as_text=True)
        assert "Back to the teacher screen" in names and y2.ben.given_name in names, path
    # The PIN ends the kiosk on the server too. (Here the browser is sent to sign in again: Flask-Login's strong
    # protection dropped the sign-in when the session cookie went.) A copy of the remember cookie then opens the
    # teacher's pages, no longer the kiosk.
    assert client.post("/portal/classroom/device/leave").headers["Location"].endswith("/classroom/kiosk/exit")
    assert client.post("/portal/classroom/kiosk/exit", data={"secret": "2468"}).status_code == 302
    db.expire_all()
    assert db.scalars(select(AccountSession.kiosk_session_id)).all() == [None]
    only_the_remember_cookie()
    assert client.get("/portal/staff/").status_code == 200


def test_the_pin_ends_only_its_own_devices_kiosk(app, db, y2, teacher):
    """Review finding: with two of the teacher's devices handed round for one class session, the PIN typed on one
    ended the server's note of the other too; a pupil on the other then deleted its session cookie and the remember
    cookie opened the teacher's pages. Each kiosk's cookie names its own server session."""
    from tests.factories import PASSWORD

    devices, remembers = [], []
    for _ in range(2):
        device = app.test_client()
        assert device.post("/portal/auth/login", data={"email": teacher.email, "password": PASSWORD,
                                                       "remember": "y"}).status_code == 302
        remembers.append(device.get_cookie("remember_token", domain="portal.test").value)
        devices.append(device)
    sid = _start(devices[0], y2)
    for device in devices:
        assert device.post(f"/portal/classroom/sessions/{sid}/kiosk", data={"pin": "2468"}).status_code == 302
    first, second = devices
    assert first.post("/portal/classroom/kiosk/exit", data={"secret": "2468"}).status_code == 302
    assert first.get("/portal/staff/").status_code == 200  # the first is the teacher's again
    db.expire_all()
    assert sorted(db.scalars(select(AccountSession.kiosk_session_id)).all(), key=lambda v: v is not None) == [None, sid]
    # The second, its session cookie deleted, is still a kiosk.
    second.delete_cookie("session", domain="portal.test")
    second.set_cookie("remember_token", remembers[1], domain="portal.test")
    moved = second.get("/portal/staff/")
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/portal/classroom/device/")
    assert "Back to the teacher screen" in second.get("/portal/classroom/device/").get_data(as_text=True)
    # A kiosk cookie from before this release names no session: the PIN ends this request's own (review finding).
    with second.session_transaction() as cookie_jar:
        kiosk = dict(cookie_jar["portal_classroom_kiosk"]) if "portal_classroom_kiosk" in cookie_jar else None
        if kiosk is not None:
            kiosk.pop("row", None)
            cookie_jar["portal_classroom_kiosk"] = kiosk
    assert kiosk is not None, "the kiosk cookie's key changed"
    # Its own PIN ends it (the kiosk cookie put back from the server still names its session).
    assert second.post("/portal/classroom/kiosk/exit", data={"secret": "2468"}).status_code == 302
    db.expire_all()
    assert db.scalars(select(AccountSession.kiosk_session_id)).all() == [None, None]


def test_a_kiosk_stays_a_kiosk_when_the_teacher_last_used_another_school(app, db, y2, teacher, make_school):
    """Review finding: for a teacher of two schools, the remember cookie signs in to the school they used last; the
    kiosk's class session was then looked up in that school, not found, and the teacher's pages opened there."""
    from portal.people.models import Person
    from tests.factories import PASSWORD
    from tests.schools import as_school

    far = make_school("far-school")
    with as_school(far.id):
        there = Person(given_name="Tilda", family_name="Tutor", email=teacher.email, account=teacher.account)
        there.add_role(Role.TEACHER)
        db.add(there)
        db.commit()
    kiosk = app.test_client()
    assert kiosk.post("/portal/auth/login", data={"email": teacher.email, "password": PASSWORD,
                                                  "remember": "y"}).status_code == 302
    assert kiosk.post("/portal/auth/schools", data={"school_id": teacher.school_id, "next": ""}).status_code == 302
    remember = kiosk.get_cookie("remember_token", domain="portal.test").value
    sid = _start(kiosk, y2)
    assert kiosk.post(f"/portal/classroom/sessions/{sid}/kiosk", data={"pin": "2468"}).status_code == 302
    # On their phone the teacher switches to the other school: it is now the account's last school.
    phone = app.test_client()
    assert phone.post("/portal/auth/login", data={"email": teacher.email, "password": PASSWORD}).status_code == 302
    assert phone.post("/portal/auth/schools", data={"school_id": far.id, "next": ""}).status_code == 302
    kiosk.delete_cookie("session", domain="portal.test")
    kiosk.set_cookie("remember_token", remember, domain="portal.test")
    moved = kiosk.get("/portal/staff/")
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/portal/classroom/device/")
    names = kiosk.get("/portal/classroom/device/").get_data(as_text=True)
    assert "Back to the teacher screen" in names and y2.ben.given_name in names


def test_older_class_sees_the_full_text(app, db, teacher, login_as, make_class, make_pupil, make_rules):
    cls = make_class(year_group=8, teacher=teacher)
    pupil = make_pupil(8, cls, given="Olu")
    version = make_rules(Audience.PUPIL_KS3_4)
    client = login_as(teacher)
    cs = db.get(ClassroomSession, _start(client, cls))
    device = _device(app, cs.code)
    page = device.get(f"/portal/classroom/device/pupils/{pupil.id}").get_data(as_text=True)
    assert "Keep your password to yourself" in page and "Do not share photos" in page and "Page 1 of" not in page
    device.post(f"/portal/classroom/device/pupils/{pupil.id}")
    client.post(f"/portal/classroom/sessions/{cs.id}/close")
    sig = db.scalars(select(Signature)).one()
    assert sig.version_id == version.id
    assert sig.text_sha256 == hashlib.sha256(render_html(OLDER_RULES).encode()).hexdigest()


def test_csrf_is_required_on_pupil_device_forms(app, db, y2, teacher, login_as):
    cs = db.get(ClassroomSession, _start(login_as(teacher), y2))
    app.config["WTF_CSRF_ENABLED"] = True
    device = app.test_client()
    resp = device.post("/portal/classroom/join", data={"code": cs.code})
    assert resp.status_code == 400 and b"form had expired" in resp.data
    page = device.get("/portal/classroom/join").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert device.post("/portal/classroom/join", data={"code": cs.code, "csrf_token": token}).status_code == 302
    assert device.post(f"/portal/classroom/device/pupils/{y2.amy.id}").status_code == 400
    assert db.scalar(select(func.count(ClassroomEntry.id))) == 0


def test_actions_are_audited_without_personal_text(app, db, y2, teacher, login_as):
    client = login_as(teacher)
    sid = _start(client, y2)
    device = _device(app, db.get(ClassroomSession, sid).code)
    device.post(f"/portal/classroom/device/pupils/{y2.amy.id}")
    client.post(f"/portal/classroom/sessions/{sid}/close")
    actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    # The exact text each pupil was shown is kept under its hash, for the sealed record.
    from portal.policies.queries import signed_text
    from portal.signatures.models import Signature

    for sig in db.scalars(select(Signature)).all():
        kept = signed_text(sig)
        assert kept is not None and "grown-up" in kept.body_html
    # Other areas (sealed records) may add their own entries after the close.
    actions = [a for a in actions if a.startswith(("classroom.", "signature."))]
    assert actions[-4:] == ["classroom.session_started", "classroom.acknowledged", "signature.created",
                            "classroom.session_closed"]


# ------------------------------------------------------------------ older pupils on their own


@pytest.fixture
def y9_pupil(make_class, make_pupil, make_person):
    cls = make_class(year_group=9, teacher=make_person(Role.TEACHER))
    return make_pupil(9, cls, given="Nell", email="nell@test.example", password="pupil password 9")


def test_older_pupil_agrees_online_and_the_task_goes_away(app, db, y9_pupil, login_as, make_rules, received):
    version = make_rules(Audience.PUPIL_KS3_4)
    client = login_as(y9_pupil)
    home = client.get("/portal/pupil/").get_data(as_text=True)
    assert "Read and agree to the online-safety rules" in home and "/portal/classroom/my-rules" in home
    page = client.get("/portal/classroom/my-rules")
    assert page.status_code == 200 and b"Treat others with respect" in page.data
    # Not ticking the box is explained, and nothing is written.
    bad = client.post("/portal/classroom/my-rules", data={})
    assert bad.status_code == 400 and b"Tick the box to show that you agree." in bad.data
    assert db.scalar(select(func.count(Signature.id))) == 0
    ok = client.post("/portal/classroom/my-rules", data={"agree": "y"})
    assert ok.status_code == 302
    sig = db.scalars(select(Signature)).one()
    assert (sig.method, sig.witness_id, sig.signer_id, sig.version_id) == ("online", None, y9_pupil.id, version.id)
    assert sig.signed_name == y9_pupil.full_name and received == [sig.id]
    assert "Read and agree" not in client.get("/portal/pupil/").get_data(as_text=True)
    assert b"You agreed to these rules on" in client.get("/portal/classroom/my-rules").data
    assert client.post("/portal/classroom/my-rules", data={"agree": "y"}).status_code == 409
    assert db.scalar(select(func.count(Signature.id))) == 1


def test_own_page_for_young_pupils_and_when_nothing_is_published(app, db, y9_pupil, login_as, make_pupil):
    client = login_as(y9_pupil)
    assert b"no rules for you to agree to" in client.get("/portal/classroom/my-rules").data
    assert client.post("/portal/classroom/my-rules", data={"agree": "y"}).status_code == 404
    assert "Read and agree" not in client.get("/portal/pupil/").get_data(as_text=True)
    young = make_pupil(4, None, given="Yan", email="yan@test.example", password="pupil password 4")
    assert b"Your teacher will go through" in login_as(young).get("/portal/classroom/my-rules").data


def test_a_new_version_that_asks_again_brings_the_task_back(app, db, y9_pupil, login_as, make_rules):
    v1 = make_rules(Audience.PUPIL_KS3_4)
    client = login_as(y9_pupil)
    client.post("/portal/classroom/my-rules", data={"agree": "y"})
    v1.status = "superseded"
    make_rules(Audience.PUPIL_KS3_4, number=2, policy=v1.policy, requires_resign=False)
    assert "Read and agree" not in client.get("/portal/pupil/").get_data(as_text=True)
    db.commit()
    v3 = make_rules(Audience.PUPIL_KS3_4, number=3, policy=v1.policy, requires_resign=True)
    assert v3.requires_resign
    for v in v1.policy.versions:
        if v.id != v3.id:
            v.status = "superseded"
    db.commit()
    assert "Read and agree" in client.get("/portal/pupil/").get_data(as_text=True)


def test_two_simultaneous_closes_record_each_signature_once(app, db, y2, teacher, login_as):
    """Two requests closing the same session at once (a double click, two tabs): one wins,
    the other finds it closed (PostgreSQL waits on the row lock; SQLite refuses the second
    writer). Never two signatures for one acknowledgement."""
    import threading

    from sqlalchemy.exc import OperationalError

    from portal.people.models import Person

    client = login_as(teacher)
    sid = _start(client, y2)
    device = _device(app, db.get(ClassroomSession, sid).code)
    for pupil in (y2.amy, y2.ben):
        device.post(f"/portal/classroom/device/pupils/{pupil.id}")
    barrier = threading.Barrier(2)
    outcomes = []

    def close_in_own_context():
        with in_school(app):
            s = app.extensions["portal"].session()
            cs = s.get(ClassroomSession, sid)
            who = s.get(Person, teacher.id)
            _ = list(cs.entries)
            barrier.wait()
            try:
                ops.close_session(cs, who)
                s.commit()
                outcomes.append("closed")
            except (ops.ClassroomError, OperationalError) as exc:
                s.rollback()
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=close_in_own_context) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 2 and outcomes.count("closed") == 1, outcomes
    db.expire_all()
    assert db.scalar(select(func.count(Signature.id))) == 2


def test_with_everyone_agreed_the_device_says_all_done(app, db, y2, teacher, login_as):
    """Walk finding: with nobody left to agree, the device still said "Tap your name" over nothing to tap."""
    device = _device(app, db.get(ClassroomSession, _start(login_as(teacher), y2)).code)
    for pupil in (y2.amy, y2.ben, y2.cal):
        assert device.post(f"/portal/classroom/device/pupils/{pupil.id}", headers=UA).status_code == 302
    done = device.get("/portal/classroom/device/").get_data(as_text=True)
    assert "<h1>All done</h1>" in done and "Tap your name" not in done
    assert "Everyone in Year 2 Owls has agreed. Well done!" in done
