"""School isolation is enforced in one place (portal/schools/isolation.py), not in each query.

The first test lists every mapped table: each is school-owned (guarded) or on the short, reasoned
list of installation-wide tables. The others show the guard working: reads, ``Session.get``,
writes, moves, bulk inserts, and a session with no school at all.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, update

import portal.models  # noqa: F401  (every model registered)
from portal.db import Base
from portal.people.models import Person, Role, SchoolClass
from portal.policies.models import SignedText
from portal.schools.isolation import (
    GLOBAL_TABLES,
    SchoolOwned,
    ScopeError,
    all_schools,
    school_scope,
    schools_scope,
    set_school,
)
from tests.schools import DEFAULT_SCHOOL_ID, as_school


def test_every_table_is_school_owned_or_listed_as_installation_wide():
    owned = {m.local_table.name for m in Base.registry.mappers if issubclass(m.class_, SchoolOwned)}
    problems = []
    for table in Base.metadata.sorted_tables:
        has_school = "school_id" in table.c
        if table.name in owned and not has_school:
            problems.append(f"{table.name}: SchoolOwned without a school_id column")
        if has_school and table.name not in owned:
            problems.append(f"{table.name}: has school_id but is not SchoolOwned (its rows would not be guarded)")
        if table.name not in owned and table.name not in GLOBAL_TABLES:
            problems.append(f"{table.name}: neither school-owned nor listed in GLOBAL_TABLES (with a reason)")
    assert not problems, "\n".join(problems)
    assert set(GLOBAL_TABLES) <= {t.name for t in Base.metadata.sorted_tables}, "GLOBAL_TABLES names a lost table"
    # The guard is the mapper class, so child rows (versions, messages, entries...) are guarded too.
    assert {"portal_policy_versions", "portal_concern_messages", "portal_classroom_entries",
            "portal_guardian_links", "portal_audit_log"} <= owned


@pytest.fixture
def two_schools(db, make_school, make_person, make_class):
    a_teacher = make_person(Role.TEACHER, given="Ada", family="Alder")
    a_class = make_class(year_group=3, name="Alder Class")
    other = make_school("birch-school")
    with as_school(other.id):
        b_teacher = make_person(Role.TEACHER, given="Bea", family="Birch")
        b_class = make_class(year_group=3, name="Birch Class")
    return a_teacher, a_class, other, b_teacher, b_class


def test_queries_see_only_the_school_in_scope(db, two_schools):
    a_teacher, a_class, other, b_teacher, b_class = two_schools
    names = set(db.scalars(select(Person.family_name)))
    assert "Alder" in names and "Birch" not in names
    assert db.scalar(select(func.count(SchoolClass.id))) == 1
    # A join or a filter by another school's id finds nothing either.
    assert db.scalar(select(Person).where(Person.id == b_teacher.id)) is None
    with as_school(other.id):
        assert set(db.scalars(select(Person.family_name))) == {"Birch"}
    with schools_scope(db, [DEFAULT_SCHOOL_ID, other.id]):
        assert {"Alder", "Birch"} <= set(db.scalars(select(Person.family_name)))


def test_session_get_never_returns_another_schools_row_even_from_the_identity_map(db, two_schools):
    a_teacher, a_class, other, b_teacher, b_class = two_schools
    # b_teacher is in this session's identity map (made above), yet get() refuses it here.
    assert db.get(Person, b_teacher.id) is None
    assert db.get(SchoolClass, b_class.id) is None
    assert db.get(Person, a_teacher.id) is a_teacher


def test_writes_into_another_school_or_moves_between_schools_are_refused(db, two_schools):
    a_teacher, a_class, other, b_teacher, b_class = two_schools
    db.add(SchoolClass(code="X1", name="Smuggled", year_group=2, school_id=other.id))
    with pytest.raises(ScopeError, match="another school"):
        db.flush()
    db.rollback()
    a_class = db.get(SchoolClass, a_class.id)
    a_class.school_id = other.id
    with pytest.raises(ScopeError, match="cannot move"):
        db.flush()
    db.rollback()
    # A bulk UPDATE is limited to the school in scope too.
    db.execute(update(SchoolClass).values(name="Renamed"))
    db.commit()
    with as_school(other.id):
        assert db.scalar(select(SchoolClass.name)) == "Birch Class"


def test_new_rows_take_the_school_in_scope(db, make_school):
    other = make_school("cedar-school")
    with as_school(other.id):
        cls = SchoolClass(code="C1", name="Cedar Class", year_group=1)
        db.add(cls)
        db.commit()
    assert cls.school_id == other.id


def test_an_orm_insert_must_name_a_school_in_scope(db, make_school):
    other = make_school("hazel-school")
    row = {"sha256": "a" * 64, "version_id": 1, "title": "t", "body_html": "", "questions": ""}
    with pytest.raises(ScopeError, match="must give school_id"):
        db.execute(insert(SignedText).values(**row))
    with pytest.raises(ScopeError, match="outside the school"):
        db.execute(insert(SignedText).values(school_id=other.id, **row))
    db.rollback()


def test_no_school_in_scope_means_no_school_data_at_all(db, make_person):
    make_person(Role.PARENT)
    set_school(db, None)
    with pytest.raises(ScopeError, match="no school is chosen"):
        db.scalars(select(Person)).all()
    with pytest.raises(ScopeError, match="no school is chosen"):
        db.get(Person, 1)
    db.add(SchoolClass(code="Z9", name="Nowhere", year_group=1))
    with pytest.raises(ScopeError):
        db.flush()
    db.rollback()
    # System look-ups say so explicitly.
    with all_schools(db):
        assert db.scalar(select(func.count(Person.id))) >= 1
    with school_scope(db, DEFAULT_SCHOOL_ID):
        assert db.scalar(select(func.count(Person.id))) >= 1


def test_no_school_in_scope_refuses_school_tables_hidden_in_exists_unions_and_core_selects(db, make_person):
    """The guard looks through the statement's tables, not only its top-level entities."""
    from sqlalchemy import exists, literal, union_all

    from portal.people.models import CapabilityGrant
    from portal.schools.models import DeputyDsl, Trust

    person = make_person(Role.TEACHER)
    set_school(db, None)
    hidden = {
        "EXISTS": select(literal(1)).where(exists().where(DeputyDsl.person_id == person.id)),
        "UNION ALL": union_all(select(literal("x")), select(CapabilityGrant.capability)),
        "Core select": select(Person.__table__.c.given_name),
        "scalar subquery": select(literal(1)).where(
            select(func.count()).select_from(SchoolClass).scalar_subquery() > 0),
    }
    for name, stmt in hidden.items():
        try:
            db.execute(stmt).all()
        except ScopeError as exc:
            assert "no school is chosen" in str(exc), name
        else:
            pytest.fail(f"{name}: ran with no school chosen")
        db.rollback()
    # Installation-wide tables stay readable, and a statement may say it needs no school.
    assert db.execute(select(func.count()).select_from(Trust)).scalar() >= 0
    stmt = hidden["EXISTS"].execution_options(portal_unscoped_ok=True)
    assert db.execute(stmt).all() is not None


def test_relationship_loads_stay_in_the_school(db, two_schools, make_pupil, make_parent):
    """A guardian link cannot lead into another school: lazy loads carry the criteria too."""
    a_teacher, a_class, other, b_teacher, b_class = two_schools
    with as_school(other.id):
        b_child = make_pupil(year_group=3, school_class=b_class, given="Bryn")
        b_parent = make_parent(b_child, given="Bron")
    db.expire_all()
    assert db.get(Person, b_parent.id) is None
    assert db.scalars(select(SchoolClass).where(SchoolClass.id == b_class.id)).all() == []
