"""Family links: declaring, re-confirming each year, parents' answers, decisions, the register."""
from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.links.models import FamilyLinkDeclaration, LinkConfirmation
from portal.links.operations import current_academic_year
from portal.people.models import Role

TASK = b"Declare any family links with pupils"


@pytest.fixture
def pupils(make_class, make_pupil):
    cls = make_class(year_group=4, name="Year 4 Larches")
    other = make_class(year_group=9, name="Form 9Q")
    return {
        "nell": make_pupil(year_group=4, school_class=cls, given="Nell"),
        "bram": make_pupil(year_group=9, school_class=other, given="Bram"),
    }


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count(model.id)))


def _declare(client, pupil, relationship="aunt_uncle", note="my niece"):
    return client.post("/portal/links/declare", data={
        "q": pupil.family_name, "pupil_id": pupil.id, "relationship": relationship, "note": note})


def test_staff_find_a_pupil_by_name_and_class_and_declare(app, db, school, make_person, pupils, login_as):
    """A teacher searches (name and class only), declares, and the home-page task goes away."""
    teacher = make_person(Role.TEACHER, given="Tilda")
    client = login_as(teacher)
    assert TASK in client.get("/portal/staff/").data
    nell = pupils["nell"]
    page = client.get(f"/portal/links/?q={nell.family_name}").get_data(as_text=True)
    assert f"{nell.full_name} (Year 4 Larches)" in page
    assert "Bram" not in page and "2016" not in page  # no other pupils, no dates of birth
    by_class = client.get("/portal/links/?q=Larches").get_data(as_text=True)
    assert nell.full_name in by_class and "Bram" not in by_class
    # One letter is not a search: it would list the school. The page says so in words (the browser's own
    # "lengthen this text" bubble was all there was, and a walk in Chromium saw nothing happen).
    one = client.get("/portal/links/?q=P").get_data(as_text=True)
    assert nell.full_name not in one and "Type at least 2 letters of the name." in one
    assert 'minlength="2"' not in one and "No pupils match" not in one

    resp = _declare(client, nell)
    assert resp.status_code == 302
    decl = db.scalar(select(FamilyLinkDeclaration))
    assert (decl.adult_id, decl.pupil_id, decl.status, decl.source) == (teacher.id, nell.id, "pending", "adult")
    assert decl.academic_year == current_academic_year()
    assert TASK not in client.get("/portal/staff/").data
    mine = client.get("/portal/links/").get_data(as_text=True)
    assert nell.full_name in mine and "Waiting for a decision" in mine


@pytest.mark.parametrize("role", [Role.VOLUNTEER, Role.CONTRACTOR, Role.GOVERNOR])
def test_volunteers_contractors_and_governors_type_the_name_and_never_see_pupils(
        app, db, school, make_person, pupils, login_as, role):
    adult = make_person(role, given="Vic")
    client = login_as(adult)
    page = client.get(f"/portal/links/?q={pupils['nell'].family_name}").get_data(as_text=True)
    assert pupils["nell"].full_name not in page and "Year 4 Larches" not in page
    assert 'name="pupil_name"' in page
    # A pupil id smuggled into the form is ignored: only typed words are stored.
    resp = client.post("/portal/links/declare", data={
        "pupil_id": pupils["nell"].id, "pupil_name": "Nell Someone", "pupil_class": "Year 4",
        "relationship": "grandparent", "note": ""})
    assert resp.status_code == 302
    decl = db.scalar(select(FamilyLinkDeclaration))
    assert decl.pupil_id is None and decl.adult_id == adult.id
    assert (decl.typed_pupil_name, decl.typed_pupil_class) == ("Nell Someone", "Year 4")
    # The Head Teacher sees who declared it and what was typed, in their own language.
    head = login_as(school.head)
    for page in (head.get("/portal/links/register"), head.get(f"/portal/links/declarations/{decl.id}")):
        text = html.unescape(page.get_data(as_text=True))
        assert adult.full_name in text and "Nell Someone, Year 4 (typed, not matched)" in text and "None (" not in text
    school.head.account.language = "cy"
    db.commit()
    text = html.unescape(head.get("/portal/links/register").get_data(as_text=True))
    assert "Nell Someone, Year 4 (wedi'i deipio, heb ei baru)" in text


def test_a_match_in_another_year_group_than_the_one_typed_is_marked(app, db, school, make_person, make_class,
                                                                  make_pupil, login_as):
    """Walk finding: "Milo (my grandson), Year 2" was offered only "Milo Rookwood (Year 4 Kestrels)", with nothing
    to say the year group differed from the one typed."""
    from portal.links import operations as ops

    y4 = make_pupil(year_group=4, school_class=make_class(year_group=4, name="Year 4 Kestrels"), given="Milo")
    y2 = make_pupil(year_group=2, school_class=make_class(year_group=2, name="Year 2 Wrens"), given="Milo")
    volunteer = make_person(Role.VOLUNTEER, given="Vera")
    assert login_as(volunteer).post("/portal/links/declare", data={
        "pupil_name": "Milo", "pupil_class": "Year 2", "relationship": "grandparent", "note": ""}).status_code == 302
    decl = db.scalar(select(FamilyLinkDeclaration))
    page = html.unescape(login_as(school.head).get(f"/portal/links/declarations/{decl.id}").get_data(as_text=True))
    assert f"{y4.full_name} (Year 4 Kestrels) – not the year group typed" in page
    assert f"{y2.full_name} (Year 2 Wrens)<" in page  # the year typed: no mark
    assert [ops.typed_year(t) for t in ("Year 2", "y 11", "Yr10", "Reception class", "the Owls", None)] == \
        [2, 11, 10, 0, None, None]


@pytest.mark.parametrize("data, message", [
    ({"relationship": "", "note": ""}, "Choose the relationship."),
    ({"relationship": "uncle-ish", "note": ""}, "Not a valid choice"),
    ({"relationship": "other", "note": ""}, "Say what the relationship is."),
    ({"relationship": "cousin", "note": "x" * 501}, "under 500 characters"),
    ({"relationship": "cousin", "note": "", "pupil_id": "0"}, "Search for the pupil and choose them."),
    ({"relationship": "cousin", "note": "", "q": "Bram"}, "Search for the pupil and choose them."),
])
def test_bad_declarations_are_refused_and_nothing_is_written(app, db, school, make_person, pupils, login_as,
                                                             data, message):
    teacher = make_person(Role.TEACHER)
    nell = pupils["nell"]
    form = {"q": nell.family_name, "pupil_id": nell.id, **data}
    if data.get("q") == "Bram":  # a pupil not in the search that was made
        form["q"] = "Larches"
        form["pupil_id"] = pupils["bram"].id
    resp = login_as(teacher).post("/portal/links/declare", data=form)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert _count(db, FamilyLinkDeclaration) == 0
    assert db.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "links.declared")) == 0


def test_typed_declaration_needs_name_and_class(app, db, school, make_person, login_as):
    volunteer = make_person(Role.VOLUNTEER)
    resp = login_as(volunteer).post("/portal/links/declare", data={
        "pupil_name": " ", "pupil_class": "", "relationship": "cousin"})
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert "Enter the pupil's name." in html.unescape(text) and "class or year group" in text
    assert _count(db, FamilyLinkDeclaration) == 0


def test_confirming_none_clears_the_task_for_this_year_only(app, db, school, make_person, login_as):
    """Re-confirmation is yearly: last year's answer does not count this year."""
    adult = make_person(Role.SUPPORT_STAFF)
    year = current_academic_year()
    db.add(LinkConfirmation(person_id=adult.id, context="adult", academic_year=year - 1, has_links=False))
    db.commit()
    client = login_as(adult)
    assert TASK in client.get("/portal/staff/").data
    assert b"I have no family links with any pupil" in client.get("/portal/links/").data
    assert client.post("/portal/links/confirm").status_code == 302
    assert TASK not in client.get("/portal/staff/").data
    conf = db.scalar(select(LinkConfirmation).where(LinkConfirmation.academic_year == year))
    assert conf.has_links is False
    # Confirming twice keeps one answer.
    client.post("/portal/links/confirm")
    assert _count(db, LinkConfirmation) == 2


def test_an_adult_with_approved_links_reconfirms_them_each_year(app, db, school, make_person, pupils, login_as):
    adult = make_person(Role.TEACHER)
    year = current_academic_year()
    db.add(FamilyLinkDeclaration(source="adult", declared_by_id=adult.id, adult_id=adult.id,
                                 pupil_id=pupils["nell"].id, relationship_kind="parent", academic_year=year - 1,
                                 status="approved", decided_by_id=school.head.id))
    db.add(LinkConfirmation(person_id=adult.id, context="adult", academic_year=year - 1, has_links=True))
    db.commit()
    client = login_as(adult)
    assert TASK in client.get("/portal/staff/").data
    page = client.get("/portal/links/").get_data(as_text=True)
    assert "My links listed below are complete and correct" in page and pupils["nell"].full_name in page
    client.post("/portal/links/confirm")
    assert TASK not in client.get("/portal/staff/").data
    assert db.scalar(select(LinkConfirmation).where(LinkConfirmation.academic_year == year)).has_links is True
    # The register shows when the adult last confirmed.
    assert "Adult last confirmed" in login_as(school.head).get("/portal/links/register").get_data(as_text=True)


def test_head_declines_with_a_reason_and_the_adult_sees_it(app, db, school, make_person, pupils, login_as):
    teacher = make_person(Role.TEACHER)
    _declare(login_as(teacher), pupils["nell"])
    decl = db.scalar(select(FamilyLinkDeclaration))
    head = login_as(school.head)
    assert b'Family links to decide <span class="visually-hidden">(1)</span>' in head.get("/portal/staff/").data
    resp = head.post(f"/portal/links/declarations/{decl.id}", data={"decision": "decline", "reason": ""})
    assert resp.status_code == 400 and b"Give a reason when you decline." in resp.data
    db.expire_all()
    assert db.get(FamilyLinkDeclaration, decl.id).status == "pending"
    resp = head.post(f"/portal/links/declarations/{decl.id}",
                     data={"decision": "decline", "reason": "Please give your niece's full name."})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(FamilyLinkDeclaration, decl.id).status == "declined"
    mine = login_as(teacher).get("/portal/links/").get_data(as_text=True)
    assert "Declined" in mine and "Please give your niece" in mine
    # Walk finding: the register had no list of what was declined; approvers now see the last 12 months.
    register = head.get("/portal/links/register").get_data(as_text=True)
    declined = register.split('id="declined-heading"')[1]
    assert "1 declined declaration, newest first" in declined and "Please give your niece" in declined
    assert teacher.full_name in declined and pupils["nell"].full_name in declined
    assert "No links have been approved." in register.split('id="declined-heading"')[0]
    assert "those declined in the last 12 months" in register
    view = head.get(f"/portal/links/declarations/{decl.id}").get_data(as_text=True)
    assert "<h1>A decided family link declaration</h1>" in view and "Record decision" not in view
    # Walk finding: "2 Nov 2026 (2026-27)" read oddly; the school year is said in words.
    from portal.people.models import academic_year_label

    year = academic_year_label(decided_year := db.get(FamilyLinkDeclaration, decl.id).academic_year)
    assert decided_year and f", for the {year} school year</dd>" in view and f"({year})" not in view
    # Walk finding: the declarer was never told; now their home says so for two weeks.
    home = login_as(teacher).get("/portal/staff/").get_data(as_text=True)
    assert ('<a href="/portal/links/">The Head Teacher has decided on a family link you told us about: see the '
            'decision</a>') in home
    decided = db.get(FamilyLinkDeclaration, decl.id)
    decided.decided_at -= dt.timedelta(days=15)
    db.commit()
    assert "has decided on a family link" not in login_as(teacher).get("/portal/staff/").get_data(as_text=True)
    decided.decided_at -= dt.timedelta(days=351)
    db.commit()
    assert "Nothing has been declined in the last 12 months." in head.get("/portal/links/register").get_data(
        as_text=True)
    # Decided once: a second decision changes nothing.
    head.post(f"/portal/links/declarations/{decl.id}", data={"decision": "approve", "reason": ""})
    db.expire_all()
    assert db.get(FamilyLinkDeclaration, decl.id).status == "declined"
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action.like("links.%")).order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["links.declared", "links.declined"]
    for e in entries:  # no free text in the audit log
        assert "niece" not in str(e.data)


def test_head_matches_a_typed_pupil_before_approving(app, db, school, make_person, pupils, login_as):
    volunteer = make_person(Role.VOLUNTEER)
    nell = pupils["nell"]
    login_as(volunteer).post("/portal/links/declare", data={
        "pupil_name": f"{nell.given_name} {nell.family_name}", "pupil_class": "Year 4",
        "relationship": "grandparent"})
    decl = db.scalar(select(FamilyLinkDeclaration))
    head = login_as(school.head)
    page = head.get(f"/portal/links/declarations/{decl.id}").get_data(as_text=True)
    assert f"{nell.full_name} (Year 4 Larches)" in page and "Bram" not in page
    resp = head.post(f"/portal/links/declarations/{decl.id}", data={"decision": "approve"})
    assert resp.status_code == 400 and b"Match the pupil before approving" in resp.data
    resp = head.post(f"/portal/links/declarations/{decl.id}", data={"decision": "approve",
                                                                    "pupil_id": pupils["bram"].id})
    assert resp.status_code == 400 and b"Choose a pupil from the list." in resp.data
    resp = head.post(f"/portal/links/declarations/{decl.id}", data={"decision": "approve", "pupil_id": nell.id})
    assert resp.status_code == 302
    db.expire_all()
    decl = db.get(FamilyLinkDeclaration, decl.id)
    assert (decl.status, decl.pupil_id, decl.decided_by_id) == ("approved", nell.id, school.head.id)


def test_nobody_decides_on_their_own_declaration(app, db, school, pupils, login_as):
    head = login_as(school.head)
    head.post("/portal/links/declare", data={"q": "Larches", "pupil_id": pupils["nell"].id,
                                             "relationship": "parent"})
    decl = db.scalar(select(FamilyLinkDeclaration))
    resp = head.post(f"/portal/links/declarations/{decl.id}", data={"decision": "approve"})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(FamilyLinkDeclaration, decl.id).status == "pending"


def test_declarations_are_private_to_the_declaring_adult(app, db, school, make_person, pupils, login_as):
    alice = make_person(Role.TEACHER, given="Alys")
    bob = make_person(Role.TEACHER, given="Bryn")
    _declare(login_as(alice), pupils["nell"], note="secret-note-alys")
    decl = db.scalar(select(FamilyLinkDeclaration))
    bob_client = login_as(bob)
    page = bob_client.get("/portal/links/").get_data(as_text=True)
    assert "secret-note-alys" not in page and pupils["nell"].full_name not in page
    for path in ("/portal/links/register", "/portal/links/register.csv", f"/portal/links/declarations/{decl.id}"):
        resp = bob_client.get(path)
        assert resp.status_code in (403, 404), path
        assert b"secret-note-alys" not in resp.data


def test_parents_and_pupils_never_reach_links(app, db, school, make_pupil, make_parent, login_as):
    child = make_pupil(year_group=8, given="Cai", email="cai@test.example", password="pupil password 1")
    parent = make_parent(child)
    for who in (parent, child):
        client = login_as(who)
        for path in ("/portal/links/", "/portal/links/register", "/portal/links/register.csv"):
            assert client.get(path).status_code == 403, path
    assert login_as(child).get("/portal/links/relative").status_code == 403


def test_register_and_csv_for_head_and_dsl(app, db, school, make_person, pupils, login_as):
    teacher = make_person(Role.TEACHER, given="Tilda", family="Oddie")
    _declare(login_as(teacher), pupils["nell"], relationship="aunt_uncle", note="=HYPERLINK(\"x\")")
    _declare(login_as(teacher), pupils["bram"], relationship="cousin", note="")
    first, second = db.scalars(select(FamilyLinkDeclaration).order_by(FamilyLinkDeclaration.id)).all()
    head = login_as(school.head)
    head.post(f"/portal/links/declarations/{first.id}", data={"decision": "approve", "reason": ""})
    # The second stays pending: it is not in the register.
    for who in (school.head, school.dsl_person):
        client = login_as(who)
        page = client.get("/portal/links/register").get_data(as_text=True)
        assert pupils["nell"].full_name in page
        resp = client.get("/portal/links/register.csv")
        assert resp.status_code == 200 and resp.mimetype == "text/csv"
        assert "attachment" in resp.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
        assert rows[0][:6] == ["Adult", "Adult's roles", "Pupil", "Class", "Relationship", "Note"]
        assert len(rows) == 2
        row = dict(zip(rows[0], rows[1], strict=True))
        assert row["Adult"] == "Tilda Oddie" and row["Adult's roles"] == "Teacher"
        assert row["Pupil"] == pupils["nell"].full_name and row["Class"] == "Year 4 Larches"
        assert row["Relationship"] == "Aunt or uncle"
        assert row["Note"] == "'=HYPERLINK(\"x\")"  # never a live formula
        assert row["Approved by"] == school.head.full_name
    # The DSL sees the register but does not decide.
    dsl = login_as(school.dsl_person)
    dsl_page = dsl.get("/portal/links/register").data
    assert b"Waiting for a decision" not in dsl_page and b"Declined in the last 12 months" not in dsl_page
    assert dsl.get(f"/portal/links/declarations/{second.id}").status_code == 403
    assert db.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "links.exported")) == 2


def test_a_delegate_with_links_approve_decides(app, db, school, make_person, pupils, login_as):
    from portal.people.models import CapabilityGrant

    deputy = make_person(Role.TEACHER, given="Dora")
    db.add(CapabilityGrant(person_id=deputy.id, capability="links.approve", granted_by_id=school.head.id))
    db.commit()
    _declare(login_as(make_person(Role.SUPPORT_STAFF)), pupils["bram"])
    decl = db.scalar(select(FamilyLinkDeclaration))
    resp = login_as(deputy).post(f"/portal/links/declarations/{decl.id}", data={"decision": "approve"})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(FamilyLinkDeclaration, decl.id).decided_by_id == deputy.id


def test_parent_task_until_answered_once(app, db, school, make_pupil, make_parent, login_as):
    child = make_pupil(year_group=2, given="Ada")
    parent = make_parent(child)
    client = login_as(parent)
    assert b"Tell us if an adult who works at the school is your relative" in client.get("/portal/parent/").data
    assert client.post("/portal/links/relative", data={"answer": "no"}).status_code == 302
    home = client.get("/portal/parent/").get_data(as_text=True)
    assert "your relative" not in home
    # Walk finding: "You can tell us later if this changes", but the page was then linked from nowhere.
    assert '<a href="/portal/links/relative">Relatives at the school</a>' in home
    assert db.scalar(select(LinkConfirmation)).context == "parent"


def test_parent_names_a_member_of_staff(app, db, school, make_person, make_pupil, make_parent, login_as):
    child = make_pupil(year_group=2, given="Ada")
    other_child = make_pupil(year_group=2, given="Zed")
    parent = make_parent(child)
    uncle = make_person(Role.TEACHER, given="Ulric")
    client = login_as(parent)
    page = client.get("/portal/links/relative").get_data(as_text=True)
    assert uncle.full_name in page and "Zed" not in page
    bad = [
        ({"answer": "yes", "pupil_id": other_child.id, "adult_id": uncle.id, "relationship": "aunt_uncle"},
         "Choose which child."),
        ({"answer": "yes", "pupil_id": child.id, "relationship": "aunt_uncle"}, "Choose the adult"),
        ({"answer": "yes", "pupil_id": child.id, "adult_id": uncle.id, "adult_name": "Someone",
          "relationship": "aunt_uncle"}, "not both"),
        ({"answer": "yes", "pupil_id": child.id, "adult_id": uncle.id, "relationship": ""},
         "Choose the relationship."),
        ({"answer": "maybe"}, "Not a valid choice"),
        ({}, "Choose yes or no."),
    ]
    for data, message in bad:
        resp = client.post("/portal/links/relative", data=data)
        assert resp.status_code == 400 and message in resp.get_data(as_text=True), data
    assert _count(db, FamilyLinkDeclaration) == 0 and _count(db, LinkConfirmation) == 0
    resp = client.post("/portal/links/relative", data={"answer": "yes", "pupil_id": child.id, "adult_id": uncle.id,
                                                       "relationship": "aunt_uncle"})
    assert resp.status_code == 302
    decl = db.scalar(select(FamilyLinkDeclaration))
    assert (decl.source, decl.declared_by_id, decl.adult_id, decl.pupil_id) == ("parent", parent.id, uncle.id,
                                                                              child.id)
    assert b"your relative" not in client.get("/portal/parent/").data
    # The named adult does not see the parent's declaration as their own.
    assert child.full_name not in login_as(uncle).get("/portal/links/").get_data(as_text=True)
    # A typed name is matched by the Head Teacher.
    client.post("/portal/links/relative", data={"answer": "yes", "pupil_id": child.id, "adult_name": "Mo Cleaner",
                                                "relationship": "cousin"})
    typed = db.scalars(select(FamilyLinkDeclaration).order_by(FamilyLinkDeclaration.id.desc())).first()
    head = login_as(school.head)
    resp = head.post(f"/portal/links/declarations/{typed.id}", data={"decision": "approve"})
    assert resp.status_code == 400 and b"Match the adult before approving" in resp.data
    # Matched to the uncle, it would be the same link as the declaration above: said, not saved.
    resp = head.post(f"/portal/links/declarations/{typed.id}", data={"decision": "approve", "adult_id": uncle.id})
    assert resp.status_code == 400 and b"already has a declaration with this pupil" in resp.data
    cleaner = make_person(Role.SUPPORT_STAFF, given="Mo", family="Cleaner")
    resp = head.post(f"/portal/links/declarations/{typed.id}", data={"decision": "approve", "adult_id": cleaner.id})
    assert resp.status_code == 302


def test_the_same_pupil_cannot_be_declared_twice(app, db, school, make_person, pupils, login_as):
    teacher = make_person(Role.TEACHER)
    client = login_as(teacher)
    assert _declare(client, pupils["nell"]).status_code == 302
    resp = _declare(client, pupils["nell"], relationship="cousin")
    assert resp.status_code == 400 and b"already declared a link with this pupil" in resp.data
    assert _count(db, FamilyLinkDeclaration) == 1


def test_an_approver_cannot_match_a_typed_declaration_to_themselves(app, db, school, make_pupil, make_parent,
                                                                    login_as):
    child = make_pupil(year_group=2, given="Ada")
    parent = make_parent(child)
    login_as(parent).post("/portal/links/relative", data={
        "answer": "yes", "pupil_id": child.id, "adult_name": school.head.full_name, "relationship": "cousin"})
    decl = db.scalar(select(FamilyLinkDeclaration))
    resp = login_as(school.head).post(f"/portal/links/declarations/{decl.id}",
                                      data={"decision": "approve", "adult_id": school.head.id})
    assert resp.status_code == 400 and b"cannot decide on a link about yourself" in resp.data
    db.expire_all()
    assert db.get(FamilyLinkDeclaration, decl.id).status == "pending"


def test_the_register_shows_fifty_links_a_page_and_the_csv_has_them_all(app, db, school, make_person, make_class,
                                                                        make_pupil, login_as):
    """A big school's register is read a page at a time, by the adult's family name; the CSV is whole."""
    cls = make_class(year_group=7, name="Form 7P")
    pupil = make_pupil(year_group=7, school_class=cls, given="Pia")
    adults = [make_person(Role.TEACHER, given="Ada", family=f"Register{n:02d}") for n in range(53)]
    for adult in adults:
        db.add(FamilyLinkDeclaration(source="adult", declared_by_id=adult.id, adult_id=adult.id, pupil_id=pupil.id,
                                     relationship_kind="aunt_uncle", academic_year=2026, status="approved",
                                     decided_by_id=school.head.id, decided_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC)))
    db.commit()
    head = login_as(school.head)
    first = head.get("/portal/links/register").get_data(as_text=True)
    assert "53 approved family links, page 1 of 2" in first
    assert "Ada Register00" in first and "Ada Register49" in first and "Ada Register50" not in first
    assert '<nav aria-label="Pages of approved links">' in first
    assert 'href="/portal/links/register?page=2">Next page</a>' in first and "Previous page" not in first
    second = head.get("/portal/links/register?page=2").get_data(as_text=True)
    assert "53 approved family links, page 2 of 2" in second
    assert "Ada Register49" not in second and "Ada Register50" in second and "Ada Register52" in second
    assert 'href="/portal/links/register">Previous page</a>' in second and "Next page" not in second
    # A page past the end is the last page; a page that is not a number is the first.
    for past_the_end in ("99", "12345678", "9" * 5000):
        assert "Ada Register52" in head.get(f"/portal/links/register?page={past_the_end}").get_data(as_text=True)
    assert "Ada Register00" in head.get("/portal/links/register?page=two").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(head.get("/portal/links/register.csv").get_data(as_text=True))))
    assert len(rows) == 1 + 53


def test_another_relationship_shows_its_note_and_a_parent_cannot_tell_the_same_twice(
        app, db, school, make_person, make_pupil, make_parent, pupils, login_as):
    """Walk and probe findings: "Another family relationship" was shown as the instruction itself on every list
    (the note that says what it is only on the declaration's own page); a parent's relative sent three times
    made three identical declarations; a direction override in a note reached the register CSV."""
    teacher = make_person(Role.TEACHER, given="Gwen")
    client = login_as(teacher)
    assert _declare(client, pupils["nell"], relationship="other", note="God\u202eparent").status_code == 302
    decl = db.scalar(select(FamilyLinkDeclaration))
    assert decl.note == "Godparent"
    mine = client.get("/portal/links/").get_data(as_text=True)
    assert "Other: Godparent" in mine and "say which in the note" not in mine
    assert _declare(client, pupils["bram"]).status_code == 302
    head = login_as(school.head)
    register = head.get("/portal/links/register").get_data(as_text=True)
    assert "Other: Godparent" in register
    # One adult, two pupils: each "Review" link names its own pupil (walk: two links read the same).
    names = re.findall(r'<span class="visually-hidden"> (the declaration about [^<]+)</span>', register)
    assert len(names) == 2 and len(set(names)) == 2, names
    # A parent telling the school about the same relative twice.
    child = make_pupil(year_group=2, given="Ada")
    parent = make_parent(child)
    client = login_as(parent)
    data = {"answer": "yes", "pupil_id": child.id, "adult_name": "Uma  Example", "relationship": "aunt_uncle"}
    assert client.post("/portal/links/relative", data=data).status_code == 302
    again = client.post("/portal/links/relative", data={**data, "adult_name": "uma example"})
    assert again.status_code == 400 and "already told us about this relative" in again.get_data(as_text=True)
    assert _count(db, FamilyLinkDeclaration) == 3  # the teacher's two and the parent's one


def test_the_declarer_is_emailed_when_the_school_decides(app, db, school, make_person, make_parent, pupils,
                                                         login_as, mailbox):
    """Walk finding: nobody was told of a decision until they next signed in, and the approver's "Decision
    recorded." named nothing. The declarer is emailed (who the link is with is not said), in their language."""
    teacher = make_person(Role.TEACHER, given="Tilda")
    _declare(login_as(teacher), pupils["nell"])
    decl = db.scalar(select(FamilyLinkDeclaration))
    head = login_as(school.head)
    resp = head.post(f"/portal/links/declarations/{decl.id}", data={"decision": "approve"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert (f"Approved: the family link between {teacher.full_name} and {pupils['nell'].full_name}." in page
            and f"{teacher.full_name} is told by email to sign in and see it." in page)
    [mail] = mailbox.to(teacher.email)
    body = mail.get_content()
    assert mail["Subject"] == "The school has decided on a family link you told us about"
    assert "/portal/links/" in body and pupils["nell"].given_name not in body and "approved" not in body.lower()
    # A parent's declaration: the link leads to their relatives page, and the email is in their language.
    child = pupils["bram"]
    parent = make_parent(child, given="Pam")
    parent.account.language = "cy"
    uncle = make_person(Role.GOVERNOR, given="Vic")
    db.commit()
    assert login_as(parent).post("/portal/links/relative", data={
        "answer": "yes", "pupil_id": child.id, "adult_id": uncle.id, "relationship": "aunt_uncle"}).status_code == 302
    told = db.scalars(select(FamilyLinkDeclaration).order_by(FamilyLinkDeclaration.id.desc())).first()
    resp = head.post(f"/portal/links/declarations/{told.id}", data={"decision": "decline", "reason": "Not known."},
                     follow_redirects=True)
    assert f"Declined: the family link between {uncle.full_name} and {child.full_name}." in resp.get_data(as_text=True)
    [mail] = mailbox.to(parent.email)
    body = mail.get_content()
    assert "/portal/links/relative" in body and "Mewngofnodwch i weld y penderfyniad" in body
