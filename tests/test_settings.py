"""School settings page (settings.manage)."""
from __future__ import annotations

from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.people.models import Role, SchoolSettings


def _form(school, **over):
    data = {"name": "Renamed Fictional School", "head_teacher_id": school.head.id, "dsl_id": school.dsl_person.id,
            "chair_of_governors_id": school.chair.id, "academic_year_start_month": 9, "academic_year_start_day": 1,
            "official_channel": "the office, by email", "helpline_contact": "helpline (fictional) 0000"}
    data.update(over)
    return data


def test_head_changes_settings_and_it_is_audited(app, db, school, login_as):
    resp = login_as(school.head).post("/portal/admin/settings", data=_form(school))
    assert resp.status_code == 302
    db.expire_all()
    settings = SchoolSettings.get()
    assert settings.name == "Renamed Fictional School" and settings.official_channel == "the office, by email"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "settings.changed"))
    assert "name" in entry.data["fields"]


def test_new_dsl_gets_safeguarding_capability(app, db, school, make_person, login_as):
    from portal.security import capabilities_of

    newdsl = make_person(Role.TEACHER, given="Nadia")
    login_as(school.head).post("/portal/admin/settings", data=_form(school, dsl_id=newdsl.id))
    db.expire_all()
    with app.test_request_context():
        assert "concerns.safeguarding" in capabilities_of(db.get(type(newdsl), newdsl.id))


def test_bad_settings_are_refused_and_nothing_changes(app, db, school, make_person, login_as):
    parent = make_person(Role.PARENT)
    client = login_as(school.head)
    for bad in ({"name": ""}, {"academic_year_start_month": 13}, {"dsl_id": parent.id},
                {"official_channel": "x" * 301}, {"chair_of_governors_id": school.head.id}):
        resp = client.post("/portal/admin/settings", data=_form(school, **bad))
        assert resp.status_code == 400, bad
    db.expire_all()
    assert SchoolSettings.get().name == "Test Fictional School"
