"""Capabilities, the one access decorator, and ownership helpers.

Capabilities follow Moodle's style (``area.verb``). They are granted by role (including
the Head Teacher and DSL designations in :class:`~portal.people.models.SchoolSettings`)
and the Head Teacher can delegate any delegable capability to a named member of staff.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import abort, g, request
from flask_login import current_user
from sqlalchemy import select

from portal.db import session
from portal.people.models import STAFF_ROLES, CapabilityGrant, GuardianLink, Person, Role, SchoolSettings

#: Every capability, with the words shown on the delegation page.
CAPABILITIES: dict[str, str] = {
    "concerns.review": "Review parents' concerns (not safeguarding ones)",
    "concerns.safeguarding": "See and handle safeguarding concerns (DSL)",
    "links.approve": "Approve or decline declared family links",
    "links.view": "See the register of family links",
    "incidents.record": "Record a contact or social-media incident",
    "incidents.manage": "See and manage contact and social-media incidents",
    "policies.manage": "Write and publish policies",
    "compliance.view": "See who has signed, and send reminders",
    "records.view": "See and download signed records",
    "records.export": "Export signed records as a ZIP",
    "classroom.run": "Run classroom acknowledgement sessions",
    "roster.manage": "Import the roster and manage people",
    "settings.manage": "Change school settings",
    "lti.manage": "Manage LMS (LTI) registrations",
    "capabilities.delegate": "Delegate capabilities to named staff",
}

#: Capabilities that are never delegated (they follow a designation, not a grant).
NOT_DELEGABLE = frozenset({"capabilities.delegate", "concerns.safeguarding"})

_HEAD = frozenset(CAPABILITIES) - {"concerns.safeguarding", "lti.manage"}
_DSL = frozenset({"concerns.safeguarding", "concerns.review", "links.view", "incidents.record",
                  "incidents.manage", "compliance.view"})

#: Capabilities granted by role or designation.
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    "head_teacher": _HEAD,
    "dsl": _DSL,
    Role.TEACHER.value: frozenset({"classroom.run", "incidents.record"}),
    Role.SUPPORT_STAFF.value: frozenset({"incidents.record"}),
    Role.AUDITOR.value: frozenset({"records.view", "records.export"}),
    Role.ADMIN.value: frozenset({"roster.manage", "settings.manage", "lti.manage"}),
}


def designations(person: Person) -> set[str]:
    """``head_teacher`` / ``dsl`` / ``chair_of_governors`` held by *person*."""
    settings = SchoolSettings.get()
    out: set[str] = set()
    if settings is None:
        return out
    if settings.head_teacher_id == person.id:
        out.add("head_teacher")
    if settings.dsl_id == person.id:
        out.add("dsl")
    if settings.chair_of_governors_id == person.id:
        out.add("chair_of_governors")
    return out


def capabilities_of(person: Person | None) -> frozenset[str]:
    """All capabilities *person* holds now (cached for the request)."""
    if person is None or not getattr(person, "is_authenticated", False):
        return frozenset()
    cache = g.setdefault("_portal_caps", {})
    if person.id in cache:
        return cache[person.id]
    caps: set[str] = set()
    for name in {r.value for r in person.role_set} | designations(person):
        caps |= ROLE_CAPABILITIES.get(name, frozenset())
    if person.role_set & STAFF_ROLES:
        grants = session.scalars(
            select(CapabilityGrant.capability).where(
                CapabilityGrant.person_id == person.id, CapabilityGrant.revoked_at.is_(None)
            )
        )
        caps |= set(grants)
    result = frozenset(caps)
    cache[person.id] = result
    return result


def has_capability(person: Person | None, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    return capability in capabilities_of(person)


def has_role(person: Person | None, role: Role | str) -> bool:
    if person is None or not getattr(person, "is_authenticated", False):
        return False
    return Role(role) in person.role_set


def is_staff(person: Person | None) -> bool:
    return bool(person is not None and getattr(person, "is_authenticated", False) and person.role_set & STAFF_ROLES)


def access(
    *,
    roles: Iterable[Role | str] = (),
    capabilities: Iterable[str] = (),
    staff: bool = False,
    public: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The one decorator that guards every portal view.

    The signed-in person passes when they hold *any* listed role, *any* listed capability,
    or (with ``staff=True``) any staff role. With nothing listed, signing in is enough.
    ``public=True`` marks a view that anyone may open (sign-in, password reset).
    Anonymous visitors are sent to sign in; signed-in people without access get 403.
    """
    role_set = frozenset(Role(r) for r in roles)
    cap_set = frozenset(capabilities)
    for cap in cap_set:
        if cap not in CAPABILITIES:
            raise KeyError(f"unknown capability {cap!r}")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not public:
                if not current_user.is_authenticated:
                    from flask import current_app

                    return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
                if role_set or cap_set or staff:
                    person = current_user._get_current_object()
                    allowed = (
                        bool(person.role_set & role_set)
                        or bool(capabilities_of(person) & cap_set)
                        or (staff and is_staff(person))
                    )
                    if not allowed:
                        abort(403)
            return view(*args, **kwargs)

        wrapped._portal_access = {  # type: ignore[attr-defined]
            "roles": role_set, "capabilities": cap_set, "staff": staff, "public": public,
        }
        return wrapped

    return decorator


def children_of(parent: Person) -> list[Person]:
    """The pupils *parent* is linked to, by name."""
    return list(
        session.scalars(
            select(Person)
            .join(GuardianLink, GuardianLink.pupil_id == Person.id)
            .where(GuardianLink.parent_id == parent.id)
            .order_by(Person.given_name, Person.family_name)
        )
    )


def own_child_or_404(parent: Person, pupil_id: int) -> Person:
    """The pupil *pupil_id* if *parent* is their guardian, else 404 (no hint it exists)."""
    pupil = session.scalar(
        select(Person)
        .join(GuardianLink, GuardianLink.pupil_id == Person.id)
        .where(GuardianLink.parent_id == parent.id, Person.id == pupil_id)
    )
    if pupil is None:
        abort(404)
    return pupil


def is_safe_redirect(target: str | None) -> bool:
    """True for a same-site path such as ``/portal/parent/``; rejects ``//host``, ``\\host``,
    schemes, and control characters."""
    if not target or not target.startswith("/"):
        return False
    if target.startswith("//") or target.startswith("/\\") or "\\" in target:
        return False
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def client_ip() -> str:
    """The client address as seen by this app (a proxy must be configured with ProxyFix)."""
    return request.remote_addr or "unknown"
