"""Private concerns: routing, privacy, the status/stage workflow, targets, audit and logging."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re

import pytest
from babel.dates import format_date
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.concerns import operations as ops
from portal.concerns.models import Concern, ConcernEvent, ConcernMessage, Stage, Status
from portal.concerns.schooldays import add_school_days, uk_today
from portal.people.models import CapabilityGrant, GuardianLink, Role
from tests import concerns_helpers
from tests.concerns_helpers import PNG, SECRET_SUBJECT, SECRET_TEXT, newest, raise_concern

cast = concerns_helpers.cast  # the fixture


def handle_status(login_as, person, concern) -> int:
    return login_as(person).get(f"/portal/concerns/inbox/{concern.id}").status_code


def who_can_handle(cast, login_as, concern) -> set[str]:
    names = ("head", "dsl", "chair", "reviewer", "accused", "teacher", "governor")
    return {n for n in names if handle_status(login_as, getattr(cast, n), concern) == 200}


# ---------------------------------------------------------------- routing


def test_a_general_concern_goes_to_the_head_and_reviewers(cast, login_as, db):
    resp = raise_concern(login_as(cast.parent), child_id=str(cast.child.id))
    assert resp.status_code == 302
    c = newest(db)
    assert c.route == "general" and c.child_id == cast.child.id
    assert who_can_handle(cast, login_as, c) == {"head", "dsl", "reviewer", "accused"}


def test_a_child_at_risk_goes_only_to_the_dsl(cast, login_as, db):
    parent = login_as(cast.parent)
    resp = raise_concern(parent, at_risk="yes", child_id=str(cast.child.id))
    c = newest(db)
    assert c.route == "safeguarding"
    # Walk finding: the parent was thanked as for any concern, with no word of the DSL or of 999.
    page = parent.get(resp.headers["Location"]).get_data(as_text=True)
    assert "marked urgent, because a child may be at risk. If a child is in danger right now, call 999." in page
    assert "only the people who must act on it can read it" in page
    # The DSL's home shows it first, apart from the other concerns (walk finding: only the generic counts rose).
    home = login_as(cast.dsl).get("/portal/staff/").get_data(as_text=True)
    tile = re.search(r'<p class="tile-count mb-0" aria-hidden="true">(\d+)</p>\s*<h3[^>]*><a class="stretched-link" '
                     r'href="([^"]+)">Child at risk', home)
    assert tile and tile.group(1) == "1" and tile.group(2) == "/portal/concerns/inbox?at_risk=y"
    assert home.index("Child at risk") < home.index("New concerns")
    assert "Child at risk" not in login_as(cast.head).get("/portal/staff/").get_data(as_text=True)
    assert who_can_handle(cast, login_as, c) == {"dsl"}
    # Walk finding: the banner said "Only the safeguarding lead can see this concern", though deputies can too. It
    # names who can.
    handling = login_as(cast.dsl).get(f"/portal/concerns/inbox/{c.id}").get_data(as_text=True)
    assert f"Only these people can see this concern: {cast.dsl.full_name}." in handling
    # The Head and the other reviewers do not even see it listed.
    for person in (cast.head, cast.reviewer):
        assert SECRET_SUBJECT not in login_as(person).get("/portal/concerns/inbox").get_data(as_text=True)
    assert SECRET_SUBJECT in login_as(cast.dsl).get("/portal/concerns/inbox").get_data(as_text=True)


def test_a_concern_about_the_head_goes_only_to_the_chair_of_governors(cast, login_as, db):
    raise_concern(login_as(cast.parent), about="head_teacher")
    c = newest(db)
    assert c.route == "chair"
    assert who_can_handle(cast, login_as, c) == {"chair"}
    inbox = login_as(cast.chair).get("/portal/concerns/inbox")
    assert inbox.status_code == 200 and SECRET_SUBJECT in inbox.get_data(as_text=True)
    assert "Parents' concerns" in login_as(cast.chair).get("/portal/staff/").get_data(as_text=True).replace(
        "&#39;", "'")
    # Another governor has no inbox at all.
    assert login_as(cast.governor).get("/portal/concerns/inbox").status_code == 403
    assert "Parents' concerns" not in login_as(cast.governor).get("/portal/staff/").get_data(as_text=True).replace(
        "&#39;", "'")


def test_a_concern_about_a_member_of_staff_goes_only_to_the_head(cast, login_as, db):
    raise_concern(login_as(cast.parent), about="staff", about_person_id=str(cast.accused.id))
    c = newest(db)
    assert c.route == "head_only" and c.about_person_id == cast.accused.id
    # Not the reviewers the Head delegated to, and never the person it is about.
    assert who_can_handle(cast, login_as, c) == {"head"}
    assert SECRET_SUBJECT not in login_as(cast.accused).get("/portal/concerns/inbox").get_data(as_text=True)


def test_at_risk_and_about_the_dsl_goes_to_the_head_instead(cast, login_as, db):
    parent = login_as(cast.parent)
    resp = raise_concern(parent, at_risk="yes", about="staff", about_person_id=str(cast.dsl.id))
    assert who_can_handle(cast, login_as, newest(db)) == {"head"}
    handling = login_as(cast.head).get(f"/portal/concerns/inbox/{newest(db).id}").get_data(as_text=True)
    assert f"Only these people can see this concern: {cast.head.full_name}." in handling
    # Review finding: the parent was told the DSL reads it, and the Head (its only reader) had no "Child at risk".
    page = parent.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Designated Safeguarding Lead" not in page and "marked urgent" in page
    assert "Child at risk" in login_as(cast.head).get("/portal/staff/").get_data(as_text=True)


def test_at_risk_and_about_the_head_goes_to_the_dsl_and_the_chair(cast, login_as, db):
    raise_concern(login_as(cast.parent), at_risk="yes", about="head_teacher")
    assert who_can_handle(cast, login_as, newest(db)) == {"dsl", "chair"}


def test_a_head_who_is_also_the_dsl_never_sees_an_at_risk_concern_about_the_head(cast, login_as, db):
    from portal.schools.models import School

    settings = School.get()
    settings.dsl_id = cast.head.id  # a small school: one person holds both designations
    db.commit()
    raise_concern(login_as(cast.parent), at_risk="yes", about="head_teacher")
    c = newest(db)
    assert c.about_person_id == cast.head.id
    assert SECRET_SUBJECT not in login_as(cast.head).get("/portal/concerns/inbox").get_data(as_text=True)
    assert login_as(cast.head).get(f"/portal/concerns/inbox/{c.id}").status_code in (403, 404)
    assert SECRET_SUBJECT in login_as(cast.chair).get("/portal/concerns/inbox").get_data(as_text=True)


def test_a_concern_about_the_head_is_refused_while_no_chair_is_named(cast, login_as, db):
    from portal.schools.models import School

    School.get().chair_of_governors_id = None
    db.commit()
    resp = raise_concern(login_as(cast.parent), about="head_teacher")
    assert resp.status_code == 400
    assert "has not named its chair of governors" in resp.get_data(as_text=True)
    assert newest(db) is None


def test_the_head_cannot_be_chosen_as_another_member_of_staff(cast, login_as, db):
    page = login_as(cast.parent).get("/portal/concerns/new").get_data(as_text=True)
    assert cast.accused.full_name in page and cast.head.full_name not in page
    resp = raise_concern(login_as(cast.parent), about="staff", about_person_id=str(cast.head.id))
    assert resp.status_code == 400 and newest(db) is None


def test_choosing_another_member_of_staff_needs_a_name(cast, login_as, db):
    resp = raise_concern(login_as(cast.parent), about="staff", about_person_id="0")
    assert resp.status_code == 400
    assert "Choose the member of staff" in resp.get_data(as_text=True)
    assert newest(db) is None


# ---------------------------------------------------------------- privacy


@pytest.fixture
def general(cast, login_as, db):
    raise_concern(login_as(cast.parent), child_id=str(cast.child.id), files=[("photo.png", PNG)])
    return newest(db)


@pytest.fixture
def safeguarding(cast, login_as, db):
    raise_concern(login_as(cast.parent), at_risk="yes", child_id=str(cast.child.id), files=[("photo.png", PNG)])
    return newest(db)


def _urls(c):
    a = c.attachments[0].id
    return {"view": f"/portal/concerns/{c.id}", "handle": f"/portal/concerns/inbox/{c.id}",
            "file": f"/portal/concerns/{c.id}/attachments/{a}"}


def test_another_parent_sees_nothing(cast, login_as, general):
    client = login_as(cast.other_parent)
    for url in _urls(general).values():
        resp = client.get(url)
        assert resp.status_code in (403, 404), url
        assert SECRET_TEXT not in resp.get_data(as_text=True)
    assert client.post(f"/portal/concerns/{general.id}/reply", data={"body": "hi"}).status_code == 404
    assert SECRET_SUBJECT not in client.get("/portal/concerns/").get_data(as_text=True)


def test_a_teacher_without_the_capability_sees_nothing(cast, login_as, general):
    client = login_as(cast.teacher)  # Kit's own class teacher
    assert client.get("/portal/concerns/inbox").status_code == 403
    assert client.get(_urls(general)["handle"]).status_code == 403
    assert client.get(_urls(general)["file"]).status_code == 404
    assert client.get(_urls(general)["view"]).status_code == 403
    resp = client.post(f"/portal/concerns/inbox/{general.id}/status", data={"status": "acknowledged"})
    assert resp.status_code == 403


def test_a_reviewer_who_is_not_the_dsl_cannot_open_a_safeguarding_concern(cast, login_as, safeguarding):
    for person in (cast.reviewer, cast.head):
        client = login_as(person)
        assert client.get(_urls(safeguarding)["handle"]).status_code == 404
        assert client.get(_urls(safeguarding)["file"]).status_code == 404
        for action, data in (("reply", {"reply-body": "x"}), ("note", {"note-body": "x"}),
                             ("status", {"status": "acknowledged"}), ("assign", {"assignee_id": "0"})):
            assert client.post(f"/portal/concerns/inbox/{safeguarding.id}/{action}", data=data).status_code == 404
    assert login_as(cast.dsl).get(_urls(safeguarding)["file"]).status_code == 200


def test_the_member_of_staff_it_is_about_cannot_open_it_even_as_a_reviewer(cast, login_as, db):
    raise_concern(login_as(cast.parent), about="staff", about_person_id=str(cast.accused.id),
                  files=[("photo.png", PNG)])
    c = newest(db)
    client = login_as(cast.accused)
    assert client.get("/portal/concerns/inbox").status_code == 200  # they are a reviewer...
    for url in (_urls(c)["handle"], _urls(c)["file"]):
        assert client.get(url).status_code == 404  # ...but not of this one
    assert client.post(f"/portal/concerns/inbox/{c.id}/note", data={"note-body": "x"}).status_code == 404


def test_a_parent_sees_only_their_own_concerns(cast, login_as, db, general):
    raise_concern(login_as(cast.other_parent), subject="Omar own worry")
    mine = login_as(cast.parent).get("/portal/concerns/").get_data(as_text=True)
    assert SECRET_SUBJECT in mine and "Omar own worry" not in mine
    theirs = login_as(cast.other_parent).get("/portal/concerns/").get_data(as_text=True)
    assert SECRET_SUBJECT not in theirs and "Omar own worry" in theirs


def test_a_parent_can_only_name_their_own_child(cast, login_as, db):
    client = login_as(cast.parent)
    page = client.get("/portal/concerns/new").get_data(as_text=True)
    assert "Kit" in page and "Ray" in page and "Oli" not in page
    resp = raise_concern(client, child_id=str(cast.other_child.id))
    assert resp.status_code == 400 and newest(db) is None


def test_internal_notes_never_reach_the_parent(cast, login_as, general):
    login_as(cast.head).post(f"/portal/concerns/inbox/{general.id}/note", data={"note-body": "Gecko note 55"})
    login_as(cast.head).post(f"/portal/concerns/inbox/{general.id}/reply", data={"reply-body": "Heron reply 66"})
    page = login_as(cast.parent).get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert "Heron reply 66" in page and "Gecko note 55" not in page
    staff = login_as(cast.reviewer).get(f"/portal/concerns/inbox/{general.id}").get_data(as_text=True)
    assert "Heron reply 66" in staff and "Gecko note 55" in staff


def test_attachments_download_as_files_with_a_safe_type(cast, login_as, general):
    resp = login_as(cast.parent).get(_urls(general)["file"])
    assert resp.status_code == 200 and resp.data == PNG
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # The attachment id must belong to the concern in the URL.
    assert login_as(cast.parent).get(f"/portal/concerns/{general.id + 1}/attachments/"
                                     f"{general.attachments[0].id}").status_code == 404


# ---------------------------------------------------------------- workflow


def _post_status(client, c, status):
    return client.post(f"/portal/concerns/inbox/{c.id}/status", data={"status": status}, follow_redirects=True)


def _escalate(client, concern, body: str = ""):
    """The parent asks, with the tick, for *concern* to be taken further (redirects followed)."""
    return client.post(f"/portal/concerns/{concern.id}/escalate",
                       data={"escalate-body": body, "escalate-confirm": "y"}, follow_redirects=True)


def test_statuses_follow_the_allowed_order(cast, login_as, db, general):
    head = login_as(cast.head)
    page = _post_status(head, general, "resolved").get_data(as_text=True)
    assert "cannot be marked resolved" in page
    db.expire_all()
    assert db.get(Concern, general.id).status == "new"
    assert db.scalar(select(func.count()).select_from(ConcernEvent)) == 0
    for step in ("acknowledged", "in_progress", "resolved", "closed"):
        assert "Status changed" in _post_status(head, general, step).get_data(as_text=True)
    db.expire_all()
    c = db.get(Concern, general.id)
    assert c.status == "closed" and c.acknowledged_at and c.resolved_at and c.closed_at
    assert "cannot be marked" in _post_status(head, general, "in_progress").get_data(as_text=True)
    actions = [e.action for e in db.scalars(select(AuditEntry).where(AuditEntry.action == "concern.status_changed"))]
    assert len(actions) == 4


def test_the_parent_escalates_after_the_outcome_and_the_stage_is_recorded(cast, login_as, db, general):
    parent, head = login_as(cast.parent), login_as(cast.head)
    early = _escalate(parent, general)
    assert "once the school has given its outcome" in early.get_data(as_text=True)
    # Walk finding: the Head looked for a way to make it a formal complaint; the page says it is the parent's step.
    handling = head.get(f"/portal/concerns/inbox/{general.id}").get_data(as_text=True)
    assert "Only the parent who raised this can take it further, to formal complaint, stage 1" in handling
    for step in ("acknowledged", "resolved"):
        _post_status(head, general, step)
    page = parent.get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert "Make a formal complaint" in page
    assert handle_status(login_as, cast.chair, general) == 404
    resp = _escalate(parent, general, "Still unhappy.")
    assert "formal complaint, stage 1" in resp.get_data(as_text=True)
    db.expire_all()
    c = db.get(Concern, general.id)
    assert (c.stage, c.status) == ("stage_1", "new")
    assert c.ack_due > uk_today() and c.acknowledged_at is None
    stage_events = db.scalars(select(ConcernEvent).where(ConcernEvent.kind == "stage")).all()
    assert [(e.old_value, e.new_value, e.actor_id) for e in stage_events] == [("informal", "stage_1", cast.parent.id)]
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "concern.escalated"))
    assert entry.data["new_stage"] == "stage_1" and entry.actor_id == cast.parent.id
    # Stage 2 (the governors' panel), then no further.
    for step in ("acknowledged", "resolved"):
        _post_status(head, general, step)
    _escalate(parent, general)
    db.expire_all()
    assert db.get(Concern, general.id).stage == Stage.STAGE_2.value
    assert "can take it further" not in head.get(f"/portal/concerns/inbox/{general.id}").get_data(as_text=True)
    # The chair of governors convenes the panel, so can now read it too.
    assert handle_status(login_as, cast.chair, general) == 200
    for step in ("acknowledged", "resolved"):
        _post_status(head, general, step)
    assert "Make a formal complaint" not in parent.get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    db.expire_all()
    with pytest.raises(ops.ConcernError, match="last stage"):
        ops.escalate(db.get(Concern, general.id), cast.parent)



def test_a_closed_concern_can_still_be_taken_further_for_a_while(cast, login_as, db, general):
    """Walk finding: the Head marked a concern resolved and closed it in the same minute; the parent's page then
    showed "Closed" with no way to complain formally, which a resolved concern offers. Closing ends the
    conversation; the parent can still take it further for PORTAL_CONCERN_CLOSED_ESCALATION_DAYS school days."""
    parent, head = login_as(cast.parent), login_as(cast.head)
    for step in ("acknowledged", "resolved", "closed"):
        _post_status(head, general, step)
    db.expire_all()
    closed = db.get(Concern, general.id)
    last_day = add_school_days(uk_today(), 20)
    assert closed.status == "closed" and ops.escalation_closes(closed) == last_day
    page = parent.get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert "Not happy with the outcome?" in page and "Make a formal complaint" in page
    day = format_date(last_day, "long", locale="en_GB")
    assert f"The school has closed this concern. You can still take it further until {day}." in page
    handling = head.get(f"/portal/concerns/inbox/{general.id}").get_data(as_text=True)
    assert f"The parent can still take it further, to formal complaint, stage 1, until {day}." in handling
    resp = _escalate(parent, general, "Closed too soon.")
    assert resp.status_code == 200 and "formal complaint, stage 1" in resp.get_data(as_text=True)
    db.expire_all()
    c = db.get(Concern, general.id)
    assert (c.stage, c.status, c.closed_at, c.resolved_at) == ("stage_1", "new", None, None)
    # Closed long ago: the page offers nothing, and a POST is refused with the reason.
    for step in ("acknowledged", "resolved", "closed"):
        _post_status(head, general, step)
    db.expire_all()
    c = db.get(Concern, general.id)
    c.closed_at = c.closed_at - dt.timedelta(days=60)
    db.commit()
    page = parent.get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert "Not happy with the outcome?" not in page and "can still take it further" not in page
    assert "can still take it further" not in head.get(f"/portal/concerns/inbox/{general.id}").get_data(as_text=True)
    refused = _escalate(parent, general)
    assert "closed more than 20 school days ago" in refused.get_data(as_text=True)
    db.expire_all()
    assert db.get(Concern, general.id).stage == "stage_1"


def test_a_formal_complaint_needs_a_tick_and_a_refused_form_keeps_the_words(cast, login_as, db, general):
    """Finding: "Make a formal complaint" took effect in one tap, and a refused message or escalation came back
    as a flash with the typed words gone."""
    parent, head = login_as(cast.parent), login_as(cast.head)
    for step in ("acknowledged", "resolved"):
        _post_status(head, general, step)
    resp = parent.post(f"/portal/concerns/{general.id}/escalate", data={"escalate-body": "Words-kept-3141"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Tick the box to say you want to take this further." in page and "Words-kept-3141" in page
    # The summary names the box without its full stop ("…complaint.: Tick" read oddly).
    assert "I want the school to treat this as a formal complaint: Tick the box" in page
    db.expire_all()
    assert db.get(Concern, general.id).stage == "informal"
    assert db.scalar(select(func.count()).select_from(ConcernMessage).where(
        ConcernMessage.concern_id == general.id, ConcernMessage.body == "Words-kept-3141")) == 0
    # At stage 1 the tick names the governors' panel.
    _escalate(parent, general)
    for step in ("acknowledged", "resolved"):
        _post_status(head, general, step)
    page = parent.get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert "I want a panel of governors to hear this complaint." in page
    assert "We will acknowledge it and respond within a set number of school days." in page  # walk: words were missing
    # A message over the limit comes back with its words and the reason, and nothing is saved.
    long_text = "Long-reply-2718 " + "x" * 10_000
    before = db.scalar(select(func.count()).select_from(ConcernMessage))
    resp = parent.post(f"/portal/concerns/{general.id}/reply", data={"body": long_text})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Use at most 10000 characters." in page and long_text in page
    assert db.scalar(select(func.count()).select_from(ConcernMessage)) == before


def test_the_schools_first_reply_acknowledges_the_concern(cast, login_as, db, general):
    """Walk finding: the Head replied, yet the concern stayed "New" for both sides: the parent read "We aim to
    acknowledge it by …" under the Head's answer, and it went on counting as "to acknowledge"."""
    head, parent = login_as(cast.head), login_as(cast.parent)
    head.post(f"/portal/concerns/inbox/{general.id}/note", data={"note-body": "Spoke to the class teacher."})
    db.expire_all()
    assert db.get(Concern, general.id).status == "new"  # an internal note is not an answer
    resp = head.post(f"/portal/concerns/inbox/{general.id}/reply", data={"reply-body": "Thank you, we are on it."},
                     follow_redirects=True)
    assert "Your reply acknowledged the concern" in resp.get_data(as_text=True)
    db.expire_all()
    c = db.get(Concern, general.id)
    assert c.status == "acknowledged" and c.acknowledged_at is not None
    events = db.scalars(select(ConcernEvent).where(ConcernEvent.concern_id == c.id, ConcernEvent.kind == "status"))
    assert [(e.old_value, e.new_value, e.actor_id) for e in events] == [("new", "acknowledged", cast.head.id)]
    page = parent.get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert "We aim to acknowledge it by" not in page and "Acknowledged" in page
    # A second reply changes nothing more.
    resp = head.post(f"/portal/concerns/inbox/{general.id}/reply", data={"reply-body": "An update."},
                     follow_redirects=True)
    assert "Your reply acknowledged the concern" not in resp.get_data(as_text=True)


def test_an_escalation_refused_because_the_concern_was_reopened_keeps_the_words(cast, login_as, db, general):
    """Review finding: reopened by the school while the parent typed, the refused escalation came back without
    its box, its reason or the parent's words."""
    parent, head = login_as(cast.parent), login_as(cast.head)
    for step in ("acknowledged", "resolved", "in_progress"):  # resolved, then reopened before the parent sends
        _post_status(head, general, step)
    for data in ({"escalate-body": "My-kept-words-77"}, {"escalate-body": "My-kept-words-77", "escalate-confirm": "y"}):
        resp = parent.post(f"/portal/concerns/{general.id}/escalate", data=data)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400 and "My-kept-words-77" in page, data
        assert ("Tick the box" in page) if "escalate-confirm" not in data else ("once the school has given" in page)
    db.expire_all()
    assert db.get(Concern, general.id).stage == "informal"


def test_a_refused_reply_or_note_comes_back_to_the_handler_with_its_words(cast, login_as, db, general):
    """Finding: a reply or internal note over the limit was refused in a flash after a redirect, and the
    handler's words were gone."""
    head = login_as(cast.head)
    before = db.scalar(select(func.count()).select_from(ConcernMessage))
    for kind, label in (("reply", "Reply to the parent"), ("note", "Add internal note")):
        words = f"Handler-{kind}-1618 " + "y" * 10_000
        resp = head.post(f"/portal/concerns/inbox/{general.id}/{kind}", data={f"{kind}-body": words})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400, kind
        assert "at most 10000 characters" in page and words in page and label in page
    assert db.scalar(select(func.count()).select_from(ConcernMessage)) == before


def test_a_late_concern_tells_the_parent_and_can_be_taken_further(cast, login_as, db, general):
    """Finding: weeks after its dates a parent's concern still said "We aim to acknowledge it by 6 Nov" with no
    word that it was late and no way on; staff saw "Acknowledgement overdue"."""
    import datetime as dt

    parent = login_as(cast.parent)
    page = parent.get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert "target date has passed" not in page and "Still waiting for a response?" not in page
    # Past the acknowledgement date: the parent is told, and shown how to ask for news; not yet taken further.
    c = db.get(Concern, general.id)
    c.ack_due = uk_today() - dt.timedelta(days=1)
    db.commit()
    page = parent.get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert "The school has not acknowledged this yet, and its target date has passed." in page
    assert "Send a message below to ask for news" in page and "Still waiting for a response?" not in page
    early = _escalate(parent, general)
    assert "once the school has given its outcome" in early.get_data(as_text=True)
    # Acknowledged, then past the date for a full response: the parent may make it a formal complaint.
    _post_status(login_as(cast.head), general, "acknowledged")
    db.expire_all()
    c = db.get(Concern, general.id)
    c.response_due = uk_today() - dt.timedelta(days=1)
    db.commit()
    page = parent.get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert "The school has not given its full response yet, and its target date has passed." in page
    assert "Still waiting for a response?" in page and "Anything you want to add? (optional)" in page
    resp = _escalate(parent, general, "No reply yet.")
    assert "formal complaint, stage 1" in resp.get_data(as_text=True)
    db.expire_all()
    c = db.get(Concern, general.id)
    assert (c.stage, c.status) == ("stage_1", "new") and c.response_due > uk_today()
    status_events = db.scalars(select(ConcernEvent).where(ConcernEvent.kind == "status")
                               .order_by(ConcernEvent.id)).all()
    assert (status_events[-1].old_value, status_events[-1].new_value) == ("acknowledged", "new")

def test_assignment_only_to_people_who_may_read_it(cast, login_as, db, general):
    head = login_as(cast.head)
    resp = head.post(f"/portal/concerns/inbox/{general.id}/assign", data={"assignee_id": str(cast.teacher.id)},
                     follow_redirects=True)
    assert "cannot see this concern" in resp.get_data(as_text=True)
    head.post(f"/portal/concerns/inbox/{general.id}/assign", data={"assignee_id": str(cast.reviewer.id)})
    db.expire_all()
    assert db.get(Concern, general.id).assignee_id == cast.reviewer.id
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "concern.assigned"))
    assert entry.data == {"old_assignee_id": None, "assignee_id": cast.reviewer.id}
    mine = login_as(cast.reviewer).get("/portal/concerns/inbox?assignee=me").get_data(as_text=True)
    assert SECRET_SUBJECT in mine


def test_revising_the_target_date_keeps_the_reason(cast, login_as, db, general):
    head = login_as(cast.head)
    new_date = general.response_due + dt.timedelta(days=7)
    bad = head.post(f"/portal/concerns/inbox/{general.id}/target",
                    data={"new_date": new_date.isoformat(), "reason": ""}, follow_redirects=True)
    assert "Give a reason" in bad.get_data(as_text=True)
    head.post(f"/portal/concerns/inbox/{general.id}/target",
              data={"new_date": new_date.isoformat(), "reason": "Waiting for the class teacher's return."})
    db.expire_all()
    assert db.get(Concern, general.id).response_due == new_date
    ev = db.scalar(select(ConcernEvent).where(ConcernEvent.kind == "target"))
    assert ev.reason == "Waiting for the class teacher's return." and ev.new_value == new_date.isoformat()
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "concern.target_revised"))
    assert "Waiting" not in json.dumps(entry.data)
    parent_page = login_as(cast.parent).get(f"/portal/concerns/{general.id}").get_data(as_text=True)
    assert new_date.isoformat() in parent_page and "Waiting for the class" not in parent_page


def test_inbox_filters_and_overdue_first(cast, login_as, db):
    parent = login_as(cast.parent)
    raise_concern(parent, subject="Older about Kit", child_id=str(cast.child.id))
    old = newest(db)
    raise_concern(parent, subject="Behaviour about Ray", category="behaviour", child_id=str(cast.sibling.id))
    raise_concern(parent, subject="Late one", category="communication")
    late = newest(db)
    late.ack_due = uk_today() - dt.timedelta(days=1)
    db.commit()
    head = login_as(cast.head)
    page = head.get("/portal/concerns/inbox").get_data(as_text=True)
    assert page.index("Late one") < page.index("Older about Kit") < page.index("Behaviour about Ray")
    assert "Acknowledgement overdue" in page
    only_late = head.get("/portal/concerns/inbox?overdue=y").get_data(as_text=True)
    assert "Late one" in only_late and "Older about Kit" not in only_late
    by_cat = head.get("/portal/concerns/inbox?category=behaviour").get_data(as_text=True)
    assert "Behaviour about Ray" in by_cat and "Late one" not in by_cat
    # A child is found by name: any case, any part of a given or family name, every word.
    for typed in ("kit", "KI", f"Kit {cast.child.family_name[:4].lower()}"):
        by_child = head.get("/portal/concerns/inbox", query_string={"child": typed}).get_data(as_text=True)
        assert "Older about Kit" in by_child and "Behaviour about Ray" not in by_child, typed
    assert "No concerns match these filters." in head.get("/portal/concerns/inbox?child=Kit+Nobody").get_data(
        as_text=True)
    # A search for "%" or "_" is the character itself, not a wildcard.
    for wildcard in ("%", "_"):
        assert "No concerns match these filters." in head.get(
            "/portal/concerns/inbox", query_string={"child": wildcard}).get_data(as_text=True), wildcard
    by_class = head.get(f"/portal/concerns/inbox?school_class={cast.other_cls.id}").get_data(as_text=True)
    assert "Behaviour about Ray" in by_class and "Older about Kit" not in by_class
    _post_status(head, old, "acknowledged")
    by_status = head.get("/portal/concerns/inbox?status=acknowledged").get_data(as_text=True)
    assert "Older about Kit" in by_status and "Late one" not in by_status
    nobody = head.get("/portal/concerns/inbox?assignee=none").get_data(as_text=True)
    assert "Late one" in nobody
    # The Head's home page is a dashboard of the work (each with a count and a link).
    home = head.get("/portal/staff/").get_data(as_text=True).replace("&#39;", "'")  # the words, however escaped
    assert "Overdue concerns <span class=\"visually-hidden\">(1)</span>" in home and "Parents' concerns" in home
    assert "New concerns <span class=\"visually-hidden\">(2)</span>" in home  # one of the three is acknowledged




def test_a_late_safeguarding_concern_is_not_taken_to_the_complaints_panel(cast, login_as, db, safeguarding):
    """The late path to a formal complaint is not for a child at risk: the DSL acts on it, and the governors'
    panel does not read safeguarding concerns. The parent is still told it is late."""
    import datetime as dt

    c = db.get(Concern, safeguarding.id)
    c.status, c.response_due = "acknowledged", uk_today() - dt.timedelta(days=1)
    db.commit()
    parent = login_as(cast.parent)
    page = parent.get(f"/portal/concerns/{safeguarding.id}").get_data(as_text=True)
    assert "its target date has passed" in page and "Still waiting for a response?" not in page
    resp = _escalate(parent, safeguarding)
    assert "once the school has given its outcome" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(Concern, safeguarding.id).stage == "informal"

def test_the_dsl_sees_a_child_at_risk_first_and_can_list_only_those(cast, login_as, db):
    """Finding: in the DSL's inbox "Child at risk" was a badge on the third row, below ordinary overdue concerns,
    and no filter could list them alone."""
    parent = login_as(cast.parent)
    raise_concern(parent, subject="Late and ordinary", category="communication")
    late = newest(db)
    late.ack_due = uk_today() - dt.timedelta(days=1)
    db.commit()
    raise_concern(parent, subject="A child at risk", at_risk="yes", child_id=str(cast.child.id))
    dsl = login_as(cast.dsl)
    page = dsl.get("/portal/concerns/inbox").get_data(as_text=True)
    # The DSL reviews general concerns too (the school's default delegation): the late one is there, second.
    assert page.index("A child at risk") < page.index("Late and ordinary")
    only = dsl.get("/portal/concerns/inbox?at_risk=y").get_data(as_text=True)
    assert "A child at risk" in only and "Late and ordinary" not in only
    assert re.search(r'<input checked[^>]*name="at_risk"', only)  # the box stays ticked
    # The Head (not the DSL) sees no safeguarding concern with the filter either.
    head_only = login_as(cast.head).get("/portal/concerns/inbox?at_risk=y").get_data(as_text=True)
    assert "A child at risk" not in head_only and "No concerns match these filters." in head_only

def test_a_name_outside_ascii_is_found_however_it_is_typed(cast, login_as, db, make_pupil):
    """Names are compared folded on both databases: "łucja" and "Lucja" find Łucja too (SQLite's lower() and a
    C-locale PostgreSQL fold ASCII letters only, so comparing with ilike found only "Łucja" and "ucja")."""
    lucja = make_pupil(3, cast.cls, given="Łucja")
    db.add(GuardianLink(parent_id=cast.parent.id, pupil_id=lucja.id))
    db.commit()
    raise_concern(login_as(cast.parent), subject="About Łucja", child_id=str(lucja.id))
    head = login_as(cast.head)
    for typed in ("Łucja", "łucja", "Lucja", "lucja", "ucja", "UCJA"):
        page = head.get("/portal/concerns/inbox", query_string={"child": typed}).get_data(as_text=True)
        assert "About Łucja" in page, typed


def test_inbox_filter_lists_classes_not_children_and_refuses_a_long_name(cast, login_as, db):
    """The child filter is a name box, so the page does not grow with every child a concern was ever about;
    the class filter lists the school's classes."""
    raise_concern(login_as(cast.parent), subject="About Kit", child_id=str(cast.child.id))
    head = login_as(cast.head)
    page = head.get("/portal/concerns/inbox").get_data(as_text=True)
    assert '<label class="form-label" for="child">Child\'s name</label>' in page
    assert 'id="child" maxlength="100" name="child" type="text" value="">' in page
    assert f'<option value="{cast.cls.id}">Year 3 Owls</option>' in page
    assert f'<option value="{cast.other_cls.id}">Year 5 Hawks</option>' in page  # no concern about it yet
    long = head.get("/portal/concerns/inbox", query_string={"child": "K" * 101})
    text = long.get_data(as_text=True)
    assert long.status_code == 200 and "Use at most 100 characters." in text
    assert 'aria-describedby="child-error"' in text and 'aria-invalid="true"' in text and "is-invalid" in text
    assert "About Kit" in text  # the list is shown unfiltered, with the error by the box
    at_limit = head.get("/portal/concerns/inbox", query_string={"child": "K" * 100}).get_data(as_text=True)
    assert "Use at most" not in at_limit and "No concerns match these filters." in at_limit


def test_concern_text_is_never_edited(app, cast, login_as, db, general):
    with pytest.raises(ValueError, match="cannot change"):
        general.description = "rewritten"
    with pytest.raises(ValueError, match="cannot change"):
        general.subject = "rewritten"
    db.rollback()
    msg = ops.add_message(db.get(Concern, general.id), cast.parent, "A correction.")
    db.commit()
    with pytest.raises(ValueError, match="never edited"):
        msg.body = "rewritten"
    db.rollback()
    # There is no route that edits text: only new messages.
    assert not [r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("portal.concerns.")
                and ("edit" in r.rule or {"PUT", "PATCH", "DELETE"} & set(r.methods))]


def test_no_concern_text_in_the_audit_log_or_the_application_log(cast, login_as, db, caplog):
    caplog.set_level(logging.DEBUG)
    parent, head = login_as(cast.parent), login_as(cast.head)
    raise_concern(parent, child_id=str(cast.child.id), files=[("photo.png", PNG)])
    c = newest(db)
    parent.post(f"/portal/concerns/{c.id}/reply", data={"body": "Parent-follow-up-9081"})
    head.post(f"/portal/concerns/inbox/{c.id}/reply", data={"reply-body": "Head-reply-1177"})
    head.post(f"/portal/concerns/inbox/{c.id}/note", data={"note-body": "Head-note-3344"})
    for step in ("acknowledged", "resolved"):
        _post_status(head, c, step)
    _escalate(parent, c, "Escalation-words-5566")
    head.post(f"/portal/concerns/inbox/{c.id}/target",
              data={"new_date": (uk_today() + dt.timedelta(days=40)).isoformat(), "reason": "Reason-words-2211"})
    parent.get(f"/portal/concerns/{c.id}/attachments/{c.attachments[0].id}")
    secrets = [SECRET_SUBJECT, SECRET_TEXT, "Parent-follow-up", "Head-reply", "Head-note", "Escalation-words",
               "Reason-words"]
    audit_text = json.dumps([e.data for e in db.scalars(select(AuditEntry))])
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    for s in secrets:
        assert s not in audit_text, s
        assert s not in log_text, s
    actions = set(db.scalars(select(AuditEntry.action)))
    assert {"concern.raised", "concern.message_added", "concern.note_added", "concern.status_changed",
            "concern.escalated", "concern.target_revised", "concern.attachment_downloaded"} <= actions
    assert db.scalar(select(func.count()).select_from(ConcernMessage)) == 4


def test_parent_home_links_and_news_task(cast, login_as, db, general):
    home = login_as(cast.parent).get("/portal/parent/").get_data(as_text=True)
    assert "Raise a concern privately" in home and "There is news" not in home
    login_as(cast.head).post(f"/portal/concerns/inbox/{general.id}/reply", data={"reply-body": "Hello"})
    home = login_as(cast.parent).get("/portal/parent/").get_data(as_text=True)
    # Walk finding: the task named only the reference; it names the parent's own subject too.
    assert "There is news about your concern" in home and f"{general.reference}: {general.subject}" in home
    login_as(cast.parent).get(f"/portal/concerns/{general.id}")
    assert "There is news" not in login_as(cast.parent).get("/portal/parent/").get_data(as_text=True)
    # Closing is news too (the parent may still take it further for a while).
    for step in ("resolved", "closed"):
        _post_status(login_as(cast.head), general, step)
    assert "There is news about your concern" in login_as(cast.parent).get("/portal/parent/").get_data(as_text=True)
    # On "Your concerns" the subject is the link (a bigger target than the reference).
    mine = login_as(cast.parent).get("/portal/concerns/").get_data(as_text=True)
    assert f'<a href="/portal/concerns/{general.id}">{general.subject}</a>' in mine


def test_the_form_explains_why_and_names_the_official_channel(cast, login_as, db):
    cast.school.official_channel = "the office at office@owls.example"
    db.commit()
    page = login_as(cast.parent).get("/portal/concerns/new").get_data(as_text=True)
    assert "social media" in page and "the office at office@owls.example" in page
    assert "Is a child at risk of harm?" in page and "Who is it about?" in page


def test_a_revoked_reviewer_loses_access(cast, login_as, db, general):
    grant = db.scalar(select(CapabilityGrant).where(CapabilityGrant.person_id == cast.reviewer.id))
    grant.revoked_at = dt.datetime.now(dt.UTC)
    db.commit()
    assert login_as(cast.reviewer).get(f"/portal/concerns/inbox/{general.id}").status_code == 403


def test_missing_fields_are_refused_clearly(cast, login_as, db):
    resp = raise_concern(login_as(cast.parent), subject="", description="", at_risk="")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Please fill this in." in text and "whether a child is at risk" in text
    assert newest(db) is None


def test_status_value_outside_the_list_is_refused(cast, login_as, db, general):
    resp = login_as(cast.head).post(f"/portal/concerns/inbox/{general.id}/status", data={"status": "deleted"},
                                    follow_redirects=True)
    assert "Choose a status" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(Concern, general.id).status == Status.NEW.value


def test_forms_work_with_csrf_protection_on(app, cast, login_as, db):
    import re

    app.config["WTF_CSRF_ENABLED"] = True
    parent = login_as(cast.parent)
    assert raise_concern(parent).status_code == 400  # no token
    assert newest(db) is None
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      parent.get("/portal/concerns/new").get_data(as_text=True)).group(1)
    assert raise_concern(parent, csrf_token=token).status_code == 302
    c = newest(db)
    head = login_as(cast.head)
    page = head.get(f"/portal/concerns/inbox/{c.id}").get_data(as_text=True)
    # Walk finding: each form's token had id="csrf_token", so a page of several forms repeated it (the browser
    # tests run without CSRF and did not see it). The tokens have no id now.
    for html in (page, head.get("/portal/auth/security").get_data(as_text=True),
                 parent.get(f"/portal/concerns/{c.id}").get_data(as_text=True)):
        ids = re.findall(r'\sid="([^"]+)"', html)
        assert 'name="csrf_token"' in html or "-csrf_token" in html
        assert sorted({i for i in ids if ids.count(i) > 1}) == []
    reply_token = re.search(r'name="reply-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert head.post(f"/portal/concerns/inbox/{c.id}/reply", data={"reply-body": "Hi"}).status_code == 400
    resp = head.post(f"/portal/concerns/inbox/{c.id}/reply",
                     data={"reply-body": "Hi", "reply-csrf_token": reply_token})
    assert resp.status_code == 302
    db.expire_all()
    assert len(db.get(Concern, c.id).messages) == 1


def test_a_reviewer_who_is_also_a_parent_does_not_handle_their_own_concern(cast, login_as, db):
    from portal.people.models import GuardianLink, Role

    cast.reviewer.add_role(Role.PARENT)
    db.add(GuardianLink(parent_id=cast.reviewer.id, pupil_id=cast.other_child.id))
    db.commit()
    raise_concern(login_as(cast.reviewer), child_id=str(cast.other_child.id))
    c = newest(db)
    assert who_can_handle(cast, login_as, c) == {"head", "dsl", "accused"}
    assert login_as(cast.reviewer).get(f"/portal/concerns/{c.id}").status_code == 200


def test_no_target_change_after_the_response(cast, login_as, db, general):
    head = login_as(cast.head)
    for step in ("acknowledged", "resolved"):
        _post_status(head, general, step)
    resp = head.post(f"/portal/concerns/inbox/{general.id}/target", follow_redirects=True,
                     data={"new_date": (uk_today() + dt.timedelta(days=30)).isoformat(), "reason": "Late"})
    assert "no target date to change" in resp.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(ConcernEvent).where(ConcernEvent.kind == "target")) == 0


def test_a_reviewer_who_is_also_a_parent_sees_their_concern_work_on_the_parent_home_in_their_language(
        cast, login_as, db, make_pupil):
    """The home-page tasks for concerns count in SQL and read in the reader's language (they were English
    sentences built in Python)."""
    raise_concern(login_as(cast.parent), subject="First")
    raise_concern(login_as(cast.parent), subject="Second")
    late = newest(db)
    late.ack_due = uk_today() - dt.timedelta(days=1)
    cast.reviewer.add_role(Role.PARENT)
    db.add(GuardianLink(parent_id=cast.reviewer.id, pupil_id=make_pupil(2, cast.cls, given="Rhys").id))
    db.commit()
    reviewer = login_as(cast.reviewer)
    home = reviewer.get("/portal/parent/").get_data(as_text=True)
    assert "1 concern is overdue" in home and "2 new concerns to acknowledge" in home
    cast.reviewer.account.language = "cy"
    db.commit()
    home = reviewer.get("/portal/parent/").get_data(as_text=True)
    assert "Mae 1 pryder yn hwyr" in home and "2 bryder newydd i&#39;w cydnabod" in home


def test_a_deputy_dsl_is_named_offered_and_told_like_the_dsl(cast, login_as, db, make_person, mailbox):
    """Review finding: the at-risk banner named the DSL alone, though a deputy could read the concern too; deputies
    were never among a concern's handlers, so they were not offered for assignment nor emailed either."""
    from portal.schools.models import DeputyDsl

    deputy = make_person(Role.TEACHER, given="Dora", family="Deputy", email="dora@test.example")
    db.add(DeputyDsl(person_id=deputy.id))
    db.commit()
    raise_concern(login_as(cast.parent), at_risk="yes")
    c = newest(db)
    page = login_as(deputy).get(f"/portal/concerns/inbox/{c.id}").get_data(as_text=True)
    banner = page.split("Only these people can see this concern:")[1].split("</div>")[0]
    assert deputy.full_name in banner and cast.dsl.full_name in banner
    assert f'<option value="{deputy.id}">{deputy.full_name}</option>' in page
    assert len(mailbox.to("dora@test.example")) == 1
