"""Factory fixtures: each returns a callable that creates and commits one thing.

All names are invented for the tests.
"""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from portal.auth.passwords import hash_password
from portal.people.models import (
    Account,
    ClassTeacher,
    GuardianLink,
    Person,
    PupilProfile,
    Role,
    SchoolClass,
)
from portal.schools.models import School

PASSWORD = "correct horse battery"
_seq = itertools.count(1)

__all__ = ["PASSWORD", "make_account", "make_person", "make_class", "make_pupil", "make_parent", "make_school",
           "school"]


@pytest.fixture
def make_account(db):
    def _make(email: str, password: str | None = PASSWORD, name: str = "") -> Account:
        account = Account(email=email.lower(), password_hash=hash_password(password) if password else None,
                          display_name=name)
        db.add(account)
        db.commit()
        return account

    return _make


@pytest.fixture
def make_person(db):
    def _make(*roles: Role, given="Test", family=None, email=None, password=PASSWORD, active=True,
              account: Account | None = None) -> Person:
        """A person in the session's school; with an email and a password (or *account*) they can sign in."""
        n = next(_seq)
        person = Person(
            given_name=given,
            family_name=family or f"Person{n}",
            email=email if email is not None else f"person{n}@test.example",
            active=active,
            external_id=f"T-{n}",
        )
        if account is not None:
            person.account = account
        elif person.email and password:
            # The same address in another school is the same account (one sign-in, two schools).
            person.account = db.scalar(select(Account).where(Account.email == person.email.lower())) or \
                Account(email=person.email.lower(), password_hash=hash_password(password),
                        display_name=f"{given} {person.family_name}")
        for r in roles:
            person.add_role(r)
        db.add(person)
        db.commit()
        return person

    return _make


@pytest.fixture
def make_class(db, make_person):
    def _make(year_group: int = 1, teacher: Person | None = None, name: str | None = None) -> SchoolClass:
        n = next(_seq)
        cls = SchoolClass(code=f"C{n}", name=name or f"Class {n}", year_group=year_group)
        if teacher is not None:
            cls.teachers.append(ClassTeacher(teacher=teacher))
        db.add(cls)
        db.commit()
        return cls

    return _make


@pytest.fixture
def make_pupil(db, make_person):
    def _make(year_group: int = 1, school_class: SchoolClass | None = None, given="Pip", email=None,
              password=None, send=False) -> Person:
        person = make_person(Role.PUPIL, given=given, email=email or "", password=password)
        if not email:
            person.email = None
        db.add(PupilProfile(person_id=person.id, year_group=year_group,
                            date_of_birth=dt.date(2026 - 5 - year_group, 3, 14),
                            class_id=school_class.id if school_class else None, send=send))
        db.commit()
        db.refresh(person)
        return person

    return _make


@pytest.fixture
def make_parent(db, make_person):
    def _make(*children: Person, given="Pat", extra_roles=()) -> Person:
        parent = make_person(Role.PARENT, *extra_roles, given=given)
        for child in children:
            db.add(GuardianLink(parent_id=parent.id, pupil_id=child.id))
        db.commit()
        return parent

    return _make


@pytest.fixture
def school(db, make_person):
    """The default school, with a Head Teacher, a DSL and a chair of governors (as attributes)."""
    head = make_person(Role.TEACHER, given="Hester", family="Headley")
    dsl = make_person(Role.TEACHER, given="Desmond", family="Safeway")
    chair = make_person(Role.GOVERNOR, given="Charlotte", family="Chairwood")
    settings = School.get()
    settings.head_teacher_id, settings.dsl_id, settings.chair_of_governors_id = head.id, dsl.id, chair.id
    db.commit()
    settings.head, settings.dsl_person, settings.chair = head, dsl, chair
    return settings


@pytest.fixture
def make_school(db):
    """``make_school(slug, name=...)`` -> another school in the installation (no policies unless asked)."""
    from portal.schools.operations import create_school

    def _make(slug: str, name: str | None = None, *, with_policies: bool = False, **kw) -> School:
        s = create_school(slug=slug, name=name or f"{slug.replace('-', ' ').title()} (fictional)",
                          with_policies=with_policies, **kw)
        db.commit()
        return s

    return _make
