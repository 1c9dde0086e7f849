"""Many schools in one installation: people in two schools, trust roles, routing per school,
the schools commands, the demo trust, OneRoster orgs and LTI deployments mapped to schools.

Every name is invented; addresses are on the reserved .example domain.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from portal.concerns.models import Concern, Route
from portal.people.models import Account, GuardianLink, Person, Role, SchoolClass
from portal.schools.isolation import all_schools
from portal.schools.models import School, Trust, TrustRole
from portal.schools.operations import get_or_create_trust, grant_trust_role
from tests.factories import PASSWORD
from tests.schools import DEFAULT_SCHOOL_ID, as_school


def _login(client, email, password=PASSWORD, next_url=""):
    return client.post("/portal/auth/login", data={"email": email, "password": password, "next": next_url})


@pytest.fixture
def trust_world(db, school, make_school, make_person, make_class, make_pupil, make_parent, make_account):
    """Two schools of one trust, a third outside it; a parent with a child in each trust school."""
    from types import SimpleNamespace

    w = SimpleNamespace(a=school)
    w.trust = get_or_create_trust("willow-trust", "Willow Learning Trust (fictional)")
    school.trust_id = w.trust.id
    db.commit()
    w.b = make_school("rowan-academy", "Rowan Academy (fictional)", trust=w.trust)
    w.c = make_school("yew-school", "Yew School (fictional, not in the trust)")
    w.parent_account = make_account("hollis@families.example", name="Hollis Quince")
    w.a_class = make_class(2, name="Year 2 Wrens")
    w.a_child = make_pupil(2, w.a_class, given="Ivy")
    w.a_parent = make_person(Role.PARENT, given="Hollis", family="Quince", email="hollis@families.example",
                             account=w.parent_account)
    db.add(GuardianLink(parent_id=w.a_parent.id, pupil_id=w.a_child.id))
    db.commit()
    with as_school(w.b.id):
        w.b_head = make_person(Role.TEACHER, given="Rowena", family="Headley")
        w.b_chair = make_person(Role.GOVERNOR, given="Rupert", family="Chairholt")
        w.b_dsl = make_person(Role.TEACHER, given="Rhian", family="Safeton")
        b = db.get(School, w.b.id)
        b.head_teacher_id, b.chair_of_governors_id, b.dsl_id = w.b_head.id, w.b_chair.id, w.b_dsl.id
        w.b_class = make_class(9, name="Form 9R")
        w.b_child = make_pupil(9, w.b_class, given="Jasper")
        w.b_parent = make_person(Role.PARENT, given="Hollis", family="Quince", email="hollis@families.example",
                                 account=w.parent_account)
        db.add(GuardianLink(parent_id=w.b_parent.id, pupil_id=w.b_child.id))
        db.commit()
    with as_school(w.c.id):
        w.c_teacher = make_person(Role.TEACHER, given="Yusuf", family="Yewdale", email="yusuf@yew.example")
        db.commit()
    return w


# ---------------------------------------------------------------- people in two schools


def test_a_parent_in_two_schools_signs_in_once_chooses_and_switches(app, trust_world):
    w = trust_world
    client = app.test_client()
    resp = _login(client, "hollis@families.example")
    assert resp.status_code == 302 and "/auth/schools" in resp.headers["Location"]
    page = client.get("/portal/auth/schools").get_data(as_text=True)
    assert w.a.name in page and w.b.name in page and w.c.name not in page

    assert client.post("/portal/auth/schools", data={"school_id": w.a.id}).status_code == 302
    home = client.get("/portal/parent/").get_data(as_text=True)
    assert "Ivy" in home and "Jasper" not in home
    assert w.a.name in home and "Switch school" in home  # every page says which school it is about

    assert client.post("/portal/auth/schools", data={"school_id": w.b.id}).status_code == 302
    home = client.get("/portal/parent/").get_data(as_text=True)
    assert "Jasper" in home and "Ivy" not in home and w.b.name in home
    # The child of the other school is not reachable by id from here.
    assert client.get(f"/portal/parent/children/{w.a_child.id}").status_code == 404
    # A school the account has no place in cannot be chosen.
    assert client.post("/portal/auth/schools", data={"school_id": w.c.id}).status_code == 404
    home = client.get("/portal/parent/").get_data(as_text=True)
    assert "Jasper" in home


def test_the_next_sign_in_starts_in_the_school_chosen_last(app, db, trust_world):
    w = trust_world
    client = app.test_client()
    _login(client, "hollis@families.example")
    client.post("/portal/auth/schools", data={"school_id": w.b.id})
    db.expire_all()
    assert db.get(Account, w.parent_account.id).last_school_id == w.b.id
    fresh = app.test_client()
    _login(fresh, "hollis@families.example")
    assert "Jasper" in fresh.get("/portal/parent/").get_data(as_text=True)


def test_a_one_school_person_is_never_asked_to_choose(app, trust_world):
    client = app.test_client()
    resp = _login(client, "yusuf@yew.example")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/")
    assert "Switch school" not in client.get("/portal/staff/").get_data(as_text=True)


def test_a_person_switched_off_in_one_school_keeps_the_other(app, db, trust_world):
    w = trust_world
    db.get(Person, w.a_parent.id).active = False
    db.commit()
    client = app.test_client()
    resp = _login(client, "hollis@families.example")
    assert resp.status_code == 302 and "/auth/schools" not in resp.headers["Location"]
    assert "Jasper" in client.get("/portal/parent/").get_data(as_text=True)
    assert client.post("/portal/auth/schools", data={"school_id": w.a.id}).status_code == 404


def test_a_governor_of_one_school_is_a_parent_in_another(app, db, trust_world, make_person):
    w = trust_world
    governor = make_person(Role.GOVERNOR, given="Gwen", family="Silverdale", email="gwen@willow.example")
    with as_school(w.b.id):
        parent = make_person(Role.PARENT, given="Gwen", family="Silverdale", email="gwen@willow.example",
                             account=governor.account)
        db.add(GuardianLink(parent_id=parent.id, pupil_id=w.b_child.id))
        db.commit()
    client = app.test_client()
    _login(client, "gwen@willow.example")
    client.post("/portal/auth/schools", data={"school_id": w.a.id})
    assert client.get("/portal/staff/").status_code == 200
    assert client.get("/portal/parent/").status_code == 403
    client.post("/portal/auth/schools", data={"school_id": w.b.id})
    assert client.get("/portal/parent/").status_code == 200
    assert client.get("/portal/staff/").status_code == 403


# ---------------------------------------------------------------- routing stays in the school


def test_a_concern_about_the_head_goes_to_that_schools_chair_only(app, db, trust_world, login_as):
    from portal.concerns import operations as ops
    from portal.concerns.models import About, Category
    from portal.concerns.storage import UploadBatch

    w = trust_world
    with as_school(w.b.id):
        parent = db.get(Person, w.b_parent.id)
        with UploadBatch() as batch:
            concern = ops.raise_concern(parent, category=Category.TEACHING, subject="About the Head of Rowan",
                                        description="Fictional words.", at_risk=False, about=About.HEAD_TEACHER,
                                        batch=batch)
            db.commit()
        assert concern.route == Route.CHAIR.value
        b_chair = db.get(Person, w.b_chair.id)
        inbox = login_as(b_chair).get("/portal/concerns/inbox").get_data(as_text=True)
        assert "About the Head of Rowan" in inbox
    # School A's chair and Head never see it.
    for person in (w.a.chair, w.a.head):
        resp = login_as(person).get(f"/portal/concerns/inbox/{concern.id}")
        assert resp.status_code == 404
        assert "About the Head of Rowan" not in login_as(person).get("/portal/concerns/inbox").get_data(as_text=True)


def test_designations_are_per_school(db, trust_world):
    from portal.security import capabilities_of, designations

    w = trust_world
    assert "head_teacher" in designations(w.a.head)
    with as_school(w.b.id):
        head_b = db.get(Person, w.b_head.id)
        assert designations(head_b) == {"head_teacher"}
        assert "capabilities.delegate" in capabilities_of(head_b)


def test_deputy_dsls_see_safeguarding_concerns(app, db, school, make_person, login_as):
    from portal.schools.models import DeputyDsl
    from portal.security import capabilities_of

    deputy = make_person(Role.TEACHER, given="Dora", family="Deputy")
    db.add(DeputyDsl(person_id=deputy.id))
    db.commit()
    assert "concerns.safeguarding" in capabilities_of(deputy)
    assert login_as(deputy).get("/portal/concerns/inbox").status_code == 200


# ---------------------------------------------------------------- trust roles


@pytest.fixture
def trust_people(db, trust_world, make_account):
    w = trust_world
    out = {}
    for role in TrustRole:
        account = make_account(f"{role.value.replace('_', '-')}@willow.example", name=role.label)
        grant_trust_role(account, w.trust, role)
        out[role] = account
    db.commit()
    return out


def test_a_trust_only_account_signs_in_to_the_trust_pages_and_no_school(app, trust_world, trust_people):
    w = trust_world
    client = app.test_client()
    resp = _login(client, "trust-compliance@willow.example")
    assert resp.status_code == 302
    home = client.get("/portal/", follow_redirects=True)
    assert home.status_code == 200 and w.trust.name in home.get_data(as_text=True)
    for path in ("/portal/parent/", "/portal/staff/", "/portal/concerns/inbox", "/portal/auditor/",
                 "/portal/policies/history", f"/portal/trust/{w.trust.id}/records"):
        assert client.get(path).status_code == 403, path


def test_trust_compliance_sees_each_trust_school_side_by_side(app, db, trust_world, trust_people, login_as):
    from portal.policies.pack import load_default_pack

    w = trust_world
    load_default_pack()
    db.commit()
    page = login_as(trust_people[TrustRole.COMPLIANCE]).get(f"/portal/trust/{w.trust.id}/compliance")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert w.a.name in text and w.b.name in text and w.c.name not in text
    assert "Parents and carers" in text


def test_trust_safeguarding_sees_counts_and_only_shared_words(app, db, trust_world, trust_people, login_as):
    from portal.concerns import operations as ops
    from portal.concerns.models import Category
    from portal.concerns.storage import UploadBatch

    w = trust_world
    with as_school(w.b.id):
        parent = db.get(Person, w.b_parent.id)
        with UploadBatch() as batch:
            kept = ops.raise_concern(parent, category=Category.ONLINE_SAFETY, subject="Unshared Pangolin",
                                     description="Words the trust must not read.", at_risk=True, batch=batch)
            shared = ops.raise_concern(parent, category=Category.ONLINE_SAFETY, subject="Shared Okapi",
                                       description="Words the DSL chose to share.", at_risk=True, batch=batch)
            db.commit()
        dsl = db.get(Person, w.b_dsl.id)
        dsl_client = login_as(dsl)
        resp = dsl_client.post(f"/portal/concerns/inbox/{shared.id}/share", data={"share": "yes"})
        assert resp.status_code == 302
        # Walk finding: the History did not say it was shared, nor by whom. The parent's page does not say.
        history = dsl_client.get(f"/portal/concerns/inbox/{shared.id}").get_data(as_text=True)
        assert re.search(rf"{dsl.full_name}:\s+shared with the trust(?:'|&#39;)s safeguarding lead", history)
        parent_page = login_as(parent).get(f"/portal/concerns/{shared.id}").get_data(as_text=True)
        assert "shared with the trust" not in parent_page
    lead = login_as(trust_people[TrustRole.SAFEGUARDING])
    overview = lead.get(f"/portal/trust/{w.trust.id}/safeguarding").get_data(as_text=True)
    assert "Shared Okapi" in overview and "Unshared Pangolin" not in overview
    assert w.c.name not in overview
    read = lead.get(f"/portal/trust/{w.trust.id}/safeguarding/{w.b.id}/concerns/{shared.id}")
    assert read.status_code == 200 and "Words the DSL chose to share." in read.get_data(as_text=True)
    assert read.headers["Cache-Control"] == "no-store"
    assert lead.get(f"/portal/trust/{w.trust.id}/safeguarding/{w.b.id}/concerns/{kept.id}").status_code == 404
    # Naming the concern under another school of the trust finds nothing either.
    assert lead.get(f"/portal/trust/{w.trust.id}/safeguarding/{w.a.id}/concerns/{shared.id}").status_code == 404
    # The other trust roles cannot open it.
    other = login_as(trust_people[TrustRole.AUDITOR])
    assert other.get(f"/portal/trust/{w.trust.id}/safeguarding/{w.b.id}/concerns/{shared.id}").status_code == 403


def test_trust_auditor_exports_every_trust_school_in_one_zip(app, db, trust_world, trust_people, login_as):
    from tests.records_support import signed_record_in_school

    w = trust_world
    a_sha = signed_record_in_school(db, w.a.id)
    b_sha = signed_record_in_school(db, w.b.id)
    c_sha = signed_record_in_school(db, w.c.id)
    client = login_as(trust_people[TrustRole.AUDITOR])
    listing = client.get(f"/portal/trust/{w.trust.id}/records").get_data(as_text=True)
    assert w.a.name in listing and w.b.name in listing and w.c.name not in listing
    resp = client.get(f"/portal/trust/{w.trust.id}/records/export.zip")
    assert resp.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(resp.get_data()))
    names = z.namelist()
    assert f"{w.a.slug}/manifest.csv" in names and f"{w.b.slug}/manifest.csv" in names
    assert not any(n.startswith(f"{w.c.slug}/") for n in names)
    shas = set()
    for name in names:
        if name.endswith(".pdf"):
            import hashlib

            shas.add(hashlib.sha256(z.read(name)).hexdigest())
    assert {a_sha, b_sha} <= shas and c_sha not in shas
    index = list(csv.reader(io.StringIO(z.read("schools.csv").decode())))
    assert [r[0] for r in index[1:]] == sorted([w.a.slug, w.b.slug], key=lambda s: {w.a.slug: w.a.name,
                                                                                    w.b.slug: w.b.name}[s])
    manifest_b = list(csv.DictReader(io.StringIO(z.read(f"{w.b.slug}/manifest.csv").decode())))
    assert {r["sha256"] for r in manifest_b if r["sha256"]} == {b_sha}
    # Each school's own chain records the export.
    from portal.audit.models import AuditEntry

    with as_school(w.b.id):
        assert db.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "records.exported")) == 1


def test_trust_admin_adds_a_school_and_imports_its_roster(app, db, trust_world, trust_people, login_as):
    w = trust_world
    client = login_as(trust_people[TrustRole.ADMIN])
    bad = client.post(f"/portal/trust/{w.trust.id}/schools/new", data={"name": "Elm Primary", "slug": "Elm Primary!"})
    assert bad.status_code == 400 and "lower-case letters" in bad.get_data(as_text=True)
    taken = client.post(f"/portal/trust/{w.trust.id}/schools/new", data={"name": "Again", "slug": w.b.slug})
    assert taken.status_code == 400 and "already a school" in taken.get_data(as_text=True)
    resp = client.post(f"/portal/trust/{w.trust.id}/schools/new",
                       data={"name": "Elm Primary (fictional)", "slug": "elm-primary", "urn": "100123",
                             "phases": ["primary"]})
    assert resp.status_code == 302
    elm = db.scalar(select(School).where(School.slug == "elm-primary"))
    assert elm.trust_id == w.trust.id and elm.urn == "100123"
    roster = ("type,external_id,given_name,family_name,email,roles\n"
              "staff,ELM-T1,Esme,Elmsworth,esme@elm.example,teacher\n")
    from io import BytesIO

    up = client.post(f"/portal/trust/{w.trust.id}/schools/{elm.id}/roster",
                     data={"file": (BytesIO(roster.encode()), "roster.csv")}, content_type="multipart/form-data")
    assert up.status_code == 302
    with as_school(elm.id):
        assert db.scalar(select(Person.family_name).where(Person.external_id == "ELM-T1")) == "Elmsworth"
    assert db.scalar(select(Person.id).where(Person.external_id == "ELM-T1")) is None  # not in school A
    # A school outside the trust is not the trust admin's.
    assert client.get(f"/portal/trust/{w.trust.id}/schools/{w.c.id}/roster").status_code == 404


def test_trust_pages_of_another_trust_are_404(app, db, trust_world, trust_people, login_as, make_account):
    other = get_or_create_trust("hawthorn-trust", "Hawthorn Trust (fictional)")
    db.commit()
    client = login_as(trust_people[TrustRole.AUDITOR])
    assert client.get(f"/portal/trust/{other.id}/").status_code == 404
    assert client.get(f"/portal/trust/{other.id}/records").status_code == 404


# ---------------------------------------------------------------- commands


def test_schools_list_and_add(app, db, make_school):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["portal", "schools", "list"])
    assert out.exit_code == 0 and "test-school\tTest Fictional School" in out.output
    add = runner.invoke(args=["portal", "schools", "add", "--slug", "ash-grove", "--name", "Ash Grove (fictional)",
                              "--urn", "100456", "--phase", "primary", "--trust", "ash-trust",
                              "--trust-name", "Ash Trust (fictional)"])
    assert add.exit_code == 0, add.output
    school = db.scalar(select(School).where(School.slug == "ash-grove"))
    assert school.trust.name == "Ash Trust (fictional)" and school.phase_list[0].value == "primary"
    assert school.keys_path == "schools/ash-grove" and school.archive_prefix == "schools/ash-grove"
    from portal.policies.models import Policy

    with as_school(school.id):
        assert db.scalar(select(func.count(Policy.id))) == 11  # the default pack, published for it
    out = runner.invoke(args=["portal", "schools", "list"])
    assert "ash-grove\tAsh Grove (fictional)\tAsh Trust (fictional)" in out.output


@pytest.mark.parametrize("args, message", [
    (["--slug", "Bad Slug", "--name", "X"], "lower-case letters"),
    (["--slug", "test-school", "--name", "Again"], "already a school"),
    (["--slug", "ok-slug", "--name", "X", "--urn", "12AB"], "six digits"),
    (["--slug", "ok-slug", "--name", "X", "--trust", "no-such-trust"], "give its name"),
    (["--slug", "ok-slug", "--name", "x" * 201], "1 to 200 characters"),
])
def test_schools_add_refuses_bad_input_and_writes_nothing(app, db, args, message):
    before = db.scalar(select(func.count(School.id)))
    result = app.test_cli_runner().invoke(args=["portal", "schools", "add", *args])
    assert result.exit_code != 0 and message in result.output
    db.expire_all()
    assert db.scalar(select(func.count(School.id))) == before
    assert db.scalar(select(func.count(Trust.id))) == 0


def test_commands_that_need_a_school_ask_for_one_when_there_are_several(app, make_school, tmp_path):
    make_school("birch-school")
    roster = tmp_path / "r.csv"
    roster.write_text("type,external_id,class_name,year_group\nclass,C1,Class One,3\n")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "import-roster", str(roster)])
    assert result.exit_code != 0 and "--school" in result.output and "birch-school" in result.output
    result = runner.invoke(args=["portal", "import-roster", str(roster), "--school", "no-such"])
    assert result.exit_code != 0 and "No school with the slug 'no-such'" in result.output
    result = runner.invoke(args=["portal", "import-roster", str(roster), "--school", "birch-school"])
    assert result.exit_code == 0, result.output


def test_demo_trust_loads_three_schools_with_people_across_them(empty_installation, db):
    from portal.demo import DEMO_PASSWORD

    app = empty_installation
    result = app.test_cli_runner().invoke(args=["portal", "demo", "--trust", "--seal", "1"])
    assert result.exit_code == 0, result.output
    schools = {s.slug: s for s in db.scalars(select(School))}
    assert set(schools) == {"larkspur-hollow", "oak-lane-primary", "kestrel-ridge"}
    assert {s.trust.slug for s in schools.values()} == {"fernbrook"}
    phases = {slug: {p.value for p in s.phase_list} for slug, s in schools.items()}
    assert phases["oak-lane-primary"] == {"primary"} and "secondary" in phases["kestrel-ridge"]
    for login in ("luca.brackenridge@fernbrook.example", "hollis.family@families.example",
                  "trust-auditor@fernbrook.example", "trust-dsl@fernbrook.example"):
        assert login in result.output
    with all_schools(db):
        spanning = db.scalars(select(Person.school_id).join(Account, Account.id == Person.account_id)
                              .where(Account.email == "luca.brackenridge@fernbrook.example")).all()
        assert len(set(spanning)) == 2
        emails = db.scalars(select(Person.email).where(Person.email.is_not(None))).all()
    assert all(e.endswith(".example") for e in emails)
    client = app.test_client()
    resp = _login(client, "hollis.family@families.example", DEMO_PASSWORD)
    assert "/auth/schools" in resp.headers["Location"]
    client = app.test_client()
    _login(client, "trust-auditor@fernbrook.example", DEMO_PASSWORD)
    assert "Fernbrook Learning Trust" in client.get("/portal/", follow_redirects=True).get_data(as_text=True)
    # Plain `demo` on a fresh database stays one school (tests/test_demo_and_cli.py); a second run is refused.
    again = app.test_cli_runner().invoke(args=["portal", "demo"])
    assert again.exit_code != 0 and "already loaded" in again.output


# ---------------------------------------------------------------- rosters and LMS name the school


ORGS_TWO = ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
            "org-d,active,,Willow Trust,district,,\n"
            "org-a,active,,Test Fictional School,school,,org-d\n"
            "org-b,active,,Some Other Name,school,100777,org-d\n"
            "org-x,active,,Unknown School,school,999999,org-d\n")
USERS_TWO = ("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,"
             "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
             "ua-t,active,,true,org-a,teacher,,,Alma,Ashby,,,alma@willow.example,,,,,\n"
             "ub-t,active,,true,org-b,teacher,,,Bram,Beechey,,,bram@willow.example,,,,,\n"
             "ub-s,active,,true,org-b,student,,,Cleo,Beechey,,,,,,,05,\n")
CLASSES_TWO = ("sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
               "schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n"
               "ca,active,,Year 3 Alders,03,,,homeroom,,org-a,,,,\n"
               "cb,active,,Year 5 Beeches,05,,,homeroom,,org-b,,,,\n")
ENROL_TWO = ("sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,"
             "beginDate,endDate\n"
             "e1,active,,ca,org-a,ua-t,teacher,,,\ne2,active,,cb,org-b,ub-t,teacher,,,\n"
             "e3,active,,cb,org-b,ub-s,student,,,\n")
DEMO_TWO = "sourcedId,status,dateLastModified,birthDate\nub-s,active,,2016-02-03\n"


def _oneroster_zip(tmp_path):
    path = tmp_path / "trust-oneroster.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in (("orgs.csv", ORGS_TWO), ("users.csv", USERS_TWO), ("classes.csv", CLASSES_TWO),
                           ("enrollments.csv", ENROL_TWO), ("demographics.csv", DEMO_TWO)):
            z.writestr(name, text)
    return path


def test_a_trust_oneroster_export_goes_to_each_school_by_urn_or_name(app, db, make_school, tmp_path):
    b = make_school("beech-school", urn="100777")
    result = app.test_cli_runner().invoke(args=["portal", "import-oneroster", str(_oneroster_zip(tmp_path))])
    assert result.exit_code == 0, result.output
    assert set(db.scalars(select(Person.family_name))) == {"Ashby"}
    assert set(db.scalars(select(SchoolClass.name))) == {"Year 3 Alders"}
    with as_school(b.id):
        assert set(db.scalars(select(Person.family_name))) == {"Beechey"}
        assert set(db.scalars(select(SchoolClass.name))) == {"Year 5 Beeches"}


def test_oneroster_org_mapping_can_be_given_and_bad_mappings_write_nothing(app, db, make_school, tmp_path):
    b = make_school("beech-school")  # no URN: org-b does not map by itself
    runner = app.test_cli_runner()
    path = str(_oneroster_zip(tmp_path))
    bad = runner.invoke(args=["portal", "import-oneroster", path, "--org", "org-nope=beech-school"])
    assert bad.exit_code != 0 and "org-nope" in bad.output
    bad = runner.invoke(args=["portal", "import-oneroster", path, "--org", "org-b=no-such-school"])
    assert bad.exit_code != 0 and "no-such-school" in bad.output
    assert db.scalar(select(func.count(Person.id))) == 0
    ok = runner.invoke(args=["portal", "import-oneroster", path, "--org", "org-b=beech-school"])
    assert ok.exit_code == 0, ok.output
    with as_school(b.id):
        assert db.scalar(select(func.count(Person.id))) == 2


def test_the_school_oneroster_page_takes_only_its_own_orgs(app, db, make_school, make_person, login_as, tmp_path):
    make_school("beech-school", urn="100777")
    admin = make_person(Role.ADMIN, given="Ada")
    data = _oneroster_zip(tmp_path).read_bytes()
    resp = login_as(admin).post("/portal/lms/oneroster", data={"file": (io.BytesIO(data), "export.zip")},
                                content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert set(db.scalars(select(Person.family_name).where(Person.external_id.is_not(None)))) >= {"Ashby"}
    assert "Beechey" not in set(db.scalars(select(Person.family_name)))


#: One LMS client (a Canvas developer key) that several schools of a trust register.
CANVAS = dict(name="Trust Canvas", issuer="https://canvas.willow.example", client_id="10000000001",
              auth_login_url="https://canvas.willow.example/api/lti/authorize_redirect",
              auth_token_url="https://canvas.willow.example/login/oauth2/token",
              key_set_url="https://canvas.willow.example/api/lti/security/jwks")


def test_lti_deployments_map_to_schools(app, db, make_school):
    from portal.lti.operations import add_registration
    from portal.lti.tool import find_registration_row

    b = make_school("beech-school")
    values = dict(CANVAS)
    add_registration(deployment_ids=["dep-a"], **values)
    db.commit()
    with as_school(b.id):
        with pytest.raises(ValueError, match="already registered for another school"):
            add_registration(deployment_ids=["dep-a"], **values)
        db.rollback()
        add_registration(deployment_ids=["dep-b"], **values)
        db.commit()
    assert find_registration_row(values["issuer"], values["client_id"], "dep-a").school_id == DEFAULT_SCHOOL_ID
    assert find_registration_row(values["issuer"], values["client_id"], "dep-b").school_id == b.id
    assert find_registration_row(values["issuer"], values["client_id"], "dep-z") is None


def test_schools_sharing_an_lms_client_share_its_keys(app, db, make_school):
    """Probe finding: a school that registered an LMS client first, with a key set of its own, could sign launches
    for another school's deployment of that client (its row chose the key) and so open any account there, or make
    a new admin. A second registration with other keys or addresses is refused; rows saved before that disagree
    are not used at all (the LMS's launches are refused, and the log says why)."""
    from portal.lti.models import LtiRegistration
    from portal.lti.operations import add_registration
    from portal.lti.tool import find_registration_row

    b, c = make_school("beech-school"), make_school("cedar-school")
    values = dict(CANVAS)
    add_registration(deployment_ids=["dep-a"], **values)
    db.commit()
    for changed in ({"key_set_url": "https://attacker.example/jwks.json"},
                    {"auth_login_url": "https://attacker.example/login"},
                    {"auth_token_url": "https://attacker.example/token"}):
        with as_school(b.id):
            with pytest.raises(ValueError, match="with a different keyset or different addresses"):
                add_registration(deployment_ids=["dep-b"], **{**values, **changed})
            db.rollback()
    with all_schools(db):
        assert db.scalar(select(func.count(LtiRegistration.id))) == 1
    with as_school(b.id):
        add_registration(deployment_ids=["dep-b"], **values)  # the same keys and addresses: allowed
        db.commit()
    assert find_registration_row(values["issuer"], values["client_id"]) is not None
    # A row saved before the rule, with its own key set: no row of that client is used, for any school.
    with as_school(c.id):
        db.add(LtiRegistration(name="Cedar", issuer=values["issuer"], client_id=values["client_id"],
                               auth_login_url=values["auth_login_url"], auth_token_url=values["auth_token_url"],
                               key_set_url="https://attacker.example/jwks.json", deployment_ids=["dep-c"]))
        db.commit()
    for dep in (None, "dep-a", "dep-b", "dep-c"):
        assert find_registration_row(values["issuer"], values["client_id"], dep) is None, dep


def test_each_school_seals_with_its_own_certificate(app, db, make_school):
    from portal.records.keys import init_keys, school_keys_dir, seal_identity

    b = make_school("beech-school")
    a = db.get(School, DEFAULT_SCHOOL_ID)
    init_keys(school_keys_dir(a), a.name)
    init_keys(school_keys_dir(b), b.name)
    assert seal_identity(a).fingerprint != seal_identity(b).fingerprint
    assert b.name in seal_identity(b).cert.subject.human_friendly
    concern_free = db.scalar(select(func.count(Concern.id)))
    assert concern_free == 0


def test_every_page_rounds_a_share_the_same_way():
    """Walk finding: the trust's comparison cut 12 of 14 to 85% and 2 of 3 to 66%, where the school's own home
    page said 86% and 67%. Both now use one function (the trust page's template calls it too)."""
    from pathlib import Path

    from portal.policies.compliance import percent

    assert (percent(12, 14), percent(2, 3), percent(0, 0), percent(3, 3)) == (86, 67, 0, 100)
    template = (Path(__file__).parent.parent / "templates/portal/trust/compliance.html").read_text()
    assert "percent(t.signed, t.total)" in template and "//" not in template
