"""Linking a school's people to their global sign-in accounts."""
from __future__ import annotations

from sqlalchemy import func, select

from portal.db import session
from portal.people.models import Account, Person


def ensure_account(person: Person) -> Account | None:
    """Link *person* to the account of their email address, making one (with no password yet)
    when none exists. A person with no email keeps whatever account they had (flushes).

    An account already used in another school is shared: the same person signs in once and
    chooses the school.
    """
    email = (person.email or "").strip().lower()
    if not email:
        return person.account
    if person.account is not None and person.account.email == email:
        return person.account
    account = session.scalar(select(Account).where(Account.email == email))
    if account is None:
        account = Account(email=email, display_name=f"{person.given_name} {person.family_name}"[:200])
        session.add(account)
        session.flush()
    person.account = account
    return account


class AddressError(ValueError):
    """The new address cannot be given to the account (with the reason, in English: a command's)."""


def change_address(account: Account, new: str) -> list[int]:
    """Give *account* a new sign-in address, keeping its password, second factors and people (in every
    school, whose ``email`` follows); every session of the account ends. Audited in the installation's
    chain. Returns the ids of the schools whose people changed (flushes).

    What a roster import will not do for an account in use (:func:`portal.people.roster._keep_addresses`).
    """
    from portal import audit
    from portal.auth import sessions
    from portal.schools.isolation import all_schools, school_scope
    from portal.validators import plausible_email

    address = new.strip().lower()
    if not plausible_email(address):
        raise AddressError(f"{new!r} is not an email address.")
    if address == account.email:
        raise AddressError(f"The account already signs in with {address}.")
    if session.scalar(select(Account.id).where(Account.email == address)) is not None:
        raise AddressError(f"Another account already signs in with {address}.")
    with all_schools(session):
        people = session.execute(select(Person.school_id, Person.id).where(Person.account_id == account.id)).all()
        taken = session.scalar(select(Person.id).where(func.lower(Person.email) == address,
                                                       Person.account_id.is_distinct_from(account.id)).limit(1))
    if taken is not None:
        raise AddressError(f"Someone else in a school already has the address {address}.")
    old = account.email
    account.email = address
    schools = sorted({sid for sid, _pid in people})
    for sid in schools:
        with school_scope(session, sid):
            for person in session.scalars(select(Person).where(Person.account_id == account.id)):
                person.email = address
            session.flush()
    session.flush()
    sessions.end_all(account.id, "address_changed")
    audit.record("account.address_changed", actor=None, target=account, school=None, account_id=account.id,
                 schools=schools, had_address=bool(old))
    return schools
