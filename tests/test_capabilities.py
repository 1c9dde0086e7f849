"""Capabilities by role and designation, and delegation by the Head Teacher."""
from __future__ import annotations

from sqlalchemy import select

from portal.people.models import CapabilityGrant, Role
from portal.security import capabilities_of


def test_designations_and_roles_grant_capabilities(app, school, make_person):
    teacher = make_person(Role.TEACHER)
    auditor = make_person(Role.AUDITOR)
    parent = make_person(Role.PARENT)
    head_caps = capabilities_of(school.head)
    assert {"concerns.review", "links.approve", "policies.manage", "capabilities.delegate"} <= head_caps
    assert "concerns.safeguarding" not in head_caps
    assert "concerns.safeguarding" in capabilities_of(school.dsl_person)
    assert capabilities_of(teacher) == {"classroom.run", "incidents.record"}
    assert capabilities_of(auditor) == {"records.view", "records.export"}
    assert capabilities_of(parent) == frozenset()


def test_head_delegates_and_withdraws_a_capability(app, db, school, make_person, login_as):
    deputy = make_person(Role.TEACHER, given="Dee")
    head = login_as(school.head)
    resp = head.post("/portal/staff/delegation", data={"person_id": deputy.id, "capability": "concerns.review"})
    assert resp.status_code == 302
    assert login_as(deputy).get("/portal/staff/delegation").status_code == 403
    grant = db.scalar(select(CapabilityGrant).where(CapabilityGrant.person_id == deputy.id))
    assert grant.capability == "concerns.review" and grant.granted_by_id == school.head.id
    # Delegated capability is visible to the deputy in a fresh request.
    page = head.get("/portal/staff/delegation")
    assert b"Dee" in page.data
    head.post(f"/portal/staff/delegation/{grant.id}/revoke")
    db.expire_all()
    assert db.get(CapabilityGrant, grant.id).revoked_at is not None


def test_safeguarding_and_delegation_cannot_be_delegated(app, school, make_person, login_as):
    """Nor can what the Head Teacher does not hold (LMS registrations are the administrators')."""
    deputy = make_person(Role.TEACHER)
    head = login_as(school.head)
    assert b'value="lti.manage"' not in head.get("/portal/staff/delegation").data
    for cap in ("concerns.safeguarding", "capabilities.delegate", "made.up", "lti.manage"):
        resp = head.post("/portal/staff/delegation", data={"person_id": deputy.id, "capability": cap})
        assert resp.status_code == 200 and b"Not a valid choice" in resp.data


def test_only_staff_can_receive_delegation(app, school, make_person, login_as):
    parent = make_person(Role.PARENT)
    resp = login_as(school.head).post("/portal/staff/delegation",
                                      data={"person_id": parent.id, "capability": "concerns.review"})
    assert b"Not a valid choice" in resp.data


def test_every_view_is_guarded_by_the_access_decorator(app):
    missing = [endpoint for endpoint, view in app.view_functions.items()
               if endpoint.startswith("portal.") and endpoint != "portal.static"
               and not hasattr(view, "_portal_access")]
    assert missing == []


def test_a_deputy_dsl_and_granted_capabilities_are_read_together(app, db, school, make_person):
    """One statement answers both (portal.security._deputy_and_grants); the answers match the rows."""
    from portal.schools.models import DeputyDsl

    deputy = make_person(Role.TEACHER, given="Dee")
    plain = make_person(Role.TEACHER, given="Pat")
    parent = make_person(Role.PARENT, given="Pam")
    db.add_all([DeputyDsl(person_id=deputy.id), DeputyDsl(person_id=parent.id),
                CapabilityGrant(person_id=deputy.id, capability="records.view"),
                CapabilityGrant(person_id=parent.id, capability="records.view")])
    db.commit()
    with app.test_request_context():
        assert "records.view" in capabilities_of(deputy) and "concerns.safeguarding" in capabilities_of(deputy)
        assert "records.view" not in capabilities_of(plain) and "concerns.safeguarding" not in capabilities_of(plain)
        # Grants count for staff only; a deputy-DSL row counts for whoever it names (as before).
        assert "records.view" not in capabilities_of(parent)
        assert "concerns.safeguarding" in capabilities_of(parent)


def test_grants_are_read_again_for_someone_who_becomes_staff_in_the_same_request(app, db, school, make_person):
    person = make_person(Role.PARENT, given="Paz")
    db.add(CapabilityGrant(person_id=person.id, capability="records.view"))
    db.commit()
    with app.test_request_context():
        from portal.security import designations

        designations(person)  # not staff yet: no grants read, none cached
        person.add_role(Role.TEACHER)
        db.flush()
        assert "records.view" in capabilities_of(person)


def test_designations_refuse_to_run_with_no_school_chosen(app, db, school, make_person):
    import pytest

    from portal.schools.isolation import ScopeError, set_school
    from portal.security import designations

    teacher, parent = make_person(Role.TEACHER, given="Tia"), make_person(Role.PARENT, given="Pia")
    _ = teacher.role_set, parent.role_set
    set_school(db, None)
    for person in (teacher, parent):
        with app.test_request_context(), pytest.raises(ScopeError):
            designations(person)
