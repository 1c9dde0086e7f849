"""The test installation's default school, and helpers for tests that use more than one.

Every test database starts with one school (id 1, "Test Fictional School"), like a
single-school installation; tests that need a second school make one with ``make_school``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from portal.db import session
from portal.schools.isolation import school_scope, set_school

DEFAULT_SCHOOL_ID = 1
DEFAULT_SCHOOL_SLUG = "test-school"
DEFAULT_SCHOOL_NAME = "Test Fictional School"


@contextlib.contextmanager
def in_school(app, school_id: int | None = None) -> Iterator[None]:
    """An application context whose database session is scoped to *school_id* (default: the
    installation's only school, else the default test school)."""
    from portal.schools.context import only_school_id

    with app.app_context():
        set_school(session, school_id if school_id is not None else (only_school_id() or DEFAULT_SCHOOL_ID))
        yield


@contextlib.contextmanager
def demo_installation(app) -> Iterator[None]:
    """Replace the test school by the fictional demo school; the block is scoped to it."""
    from sqlalchemy import text

    from portal.demo import load_demo

    with app.app_context():
        session.execute(text("DELETE FROM portal_schools"))
        session.commit()
        school = load_demo()
        set_school(session, school.id)
        yield


@contextlib.contextmanager
def as_school(school_id: int) -> Iterator[None]:
    """Within an existing app context, scope the session to another school for the block."""
    with school_scope(session, school_id):
        yield


__all__ = ["DEFAULT_SCHOOL_ID", "DEFAULT_SCHOOL_NAME", "DEFAULT_SCHOOL_SLUG", "as_school", "demo_installation",
           "in_school"]
