"""LTI and LMS routes. The LTI endpoints are public (the LMS and any browser call them): without
a valid launch they answer 400 to everyone, never a sign-in redirect."""

from __future__ import annotations

from tests.access import PERSONAS, SCHOOL_PERSONAS, Rule, allow

EVERYONE = PERSONAS

RULES = [
    Rule("portal.lti.login", "/portal/lti/login", allow(EVERYONE, 400)),
    Rule("portal.lti.launch", "/portal/lti/launch", allow(EVERYONE, 400), method="POST"),
    Rule("portal.lti.jwks", "/portal/lti/jwks", allow(EVERYONE, 200)),
    Rule(
        "portal.lti.deep_link",
        "/portal/lti/deep-link",
        allow(EVERYONE, 400),
        method="POST",
        data={"token": "forged", "version_id": "1"},
    ),
    Rule("portal.lms.registrations", "/portal/lms/registrations", allow(["admin"])),
    Rule("portal.lms.oneroster", "/portal/lms/oneroster", allow(["admin", "head"])),
    Rule("portal.lms.oneroster_settings", "/portal/lms/oneroster/settings", allow(["admin", "head"], 302),
         method="POST", data={"roster_merge_same_email": ""}),
    Rule("portal.lms.registration_settings",
         lambda w: f"/portal/lms/registrations/{w.lti_registration.id}/settings", allow(["admin"])),
    Rule("portal.lms.parent_links", "/portal/lms/parent-links", allow(["head"])),
    # Declining: the link stays (declined), so every persona meets the same row.
    Rule("portal.lms.decide_parent_link", lambda w: f"/portal/lms/parent-links/{w.lti_mentor_link.id}",
         allow(["head"], 302), method="POST", data={"decline": "Decline"}),
    Rule(
        "portal.lms.courses",
        "/portal/lms/courses",
        allow(["teacher", "other_teacher", "support", "head", "dsl", "admin"]),
    ),
    Rule(
        "portal.lms.course",
        lambda w: f"/portal/lms/courses/{w.lti_context.id}",
        allow(["teacher", "head", "admin"]),
    ),
    # Last: admin is the last school persona and removing the registration also removes its courses
    # (the trust personas after it are refused every LMS route anyway).
    Rule(
        "portal.lms.remove_registration",
        lambda w: f"/portal/lms/registrations/{w.lti_registration.id}/remove",
        allow(["admin"], 302),
        method="POST",
    ),
]


def setup(world, db) -> None:
    from portal.lti.models import LtiContext, LtiContextTeacher, LtiMentorLink, LtiRegistration

    assert SCHOOL_PERSONAS[-1] == "admin"
    world.lti_registration = LtiRegistration(
        name="Test LMS",
        issuer="https://lms.test.example",
        client_id="client-1",
        auth_login_url="https://lms.test.example/auth",
        auth_token_url="https://lms.test.example/token",
        key_set_url="https://lms.test.example/jwks",
        deployment_ids=["1"],
    )
    db.add(world.lti_registration)
    db.flush()
    world.lti_context = LtiContext(
        registration_id=world.lti_registration.id, context_id="course-1", title="Year 1 Computing"
    )
    world.lti_context.teachers.append(LtiContextTeacher(person_id=world.teacher.id))
    db.add(world.lti_context)
    world.lti_mentor_link = LtiMentorLink(registration_id=world.lti_registration.id, parent_id=world.other_parent.id,
                                          pupil_id=world.child.id)
    db.add(world.lti_mentor_link)
    db.commit()
