"""`flask portal demo`, `db upgrade/downgrade` and the demo school's shape."""
from __future__ import annotations

from sqlalchemy import create_engine, func, inspect, select

from portal.demo import DEMO_PASSWORD
from portal.people.bands import age_band_for_year
from portal.people.models import GuardianLink, Person, PupilProfile, Role, SchoolClass
from portal.schools.isolation import set_school
from portal.schools.models import School


def _into_demo_school(db):
    school = db.scalar(select(School).where(School.slug == "larkspur-hollow"))
    set_school(db, school.id)
    return school


def test_demo_loads_a_fictional_school_and_prints_logins(empty_installation, db):
    app = empty_installation
    # (Two sealed records, not the default 24: the sealing is test_demo_term's and test_deployment's.)
    result = app.test_cli_runner().invoke(args=["portal", "demo", "--seal", "2"])
    assert result.exit_code == 0, result.output
    assert db.scalars(select(School.slug)).all() == ["larkspur-hollow"]
    _into_demo_school(db)
    assert f"password for all: {DEMO_PASSWORD}" in result.output
    for login in ("head@larkspur.example", "dsl@larkspur.example", "parent@larkspur.example",
                  "auditor@larkspur.example", "governor@larkspur.example", "volunteer@larkspur.example",
                  "contractor@larkspur.example"):
        assert login in result.output
    pupils = db.scalar(select(func.count(PupilProfile.person_id)))
    assert 55 <= pupils <= 65
    classes = db.scalars(select(SchoolClass)).all()
    bands = [age_band_for_year(c.year_group) for c in classes]
    assert {b: bands.count(b) for b in set(bands)} == {"eyfs_ks1": 2, "ks2": 2, "ks3_4": 2, "ks5": 2}
    assert all(c.teachers for c in classes)
    settings = School.get()
    assert settings.head_teacher.email == "head@larkspur.example"
    assert settings.dsl.email == "dsl@larkspur.example"
    assert settings.chair_of_governors.email == "governor@larkspur.example"
    # Every pupil has at least one parent; every address is on the reserved .example domain.
    orphans = db.scalar(select(func.count(PupilProfile.person_id)).where(
        ~PupilProfile.person_id.in_(select(GuardianLink.pupil_id))))
    assert orphans == 0
    emails = db.scalars(select(Person.email).where(Person.email.is_not(None))).all()
    assert emails and all(e.endswith("@larkspur.example") for e in emails)
    teacher_parent = db.scalar(select(Person).where(Person.email == "teacher1@larkspur.example"))
    assert teacher_parent.role_set >= {Role.TEACHER, Role.PARENT}

    again = app.test_cli_runner().invoke(args=["portal", "demo", "--if-empty"])
    assert "already has people; demo not loaded" in again.output
    db.expire_all()
    assert db.scalar(select(func.count(PupilProfile.person_id))) == pupils


def test_demo_sign_in_works(empty_installation, db):
    app = empty_installation
    assert app.test_cli_runner().invoke(args=["portal", "demo", "--seal", "0"]).exit_code == 0
    client = app.test_client()
    resp = client.post("/portal/auth/login", data={"email": "parent@larkspur.example", "password": DEMO_PASSWORD})
    assert resp.status_code == 302
    home = client.get("/portal/parent/")
    assert home.status_code == 200 and b"Your children" in home.data
    # Walk finding: the demo's official channel ("the school office: ... or ...") put English words inside the
    # Polish and Welsh sentences of the concern form. An address and a number read well in every language.
    client.post("/portal/auth/language", data={"language": "pl", "next": "/portal/"})
    form = client.get("/portal/concerns/new").get_data(as_text=True)
    assert "office@larkspur.example, 01632 960 000" in form and "the school office" not in form


def test_db_upgrade_and_downgrade_commands(app, tmp_path):
    url = f"sqlite:///{tmp_path}/cli.sqlite"
    app.config["PORTAL_DATABASE_URI"] = url
    runner = app.test_cli_runner()
    up = runner.invoke(args=["portal", "db", "upgrade"])
    assert up.exit_code == 0 and "Database is at head" in up.output
    engine = create_engine(url)
    assert "portal_people" in inspect(engine).get_table_names()
    down = runner.invoke(args=["portal", "db", "downgrade", "base"])
    assert down.exit_code == 0
    assert "portal_people" not in inspect(engine).get_table_names()
    engine.dispose()
