"""Which school a request is about, and which schools an account may open.

The chosen school is kept in the Flask session (``portal_school``) and checked against the
signed-in account on every request (:func:`load_user`). A single-school installation never
asks: its one school is the scope of every request, signed in or not.
"""
from __future__ import annotations

from flask import g
from flask import session as flask_session
from sqlalchemy import event, select
from sqlalchemy.orm import object_session

from portal.db import session
from portal.schools.isolation import all_schools, set_school
from portal.schools.models import School, Trust, TrustMembership

SESSION_KEY = "portal_school"


#: ``session.info`` key of the strong references that keep loaded schools in the session.
_HELD = "portal_held_schools"


@event.listens_for(School, "load")
def _hold(school: School, _context) -> None:
    """The session's identity map holds objects weakly, so a school read once in a request could
    be collected and read again by the next ``School.get()``; keep each loaded school for as long
    as its session lives (a handful of small rows), so later look-ups run no SQL."""
    owner = object_session(school)
    if owner is not None:
        owner.info.setdefault(_HELD, {})[school.id] = school


def current_school() -> School | None:
    """The school the current request, command or job is scoped to (identity-map cached)."""
    return School.get()


def only_school_id() -> int | None:
    """The id of the installation's only school, or ``None`` when there are none or several."""
    cached = g.get("_portal_only_school", False) if _has_g() else False
    if cached is not False:
        return cached
    ids = session.scalars(select(School.id).order_by(School.id).limit(2)).all()
    result = ids[0] if len(ids) == 1 else None
    if _has_g():
        g._portal_only_school = result
    return result


def _has_g() -> bool:
    from flask import has_app_context

    return has_app_context()


def scope_request() -> None:
    """Before each portal request: scope the session to the chosen school (or the only one)."""
    sid = flask_session.get(SESSION_KEY)
    if not isinstance(sid, int):
        sid = only_school_id()
    set_school(session, sid)


def choose_school(school_id: int) -> None:
    """Make *school_id* the school of this browser session and of the database session."""
    flask_session[SESSION_KEY] = int(school_id)
    set_school(session, int(school_id))


def account_school_ids(account_id: int) -> list[int]:
    """Schools where the account has an active person, oldest first (a membership check)."""
    from portal.people.models import Person

    with all_schools(session):
        return list(session.scalars(
            select(Person.school_id).where(Person.account_id == account_id, Person.active)
            .order_by(Person.school_id)
        ))


def account_schools(account_id: int) -> list[School]:
    ids = account_school_ids(account_id)
    if not ids:
        return []
    return list(session.scalars(select(School).where(School.id.in_(ids)).order_by(School.name)))


def trust_roles_of(account_id: int) -> dict[int, set[str]]:
    """{trust id: roles} held by the account."""
    out: dict[int, set[str]] = {}
    for m in session.scalars(select(TrustMembership).where(TrustMembership.account_id == account_id)):
        out.setdefault(m.trust_id, set()).add(m.role)
    return out


def trust_school_ids(trust_id: int) -> list[int]:
    return list(session.scalars(select(School.id).where(School.trust_id == trust_id).order_by(School.id)))


def trusts_of(account_id: int) -> list[Trust]:
    ids = list(trust_roles_of(account_id))
    if not ids:
        return []
    return list(session.scalars(select(Trust).where(Trust.id.in_(ids)).order_by(Trust.name)))
