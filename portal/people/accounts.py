"""Linking a school's people to their global sign-in accounts."""
from __future__ import annotations

from sqlalchemy import select

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
