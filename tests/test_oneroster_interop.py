"""OneRoster files as real exports send them (spec-shaped 1.1 and 1.2 CSV bindings): every spec
role, no demographics, manifests and delta files, row numbers of the uploaded file, OneRoster 1.2,
and staff who are also parents."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from sqlalchemy import func, select

from portal.lti.oneroster import read_dataset
from portal.people.models import ClassTeacher, GuardianLink, Person, PupilProfile, Role, SchoolClass
from tests.test_oneroster import CLASSES, DEMOGRAPHICS, ENROLLMENTS, ORGS, USERS, USERS_HEADER, files, make_zip

# ---------------------------------------------------------------- OneRoster 1.2 CSV binding, spec headers

MANIFEST_12 = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\n" + "".join(
    f"file.{name},{mode}\n" for name, mode in (
        ("academicSessions", "bulk"), ("categories", "absent"), ("classes", "bulk"), ("classResources", "absent"),
        ("courses", "bulk"), ("courseResources", "absent"), ("demographics", "bulk"), ("enrollments", "bulk"),
        ("lineItemLearningObjectiveIds", "absent"), ("lineItems", "absent"), ("lineItemScoreScales", "absent"),
        ("orgs", "bulk"), ("resources", "absent"), ("resultLearningObjectiveIds", "absent"), ("results", "absent"),
        ("resultScoreScales", "absent"), ("roles", "bulk"), ("scoreScales", "absent"), ("userProfiles", "absent"),
        ("userResources", "absent"), ("users", "bulk"))) + "source.systemName,Fictional MIS\n"
ORGS_12 = ("sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
           "org-1,,,Fictional Primary,school,,\n")
USERS_12 = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,"
    "email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,"
    "preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns\n"
    "u-t1,,,true,tt,,Tamsin,Teachwell,,,tamsin@fictional.example,,,,,,,,,,,org-1,\n"
    "u-s1,,,true,s1,,Sol,Pupilson,,,,,,u-t1,04,,,,,,,org-1,\n"
    "u-a1,,,true,a1,,Ari,Aideson,,,ari@fictional.example,,,,,,,,,,,org-1,\n"
    "u-x1,,,true,x1,,Pax,Proctor,,,pax@fictional.example,,,,,,,,,,,org-1,\n"
)
ROLES_12 = (
    "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
    "userProfileSourcedId\n"
    "r1,,,u-t1,primary,teacher,,,org-1,\n"
    "r2,,,u-t1,secondary,parent,,,org-1,\n"
    "r3,,,u-s1,primary,student,,,org-1,\n"
    "r4,,,u-a1,primary,aide,,,org-1,\n"
    "r5,,,u-a1,secondary,counselor,2001-09-01,2002-07-20,org-1,\n"
    "r6,,,u-x1,primary,proctor,,,org-1,\n"
)
CLASSES_12 = (
    "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,"
    "termSourcedIds,subjects,subjectCodes,periods\n"
    "c-4,,,Year 4 Oak,04,co-1,4O,homeroom,,org-1,t-1,,,\n"
)
ENROLLMENTS_12 = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
    "e1,,,c-4,org-1,u-s1,student,,,\ne2,,,c-4,org-1,u-t1,teacher,true,,\ne3,,,c-4,org-1,u-x1,proctor,,,\n"
)
DEMOGRAPHICS_12 = (
    "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,"
    "nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,"
    "countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus\n"
    "u-s1,,,2017-03-04,unspecified,,,,,,,,,,,\n"
)
SESSIONS_12 = ("sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n"
               "t-1,,,2026-27,schoolYear,2026-09-01,2027-07-22,,2027\n")
COURSES_12 = ("sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,"
              "subjectCodes\nco-1,,,t-1,Year 4,Y4,04,org-1,,\n")


def files_12(**override):
    base = {"manifest.csv": MANIFEST_12, "orgs.csv": ORGS_12, "users.csv": USERS_12, "roles.csv": ROLES_12,
            "classes.csv": CLASSES_12, "enrollments.csv": ENROLLMENTS_12, "demographics.csv": DEMOGRAPHICS_12,
            "academicSessions.csv": SESSIONS_12, "courses.csv": COURSES_12}
    base.update(override)
    return {k: v for k, v in base.items() if v is not None}


def upload(client, data: bytes):
    return client.post("/portal/lms/oneroster", data={"file": (io.BytesIO(data), "export.zip")},
                       content_type="multipart/form-data", follow_redirects=True)


def _text(resp) -> str:
    return resp.get_data(as_text=True).replace("&#39;", "'").replace("&#34;", '"').replace("&quot;", '"')


@pytest.fixture
def admin_client(make_person, login_as):
    return login_as(make_person(Role.ADMIN, given="Ada"))


def _people(db) -> dict[str, Person]:
    db.expire_all()
    return {p.external_id: p for p in db.scalars(select(Person)) if p.external_id}


def _merge(db, school, on: bool):
    school.roster_merge_same_email = on
    db.commit()


# ---------------------------------------------------------------- 1.1: every spec role


def test_every_oneroster_11_role_is_accepted_and_unused_ones_are_left_out_with_a_warning(db, admin_client):
    users = USERS + (
        "u-pr,active,,true,org-1,proctor,pr,,Prue,Invigilator,,,prue@fictional.example,,,,,\n"
        "u-ai,active,,true,org-1,aide,ai,,Aldo,Helper,,,aldo@fictional.example,,,,,\n"
        "u-ad,active,,true,org-1,administrator,ad,,Addy,Office,,,addy@fictional.example,,,,,\n"
        "u-gu,active,,true,org-1,guardian,gu,,Gus,Carer,,,gus@fictional.example,,,u-s1,,\n"
        "u-re,active,,true,org-1,relative,re,,Rita,Gran,,,rita@fictional.example,,,u-s2,,\n"
        "u-p2,active,,true,org-1,proctor,p2,,Pat,Invigilator,,,pat@fictional.example,,,,,\n"
    )
    resp = upload(admin_client, make_zip(files(**{"users.csv": users})))
    text = _text(resp)
    assert resp.status_code == 200 and "Created" in text
    assert "users.csv rows 7, 12: role proctor is not used by Countersign; 2 people were left out." in text
    people = _people(db)
    assert "u-pr" not in people and "u-p2" not in people
    assert people["u-ai"].role_set == {Role.SUPPORT_STAFF} and people["u-ad"].role_set == {Role.SUPPORT_STAFF}
    assert people["u-gu"].role_set == {Role.PARENT} and people["u-re"].role_set == {Role.PARENT}
    kids = set(db.scalars(select(GuardianLink.pupil_id).where(GuardianLink.parent_id == people["u-re"].id)))
    assert kids == {people["u-s2"].id}


def test_an_unknown_role_is_still_refused(db, admin_client):
    resp = upload(admin_client, make_zip(files(**{"users.csv": USERS.replace(",parent,", ",wizard,")})))
    assert resp.status_code == 400 and "users.csv row 5: role 'wizard' is not one of" in _text(resp)


# ---------------------------------------------------------------- demographics are optional


def test_without_demographics_pupils_are_placed_by_grade(db, admin_client, make_pupil, make_class):
    resp = upload(admin_client, make_zip(files(**{"demographics.csv": None})))
    text = _text(resp)
    assert resp.status_code == 200 and "2 pupils had no birth date" in text
    people = _people(db)
    sol, rue = people["u-s1"].pupil, people["u-s2"].pupil
    assert (sol.year_group, rue.year_group) == (4, 0)
    assert sol.date_of_birth.month == 9 and sol.date_of_birth.day == 1
    assert sol.date_of_birth.year - rue.date_of_birth.year == -4  # four years older
    # A later export with the real birth date corrects it; one without it keeps what is known.
    assert upload(admin_client, make_zip(files())).status_code == 200
    assert str(_people(db)["u-s1"].pupil.date_of_birth) == "2017-03-04"
    resp = upload(admin_client, make_zip(files(**{"demographics.csv": None})))
    assert "no birth date" not in _text(resp)
    assert str(_people(db)["u-s1"].pupil.date_of_birth) == "2017-03-04"


def test_a_bad_birth_date_is_reported_on_its_demographics_row(db, admin_client):
    bad = DEMOGRAPHICS.replace("2017-03-04", "04/03/2017")
    resp = upload(admin_client, make_zip(files(**{"demographics.csv": bad})))
    assert resp.status_code == 400 and "demographics.csv row 2: birthDate '04/03/2017'" in _text(resp)


def test_the_send_flag_the_school_set_survives_a_reimport(db, admin_client):
    assert upload(admin_client, make_zip(files())).status_code == 200
    sol = _people(db)["u-s1"]
    sol.pupil.send = True
    db.commit()
    resp = upload(admin_client, make_zip(files()))
    assert "Nothing was created or updated." in _text(resp)
    assert _people(db)["u-s1"].pupil.send is True


# ---------------------------------------------------------------- row numbers of the uploaded file


def test_errors_name_the_rows_of_the_uploaded_file(db, admin_client):
    # Blank lines are skipped by CSV readers; the row number must still be the file's line.
    users = USERS.replace("\nu-s2,", "\n\n\nu-s2,") + \
        "u-p2,active,,true,org-1,parent,p2,,Peg,Pupilson,,,pam@fictional.example,,,u-s1,,\n"
    resp = upload(admin_client, make_zip(files(**{"users.csv": users})))
    text = _text(resp)
    assert resp.status_code == 400
    # Pam is on line 7 and Peg on line 9 of users.csv (the roster file inside has other numbers).
    assert "users.csv row 9: email pam@fictional.example already used on users.csv row 7." in text
    users = USERS.replace("u-x1,tobedeleted", "\nu-x1,tobedeleted").replace(",05,", ",5th,").replace(
        "u-x1,tobedeleted", "u-x1,active")
    resp = upload(admin_client, make_zip(files(**{"users.csv": users})))
    assert "users.csv row 7: grades must be PK, KG or 01 to 13" in _text(resp)


# ---------------------------------------------------------------- manifest.csv


MANIFEST_11 = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.academicSessions,absent\n"
               "file.categories,absent\nfile.classes,bulk\nfile.classResources,absent\nfile.courses,absent\n"
               "file.courseResources,absent\nfile.demographics,bulk\nfile.enrollments,bulk\nfile.lineItems,absent\n"
               "file.orgs,bulk\nfile.resources,absent\nfile.results,absent\nfile.users,bulk\n")


@pytest.mark.parametrize(("manifest", "message"), [
    (MANIFEST_11.replace("oneroster.version,1.1", "oneroster.version,2.0"),
     "manifest.csv row 3: oneroster.version '2.0' is not 1.1 or 1.2."),
    (MANIFEST_11.replace("file.courses,absent", "file.courses,bulk"),
     "manifest.csv row 8: the manifest lists courses.csv as bulk, but the export has no courses.csv."),
    (MANIFEST_11.replace("file.users,bulk", "file.users,full"),
     "manifest.csv row 16: file.users must be absent, bulk or delta (got 'full')."),
    (MANIFEST_11 + "file.users,delta\n", "manifest.csv row 17: file.users is already given on manifest.csv row 16."),
    ("name,value\noneroster.version,1.1\n", "manifest.csv row 1: missing column(s) propertyName"),
])
def test_a_bad_manifest_is_refused_by_row(db, admin_client, manifest, message):
    resp = upload(admin_client, make_zip(files(**{"manifest.csv": manifest})))
    assert resp.status_code == 400 and message in _text(resp)
    assert db.scalar(select(func.count()).select_from(SchoolClass)) == 0


def test_a_file_the_manifest_calls_absent_is_not_read(db, admin_client):
    manifest = MANIFEST_11.replace("file.demographics,bulk", "file.demographics,absent")
    resp = upload(admin_client, make_zip(files(**{"manifest.csv": manifest})))
    text = _text(resp)
    assert resp.status_code == 200
    assert "demographics.csv is in the export but manifest.csv row 10 says it is absent" in text
    assert "2 pupils had no birth date" in text


# ---------------------------------------------------------------- delta exports

DELTA_MANIFEST = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,absent\n"
                  "file.users,delta\nfile.classes,absent\nfile.enrollments,delta\nfile.demographics,absent\n")


def test_a_delta_export_changes_only_what_it_lists(db, admin_client):
    assert upload(admin_client, make_zip(files())).status_code == 200
    before = _people(db)
    before["u-s1"].pupil.send = True
    db.commit()
    dob = before["u-s1"].pupil.date_of_birth
    users = USERS_HEADER + (
        "u-s2,active,2026-11-20T10:00:00.000Z,true,org-1,student,s2,,Rue,Pupil-Smith,,,,,,,KG,\n"
        "u-p1,tobedeleted,2026-11-20T10:00:00.000Z,true,org-1,parent,p1,,Pam,Pupilson,,,pam@fictional.example,,,,,\n"
        "u-t2,active,2026-11-20T10:00:00.000Z,true,org-1,teacher,t2,,Tom,Newteach,,,tom@fictional.example,,,,,\n"
    )
    enrollments = ("sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,"
                   "beginDate,endDate\n"
                   "e3,tobedeleted,2026-11-20T10:00:00.000Z,c-4,org-1,u-t1,teacher,true,,\n"
                   "e9,active,2026-11-20T10:00:00.000Z,c-4,org-1,u-t2,teacher,true,,\n"
                   "e4,tobedeleted,2026-11-20T10:00:00.000Z,c-art,org-1,u-s1,student,,,\n")
    delta = make_zip({"manifest.csv": DELTA_MANIFEST, "users.csv": users, "enrollments.csv": enrollments})
    resp = upload(admin_client, delta)
    text = _text(resp)
    assert resp.status_code == 200, text
    assert "1 person deleted in the export was switched off" in text
    people = _people(db)
    assert people["u-s2"].family_name == "Pupil-Smith"  # a changed row
    assert people["u-p1"].active is False  # deleted: switched off, never removed
    assert db.scalar(select(func.count()).select_from(GuardianLink)) == 2  # their links are kept
    sol = people["u-s1"].pupil  # not in the delta: class, birth date and SEND stay
    assert (sol.school_class.code, sol.date_of_birth, sol.send) == ("c-4", dob, True)
    oak = db.scalar(select(SchoolClass).where(SchoolClass.code == "c-4"))
    assert {t.teacher.external_id for t in oak.teachers} == {"u-t2"}
    art = db.scalar(select(SchoolClass).where(SchoolClass.code == "c-art"))
    assert {t.teacher.external_id for t in art.teachers} == {"u-t1"}  # untouched
    # The same delta again changes nothing more.
    again = _text(upload(admin_client, delta))
    assert "Nothing was created or updated." in again and "deleted in the export" not in again


def test_a_new_pupil_in_a_delta_is_linked_to_a_parent_countersign_knows(db, admin_client):
    assert upload(admin_client, make_zip(files())).status_code == 200
    users = USERS_HEADER + "u-s3,active,2026-11-20T10:00:00.000Z,true,org-1,student,s3,,Ned,Pupilson,,,,,,u-p1,02,\n"
    manifest = DELTA_MANIFEST.replace("file.enrollments,delta", "file.enrollments,absent")
    resp = upload(admin_client, make_zip({"manifest.csv": manifest, "users.csv": users}))
    assert resp.status_code == 200, _text(resp)
    people = _people(db)
    kids = set(db.scalars(select(GuardianLink.pupil_id).where(GuardianLink.parent_id == people["u-p1"].id)))
    assert kids == {people["u-s1"].id, people["u-s2"].id, people["u-s3"].id}
    assert people["u-s3"].pupil.year_group == 2 and people["u-s3"].pupil.class_id is None


def test_a_delta_can_take_a_pupil_out_of_their_class(db, admin_client):
    assert upload(admin_client, make_zip(files())).status_code == 200
    enrollments = ("sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,"
                   "beginDate,endDate\ne1,tobedeleted,2026-11-20T10:00:00.000Z,c-4,org-1,u-s1,student,,,\n")
    manifest = DELTA_MANIFEST.replace("file.users,delta", "file.users,absent")
    resp = upload(admin_client, make_zip({"manifest.csv": manifest, "enrollments.csv": enrollments}))
    assert resp.status_code == 200, _text(resp)
    assert _people(db)["u-s1"].pupil.class_id is None


def test_a_delta_naming_people_nobody_knows_is_refused(db, admin_client):
    assert upload(admin_client, make_zip(files())).status_code == 200
    enrollments = ("sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,"
                   "beginDate,endDate\ne9,active,2026-11-20T10:00:00.000Z,c-4,org-1,u-ghost,student,,,\n"
                   "e8,active,2026-11-20T10:00:00.000Z,c-ghost,org-1,u-s1,student,,,\n")
    resp = upload(admin_client, make_zip({"manifest.csv": DELTA_MANIFEST, "enrollments.csv": enrollments,
                                          "users.csv": USERS_HEADER}))
    text = _text(resp)
    assert resp.status_code == 400
    assert "enrollments.csv row 2: userSourcedId u-ghost is not a user in users.csv or in Countersign." in text
    assert "enrollments.csv row 3: classSourcedId c-ghost is not a class in classes.csv or in Countersign." in text


def test_a_delta_never_switches_off_the_head_teacher(db, admin_client, school):
    school.head.external_id = "u-head"
    db.commit()
    users = USERS_HEADER + "u-head,tobedeleted,2026-11-20T10:00:00.000Z,true,org-1,teacher,h,,Hal,Head,,,,,,,,\n"
    manifest = DELTA_MANIFEST.replace("file.enrollments,delta", "file.enrollments,absent")
    resp = upload(admin_client, make_zip({"manifest.csv": manifest, "users.csv": users}))
    assert resp.status_code == 200 and "they were not switched off" in _text(resp)
    db.expire_all()
    assert db.get(Person, school.head.id).active is True


# ---------------------------------------------------------------- OneRoster 1.2


def test_a_oneroster_12_export_imports_with_roles_from_roles_csv(db, admin_client, school):
    _merge(db, school, True)
    resp = upload(admin_client, make_zip(files_12()))
    text = _text(resp)
    assert resp.status_code == 200, text
    assert "roles.csv row 7: role proctor is not used by Countersign; 1 person was left out." in text
    people = _people(db)
    assert "u-x1" not in people
    tamsin = people["u-t1"]  # teacher and parent, one person
    assert tamsin.role_set == {Role.TEACHER, Role.PARENT}
    assert set(db.scalars(select(GuardianLink.pupil_id).where(GuardianLink.parent_id == tamsin.id))) == \
        {people["u-s1"].id}
    assert people["u-a1"].role_set == {Role.SUPPORT_STAFF}  # the counselor role ended in 2002
    sol = people["u-s1"].pupil
    assert (sol.year_group, str(sol.date_of_birth), sol.school_class.code) == (4, "2017-03-04", "c-4")
    oak = db.scalar(select(SchoolClass).where(SchoolClass.code == "c-4"))
    assert [t.teacher_id for t in oak.teachers] == [tamsin.id]  # the proctor is not a class teacher
    assert "Nothing was created or updated." in _text(upload(admin_client, make_zip(files_12())))


def test_a_oneroster_12_user_with_two_roles_keeps_the_primary_one_when_the_school_says_so(db, admin_client):
    resp = upload(admin_client, make_zip(files_12()))
    text = _text(resp)
    assert resp.status_code == 200
    assert "users.csv row 2: this person is both staff and a parent; only the staff role was imported." in text
    assert _people(db)["u-t1"].role_set == {Role.TEACHER}


@pytest.mark.parametrize(("override", "message"), [
    ({"roles.csv": ROLES_12.replace(",aide,", ",wizard,")}, "roles.csv row 5: role 'wizard' is not one of"),
    ({"roles.csv": ROLES_12.replace("r3,,,u-s1,primary,student,,,org-1,", "r3,,,u-s1,primary,student,,,org-9,")},
     "roles.csv row 4: orgSourcedId names org-9, which is not in orgs.csv."),
    ({"roles.csv": ROLES_12 + "r9,,,u-nobody,primary,teacher,,,org-1,\n"},
     "roles.csv row 8: userSourcedId u-nobody is not a user in users.csv."),
    ({"roles.csv": None}, "roles.csv is missing: in OneRoster 1.2"),
    ({"roles.csv": ROLES_12.replace("r4,,,u-a1,primary,aide,,,org-1,\n", "").replace(
        "r5,,,u-a1,secondary,counselor,2001-09-01,2002-07-20,org-1,\n", "")},
     "users.csv row 4: no role for this user in roles.csv."),
    ({"users.csv": USERS_12.replace("u-s1,,,true,s1,,Sol", "u-s1,,,true,s1,,")},
     "users.csv row 3: given_name is required."),
])
def test_a_bad_oneroster_12_export_is_refused_by_file_and_row(db, admin_client, override, message):
    resp = upload(admin_client, make_zip(files_12(**override)))
    assert resp.status_code == 400 and message in _text(resp)
    assert db.scalar(select(func.count()).select_from(SchoolClass)) == 0


def test_the_version_is_read_from_the_manifest_or_the_files():
    enc = {k: v.encode() for k, v in files_12().items()}
    assert read_dataset(enc).version == "1.2"
    del enc["manifest.csv"]
    assert read_dataset(enc).version == "1.2"  # roles.csv is 1.2 only
    assert read_dataset({k: v.encode() for k, v in files().items()}).version == "1.1"


# ---------------------------------------------------------------- staff who are also parents (1.1)

USERS_TWICE = USERS + "u-t1p,active,,true,org-1,parent,t1p,,Tamsin,Teachwell,,,TAMSIN@fictional.example,,,u-s2,,\n"


def test_a_teacher_who_is_also_a_parent_is_reported_unless_the_school_allows_one_person(db, admin_client, school):
    resp = upload(admin_client, make_zip(files(**{"users.csv": USERS_TWICE})))
    text = _text(resp)
    assert resp.status_code == 400
    assert ("users.csv row 7: email tamsin@fictional.example is also the email of the member of staff on "
            "users.csv row 2. If they are the same person, turn on") in text
    _merge(db, school, True)
    resp = upload(admin_client, make_zip(files(**{"users.csv": USERS_TWICE})))
    assert resp.status_code == 200 and "1 member of staff is also a parent" in _text(resp)
    people = _people(db)
    assert "u-t1p" not in people
    tamsin = people["u-t1"]
    assert tamsin.role_set == {Role.TEACHER, Role.PARENT} and tamsin.account.email == "tamsin@fictional.example"
    assert set(db.scalars(select(GuardianLink.pupil_id).where(GuardianLink.parent_id == tamsin.id))) == \
        {people["u-s2"].id}
    oak = db.scalar(select(SchoolClass).where(SchoolClass.code == "c-4"))
    assert [t.teacher_id for t in oak.teachers] == [tamsin.id]
    counts = [db.scalar(select(func.count()).select_from(m)) for m in (Person, GuardianLink, ClassTeacher)]
    assert upload(admin_client, make_zip(files(**{"users.csv": USERS_TWICE}))).status_code == 200
    assert [db.scalar(select(func.count()).select_from(m)) for m in (Person, GuardianLink, ClassTeacher)] == counts


def test_the_setting_is_on_the_oneroster_page_for_settings_managers(db, school, make_person, login_as):
    head = login_as(school.head)
    page = head.get("/portal/lms/oneroster").get_data(as_text=True)
    assert "Staff who are also parents" in page
    assert head.post("/portal/lms/oneroster/settings", data={"roster_merge_same_email": "y"}).status_code == 302
    db.expire_all()
    assert school.roster_merge_same_email is True
    teacher = login_as(make_person(Role.TEACHER))
    assert teacher.post("/portal/lms/oneroster/settings", data={}).status_code == 403
    db.expire_all()
    assert school.roster_merge_same_email is True


def test_the_cli_prints_warnings(app, db, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    for name, text in files(**{"demographics.csv": None}).items():
        (folder / name).write_text(text)
    result = app.test_cli_runner().invoke(args=["portal", "import-oneroster", str(folder)])
    assert result.exit_code == 0, result.output
    assert "2 pupil(s) had no birth date" in result.output


def test_a_zip_with_the_other_spec_files_is_fine(db, admin_client):
    data = make_zip({**files_12(), "userProfiles.csv": "sourcedId,status\n"})
    assert zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert upload(admin_client, data).status_code == 200
    assert db.scalar(select(func.count()).select_from(PupilProfile)) == 1


def test_org_of_another_school_in_a_12_export_is_left_out(db, admin_client):
    orgs = ORGS_12 + "org-2,,,Other Academy,school,,\n"
    users = USERS_12 + "u-o1,,,true,o1,,Oona,Elsewhere,,,,,,,05,,,,,,,org-2,\n"
    roles = ROLES_12 + "r9,,,u-o1,primary,student,,,org-2,\n"
    from portal.schools.models import School

    school = db.scalar(select(School))
    school.name = "Fictional Primary"
    db.commit()
    resp = upload(admin_client, make_zip(files_12(**{"orgs.csv": orgs, "users.csv": users, "roles.csv": roles})))
    assert resp.status_code == 200, _text(resp)
    assert "u-o1" not in _people(db)


def test_dates_of_roles(db, admin_client):
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    roles = ROLES_12.replace("r4,,,u-a1,primary,aide,,,org-1,", f"r4,,,u-a1,primary,aide,{future},,org-1,")
    resp = upload(admin_client, make_zip(files_12(**{"roles.csv": roles})))
    assert resp.status_code == 200
    assert "u-a1" not in _people(db)  # their role has not started yet
    assert db.scalar(select(func.count()).select_from(Person).where(Person.given_name == "Ari")) == 0
    assert ORGS  # the 1.1 fixtures are shared with tests/test_oneroster.py
    assert CLASSES and ENROLLMENTS
