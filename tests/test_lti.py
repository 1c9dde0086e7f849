"""LTI 1.3 end to end over real HTTP: the portal on a live 127.0.0.1 server, an independent
platform (lti1p3platform) on another loopback port, driven with ``requests``."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time

import jwt
import pytest
import requests
from sqlalchemy import select

from portal.db import session
from portal.idempotency import new_token
from portal.jobs.models import JobMark
from portal.lti.models import LtiContext, LtiGradeLink, LtiIdentity
from portal.people.models import (
    ClassTeacher,
    GuardianLink,
    Person,
    PupilProfile,
    Role,
    SchoolClass,
)
from portal.schools.models import School
from tests.lti_platform import ADMINISTRATOR, INSTRUCTOR, LEARNER, LIS, MENTOR, FakeLms, parse_form, rsa_pair
from tests.schools import in_school


@pytest.fixture
def app_config(app_config):
    """CSRF protection on, as in production: only the LTI blueprint is exempt."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.fixture(scope="session")
def platform_keys():
    return rsa_pair()


@pytest.fixture
def lms(server, live_app, platform_keys):
    fake = FakeLms(server.url, platform_keys)
    fake.start()
    from portal.lti.operations import add_registration

    with in_school(live_app):
        add_registration(**fake.tool_registration_values())
        session.commit()
    yield fake
    fake.stop()


@pytest.fixture
def http():
    with requests.Session() as s:
        yield s


def _db(live_app):
    """An app context on the live app's database (commit what you change)."""
    return in_school(live_app)


def _person_by_sub(live_app, lms, sub):
    with _db(live_app):
        ident = session.scalar(
            select(LtiIdentity).where(LtiIdentity.issuer == lms.issuer, LtiIdentity.sub == sub)
        )
        return ident and session.get(Person, ident.person_id)


def _make_class(live_app, year=7, teacher_id=None, code="7B"):
    with _db(live_app):
        cls = SchoolClass(code=code, name=f"Class {code}", year_group=year)
        if teacher_id:
            cls.teachers.append(ClassTeacher(teacher_id=teacher_id))
        session.add(cls)
        session.commit()
        return cls.id


def _link_course(live_app, lms, context_id, class_id):
    from portal.lti.models import LtiRegistration

    with _db(live_app):
        reg = session.scalar(select(LtiRegistration))
        session.add(
            LtiContext(registration_id=reg.id, context_id=context_id, title="Computing", class_id=class_id)
        )
        session.commit()


def test_jwks_is_public_and_lists_the_tool_key(server, http):
    body = http.get(server.url + "/portal/lti/jwks", timeout=10).json()
    assert len(body["keys"]) == 1 and body["keys"][0]["kty"] == "RSA" and body["keys"][0]["kid"]
    assert "d" not in body["keys"][0]  # never the private part


def test_learner_known_to_the_roster_is_matched_and_signed_in(live_app, lms, http, server):
    class_id = _make_class(live_app)
    with _db(live_app):
        pupil = Person(given_name="Ada", family_name="Fictional", external_id="MIS-100")
        pupil.add_role(Role.PUPIL)
        session.add(pupil)
        session.flush()
        session.add(
            PupilProfile(
                person_id=pupil.id, year_group=7, date_of_birth=dt.date(2014, 1, 2), class_id=class_id
            )
        )
        session.commit()
        pupil_id = pupil.id
    resp, _ = lms.launch(http, sub="lms-user-100", roles=[LEARNER], sourcedid="MIS-100")
    assert resp.status_code == 302, resp.text[:300]
    assert resp.headers["Location"].endswith("/portal/")
    home = http.get(server.url + "/portal/", timeout=10)
    assert home.status_code == 200 and home.url.endswith("/portal/pupil/")
    assert _person_by_sub(live_app, lms, "lms-user-100").id == pupil_id
    # The second launch finds them by issuer + sub (no new person).
    resp, _ = lms.launch(http, sub="lms-user-100", roles=[LEARNER])
    assert resp.status_code == 302
    with _db(live_app):
        assert session.scalar(select(Person).where(Person.given_name == "Lou")) is None


def test_new_learner_needs_a_linked_class_then_is_created_in_it(live_app, lms, http):
    resp, _ = lms.launch(http, sub="new-learner", roles=[LEARNER], context="course-9")
    assert resp.status_code == 403 and "year group" in resp.text
    class_id = _make_class(live_app, year=5, code="5A")
    _link_course(live_app, lms, "course-9", class_id)
    resp, _ = lms.launch(
        http, sub="new-learner", roles=[LEARNER], context="course-9", given="Bea", family="Example"
    )
    assert resp.status_code == 302
    person = _person_by_sub(live_app, lms, "new-learner")
    with _db(live_app):
        person = session.get(Person, person.id)
        assert person.role_set == {Role.PUPIL}
        assert (person.given_name, person.pupil.year_group, person.pupil.class_id) == ("Bea", 5, class_id)


def test_instructor_becomes_a_teacher_and_the_course_is_remembered(live_app, lms, http, server):
    resp, _ = lms.launch(http, sub="teacher-1", roles=[INSTRUCTOR], given="Tess", nrps="course-1")
    assert resp.status_code == 302
    assert http.get(server.url + "/portal/", timeout=10).url.endswith("/portal/staff/")
    person = _person_by_sub(live_app, lms, "teacher-1")
    with _db(live_app):
        assert session.get(Person, person.id).role_set == {Role.TEACHER}
        ctx = session.scalar(select(LtiContext))
        assert ctx.memberships_url == lms.url + "/memberships/course-1"
        assert [t.person_id for t in ctx.teachers] == [person.id]
    courses = http.get(server.url + "/portal/lms/courses", timeout=10)
    assert courses.status_code == 200 and "Computing 7B" in courses.text


def test_names_from_the_lms_lose_control_characters_and_direction_overrides(live_app, lms, http):
    """A NUL (which PostgreSQL cannot keep), a bell and a right-to-left override in the names an LMS sends
    are dropped, so the name is stored and shown as the letters it is."""
    resp, _ = lms.launch(http, sub="teacher-odd", roles=[INSTRUCTOR], given="Te\u202ess\x00", family="Ex\x07ample")
    assert resp.status_code == 302
    person = _person_by_sub(live_app, lms, "teacher-odd")
    with _db(live_app):
        person = session.get(Person, person.id)
        assert (person.given_name, person.family_name) == ("Tess", "Example")


def test_a_launch_without_names_is_named_by_its_lms_id(live_app, lms, http):
    """Moodle can be set not to share names: the account is "LMS user" and the LMS's user number, which
    the school can look up, not "LMS user -" for everyone."""
    assert lms.launch(http, sub="4711", roles=[INSTRUCTOR], given=None, family=None)[0].status_code == 302
    long_sub = "a1b2c3d4-0000-4000-8000-1234567890ab"
    assert lms.launch(http, sub=long_sub, roles=[INSTRUCTOR], given=None, family=None)[0].status_code == 302
    with _db(live_app):
        short = session.get(Person, _person_by_sub(live_app, lms, "4711").id)
        long = session.get(Person, _person_by_sub(live_app, lms, long_sub).id)
        assert short.full_name == "LMS user 4711"
        assert long.full_name == "LMS user …1234567890ab"


def test_administrator_gets_the_admin_role_but_never_head_teacher(live_app, lms, http):
    resp, _ = lms.launch(http, sub="it-admin", roles=[ADMINISTRATOR])
    assert resp.status_code == 302
    person = _person_by_sub(live_app, lms, "it-admin")
    with _db(live_app):
        from portal.security import designations

        assert session.get(Person, person.id).role_set == {Role.ADMIN}
        assert School.get().head_teacher_id is None
        assert designations(session.get(Person, person.id)) == set()


def test_mentor_becomes_the_parent_of_their_mentees(live_app, lms, http, server):
    """With the registration's approval of parent links turned off (see test_lti_interop.py for
    the default, where the school approves each link first)."""
    from portal.lti.models import LtiRegistration

    class_id = _make_class(live_app, year=3, code="3C")
    _link_course(live_app, lms, "course-1", class_id)
    with _db(live_app):
        session.scalar(select(LtiRegistration)).approve_mentor_links = False
        session.commit()
    assert lms.launch(http, sub="child-1", roles=[LEARNER], given="Cato")[0].status_code == 302
    http.cookies.clear()
    resp, _ = lms.launch(
        http, sub="mentor-1", roles=[MENTOR], mentees=["child-1", "nobody-known"], given="Maud"
    )
    assert resp.status_code == 302
    parent = _person_by_sub(live_app, lms, "mentor-1")
    child = _person_by_sub(live_app, lms, "child-1")
    with _db(live_app):
        assert session.get(Person, parent.id).role_set == {Role.PARENT}
        links = session.scalars(select(GuardianLink).where(GuardianLink.parent_id == parent.id)).all()
        assert [link.pupil_id for link in links] == [child.id]
    page = http.get(server.url + "/portal/parent/", timeout=10)
    assert page.status_code == 200 and "Cato" in page.text


def test_a_pupil_is_never_given_staff_roles_by_a_course_role(live_app, lms, http):
    class_id = _make_class(live_app)
    _link_course(live_app, lms, "course-1", class_id)
    assert lms.launch(http, sub="kid", roles=[LEARNER])[0].status_code == 302
    resp, _ = lms.launch(http, sub="kid", roles=[INSTRUCTOR])
    assert resp.status_code == 403
    with _db(live_app):
        assert session.get(Person, _person_by_sub(live_app, lms, "kid").id).role_set == {Role.PUPIL}


def test_replayed_launch_is_refused(live_app, lms, http):
    _link_course(live_app, lms, "course-1", _make_class(live_app))
    resp, fields = lms.launch(http, sub="replayer", roles=[LEARNER])
    assert resp.status_code == 302
    again = http.post(
        fields["action"],
        data={"id_token": fields["id_token"], "state": fields["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert again.status_code == 400 and "already been used" in again.text
    # From another browser (no state cookie) it is refused too.
    other = requests.post(
        fields["action"],
        data={"id_token": fields["id_token"], "state": fields["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert other.status_code == 400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_forged_signature_is_refused(live_app, lms, http):
    forger_private, _ = rsa_pair()

    def forge(fields):
        header = jwt.get_unverified_header(fields["id_token"])
        body = jwt.decode(fields["id_token"], options={"verify_signature": False})
        body["https://purl.imsglobal.org/spec/lti/claim/roles"] = [ADMINISTRATOR]
        fields["id_token"] = jwt.encode(
            body, forger_private, algorithm="RS256", headers={"kid": header["kid"]}
        )
        return fields

    resp, _ = lms.launch(http, sub="mallory", roles=[LEARNER], tamper=forge)
    assert resp.status_code == 400
    # A body edited under the genuine signature is refused as well.

    def edit(fields):
        head, body, sig = fields["id_token"].split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "==="))
        claims["sub"] = "someone-else"
        fields["id_token"] = ".".join([head, _b64(json.dumps(claims).encode()), sig])
        return fields

    resp, _ = lms.launch(http, sub="mallory", roles=[LEARNER], tamper=edit)
    assert resp.status_code == 400
    assert _person_by_sub(live_app, lms, "mallory") is None
    assert _person_by_sub(live_app, lms, "someone-else") is None


def test_unknown_deployment_is_refused(live_app, lms, http):
    resp, _ = lms.launch(http, sub="dep-user", roles=[INSTRUCTOR], deployment_id="dep-not-registered")
    assert resp.status_code == 400
    assert _person_by_sub(live_app, lms, "dep-user") is None


def test_unregistered_platform_cannot_start_a_login(server, http):
    resp = http.get(
        server.url + "/portal/lti/login",
        params={"iss": "https://elsewhere.example", "login_hint": "x", "target_link_uri": server.url},
        allow_redirects=False,
        timeout=10,
    )
    assert resp.status_code == 400


def _published_version(live_app):
    from portal.policies.models import Policy, PolicyVersion, VersionStatus

    with _db(live_app):
        policy = Policy(slug="aup-ks3", title="Acceptable use for Years 7 to 11", audience="pupil_ks3_4")
        version = PolicyVersion(
            policy=policy,
            number=1,
            status=VersionStatus.PUBLISHED.value,
            title=policy.title,
            body_md="Be kind online.",
            published_at=dt.datetime.now(dt.UTC),
        )
        draft = PolicyVersion(
            policy=policy, number=2, status=VersionStatus.DRAFT.value, title=policy.title, body_md="Draft."
        )
        session.add_all([policy, version, draft])
        session.commit()
        return version.id, draft.id


def test_deep_linking_returns_a_signed_resource_link_the_platform_accepts(live_app, lms, http, server):
    version_id, draft_id = _published_version(live_app)
    resp, _ = lms.launch(http, sub="teacher-dl", roles=[INSTRUCTOR], deep_link=True)
    assert resp.status_code == 200 and "Choose a policy to sign" in resp.text
    picker = parse_form(resp.text)
    assert f'value="{draft_id}"' not in resp.text  # drafts are not offered
    bad = http.post(
        picker["action"] if picker["action"].startswith("http") else server.url + picker["action"],
        data={"token": picker["token"], "version_id": draft_id},
        timeout=10,
    )
    assert bad.status_code == 400
    chosen = http.post(
        server.url + "/portal/lti/deep-link",
        data={"token": picker["token"], "version_id": version_id},
        timeout=10,
    )
    assert chosen.status_code == 200
    back = parse_form(chosen.text)
    assert back["action"] == lms.url + "/deep-link-return"
    accepted = requests.post(back["action"], data={"JWT": back["JWT"]}, timeout=10)
    assert accepted.status_code == 200, accepted.text
    [item] = lms.deep_link_items
    assert item["type"] == "ltiResourceLink" and item["url"] == server.url + "/portal/lti/launch"
    assert item["custom"] == {"countersign_version_id": str(version_id)}
    assert item["lineItem"]["scoreMaximum"] == 1
    claims = jwt.decode(back["JWT"], options={"verify_signature": False})
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == {"opaque": "platform-data-42"}
    # The choice is single-use.
    again = http.post(
        server.url + "/portal/lti/deep-link",
        data={"token": picker["token"], "version_id": version_id},
        timeout=10,
    )
    assert again.status_code == 400
    # A learner launching the new link goes straight to the signing page.
    _link_course(live_app, lms, "course-1", _make_class(live_app))
    http.cookies.clear()
    resp, _ = lms.launch(http, sub="learner-dl", roles=[LEARNER], custom=item["custom"])
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/portal/policies/versions/{version_id}/sign")


def test_learners_cannot_deep_link(live_app, lms, http):
    _published_version(live_app)
    _link_course(live_app, lms, "course-1", _make_class(live_app))
    resp, _ = lms.launch(http, sub="curious", roles=[LEARNER], deep_link=True)
    assert resp.status_code == 403


def _sign(live_app, person_id, version_id):
    from portal.signals import signature_committed
    from portal.signatures.models import Method, Signature

    with _db(live_app):
        sig = Signature(
            version_id=version_id,
            signer_id=person_id,
            signer_role="pupil",
            signed_name="Lou Learner",
            text_sha256="0" * 64,
            ip="127.0.0.1",
            user_agent="test",
            method=Method.LTI.value,
            academic_year=2026,
        )
        session.add(sig)
        session.commit()
        signature_committed.send(live_app, signature=sig)
        return sig.id


def test_signing_posts_a_score_with_a_bearer_token_and_retries_failures(live_app, lms, http):
    version_id, _ = _published_version(live_app)
    _link_course(live_app, lms, "course-1", _make_class(live_app))
    custom = {"countersign_version_id": str(version_id)}
    assert lms.launch(http, sub="scorer", roles=[LEARNER], custom=custom, ags="item-7")[0].status_code == 302
    person = _person_by_sub(live_app, lms, "scorer")
    with _db(live_app):
        link = session.scalar(select(LtiGradeLink))
        assert (link.person_id, link.version_id, link.lineitem_url) == (
            person.id,
            version_id,
            lms.url + "/lineitems/item-7",
        )
    # Without a token the line item refuses (so the score below really carried one).
    assert requests.post(lms.url + "/lineitems/item-7/scores", json={}, timeout=10).status_code == 401
    lms.refused_bearer = 0

    _sign(live_app, person.id, version_id)
    [score] = lms.scores
    assert (score["lineitem"], score["userId"], score["scoreGiven"], score["scoreMaximum"]) == (
        "item-7",
        "scorer",
        1,
        1,
    )
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert lms.tokens_issued == 1 and lms.refused_bearer == 0

    # The LMS is down: the signature stays, the job fails (and would be retried with backoff);
    # no done-mark is written, so the hourly sweep queues the score again.
    lms.fail_scores = True
    other_version, _ = _published_version_2(live_app)
    with _db(live_app):
        session.get(LtiGradeLink, link.id).version_id = None  # a link for any policy
        session.commit()
    sig_id = _sign(live_app, person.id, other_version)
    key = f"lti-score:{link.id}:{sig_id}"
    with _db(live_app):
        from portal.signatures.models import Signature

        assert session.get(Signature, sig_id) is not None
        assert session.scalar(select(JobMark).where(JobMark.key == key)) is None
    assert len(lms.scores) == 1
    lms.fail_scores = False
    result = live_app.test_cli_runner().invoke(args=["portal", "jobs", "run", "lti.sweep"])
    assert result.exit_code == 0 and "1 queued" in result.output, result.output
    assert len(lms.scores) == 2
    with _db(live_app):
        assert session.scalar(select(JobMark).where(JobMark.key == key)) is not None
    # Idempotent: a second sweep finds nothing to post, and posting the job again posts nothing.
    result = live_app.test_cli_runner().invoke(args=["portal", "jobs", "run", "lti.sweep"])
    assert "0 queued" in result.output
    with _db(live_app):
        from portal.jobs import enqueue

        enqueue("lti.post_score", school_id=1, grade_link_id=link.id, signature_id=sig_id)
    assert len(lms.scores) == 2


def _published_version_2(live_app):
    from portal.policies.models import Policy, PolicyVersion, VersionStatus

    with _db(live_app):
        policy = Policy(slug="aup-parents", title="Parents' agreement", audience="parent")
        version = PolicyVersion(
            policy=policy, number=1, status=VersionStatus.PUBLISHED.value, title=policy.title, body_md="Text."
        )
        session.add_all([policy, version])
        session.commit()
        return version.id, None


def test_nrps_sync_puts_the_course_learners_in_the_class(live_app, lms, http, server):
    assert lms.launch(http, sub="t-sync", roles=[INSTRUCTOR], nrps="course-1")[0].status_code == 302
    teacher = _person_by_sub(live_app, lms, "t-sync")
    class_id = _make_class(live_app, year=4, teacher_id=teacher.id, code="4D")
    other_class = _make_class(live_app, year=6, code="6E")
    with _db(live_app):
        existing = Person(given_name="Eve", family_name="Existing", external_id="MIS-7")
        existing.add_role(Role.PUPIL)
        session.add(existing)
        session.flush()
        session.add(PupilProfile(person_id=existing.id, year_group=4, date_of_birth=dt.date(2017, 5, 1)))
        session.commit()
        existing_id = existing.id
        ctx_id = session.scalar(select(LtiContext.id))
    lms.members = [
        {"user_id": "m-1", "roles": [LEARNER], "status": "Active", "given_name": "Noa", "family_name": "New"},
        {
            "user_id": "m-2",
            "roles": [LEARNER],
            "status": "Active",
            "given_name": "Eve",
            "family_name": "Existing",
            "lis_person_sourcedid": "MIS-7",
        },
        {
            "user_id": "m-3",
            "roles": [LEARNER],
            "status": "Inactive",
            "given_name": "Ina",
            "family_name": "Gone",
        },
        {
            "user_id": "t-sync",
            "roles": [INSTRUCTOR],
            "status": "Active",
            "given_name": "Tess",
            "family_name": "T",
        },
    ]
    page = http.get(f"{server.url}/portal/lms/courses/{ctx_id}", timeout=10)
    assert page.status_code == 200
    assert "Class 6E" not in page.text  # only the teacher's own classes
    token = parse_form(page.text)["csrf_token"]
    no_token = http.post(f"{server.url}/portal/lms/courses/{ctx_id}", data={"class_id": class_id, "_once": new_token()},
                         timeout=10)
    assert no_token.status_code == 400 and "expired" in no_token.text  # CSRF still guards the LMS pages
    refused = http.post(
        f"{server.url}/portal/lms/courses/{ctx_id}",
        data={"class_id": other_class, "csrf_token": token, "_once": new_token()},
        timeout=10,
    )
    assert refused.status_code == 400
    resp = http.post(
        f"{server.url}/portal/lms/courses/{ctx_id}",
        data={"class_id": class_id, "csrf_token": token, "_once": new_token()},
        timeout=10,
    )
    assert resp.status_code == 200 and "1 new pupil" in resp.text
    assert lms.refused_bearer == 0 and lms.tokens_issued == 1
    with _db(live_app):
        new = session.get(Person, _person_by_sub(live_app, lms, "m-1").id)
        assert new.role_set == {Role.PUPIL} and (new.pupil.year_group, new.pupil.class_id) == (4, class_id)
        assert session.get(PupilProfile, existing_id).class_id == class_id
        assert _person_by_sub(live_app, lms, "m-2").id == existing_id
        assert _person_by_sub(live_app, lms, "m-3") is None
    # Syncing again changes nothing.
    resp = http.post(
        f"{server.url}/portal/lms/courses/{ctx_id}",
        data={"class_id": class_id, "csrf_token": token, "_once": new_token()},
        timeout=10,
    )
    assert "0 new pupil(s), 0 pupil(s) linked" in resp.text


def test_designated_people_cannot_be_opened_from_the_lms(live_app, lms, http):
    with _db(live_app):
        head = Person(given_name="Hal", family_name="Head", external_id="MIS-HEAD")
        head.add_role(Role.TEACHER)
        session.add(head)
        session.flush()
        School.get().head_teacher_id = head.id
        session.commit()
    resp, _ = lms.launch(http, sub="lms-head", roles=[INSTRUCTOR], sourcedid="MIS-HEAD")
    assert resp.status_code == 403 and "cannot be opened from the LMS" in resp.text
    assert _person_by_sub(live_app, lms, "lms-head") is None
    assert http.get(lms.tool_url + "/portal/staff/", allow_redirects=False, timeout=10).status_code == 302


def test_an_expired_id_token_is_refused_even_with_a_fresh_nonce(live_app, lms, http):
    """Old nonces are purged after two days: safe, because an old id_token is refused by its ``exp``."""
    import time

    expire = _resign(lms, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    resp, _ = lms.launch(http, sub="late", roles=[INSTRUCTOR], tamper=expire)
    assert resp.status_code == 400
    assert _person_by_sub(live_app, lms, "late") is None


def test_an_id_token_without_exp_or_iat_is_refused(live_app, lms, http):
    """Probe finding: a token with no ``exp`` was accepted (PyJWT checks it only when it is there), so it would
    never expire. OpenID Connect requires both ``exp`` and ``iat``."""
    for n, claims in enumerate(({"exp": None}, {"iat": None}, {"exp": "tomorrow"})):
        resp, _ = lms.launch(http, sub=f"forever-{n}", roles=[INSTRUCTOR], tamper=_resign(lms, **claims))
        assert resp.status_code == 400 and "could not be checked" in resp.text, claims
        assert _person_by_sub(live_app, lms, f"forever-{n}") is None


def _resign(lms, **claims):
    """A tamper that changes the id_token's claims and signs it again with the platform's own key."""

    def tamper(fields):
        body = jwt.decode(fields["id_token"], options={"verify_signature": False})
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        fields["id_token"] = jwt.encode(
            body,
            lms.private,
            algorithm="RS256",
            headers={"kid": jwt.get_unverified_header(fields["id_token"])["kid"]},
        )
        return fields

    return tamper


def test_a_token_for_another_client_is_refused_by_its_authorized_party(live_app, lms, http):
    """OpenID Connect and LTI 1.3: with several audiences ``azp`` must be present, and an ``azp`` must be
    our client id; a genuine token the LMS issued to another tool that also names us is refused."""
    ours = lms.client_id
    for n, (aud, azp) in enumerate([
        ([ours, "other-client"], "other-client"),
        ([ours, "other-client"], None),
        (ours, "other-client"),
        ([ours], "other-client"),
    ]):
        resp, _ = lms.launch(http, sub=f"azp-{n}", roles=[INSTRUCTOR], tamper=_resign(lms, aud=aud, azp=azp))
        assert resp.status_code == 400 and "could not be checked" in resp.text, (aud, azp)
        assert _person_by_sub(live_app, lms, f"azp-{n}") is None
    for n, (aud, azp) in enumerate([([ours, "other-client"], ours), (ours, ours), ([ours], None)]):
        resp, _ = lms.launch(http, sub=f"azp-ok-{n}", roles=[INSTRUCTOR], tamper=_resign(lms, aud=aud, azp=azp))
        assert resp.status_code == 302, (aud, azp, resp.text[:300])
        assert _person_by_sub(live_app, lms, f"azp-ok-{n}") is not None


def test_a_subject_longer_than_lti_allows_is_refused_not_cut(live_app, lms, http):
    """LTI 1.3: ``sub`` is at most 255 characters. A longer one is refused; cut to 255 it would open the
    account of another id that shares its first 255 characters."""
    stem = "s" * 255
    resp, _ = lms.launch(http, sub=stem, roles=[INSTRUCTOR])
    assert resp.status_code == 302
    assert _person_by_sub(live_app, lms, stem) is not None
    for sub in (stem + "1", stem + "2"):
        resp, _ = lms.launch(http, sub=sub, roles=[INSTRUCTOR])
        assert resp.status_code == 400 and "could not be checked" in resp.text
    with _db(live_app):
        assert session.scalars(select(LtiIdentity.sub)).all() == [stem]


def test_nrps_sync_skips_a_member_whose_id_is_longer_than_lti_allows(live_app, lms, http, server):
    assert lms.launch(http, sub="t-long", roles=[INSTRUCTOR], nrps="course-1")[0].status_code == 302
    class_id = _make_class(live_app, year=4, teacher_id=_person_by_sub(live_app, lms, "t-long").id, code="4L")
    with _db(live_app):
        ctx_id = session.scalar(select(LtiContext.id))
    stem = "m" * 255
    lms.members = [
        {"user_id": stem + suffix, "roles": [LEARNER], "status": "Active", "given_name": given, "family_name": "Long"}
        for suffix, given in (("-a", "Ana"), ("-b", "Ben"))
    ]
    page = http.get(f"{server.url}/portal/lms/courses/{ctx_id}", timeout=10)
    resp = http.post(
        f"{server.url}/portal/lms/courses/{ctx_id}",
        data={"class_id": class_id, "csrf_token": parse_form(page.text)["csrf_token"], "_once": new_token()},
        timeout=10,
    )
    assert resp.status_code == 200
    assert "0 new pupil(s)" in resp.text and "2 member(s) skipped" in resp.text
    with _db(live_app):
        assert session.scalars(select(LtiIdentity.sub)).all() == ["t-long"]
        assert session.scalar(select(Person).where(Person.family_name == "Long")) is None


def test_a_refused_launch_is_logged_as_a_warning_with_its_reason_and_no_token(live_app, lms, http, caplog):
    """The page says only that the launch could not be checked; the server's log says why, so the school
    can put it right (the issuer, client id and deployment id it named), but never the token or the person."""
    caplog.set_level(logging.DEBUG)
    forger_private, _ = rsa_pair()

    def forge(fields):
        fields["id_token"] = jwt.encode(
            jwt.decode(fields["id_token"], options={"verify_signature": False}),
            forger_private,
            algorithm="RS256",
            headers={"kid": jwt.get_unverified_header(fields["id_token"])["kid"]},
        )
        return fields

    now = int(time.time())
    expected = {
        "log-expired": ("token expired", {"tamper": _resign(lms, iat=now - 7200, exp=now - 3600)}),
        "log-forged": ("token signature does not match the LMS's public key", {"tamper": forge}),
        "log-other-client": ("azp does not match the client id", {"tamper": _resign(lms, azp="other-client")}),
        "log-deployment": ("deployment id not registered for this issuer and client id",
                           {"deployment_id": "dep-not-registered"}),
        "log-" + "s" * 300: ("sub is longer than 255 characters", {}),
    }
    tokens, subs, logged = [], list(expected), []

    def clear():
        logged.extend(r.getMessage() for r in caplog.records if r.name.startswith("portal"))
        caplog.clear()

    for sub, (reason, spec) in expected.items():
        clear()
        resp, fields = lms.launch(http, sub=sub, roles=[INSTRUCTOR], **spec)
        tokens.append(fields["id_token"])
        assert resp.status_code == 400 and "could not be checked" in resp.text, reason
        warnings = [r.getMessage() for r in caplog.records if r.name == "portal.lti" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and reason in warnings[0], (reason, warnings)
        assert f"issuer {lms.issuer!r}" in warnings[0] and f"client id {lms.client_id!r}" in warnings[0]
        assert "dep-not-registered" in warnings[0] if "deployment" in reason else "'dep-1'" in warnings[0]
    # Refusals after the token was checked: a launch sent again, and a role with no account here.
    resp, fields = lms.launch(http, sub="log-teacher", roles=[INSTRUCTOR])
    assert resp.status_code == 302
    clear()
    again = http.post(fields["action"], data={"id_token": fields["id_token"], "state": fields["state"]},
                      allow_redirects=False, timeout=10)
    assert again.status_code == 400 and "already been used" in again.text
    assert any("nonce already used" in r.getMessage() for r in caplog.records
               if r.name == "portal.lti" and r.levelno == logging.WARNING)
    clear()
    resp, fields = lms.launch(http, sub="log-guest", roles=[LIS + "membership#ContentDeveloper"])
    assert resp.status_code == 403
    assert any("does not have a Countersign account" in r.getMessage() for r in caplog.records
               if r.name == "portal.lti" and r.levelno == logging.WARNING)
    tokens += [fields["id_token"]]
    subs += ["log-teacher", "log-guest"]
    clear()
    # No token, nor any part of one, nor who the person was, in anything Countersign logged.
    text = "\n".join(logged)
    assert "LTI launch refused" in text
    for token in tokens:
        assert not any(part in text for part in token.split(".")), "a token in the log"
    assert not any(sub in text for sub in subs), "a subject in the log"


def test_signatures_without_an_lti_launch_post_nothing(live_app, lms, http):
    version_id, _ = _published_version(live_app)
    with _db(live_app):
        p = Person(given_name="Off", family_name="Line")
        session.add(p)
        session.commit()
        pid = p.id
    _sign(live_app, pid, version_id)
    assert lms.scores == [] and lms.tokens_issued == 0
    with _db(live_app):
        assert session.scalar(select(JobMark)) is None


def test_admins_auditors_and_delegates_cannot_be_opened_and_parents_gain_no_staff_role(live_app, lms, http):
    """An LMS cannot open powerful accounts, nor turn a roster parent into staff."""
    from portal.people.models import CapabilityGrant

    with _db(live_app):
        people = {}
        for key, role in (("ADM", Role.ADMIN), ("AUD", Role.AUDITOR), ("DEL", Role.TEACHER), ("PAR", Role.PARENT)):
            p = Person(given_name=key.title(), family_name="Fictional", external_id=f"MIS-{key}")
            p.add_role(role)
            session.add(p)
            people[key] = p
        session.flush()
        session.add(CapabilityGrant(person_id=people["DEL"].id, capability="concerns.review"))
        session.commit()
    for key in ("ADM", "AUD", "DEL"):
        resp, _ = lms.launch(http, sub=f"lms-{key}", roles=[INSTRUCTOR], sourcedid=f"MIS-{key}")
        assert resp.status_code == 403 and "cannot be opened from the LMS" in resp.text, key
    resp, _ = lms.launch(http, sub="lms-PAR", roles=[INSTRUCTOR], sourcedid="MIS-PAR")
    assert resp.status_code == 403
    with _db(live_app):
        parent = session.scalar(select(Person).where(Person.external_id == "MIS-PAR"))
        assert parent.role_set == {Role.PARENT}


def test_a_launch_opens_only_the_launching_schools_pages(live_app, lms, http, server):
    """Probe finding (high): a launch signed in the person's whole account. The session could then choose the
    account's other schools and open its trust pages, with no password and no second step; and a school's admin
    can give a person of their own school anyone's address. The session is now held to the launching school."""
    from portal.people.models import Account
    from portal.schools.models import TrustRole
    from portal.schools.operations import create_school, get_or_create_trust, grant_trust_role
    from tests.schools import as_school

    with _db(live_app):
        trust = get_or_create_trust("far-trust", "Far Trust (fictional)")
        far = create_school(slug="far-school", name="Far School (fictional)", trust=trust, with_policies=False)
        account = Account(email="tamsin@test.example", display_name="Tamsin Twoschools")
        session.add(account)
        session.flush()
        here = Person(given_name="Tamsin", family_name="Twoschools", email=account.email, external_id="MIS-T1",
                      account=account)
        here.add_role(Role.TEACHER)
        session.add(here)
        with as_school(far.id):
            there = Person(given_name="Tamsin", family_name="Twoschools", email=account.email, account=account)
            there.add_role(Role.TEACHER)
            session.add(there)
        grant_trust_role(account, trust, TrustRole.ADMIN)
        session.commit()
        far_id, trust_id, here_school = far.id, trust.id, here.school_id
    resp, _ = lms.launch(http, sub="tamsin-lms", roles=[INSTRUCTOR], sourcedid="MIS-T1")
    assert resp.status_code == 302, resp.text[:300]
    home = http.get(server.url + "/portal/staff/", timeout=10)
    assert home.status_code == 200 and "Hello, Tamsin" in home.text
    assert ">Switch school<" not in home.text and ">Security<" not in home.text and ">Trust<" not in home.text
    # The school chooser lists this school only, and refuses the other.
    chooser = http.get(server.url + "/portal/auth/schools", timeout=10)
    assert "Far School" not in chooser.text and "Far Trust" not in chooser.text
    assert "so you can use this school only" in chooser.text and "used in more than one place" not in chooser.text
    fields = {k: v for k, v in parse_form(chooser.text).items() if k != "action"}
    refused = http.post(server.url + "/portal/auth/schools", data={**fields, "school_id": far_id, "next": ""},
                        allow_redirects=False, timeout=10)
    assert refused.status_code == 404
    # No trust pages, and not the account's Security page (its sessions and second factors everywhere).
    assert http.get(f"{server.url}/portal/trust/{trust_id}/", timeout=10).status_code == 403
    security = http.get(server.url + "/portal/auth/security", timeout=10)
    assert security.status_code == 403 and "Opened from your course" in security.text
    # Even a cookie naming the other school (signed with the app's secret) opens this school's person only.
    serializer = live_app.session_interface.get_signing_serializer(live_app)
    name = live_app.config["SESSION_COOKIE_NAME"]
    jar = next(c for c in http.cookies if c.name == name)
    data = serializer.loads(jar.value)
    assert data["portal_school"] == here_school
    http.cookies.set(name, serializer.dumps({**data, "portal_school": far_id}), domain=jar.domain, path=jar.path)
    page = http.get(server.url + "/portal/staff/", timeout=10)
    assert page.status_code == 200 and "Far School" not in page.text
    assert serializer.loads(http.cookies.get(name, domain=jar.domain, path=jar.path))["portal_school"] == here_school
    # Review finding: a language chosen here changed the account's, which every school's emails follow. It is this
    # browser's only.
    block = page.text[page.text.index('action="/portal/auth/language"'):]
    block = block[:block.index("</form>")]
    chosen = http.post(server.url + "/portal/auth/language", allow_redirects=False, timeout=10, data={
        **{k: v for k, v in parse_form(block).items() if k != "action"}, "language": "ar", "next": ""})
    assert chosen.status_code == 303
    assert '<html lang="ar" dir="rtl">' in http.get(server.url + "/portal/staff/", timeout=10).text
    with _db(live_app):
        assert session.get(Account, account.id).language is None
    # The same account signed in with its password (not from the LMS) still reaches both schools and the trust.
    with requests.Session() as direct:
        with _db(live_app):
            from portal.auth.passwords import hash_password

            session.get(Account, account.id).password_hash = hash_password("a long test password")
            session.commit()
        form = parse_form(direct.get(server.url + "/portal/auth/login", timeout=10).text)
        signed_in = direct.post(server.url + "/portal/auth/login", timeout=10, allow_redirects=False, data={
            **{k: v for k, v in form.items() if k != "action"},
            "email": "tamsin@test.example", "password": "a long test password"})
        assert signed_in.status_code == 302, signed_in.text[:300]
        chooser = direct.get(server.url + "/portal/auth/schools", timeout=10)
        assert "Far School" in chooser.text and "Far Trust" in chooser.text
        assert direct.get(f"{server.url}/portal/trust/{trust_id}/", timeout=10).status_code == 200
