"""Capabilities, the one access decorator, and ownership helpers.

Capabilities follow Moodle's style (``area.verb``). They are granted by role in the current
school (including the Head Teacher, DSL and deputy DSL designations on the
:class:`~portal.schools.models.School`) and the Head Teacher can delegate any delegable
capability to a named member of staff. Trust roles (on the account) open the trust pages.
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
from portal.people.models import STAFF_ROLES, CapabilityGrant, GuardianLink, Person, Role
from portal.schools.models import DeputyDsl, School, TrustRole

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
    "dataprotection.manage": "Manage the retention schedule, leavers and subject access requests",
    "dataprotection.hold": "Put legal holds on records, review and release them",
}

#: Capabilities that are never delegated (they follow a designation, not a grant).
NOT_DELEGABLE = frozenset({"capabilities.delegate", "concerns.safeguarding", "dataprotection.hold"})

_HEAD = frozenset(CAPABILITIES) - {"concerns.safeguarding", "lti.manage"}
_DSL = frozenset({"concerns.safeguarding", "concerns.review", "links.view", "incidents.record",
                  "incidents.manage", "compliance.view", "dataprotection.hold"})

#: Capabilities granted by role or designation.
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    "head_teacher": _HEAD,
    "dsl": _DSL,
    "deputy_dsl": _DSL,
    Role.TEACHER.value: frozenset({"classroom.run", "incidents.record"}),
    Role.SUPPORT_STAFF.value: frozenset({"incidents.record"}),
    Role.AUDITOR.value: frozenset({"records.view", "records.export"}),
    Role.ADMIN.value: frozenset({"roster.manage", "settings.manage", "lti.manage"}),
}


def designations(person: Person) -> set[str]:
    """``head_teacher`` / ``dsl`` / ``deputy_dsl`` / ``chair_of_governors`` held by *person* in
    their school."""
    out: set[str] = set()
    if getattr(person, "is_account", False):
        return out
    school = session.get(School, person.school_id)
    if school is None:
        return out
    if school.head_teacher_id == person.id:
        out.add("head_teacher")
    if school.dsl_id == person.id:
        out.add("dsl")
    if school.chair_of_governors_id == person.id:
        out.add("chair_of_governors")
    if session.scalar(select(DeputyDsl.id).where(DeputyDsl.person_id == person.id)) is not None:
        out.add("deputy_dsl")
    return out


def capabilities_of(person: Person | None) -> frozenset[str]:
    """All capabilities *person* holds now in their school (cached for the request)."""
    if person is None or not getattr(person, "is_authenticated", False) or getattr(person, "is_account", False):
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


def account_of(user: Any) -> Any:
    """The sign-in account behind the current user (a school person or an account)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user if getattr(user, "is_account", False) else user.account


def trust_roles(user: Any) -> frozenset[str]:
    """Trust roles held by the account behind *user* (in any trust; cached for the request)."""
    account = account_of(user)
    if account is None:
        return frozenset()
    cache = g.setdefault("_portal_trust_roles", {})
    if account.id not in cache:
        cache[account.id] = frozenset(m.role for m in account.trust_roles)
    return cache[account.id]


def access(
    *,
    roles: Iterable[Role | str] = (),
    capabilities: Iterable[str] = (),
    staff: bool = False,
    public: bool = False,
    account: bool = False,
    trust: Iterable[TrustRole | str] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The one decorator that guards every portal view.

    The signed-in person passes when they hold *any* listed role, *any* listed capability in
    the current school, (with ``staff=True``) any staff role, or *any* listed trust role.
    With nothing listed, signing in is enough. ``public=True`` marks a view that anyone may open
    (sign-in, password reset). School pages are never open to an account signed in outside a
    school (a trust role only); ``account=True`` marks the few pages that are (choosing a
    school, signing out). Anonymous visitors are sent to sign in; others without access get 403.
    """
    role_set = frozenset(Role(r) for r in roles)
    cap_set = frozenset(capabilities)
    trust_set = frozenset(TrustRole(t).value for t in trust)
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
                user = current_user._get_current_object()
                if trust_set and trust_roles(user) & trust_set:
                    return view(*args, **kwargs)
                if getattr(user, "is_account", False) and not account:
                    abort(403)
                if role_set or cap_set or staff or trust_set:
                    allowed = (
                        bool(user.role_set & role_set)
                        or bool(capabilities_of(user) & cap_set)
                        or (staff and is_staff(user))
                    )
                    if not allowed:
                        abort(403)
            return view(*args, **kwargs)

        wrapped._portal_access = {  # type: ignore[attr-defined]
            "roles": role_set, "capabilities": cap_set, "staff": staff, "public": public,
            "account": account, "trust": trust_set,
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
