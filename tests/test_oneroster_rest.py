"""``flask portal oneroster pull``: OAuth 2 client credentials against a OneRoster-shaped REST
service the tests start on 127.0.0.1 (tests/oneroster_server.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.people.models import ClassTeacher, GuardianLink, Person, PupilProfile, Role, SchoolClass
from tests.oneroster_server import OneRosterService, as_11, roster_12


@pytest.fixture
def service():
    svc = OneRosterService(roster_12())
    svc.start()
    yield svc
    svc.stop()


def _pull(app, svc, *extra, secret=None, env=True):
    args = ["portal", "oneroster", "pull", "--url", svc.base, "--client-id", svc.client_id, *extra]
    env_vars = {"PORTAL_ONEROSTER_CLIENT_SECRET": secret or svc.secret} if env else {}
    return app.test_cli_runner().invoke(args=args, env=env_vars, input=None if env else f"{svc.secret}\n")


def _people(db):
    db.expire_all()
    return {p.external_id: p for p in db.scalars(select(Person)) if p.external_id}


def _counts(db):
    return [db.scalar(select(func.count()).select_from(m)) for m in (Person, PupilProfile, GuardianLink, SchoolClass,
                                                                     ClassTeacher)]


def test_pull_imports_the_roster_page_by_page_with_a_bearer_token(app, db, school, service):
    school.roster_merge_same_email = True
    db.commit()
    result = _pull(app, service, "--page-size", "2")
    assert result.exit_code == 0, result.output
    assert "Created" in result.output
    assert "role proctor is not used by Countersign" in result.output  # a warning, not a refusal
    assert service.token_requests == 1 and service.refused == 0
    assert service.pages["users"] == 4  # 7 users, 2 a page
    assert service.scopes_asked == ["https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly",
                                    "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly"]
    people = _people(db)
    assert "u-x1" not in people and "u-gone" not in people
    assert people["u-t1"].role_set == {Role.TEACHER, Role.PARENT}
    assert people["u-a1"].role_set == {Role.SUPPORT_STAFF}
    sol, rue = people["u-s1"], people["u-s2"]
    assert (sol.pupil.year_group, str(sol.pupil.date_of_birth), sol.pupil.school_class.code) == (4, "2017-03-04", "c-4")
    assert rue.pupil.year_group == 0
    kids_of = {p: set(db.scalars(select(GuardianLink.pupil_id).where(GuardianLink.parent_id == people[p].id)))
               for p in ("u-t1", "u-g1")}
    assert kids_of == {"u-t1": {sol.id}, "u-g1": {sol.id, rue.id}}  # agents point either way
    oak = db.scalar(select(SchoolClass).where(SchoolClass.code == "c-4"))
    assert [t.teacher_id for t in oak.teachers] == [people["u-t1"].id]
    # Pulling again changes nothing.
    counts = _counts(db)
    again = _pull(app, service)
    assert again.exit_code == 0 and "Created nothing new; updated nothing" in again.output
    assert _counts(db) == counts


def test_the_secret_can_be_typed_and_is_never_shown(app, db, service):
    result = _pull(app, service, env=False)
    assert result.exit_code == 0, result.output
    assert service.secret not in result.output


def test_a_wrong_secret_is_refused_and_writes_nothing(app, db, service):
    before = _counts(db)
    result = _pull(app, service, secret="not-the-secret")
    assert result.exit_code != 0
    assert "refused the client id or secret (HTTP 401" in result.output and "Nothing was imported" in result.output
    assert service.pages == {} and _counts(db) == before


def test_without_demographics_pupils_are_placed_by_grade(app, db, service):
    service.forbidden = {"demographics"}
    result = _pull(app, service)
    assert result.exit_code == 0, result.output
    assert "did not share demographics" in result.output and "2 pupil(s) had no birth date" in result.output
    sol = _people(db)["u-s1"].pupil
    assert sol.year_group == 4 and (sol.date_of_birth.month, sol.date_of_birth.day) == (9, 1)


def test_bad_records_are_named_by_collection_and_sourced_id(app, db, service):
    before = _counts(db)
    service.data["users"][2]["roles"][0]["role"] = "wizard"
    result = _pull(app, service)
    assert result.exit_code != 0
    assert "users record 3 (sourcedId u-s2): role 'wizard' is not one of" in result.output
    service.data["users"][2]["roles"][0]["role"] = "student"
    service.data["enrollments"].append({"sourcedId": "e9", "status": "active", "role": "student",
                                        "user": {"sourcedId": "u-nobody"}, "class": {"sourcedId": "c-4"}})
    service.data["users"].append("not an object")
    result = _pull(app, service)
    assert result.exit_code != 0 and "users record 8: not a OneRoster object." in result.output
    service.data["users"].pop()
    result = _pull(app, service)
    assert result.exit_code != 0
    assert ("enrollments record 5 (sourcedId e9): userSourcedId u-nobody is not a user in the service's users."
            in result.output)
    assert _counts(db) == before


def test_a_failing_or_odd_service_is_reported(app, db, service):
    service.forbidden = {"users"}
    result = _pull(app, service)
    assert result.exit_code != 0 and "answered HTTP 403 for users" in result.output
    service.forbidden = set()
    service.data["classes"] = {"not": "a list"}
    result = _pull(app, service)
    assert result.exit_code != 0 and "is not a OneRoster classes list" in result.output


@pytest.mark.parametrize(("url", "message"), [
    ("http://sis.fictional.example/ims/oneroster/rostering/v1p2", "use https://"),
    ("ftp://sis.fictional.example/x", "is not a web address"),
])
def test_unsafe_urls_are_refused_before_anything_is_sent(app, db, url, message):
    result = app.test_cli_runner().invoke(
        args=["portal", "oneroster", "pull", "--url", url, "--client-id", "x"],
        env={"PORTAL_ONEROSTER_CLIENT_SECRET": "s"})
    assert result.exit_code != 0 and message in result.output


def test_the_size_limit_holds_for_a_pull(app, db, service):
    app.config["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"] = 2000
    result = _pull(app, service)
    assert result.exit_code != 0 and "sent more than" in result.output
    assert _counts(db)[0] == 0


def test_a_oneroster_11_service_is_pulled_too(app, db):
    svc = OneRosterService(as_11(roster_12()), version="v1p1")
    svc.start()
    try:
        result = _pull(app, svc)
    finally:
        svc.stop()
    assert result.exit_code == 0, result.output
    assert svc.scopes_asked[0] == "https://purl.imsglobal.org/spec/or/v1p1/scope/roster.readonly"
    people = _people(db)
    assert people["u-t1"].role_set == {Role.TEACHER}  # 1.1: one role per user
    assert people["u-s1"].pupil.school_class.code == "c-4"
