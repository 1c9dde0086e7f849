"""Scheduled work (Huey periodic jobs fan out to one job per school): reminders to sign on a
school-day schedule, the weekly class-teacher summary, overdue-concern emails. Jobs run with a
given day (``today=``) so the schedule is checked day by day; mail goes to the real SMTP server."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.concerns.models import Concern, SchoolClosure
from portal.jobs import enqueue
from portal.people.models import Role
from portal.policies.models import Policy, PolicyReminder, PolicyVersion, VersionStatus
from tests.concerns_helpers import SECRET_SUBJECT, SECRET_TEXT, cast  # noqa: F401

D = dt.date
PUBLISHED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


def _publish(db, audience: str, title: str) -> PolicyVersion:
    policy = Policy(slug=f"aup-{audience}", title=title, audience=audience)
    version = PolicyVersion(policy=policy, number=1, status=VersionStatus.PUBLISHED.value, title=title,
                            body_md="Be kind online.", published_at=PUBLISHED)
    db.add_all([policy, version])
    db.commit()
    return version


def _run(name: str, day: dt.date) -> None:
    enqueue(name, school_id=1, today=day.isoformat())


def _to(mailbox, address: str) -> list:
    return [m for m in mailbox.messages if address in m["To"]]


def test_reminders_follow_the_school_day_schedule(app, db, school, make_parent, make_pupil, mailbox):
    """First after N school days, then every M, at most K; none at weekends or in closures."""
    _publish(db, "parent", "Parents' online agreement")
    parent = make_parent(make_pupil(3), given="Rowan")
    signed_parent = make_parent(make_pupil(3), given="Sasha")
    from portal.signatures.models import Signature

    version = db.scalar(select(PolicyVersion))
    db.add(Signature(version_id=version.id, signer_id=signed_parent.id, signer_role="parent",
                     signed_name=signed_parent.full_name, text_sha256="0" * 64, ip="192.0.2.1", user_agent="t",
                     academic_year=2026, signed_at=PUBLISHED + dt.timedelta(days=1)))
    school.reminder_first_days, school.reminder_every_days, school.reminder_max = 2, 3, 2
    db.add(SchoolClosure(first_day=D(2026, 11, 9), last_day=D(2026, 11, 10), label="Training days"))
    db.commit()

    def reminded() -> int:
        return len(_to(mailbox, parent.email))

    _run("policies.send_reminders", D(2026, 11, 3))   # 1 school day after publishing: too early
    assert reminded() == 0
    _run("policies.send_reminders", D(2026, 11, 4))   # 2 school days: the first reminder
    assert reminded() == 1
    msg = _to(mailbox, parent.email)[0]
    assert "Parents' online agreement" in msg.get_content() and msg["Subject"] == "Please sign the school's policies"
    _run("policies.send_reminders", D(2026, 11, 4))   # the same day again: nothing more
    _run("policies.send_reminders", D(2026, 11, 7))   # a Saturday
    _run("policies.send_reminders", D(2026, 11, 9))   # the school is closed
    _run("policies.send_reminders", D(2026, 11, 10))
    assert reminded() == 1
    _run("policies.send_reminders", D(2026, 11, 11))  # 3 school days after the first (5, 6, 11)
    assert reminded() == 2
    _run("policies.send_reminders", D(2026, 11, 18))  # at most 2
    _run("policies.send_reminders", D(2026, 12, 2))
    assert reminded() == 2
    assert _to(mailbox, signed_parent.email) == []    # signed: never reminded
    assert len(db.scalars(select(PolicyReminder).where(PolicyReminder.recipient_id == parent.id)).all()) == 2


def test_no_reminders_when_the_school_turns_them_off(app, db, school, make_parent, make_pupil, mailbox):
    _publish(db, "parent", "Parents' online agreement")
    make_parent(make_pupil(3), given="Rowan")
    school.reminder_max = 0
    db.commit()
    for day in (D(2026, 11, 4), D(2026, 11, 11), D(2026, 11, 18)):
        _run("policies.send_reminders", day)
    assert mailbox.messages == []


def test_the_admin_sets_the_schedule_and_bad_values_are_refused(app, db, school, login_as):
    client = login_as(school.head)
    form = {"name": school.name, "head_teacher_id": str(school.head_teacher_id), "dsl_id": str(school.dsl_id),
            "chair_of_governors_id": str(school.chair_of_governors_id), "academic_year_start_month": "9",
            "academic_year_start_day": "1", "official_channel": "the school office",
            "helpline_contact": "", "reminder_first_days": "0", "reminder_every_days": "abc", "reminder_max": "99"}
    resp = client.post("/portal/admin/settings", data=form)
    assert resp.status_code == 400
    db.expire_all()
    assert (school.reminder_first_days, school.reminder_every_days, school.reminder_max) == (None, None, None)
    resp = client.post("/portal/admin/settings", data={**form, "reminder_first_days": "4", "reminder_every_days": "",
                                                         "reminder_max": "2"})
    assert resp.status_code in (200, 302)
    db.expire_all()
    assert (school.reminder_first_days, school.reminder_every_days, school.reminder_max) == (4, None, 2)
    assert school.reminder_schedule(app.config) == (4, app.config["PORTAL_REMINDER_EVERY_DAYS"], 2)


def test_the_weekly_class_summary_goes_to_each_class_teacher_once_a_week(app, db, school, make_person, make_class,
                                                                         make_pupil, make_parent, mailbox):
    _publish(db, "pupil_eyfs_ks1", "Our online rules")
    teacher = make_person(Role.TEACHER, given="Tamsin", email="tamsin@test.example")
    cls = make_class(1, teacher=teacher, name="Year 1 Robins")
    pip = make_pupil(1, cls, given="Pip")
    make_parent(pip, given="Penny")
    make_pupil(1, make_class(1, name="Year 1 Larks"), given="Lark")  # another class, no teacher
    _run("policies.send_class_summaries", D(2026, 11, 23))
    [msg] = _to(mailbox, "tamsin@test.example")
    assert msg["Subject"] == "Still to sign in Year 1 Robins"
    body = msg.get_content()
    assert "Pip" in body and "Our online rules (parent to sign)" in body and "Lark" not in body
    _run("policies.send_class_summaries", D(2026, 11, 24))  # the same week: not again
    assert len(_to(mailbox, "tamsin@test.example")) == 1
    _run("policies.send_class_summaries", D(2026, 11, 30))  # the next week
    assert len(_to(mailbox, "tamsin@test.example")) == 2


def _concern(db, c, *, about_head: bool = False, assignee=None) -> Concern:
    from portal.concerns.access import route_for
    from portal.concerns.models import About

    about = About.HEAD_TEACHER if about_head else About.NOBODY
    concern = Concern(raised_by_id=c.parent.id, category="teaching", about=about.value,
                      about_person_id=c.head.id if about_head else None, at_risk=False,
                      route=route_for(at_risk=False, about=about).value, subject=SECRET_SUBJECT,
                      description=SECRET_TEXT, status="new", stage="informal", ack_due=D(2026, 11, 2),
                      response_due=D(2026, 11, 16), assignee_id=assignee.id if assignee else None)
    db.add(concern)
    db.commit()
    return concern


def test_overdue_concerns_email_the_handler_then_the_head(app, db, cast, mailbox):  # noqa: F811
    concern = _concern(db, cast, assignee=cast.reviewer)
    _run("concerns.send_overdue", D(2026, 11, 2))   # due today: not overdue yet
    assert mailbox.messages == []
    _run("concerns.send_overdue", D(2026, 11, 3))
    [msg] = mailbox.messages
    assert msg["To"] == "rhea@test.example" and msg["Subject"] == f"Overdue: concern {concern.reference}"
    _run("concerns.send_overdue", D(2026, 11, 4))   # told once
    assert len(mailbox.messages) == 1
    _run("concerns.send_overdue", D(2026, 11, 5))   # 3 school days late: the Head too
    assert len(mailbox.messages) == 2
    senior = mailbox.messages[-1]
    assert senior["To"] == "head@test.example" and "Head Teacher" in senior.get_content()
    _run("concerns.send_overdue", D(2026, 11, 6))
    assert len(mailbox.messages) == 2
    for m in mailbox.messages:  # never the concern's words
        assert SECRET_SUBJECT not in m.as_string() and SECRET_TEXT not in m.as_string()


def test_an_overdue_concern_about_the_head_goes_to_the_chair(app, db, cast, mailbox):  # noqa: F811
    _concern(db, cast, about_head=True)
    _run("concerns.send_overdue", D(2026, 11, 5))
    recipients = sorted(m["To"] for m in mailbox.messages)
    assert "chair@test.example" in recipients and "head@test.example" not in ",".join(recipients)
    senior = [m for m in mailbox.messages if m["Subject"].startswith("Still overdue")]
    assert len(senior) == 1 and "chair of governors" in senior[0].get_content()


def test_the_periodic_jobs_fan_out_to_every_school(app, db, make_school):
    """Each periodic job queues one job per school (here run at once, as a worker would)."""
    make_school("second-school")
    for name in ("policies.reminders", "policies.class_summaries", "concerns.overdue", "records.sweep",
                 "lti.sweep", "lti.sync_rosters", "records.retimestamp"):
        result = app.test_cli_runner().invoke(args=["portal", "jobs", "run", name])
        assert result.exit_code == 0, (name, result.output)
    result = app.test_cli_runner().invoke(args=["portal", "jobs", "run", "records.seal"])
    assert result.exit_code != 0 and "not a periodic job" in result.output
    result = app.test_cli_runner().invoke(args=["portal", "jobs", "run", "nonsense"])
    assert result.exit_code != 0 and "no job called" in result.output


@pytest.mark.parametrize("name", ["policies.send_reminders", "policies.send_class_summaries",
                                  "concerns.send_overdue"])
def test_a_school_that_is_gone_is_skipped_quietly(app, db, name, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="portal.jobs")
    enqueue(name, school_id=9999, today="2026-11-04")
    assert any("no longer exists" in r.getMessage() for r in caplog.records)
