"""Fixtures for the classroom tests: published pupil rules made directly in the database."""
from __future__ import annotations

import itertools

import pytest

from portal.db import utcnow
from portal.policies.models import Audience, Policy, PolicyVersion, VersionStatus

YOUNG_RULES = """# Our online-safety rules

We use tablets and computers at school to learn and to have fun.

- I ask a grown-up before I go online.
- I keep my password secret, like a treasure.
- I am kind to people online.
- I tell a grown-up if something makes me feel worried.

Thank you for helping everyone stay safe!
"""

OLDER_RULES = """# Using technology safely

These rules apply to school devices, the school network and your own devices in school.

## Accounts
- Keep your password to yourself and log out of shared computers.
- Only use your own account.

## Behaviour
- Treat others with respect online, as you would in person.
- Do not share photos or videos of others without their permission.

If you see something that worries you, tell a member of staff.
"""

_n = itertools.count(1)


@pytest.fixture
def make_rules(db):
    """``make_rules(audience, body=..., send=False, status="published")`` -> PolicyVersion."""

    def _make(audience: Audience, body: str | None = None, *, send: bool = False,
              status: str = VersionStatus.PUBLISHED.value, number: int = 1, policy: Policy | None = None,
              requires_resign: bool = True) -> PolicyVersion:
        n = next(_n)
        if policy is None:
            policy = Policy(slug=f"aup-{audience.value}-{n}{'-send' if send else ''}",
                            title=f"Rules {n}", audience=audience.value, send_variant=send)
            db.add(policy)
        young = audience in (Audience.PUPIL_EYFS_KS1, Audience.PUPIL_KS2)
        version = PolicyVersion(policy=policy, number=number, status=status,
                                title="Our online-safety rules" + (" (easy read)" if send else ""),
                                body_md=body or (YOUNG_RULES if young else OLDER_RULES),
                                requires_resign=requires_resign,
                                published_at=utcnow() if status != VersionStatus.DRAFT.value else None)
        db.add(version)
        db.commit()
        return version

    return _make
