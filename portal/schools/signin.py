"""Who is signed in, in which school.

Flask-Login stores the *account* and its server-side session
(``"<account id>:<session secret>"``, see :mod:`portal.auth.sessions`); the chosen school is in
the Flask session. :func:`load_user` turns the two into the signed-in user: the account's
person in that school (so ``current_user`` is a school :class:`~portal.people.models.Person`
everywhere in the school portals), or the account itself for someone who holds trust roles
but belongs to no school (they can open trust pages only).
"""
from __future__ import annotations

from flask import session as flask_session
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal.db import session
from portal.people.models import Account, Person
from portal.schools.context import SESSION_KEY, account_school_ids, choose_school, scope_request
from portal.schools.isolation import current_school_id, get_scope


def load_user(user_id: str) -> Person | Account | None:
    from portal.auth import sessions

    # A live server-side session with its account and trust roles, or nobody (portal/auth/sessions.py).
    found = sessions.load(user_id)
    if found is None:
        return None
    row, account = found
    if not account.active:
        return None
    if get_scope(session) is None:
        scope_request()
    if row.only_school_id is not None:  # an LMS launch: that school's person, or nobody
        if current_school_id(session) != row.only_school_id:
            choose_school(row.only_school_id)
        return _person_in_scope(account)
    person = _person_in_scope(account)
    if person is None:
        # The chosen school no longer has this account (or none was chosen): start in another
        # of its schools, if any.
        ids = account_school_ids(account.id)
        if ids:
            start = account.last_school_id if account.last_school_id in ids else ids[0]
            choose_school(start)
            person = _person_in_scope(account)
    if person is not None:
        return person
    if account.trust_roles:
        flask_session.pop(SESSION_KEY, None)
        return account
    return None


#: The account's person in the school in scope (the school criteria are added by the isolation hook),
#: built once: every signed-in request runs it.
_PERSON_OF_ACCOUNT = (select(Person).where(Person.account_id == bindparam("account_id"), Person.active)
                      .options(joinedload(Person.roles), joinedload(Person.school)))


def _person_in_scope(account: Account) -> Person | None:
    if current_school_id(session) is None:
        return None
    # With its roles and its school (kept in the identity map, so ``School.get()`` runs no SQL).
    person = session.scalar(_PERSON_OF_ACCOUNT, {"account_id": account.id})
    if person is not None:
        set_committed_value(person, "account", account)
    return person


def start_session_for(account: Account) -> Person | Account | None:
    """After a correct password: choose the starting school and return whom to sign in.

    The last school used, else the first; ``None`` when the account has no school and no trust role.
    """
    ids = account_school_ids(account.id)
    if ids:
        start = account.last_school_id if account.last_school_id in ids else ids[0]
        choose_school(start)
        return _person_in_scope(account)
    if account.trust_roles:
        flask_session.pop(SESSION_KEY, None)
        return account
    return None


def needs_choice(account: Account) -> bool:
    """True when the account has more than one place to go (several schools, or a school and a trust)."""
    places = len(account_school_ids(account.id)) + (1 if account.trust_roles else 0)
    return places > 1


#: Flask-session key: [account id, whether the account has somewhere else to go] (the header's
#: "Switch school"), worked out at sign-in (or on first need) instead of on every page.
PLACES_KEY = "portal_places"


def can_switch(account: Account | None) -> bool:
    """Whether *account* has another school (or a trust) to switch to, remembered in the Flask
    session for the rest of the sign-in (a school added meanwhile shows after the next sign-in,
    or on the "choose a school" page, which always looks)."""
    if account is None:
        return False
    from portal.auth.sessions import confined_to

    if confined_to() is not None:
        return False
    cached = flask_session.get(PLACES_KEY)
    if isinstance(cached, list) and len(cached) == 2 and cached[0] == account.id:
        return bool(cached[1])
    return remember_places(account)


def remember_places(account: Account) -> bool:
    value = needs_choice(account)
    flask_session[PLACES_KEY] = [account.id, value]
    return value
