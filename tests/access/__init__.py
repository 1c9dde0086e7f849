"""The route x role access matrix.

Each module in this package describes the routes of one area: ``RULES`` (a list of
:class:`Rule`) and optionally ``setup(world, db)`` to create the objects its URLs need.
``tests/test_access_matrix.py`` signs in as every persona, requests every rule, and checks
that the listed personas get the listed status and everybody else gets 403 or 404
(anonymous visitors: a redirect to sign in). It also fails if any portal route has no rule.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Everyone the matrix signs in as (plus "anonymous").
PERSONAS = (
    "anonymous", "parent", "other_parent", "pupil", "teacher", "other_teacher", "support",
    "head", "dsl", "governor", "volunteer", "contractor", "auditor", "admin",
)
#: Shorthands for ``allow``.
ADULTS = ("teacher", "other_teacher", "support", "head", "dsl", "governor", "volunteer", "contractor")
STAFF = ("teacher", "other_teacher", "support", "head", "dsl")
SIGNED_IN = tuple(p for p in PERSONAS if p != "anonymous")


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
