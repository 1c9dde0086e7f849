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

from flask import abort, g, has_request_context, request
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import String, bindparam, exists, literal, select, union_all
from sqlalchemy.orm import joinedload

from portal.db import session
from portal.people.models import STAFF_ROLES, CapabilityGrant, GuardianLink, Person, PupilProfile, Role
from portal.schools.models import DeputyDsl, School, TrustRole
from portal.templating import N_

#: Every capability, with the words shown on the delegation page. The words stay English here (audit, exports);
#: pages show them in the reader's language with ``gettext(CAPABILITIES[key])`` (see :func:`capability_label`).
CAPABILITIES: dict[str, str] = {
    "concerns.review": N_("Review parents' concerns (not safeguarding ones)"),
    "concerns.safeguarding": N_("See and handle safeguarding concerns (DSL)"),
    "links.approve": N_("Approve or decline declared family links"),
    "links.view": N_("See the register of family links"),
    "incidents.record": N_("Record a contact or social-media incident"),
    "incidents.manage": N_("See and manage contact and social-media incidents"),
    "policies.manage": N_("Write and publish policies"),
    "compliance.view": N_("See who has signed, and send reminders"),
    "records.view": N_("See and download signed records"),
    "records.export": N_("Export signed records as a ZIP"),
    "classroom.run": N_("Run classroom acknowledgement sessions"),
    "roster.manage": N_("Import the roster and manage people"),
    "settings.manage": N_("Change school settings"),
    "lti.manage": N_("Manage LMS (LTI) registrations"),
    "capabilities.delegate": N_("Delegate capabilities to named staff"),
    "signatures.record_offline": N_("Record a parent's paper or verbal agreement on their behalf"),
    "dataprotection.manage": N_("Manage the retention schedule, leavers and subject access requests"),
    "dataprotection.hold": N_("Put legal holds on records, review and release them"),
}

def capability_label(capability: str) -> str:
    """The words for *capability* in the page's language (the key itself when it is unknown)."""
    label = CAPABILITIES.get(capability)
    return gettext(label) if label is not None else capability


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
    Role.ADMIN.value: frozenset({"roster.manage", "settings.manage", "lti.manage", "signatures.record_offline"}),
}


def unproxied(user: Any) -> Any:
    """The object behind Flask-Login's ``current_user`` when given the proxy itself (each attribute read
    through the proxy looks the signed-in user up again: about a hundred lookups a page), else *user*."""
    get = getattr(user, "_get_current_object", None)
    return get() if get is not None else user


def designations(person: Person) -> set[str]:
    """``head_teacher`` / ``dsl`` / ``deputy_dsl`` / ``chair_of_governors`` held by *person* in
    their school (cached for the request, like :func:`capabilities_of`)."""
    person = unproxied(person)
    if getattr(person, "is_account", False):
        return set()
    cache = g.setdefault("_portal_designations", {}) if has_request_context() else {}
    key = (person.school_id, person.id)
    if key not in cache:
        cache[key] = frozenset(_designations(person))
    return set(cache[key])


def _designations(person: Person) -> set[str]:
    out: set[str] = set()
    school = session.get(School, person.school_id)
    if school is None:
        return out
    if school.head_teacher_id == person.id:
        out.add("head_teacher")
    if school.dsl_id == person.id:
        out.add("dsl")
    if school.chair_of_governors_id == person.id:
        out.add("chair_of_governors")
    deputy, grants = _deputy_and_grants(person)
    if deputy:
        out.add("deputy_dsl")
    if grants is not None and has_request_context():
        g.setdefault("_portal_grants", {})[person.id] = grants
    return out


#: Built once (every signed-in request runs one of them); ``person_id`` is bound per call.
#: The capabilities delegated to a person and not withdrawn:
_GRANTED = select(CapabilityGrant.capability.label("name")).where(
    CapabilityGrant.person_id == bindparam("person_id"), CapabilityGrant.revoked_at.is_(None))
#: "deputy_dsl" if the person is a deputy DSL:
_DEPUTY = select(literal("deputy_dsl", String).label("name")).where(
    exists().where(DeputyDsl.person_id == bindparam("person_id")))
_DEPUTY_OR_GRANTED = union_all(_DEPUTY, _GRANTED)


def _deputy_and_grants(person: Person) -> tuple[bool, frozenset[str] | None]:
    """Whether *person* is a deputy DSL, and the capabilities granted to them if they are staff
    (``None`` if not), in one statement (every signed-in request asks both)."""
    params = {"person_id": person.id}
    if not person.role_set & STAFF_ROLES:
        return session.scalar(_DEPUTY, params) is not None, None
    names = set(session.scalars(_DEPUTY_OR_GRANTED, params))
    # A capability is named "area.action"; "deputy_dsl" is never one.
    return "deputy_dsl" in names, frozenset(names - {"deputy_dsl"})


def prime_capabilities(people: Iterable[Person]) -> None:
    """Work out the designations and capabilities of many people of the current school in a fixed
    number of queries, filling the request caches :func:`designations` and
    :func:`capabilities_of` read (used where a page checks a list of people, e.g. who may handle a
    concern). Outside a request this does nothing and each person is worked out on their own."""
    if not has_request_context():
        return
    todo = [p for p in people if not getattr(p, "is_account", False)]
    if not todo:
        return
    ids = [p.id for p in todo]
    deputies = set(session.scalars(select(DeputyDsl.person_id).where(DeputyDsl.person_id.in_(ids))))
    grants: dict[int, set[str]] = {}
    for pid, cap in session.execute(select(CapabilityGrant.person_id, CapabilityGrant.capability).where(
            CapabilityGrant.person_id.in_(ids), CapabilityGrant.revoked_at.is_(None))):
        grants.setdefault(pid, set()).add(cap)
    held_cache = g.setdefault("_portal_designations", {})
    caps_cache = g.setdefault("_portal_caps", {})
    for person in todo:
        held: set[str] = set()
        school = session.get(School, person.school_id)
        if school is not None:
            for name, holder_id in (("head_teacher", school.head_teacher_id), ("dsl", school.dsl_id),
                                    ("chair_of_governors", school.chair_of_governors_id)):
                if holder_id == person.id:
                    held.add(name)
            if person.id in deputies:
                held.add("deputy_dsl")
        held_cache[(person.school_id, person.id)] = frozenset(held)
        if person.id in caps_cache or not person.is_authenticated:
            continue
        caps: set[str] = set()
        for name in {r.value for r in person.role_set} | held:
            caps |= ROLE_CAPABILITIES.get(name, frozenset())
        if person.role_set & STAFF_ROLES:
            caps |= grants.get(person.id, set())
        caps_cache[person.id] = frozenset(caps)


def capabilities_of(person: Person | None) -> frozenset[str]:
    """All capabilities *person* holds now in their school (cached for the request)."""
    person = unproxied(person)
    if person is None or not getattr(person, "is_authenticated", False) or getattr(person, "is_account", False):
        return frozenset()
    cache = g.setdefault("_portal_caps", {})
    if person.id in cache:
        return cache[person.id]
    caps: set[str] = set()
    for name in {r.value for r in person.role_set} | designations(person):
        caps |= ROLE_CAPABILITIES.get(name, frozenset())
    if person.role_set & STAFF_ROLES:
        granted = g.get("_portal_grants", {}).get(person.id)  # read with the designations, above
        if granted is None:
            granted = frozenset(session.scalars(_GRANTED, {"person_id": person.id}))
        caps |= granted
    result = frozenset(caps)
    cache[person.id] = result
    return result


def has_capability(person: Person | None, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    return capability in capabilities_of(person)


def has_role(person: Person | None, role: Role | str) -> bool:
    person = unproxied(person)
    if person is None or not getattr(person, "is_authenticated", False):
        return False
    return Role(role) in person.role_set


def is_staff(person: Person | None) -> bool:
    person = unproxied(person)
    return bool(person is not None and getattr(person, "is_authenticated", False) and person.role_set & STAFF_ROLES)


def account_of(user: Any) -> Any:
    """The sign-in account behind the current user (a school person or an account)."""
    user = unproxied(user)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user if getattr(user, "is_account", False) else user.account


def trust_roles(user: Any) -> frozenset[str]:
    """Trust roles held by the account behind *user* (in any trust; cached for the request)."""
    account = account_of(user)
    if account is None:
        return frozenset()
    from portal.auth.sessions import confined_to

    if confined_to() is not None:  # an LMS launch's session: its school's pages only
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
                overdue = _mfa_setup_overdue(user)
                if overdue is not None:
                    return overdue
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


#: Pages an account may still open when its time to set up two-step sign-in is over.
MFA_SETUP_ENDPOINTS = frozenset({
    "portal.auth.security", "portal.auth.totp_setup", "portal.auth.passkey_options", "portal.auth.passkey_add",
    "portal.auth.recovery_codes", "portal.auth.logout", "portal.auth.end_session", "portal.auth.end_other_sessions",
    "portal.auth.end_all_sessions",
})


def _mfa_setup_overdue(user: Any) -> Any:
    """A redirect to the Security page when *user*'s account must set up two-step sign-in now
    (grace period over), except on the pages that do it; else ``None``. A session opened from the
    LMS (LTI) is left alone: the LMS signed the person in."""
    if request.endpoint in MFA_SETUP_ENDPOINTS:
        return None
    account = account_of(user)
    if account is None or account.mfa_required_since is None:
        return None
    from flask import redirect, url_for

    from portal.auth import mfa, sessions

    row = sessions.current()
    if (row is not None and row.via == "lti") or not mfa.overdue(account):
        return None
    return redirect(url_for("portal.auth.security"))


def children_of(parent: Person) -> list[Person]:
    """The pupils *parent* is linked to, by name, with their pupil profile and class (one
    statement; the list is kept for the rest of the request: the parent's home page shows it and
    works out the policies to countersign from it)."""
    cache = g.setdefault("_portal_children", {}) if has_request_context() else {}
    key = (parent.school_id, parent.id)
    if key not in cache:
        cache[key] = list(session.scalars(
            select(Person)
            .join(GuardianLink, GuardianLink.pupil_id == Person.id)
            .where(GuardianLink.parent_id == parent.id)
            .options(joinedload(Person.pupil).joinedload(PupilProfile.school_class), joinedload(Person.roles))
            .order_by(Person.given_name, Person.family_name, Person.id)
        ).unique())
    return list(cache[key])


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
