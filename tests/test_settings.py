"""School settings page (settings.manage)."""
from __future__ import annotations

from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.people.models import Role
from portal.schools.models import School


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
    settings = School.get()
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
    assert School.get().name == "Test Fictional School"


def test_only_the_head_changes_designations(app, db, school, make_person, login_as):
    """A delegate or admin with settings.manage cannot make themselves DSL or Head Teacher."""
    admin = make_person(Role.ADMIN, Role.SUPPORT_STAFF, given="Ari")
    client = login_as(admin)
    for grab in ({"dsl_id": admin.id}, {"head_teacher_id": admin.id}, {"chair_of_governors_id": 0}):
        resp = client.post("/portal/admin/settings", data=_form(school, **grab))
        assert resp.status_code == 400 and b"Only the Head Teacher can change this" in resp.data, grab
    db.expire_all()
    settings = School.get()
    assert (settings.head_teacher_id, settings.dsl_id) == (school.head.id, school.dsl_person.id)
    # The same admin may still change ordinary settings.
    assert client.post("/portal/admin/settings", data=_form(school, name="Admin Renamed")).status_code == 302
    db.expire_all()
    assert School.get().name == "Admin Renamed"


def test_designation_changes_are_audited_with_old_and_new(app, db, school, make_person, login_as):
    newdsl = make_person(Role.TEACHER, given="Nell")
    login_as(school.head).post("/portal/admin/settings", data=_form(school, dsl_id=newdsl.id))
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "settings.changed"))
    assert entry.data["designations"] == {"dsl_id": [school.dsl_person.id, newdsl.id]}


def test_a_browser_form_without_the_disabled_fields_still_saves(app, db, school, make_person, login_as):
    admin = make_person(Role.ADMIN, Role.SUPPORT_STAFF, given="Ari")
    page = login_as(admin).get("/portal/admin/settings")
    assert page.data.count(b"disabled") >= 3
    # Walk finding: nothing said why they were greyed out. The Head's own page does not say it.
    assert b"Only the Head Teacher can change who is Head Teacher" in page.data
    heads = login_as(school.head).get("/portal/admin/settings")
    assert heads.status_code == 200 and b"Only the Head Teacher can change" not in heads.data
    data = _form(school, name="From The Browser")
    for name in ("head_teacher_id", "dsl_id", "chair_of_governors_id"):
        data.pop(name)
    assert login_as(admin).post("/portal/admin/settings", data=data).status_code == 302
    db.expire_all()
    settings = School.get()
    assert settings.name == "From The Browser" and settings.dsl_id == school.dsl_person.id


def test_head_names_deputy_dsls_and_only_the_head_can(app, db, school, make_person, login_as):
    from portal.schools.models import DeputyDsl
    from portal.security import capabilities_of

    deputy = make_person(Role.TEACHER, given="Dara", family="Deputy")
    other = make_person(Role.TEACHER, given="Olu", family="Other")
    from portal.people.models import CapabilityGrant

    db.add(CapabilityGrant(person_id=other.id, capability="settings.manage", granted_by_id=school.head.id))
    db.commit()
    resp = login_as(school.head).post("/portal/admin/settings", data=_form(school, deputy_dsl_ids=[deputy.id]))
    assert resp.status_code == 302
    db.expire_all()
    assert db.scalars(select(DeputyDsl.person_id)).all() == [deputy.id]
    assert "concerns.safeguarding" in capabilities_of(db.get(type(deputy), deputy.id))
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "settings.changed")
                       .order_by(AuditEntry.id.desc())).first()
    assert entry.data["designations"]["deputy_dsls"] == [[], [deputy.id]]
    # A delegate with settings.manage cannot change the deputies (the field is kept as it was).
    resp = login_as(other).post("/portal/admin/settings", data=_form(school, deputy_dsl_ids=[other.id]))
    db.expire_all()
    assert db.scalars(select(DeputyDsl.person_id)).all() == [deputy.id]
    # Removing a deputy.
    login_as(school.head).post("/portal/admin/settings", data=_form(school))
    db.expire_all()
    assert db.scalars(select(DeputyDsl.person_id)).all() == []


def test_people_are_found_by_name_or_address_and_invitations_are_dated(app, db, school, make_person, login_as,
                                                                       mailbox):
    """Walk finding: about 90 rows with no search or filter, "Send invitation" on every row (people with a password
    too), and nothing said who had been invited."""
    admin = make_person(Role.ADMIN, Role.SUPPORT_STAFF, given="Ari")
    waiting = make_person(Role.PARENT, given="Quentin", family="Quarrie", email="qq@test.example", password=None)
    make_person(Role.PARENT, given="Rosalind", family="Reed", email="rr@test.example")  # has a password
    client = login_as(admin)

    def rows(query: str) -> str:
        resp = client.get(f"/portal/admin/people{query}")
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    found = rows("?q=quarr")
    assert "Quentin Quarrie" in found and "Rosalind Reed" not in found and "(filtered)" in found
    assert "Rosalind Reed" in rows("?q=RR@TEST") and "Quentin Quarrie" not in rows("?q=RR@TEST")
    assert "Nobody matches." in rows("?q=%25")  # a LIKE wildcard is a character, not "anything"
    only_waiting = rows("?show=waiting")
    assert "Quentin Quarrie" in only_waiting and "Rosalind Reed" not in only_waiting
    everyone = rows("")
    reed = everyone[everyone.index("Rosalind Reed"):]
    assert "Send invitation" not in reed[:reed.index("</tr>")]  # a password is set: nothing to send
    assert client.post(f"/portal/admin/people/{waiting.id}/invite").status_code == 302
    assert len(mailbox.to("qq@test.example")) == 1
    quentin = rows("?q=quarr")
    from portal.concerns.schooldays import uk_today
    from portal.i18n import format_date

    with app.test_request_context():
        today = format_date(uk_today())
    assert f"Invited on {today}" in quentin and "Send the invitation again" in quentin
