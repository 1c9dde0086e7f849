"""The route x role x school access matrix.

Each module in this package describes the routes of one area: ``RULES`` (a list of
:class:`Rule`) and optionally ``setup(world, db)`` to create the objects its URLs need.
``tests/test_access_matrix.py`` signs in as every persona, requests every rule, and checks
that the listed personas get the listed status and everybody else gets 403 or 404
(anonymous visitors: a redirect to sign in). It also fails if any portal route has no rule.
The same world is built in a second school; its people, requesting every route with the first
school's ids, must get 403 or 404. Trust personas are accounts with a trust role and no school.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: People of the school the matrix signs in as (plus "anonymous").
SCHOOL_PERSONAS = (
    "anonymous", "parent", "other_parent", "pupil", "teacher", "other_teacher", "support",
    "head", "dsl", "governor", "volunteer", "contractor", "auditor", "admin",
)
#: Accounts holding one trust role each, in no school.
TRUST_PERSONAS = ("trust_admin", "trust_auditor", "trust_safeguarding", "trust_compliance")
PERSONAS = SCHOOL_PERSONAS + TRUST_PERSONAS
#: Shorthands for ``allow``.
ADULTS = ("teacher", "other_teacher", "support", "head", "dsl", "governor", "volunteer", "contractor")
STAFF = ("teacher", "other_teacher", "support", "head", "dsl")
#: Everyone signed in to the school.
SIGNED_IN = tuple(p for p in SCHOOL_PERSONAS if p != "anonymous")
#: Every signed-in account, in a school or not.
ANY_ACCOUNT = SIGNED_IN + TRUST_PERSONAS


@dataclass
class Rule:
    endpoint: str
    #: A path, or ``world -> path`` for URLs that need ids.
    path: str | Callable[[Any], str]
    #: persona -> expected status for those allowed.
    allow: dict[str, int]
    method: str = "GET"
    data: dict[str, Any] | Callable[[Any], dict[str, Any]] = field(default_factory=dict)
    #: Denied personas may get any of these.
    deny: tuple[int, ...] = (403, 404)


def allow(personas, status: int = 200) -> dict[str, int]:
    return {p: status for p in personas}
