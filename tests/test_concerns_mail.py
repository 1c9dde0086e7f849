"""Notifications reach a real SMTP server and never carry concern text."""
from __future__ import annotations

from tests import concerns_helpers
from tests.concerns_helpers import SECRET_SUBJECT, SECRET_TEXT, newest, raise_concern

cast = concerns_helpers.cast  # the fixture

REPLY = "Otter-reply-6502 about the reading scheme"
NOTE = "Badger-note-1240"
PARENT_MSG = "Wombat-follow-up-8830"


def _assert_no_text(messages, *secrets):
    assert messages
    for m in messages:
        raw = m.as_string()
        for s in (SECRET_SUBJECT, SECRET_TEXT, *secrets):
            assert s not in raw, (m["Subject"], s)


def test_a_new_concern_tells_the_handlers_and_the_parent_without_the_text(cast, login_as, db, mailbox):
    raise_concern(login_as(cast.parent), child_id=str(cast.child.id))
    c = newest(db)
    to_head, to_reviewer, to_parent = (mailbox.to("head@test.example"), mailbox.to("rhea@test.example"),
                                       mailbox.to("paula@test.example"))
    assert len(to_head) == 1 and len(to_reviewer) == 1 and len(to_parent) == 1
    assert f"/portal/concerns/inbox/{c.id}" in to_head[0].get_content()
    assert f"/portal/concerns/{c.id}" in to_parent[0].get_content()
    assert mailbox.to("chair@test.example") == [] and mailbox.to("tara@test.example") == []
    _assert_no_text(mailbox.messages)


def test_at_risk_emails_the_dsl_at_once_and_nobody_else_on_staff(cast, login_as, db, mailbox):
    raise_concern(login_as(cast.parent), at_risk="yes")
    to_dsl = mailbox.to("dsl@test.example")
    assert len(to_dsl) == 1 and to_dsl[0]["Subject"].startswith("Urgent: a child may be at risk")
    for other in ("head@test.example", "rhea@test.example", "abel@test.example", "chair@test.example"):
        assert mailbox.to(other) == [], other
    _assert_no_text(mailbox.messages)


def test_about_the_head_emails_only_the_chair_and_about_staff_only_the_head(cast, login_as, db, mailbox):
    raise_concern(login_as(cast.parent), about="head_teacher")
    staff_to = {a for m in mailbox.messages for a in m["X-Envelope-To"].split(", ")} - {"paula@test.example"}
    assert staff_to == {"chair@test.example"}
    mailbox.clear()
    raise_concern(login_as(cast.parent), about="staff", about_person_id=str(cast.accused.id))
    staff_to = {a for m in mailbox.messages for a in m["X-Envelope-To"].split(", ")} - {"paula@test.example"}
    assert staff_to == {"head@test.example"}
    _assert_no_text(mailbox.messages)


def test_replies_notes_and_escalation_send_news_only(cast, login_as, db, mailbox):
    parent, head = login_as(cast.parent), login_as(cast.head)
    raise_concern(parent)
    c = newest(db)
    mailbox.clear()
    head.post(f"/portal/concerns/inbox/{c.id}/reply", data={"reply-body": REPLY})
    news = mailbox.to("paula@test.example")
    assert len(news) == 1 and news[0]["Subject"].startswith("There is news about your concern")
    mailbox.clear()
    head.post(f"/portal/concerns/inbox/{c.id}/note", data={"note-body": NOTE})
    assert mailbox.messages == []  # an internal note tells nobody
    head.post(f"/portal/concerns/inbox/{c.id}/assign", data={"assignee_id": str(cast.reviewer.id)})
    assert len(mailbox.to("rhea@test.example")) == 1
    mailbox.clear()
    parent.post(f"/portal/concerns/{c.id}/reply", data={"body": PARENT_MSG})
    # The assignee hears about the parent's message.
    assert [m["X-Envelope-To"] for m in mailbox.messages] == ["rhea@test.example"]
    for step in ("acknowledged", "resolved"):
        head.post(f"/portal/concerns/inbox/{c.id}/status", data={"status": step})
    mailbox.clear()
    parent.post(f"/portal/concerns/{c.id}/escalate",
                data={"escalate-body": "Escalation-text-7007", "escalate-confirm": "y"})
    assert {"head@test.example", "rhea@test.example"} <= {
        a for m in mailbox.messages for a in m["X-Envelope-To"].split(", ")}
    _assert_no_text(mailbox.messages, REPLY, NOTE, PARENT_MSG, "Escalation-text-7007")


def test_a_mail_server_outage_keeps_the_concern_and_the_emails_follow(app, cast, login_as, db, mailbox):
    """The emails are queued jobs: with the mail server down they wait and are retried, and reach
    the DSL once it is back (a real queue on SQLite and a consumer in this process)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    smtp_port = app.config["PORTAL_SMTP_PORT"]
    app.config.update(PORTAL_SMTP_PORT=closed_port, PORTAL_JOBS_IMMEDIATE=False, PORTAL_JOBS_RETRY_DELAY=1)
    client = login_as(cast.parent)
    resp = raise_concern(client, at_risk="yes")
    assert resp.status_code == 302
    c = newest(db)
    assert c is not None and c.route == "safeguarding"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "marked urgent, because a child may be at risk" in page  # an at-risk concern
    queue = app.extensions["portal"].jobs
    assert queue.pending_count() == 2 and mailbox.messages == []  # to the DSL and to the parent
    worker = queue.embedded_consumer()
    worker.start()
    try:
        import time

        time.sleep(1.5)  # the first attempts fail against the closed port and are scheduled again
        app.config["PORTAL_SMTP_PORT"] = smtp_port
        deadline = time.monotonic() + 60
        while not mailbox.to("dsl@test.example") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop(graceful=True)
    assert len(mailbox.to("dsl@test.example")) == 1
    _assert_no_text(mailbox.messages)
