"""Delegated capabilities: the Head Teacher gives a capability to a named member of staff, and withdraws it
(the page is *Staff → Delegate capabilities*; who may be offered what is the view's: staff only, and only
what the Head holds)."""
from __future__ import annotations

from sqlalchemy import select

from portal import audit
from portal.db import session, utcnow
from portal.people.models import CapabilityGrant, Person


def grant(person_id: int, capability: str, *, by: Person) -> CapabilityGrant | None:
    """Give *capability* to the person; None (and nothing written) when they already hold it. Audited."""
    exists = session.scalar(select(CapabilityGrant).where(
        CapabilityGrant.person_id == person_id, CapabilityGrant.capability == capability,
        CapabilityGrant.revoked_at.is_(None)))
    if exists is not None:
        return None
    row = CapabilityGrant(person_id=person_id, capability=capability, granted_by_id=by.id)
    session.add(row)
    session.flush()
    audit.record("capability.granted", actor=by, target=row, person_id=person_id, capability=capability)
    return row


def revoke(row: CapabilityGrant, *, by: Person) -> None:
    """Withdraw a grant (it is kept, marked revoked: who held what, when, stays on record). Audited."""
    row.revoked_at = utcnow()
    row.revoked_by_id = by.id
    session.flush()
    audit.record("capability.revoked", actor=by, target=row, person_id=row.person_id, capability=row.capability)
