"""What real LMSs send, through the independent lti1p3platform platform over live loopback HTTP:
Moodle's single-string ``role_scope_mentor``, parent links that wait for the school, Moodle's
Learner-for-everyone course roles and the per-registration role parameter."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.db import session
from portal.lti.models import LtiMentorLink, LtiRegistration
from portal.people.models import GuardianLink, Person, PupilProfile, Role
from portal.schools.models import School
from tests.conftest import LoginClient
from tests.lti_platform import MENTOR
from tests.test_lti import (  # noqa: F401  (the fixtures are test_lti's: one fake LMS, CSRF on)
    _db,
    _link_course,
    _make_class,
    _person_by_sub,
    app_config,
    http,
    lms,
    platform_keys,
)


def _registration(live_app, **values):
    with _db(live_app):
        reg = session.scalar(select(LtiRegistration))
        for k, v in values.items():
            setattr(reg, k, v)
        session.commit()


def _learners(live_app, lms, http, *subs, context="course-1"):
    """Pupils known to the LMS by *subs*, created by their own launches into a class-linked course."""
    _link_course(live_app, lms, context, _make_class(live_app, year=3, code="3C"))
    ids = {}
    for sub in subs:
        http.cookies.clear()
        resp, _ = lms.launch(http, sub=sub, roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
                             given=f"Kid{sub}", context=context)
        assert resp.status_code == 302, resp.text[:300]
        ids[sub] = _person_by_sub(live_app, lms, sub).id
    http.cookies.clear()
    return ids


def _children(live_app, parent_id):
    with _db(live_app):
        return set(session.scalars(select(GuardianLink.pupil_id).where(GuardianLink.parent_id == parent_id)))


def test_a_single_string_mentor_claim_is_one_id_never_its_characters(live_app, lms, http):
    """Moodle declares role_scope_mentor with isarray false: "13" is the learner 13, not 1 and 3."""
    kids = _learners(live_app, lms, http, "1", "3", "13")
    _registration(live_app, approve_mentor_links=False)  # to see the links at once
    resp, _ = lms.launch(http, sub="mentor-13", roles=[MENTOR], mentees="13", given="Maud")
    assert resp.status_code == 302, resp.text[:300]
    assert _children(live_app, _person_by_sub(live_app, lms, "mentor-13").id) == {kids["13"]}
    # A list is still a list, and a whole number in it is one id too.
    http.cookies.clear()
    resp, _ = lms.launch(http, sub="mentor-list", roles=[MENTOR], mentees=["3", 1, " ", "nobody"])
    assert resp.status_code == 302
    assert _children(live_app, _person_by_sub(live_app, lms, "mentor-list").id) == {kids["3"], kids["1"]}


@pytest.mark.parametrize("claim", [{"id": "13"}, 13, [["13"]], [True], [1.5], ["x" * 300], [{"sub": "13"}]])
def test_a_malformed_mentor_claim_is_refused_and_writes_nothing(live_app, lms, http, claim):
    _learners(live_app, lms, http, "13")
    resp, _ = lms.launch(http, sub="odd-mentor", roles=[MENTOR], mentees=claim)
    assert resp.status_code == 400 and "does not understand" in resp.text
    assert _person_by_sub(live_app, lms, "odd-mentor") is None
    with _db(live_app):
        assert session.scalar(select(LtiMentorLink)) is None and session.scalar(select(GuardianLink)) is None


def _head_client(live_app):
    """The Head Teacher, signed in (a test client on the live app's database)."""
    with _db(live_app):
        head = Person(given_name="Hana", family_name="Head", email="hana.head@school.example")
        head.add_role(Role.TEACHER)
        head.password_hash = "not-used"
        session.add(head)
        session.flush()
        School.get().head_teacher_id = head.id
        session.commit()
        live_app.test_client_class = LoginClient
        return live_app.test_client(user=head), head.id


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_lms_parent_links_wait_for_the_schools_approval(live_app, lms, http, server):
    kids = _learners(live_app, lms, http, "child-9", "child-10")
    resp, _ = lms.launch(http, sub="mentor-9", roles=[MENTOR], mentees="child-9", given="Maud")
    assert resp.status_code == 302
    home = http.get(server.url + resp.headers["Location"], timeout=10)
    assert home.status_code == 200 and "approved the link" in home.text
    assert "Kidchild-9" not in home.text  # the parent sees nothing about the child yet
    assert "Kidchild-9" not in http.get(server.url + "/portal/parent/", timeout=10).text
    parent_id = _person_by_sub(live_app, lms, "mentor-9").id
    assert _children(live_app, parent_id) == set()
    with _db(live_app):
        [pending] = session.scalars(select(LtiMentorLink)).all()
        assert (pending.parent_id, pending.pupil_id, pending.status) == (parent_id, kids["child-9"], "pending")
        link_id = pending.id

    head, head_id = _head_client(live_app)
    home = head.get("/portal/", follow_redirects=True).get_data(as_text=True)
    assert "Decide on 1 parent link sent by the LMS" in home
    page = head.get("/portal/lms/parent-links").get_data(as_text=True)
    assert "Maud" in page and "Kidchild-9" in page
    forged = head.post(f"/portal/lms/parent-links/{link_id}", data={"approve": "Approve"})
    assert forged.status_code == 400  # CSRF guards the decision
    resp = head.post(f"/portal/lms/parent-links/{link_id}", data={"approve": "Approve", "csrf_token": _csrf(page)})
    assert resp.status_code == 302
    assert _children(live_app, parent_id) == {kids["child-9"]}
    with _db(live_app):
        link = session.get(LtiMentorLink, link_id)
        assert (link.status, link.decided_by_id) == ("approved", head_id)
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "lti.mentor_link_approved"))
        assert entry is not None and entry.actor_id == head_id
    assert "Kidchild-9" in http.get(server.url + "/portal/parent/", timeout=10).text

    # A declined link is not asked for again, and the parent still sees nothing of that child.
    http.cookies.clear()
    assert lms.launch(http, sub="mentor-10", roles=[MENTOR], mentees=["child-10"])[0].status_code == 302
    other_id = _person_by_sub(live_app, lms, "mentor-10").id
    with _db(live_app):
        other = session.scalar(select(LtiMentorLink).where(LtiMentorLink.parent_id == other_id))
    page = head.get("/portal/lms/parent-links").get_data(as_text=True)
    assert head.post(f"/portal/lms/parent-links/{other.id}",
                     data={"decline": "Decline", "csrf_token": _csrf(page)}).status_code == 302
    http.cookies.clear()
    assert lms.launch(http, sub="mentor-10", roles=[MENTOR], mentees=["child-10"])[0].status_code == 302
    assert _children(live_app, other_id) == set()
    with _db(live_app):
        assert [x.status for x in session.scalars(select(LtiMentorLink).where(
            LtiMentorLink.parent_id == other_id))] == ["declined"]
    assert "Nothing is waiting" in head.get("/portal/lms/parent-links").get_data(as_text=True)


def test_turning_approval_off_links_at_once_but_never_undoes_a_decline(live_app, lms, http):
    kids = _learners(live_app, lms, http, "k1", "k2")
    assert lms.launch(http, sub="m1", roles=[MENTOR], mentees=["k1", "k2"])[0].status_code == 302
    parent_id = _person_by_sub(live_app, lms, "m1").id
    with _db(live_app):
        session.scalar(select(LtiMentorLink).where(LtiMentorLink.pupil_id == kids["k2"])).status = "declined"
        session.commit()
    _registration(live_app, approve_mentor_links=False)
    http.cookies.clear()
    assert lms.launch(http, sub="m1", roles=[MENTOR], mentees=["k1", "k2"])[0].status_code == 302
    assert _children(live_app, parent_id) == {kids["k1"]}


def test_a_moodle_learner_nobody_knows_never_becomes_a_pupil(live_app, lms, http):
    """Moodle sends a non-editing teacher as Learner: an unmatched Learner from Moodle is refused with
    words that tell the school what to do, even in a class-linked course."""
    _link_course(live_app, lms, "course-1", _make_class(live_app, year=5, code="5A"))
    with _db(live_app):
        before = len(session.scalars(select(Person.id)).all())
    resp, _ = lms.moodle_launch(http, sub="moodle-42", role="Learner", given="Nina", family="Nonediting")
    assert resp.status_code == 403
    assert "does not say whether you are a pupil" in resp.text and "LMS connections" in resp.text
    assert _person_by_sub(live_app, lms, "moodle-42") is None
    with _db(live_app):
        assert len(session.scalars(select(Person.id)).all()) == before
        assert session.scalar(select(PupilProfile)) is None
    # A known adult arriving from Moodle as a learner is not made a pupil either, and is told why.
    with _db(live_app):
        adult = Person(given_name="Sid", family_name="Support", external_id="MIS-SID")
        adult.add_role(Role.SUPPORT_STAFF)
        session.add(adult)
        session.commit()
    http.cookies.clear()
    resp, _ = lms.moodle_launch(http, sub="moodle-43", role="Learner", sourcedid="MIS-SID")
    assert resp.status_code == 403 and "not a pupil's" in html.unescape(resp.text) and "role parameter" in resp.text
    with _db(live_app):
        assert session.scalar(select(Person).where(Person.external_id == "MIS-SID")).pupil is None


def test_the_role_parameter_maps_moodle_course_roles(live_app, lms, http, server):
    class_id = _make_class(live_app, year=5, code="5A")
    _link_course(live_app, lms, "course-1", class_id)
    _registration(live_app, role_parameter="countersign_role",
                  role_map={"student": "pupil", "teacher": "support_staff", "editingteacher": "teacher",
                            "guest": "none"})
    # Moodle lower-cases parameter names; values keep their case.
    resp, _ = lms.moodle_launch(http, sub="ta-1", role="Learner", custom={"Countersign_Role": "Teacher"})
    assert resp.status_code == 302, resp.text[:300]
    assert http.get(server.url + "/portal/", timeout=10).url.endswith("/portal/staff/")
    with _db(live_app):
        ta = session.get(Person, _person_by_sub(live_app, lms, "ta-1").id)
        assert ta.role_set == {Role.SUPPORT_STAFF} and ta.pupil is None
    http.cookies.clear()
    resp, _ = lms.moodle_launch(http, sub="kid-1", role="Learner", custom={"countersign_role": "student"})
    assert resp.status_code == 302
    with _db(live_app):
        kid = session.get(Person, _person_by_sub(live_app, lms, "kid-1").id)
        assert kid.role_set == {Role.PUPIL} and (kid.pupil.year_group, kid.pupil.class_id) == (5, class_id)
    for sub, value, words in (("guest-1", "guest", "does not have a Countersign account"),
                              ("odd-1", "parent", "does not say whether you are a pupil"),
                              ("none-1", None, "does not say whether you are a pupil")):
        http.cookies.clear()
        custom = {"countersign_role": value} if value else {"other": "x"}
        resp, _ = lms.moodle_launch(http, sub=sub, role="Learner", custom=custom)
        assert resp.status_code == 403 and words in resp.text, sub
        assert _person_by_sub(live_app, lms, sub) is None
    # A value Moodle can substitute per person, such as the ID number ($Person.sourcedId), maps by prefix.
    _registration(live_app, role_map={"staff-*": "support_staff", "staff-t*": "teacher", "pupil-*": "pupil"})
    http.cookies.clear()
    resp, _ = lms.moodle_launch(http, sub="id-1", role="Learner", custom={"countersign_role": "STAFF-0042"})
    assert resp.status_code == 302
    http.cookies.clear()
    resp, _ = lms.moodle_launch(http, sub="id-2", role="Learner", custom={"countersign_role": "staff-t7"})
    assert resp.status_code == 302
    http.cookies.clear()
    resp, _ = lms.moodle_launch(http, sub="id-3", role="Learner", custom={"countersign_role": "$Person.sourcedId"})
    assert resp.status_code == 403  # Moodle could not substitute it: nothing is known
    with _db(live_app):
        assert session.get(Person, _person_by_sub(live_app, lms, "id-1").id).role_set == {Role.SUPPORT_STAFF}
        assert session.get(Person, _person_by_sub(live_app, lms, "id-2").id).role_set == {Role.TEACHER}
    _registration(live_app, role_map={"student": "pupil", "editingteacher": "teacher"})
    # The parameter never adds a staff role to an existing pupil.
    http.cookies.clear()
    resp, _ = lms.moodle_launch(http, sub="kid-1", role="Learner", custom={"countersign_role": "editingteacher"})
    assert resp.status_code == 403
    with _db(live_app):
        assert session.get(Person, kid.id).role_set == {Role.PUPIL}


def test_a_learner_from_other_platforms_still_becomes_a_pupil_in_a_linked_course(live_app, lms, http):
    """Canvas and Blackboard send teaching assistants and observers as such, so their Learner is a learner."""
    class_id = _make_class(live_app, year=4, code="4B")
    _link_course(live_app, lms, "course-1", class_id)
    resp, _ = lms.launch(http, sub="canvas-kid", platform="canvas",
                         roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"])
    assert resp.status_code == 302
    with _db(live_app):
        assert session.get(Person, _person_by_sub(live_app, lms, "canvas-kid").id).pupil.class_id == class_id
