"""LTI operations: registrations, matching launched people, contexts, grade passback, NRPS sync.

Operations flush; views and CLI commands commit once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.db import session, utcnow
from portal.ids import row_id
from portal.lti.models import (
    MAX_SUB,
    LtiContext,
    LtiContextTeacher,
    LtiGradeLink,
    LtiIdentity,
    LtiMentorLink,
    LtiNonce,
    LtiRegistration,
)
from portal.lti.outbound import refusal
from portal.people.accounts import ensure_account
from portal.people.models import Account, GuardianLink, Person, PupilProfile, Role, SchoolClass
from portal.people.roster import UNSAFE_CHARS
from portal.schools.isolation import all_schools
from portal.schools.models import School
from portal.signals import handles_batches
from portal.templating import N_

log = logging.getLogger("portal.lti")

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ROLES_CLAIM = CLAIM + "roles"
MENTOR_SCOPE_CLAIM = CLAIM + "role_scope_mentor"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
PLATFORM_CLAIM = CLAIM + "tool_platform"
CUSTOM_CLAIM = CLAIM + "custom"
#: Custom parameter put on the deep-linked "Sign the AUP" resource link.
VERSION_PARAM = "countersign_version_id"

ADMIN_ROLES = {
    LIS + "system/person#Administrator",
    LIS + "institution/person#Administrator",
    LIS + "system/person#SysAdmin",
    # The LTI 1.1 names, which Moodle uses for site administrators.
    "urn:lti:sysrole:ims/lis/Administrator",
    "urn:lti:instrole:ims/lis/Administrator",
}
INSTRUCTOR_ROLES = {
    LIS + "membership#Instructor",
    LIS + "institution/person#Instructor",
    LIS + "institution/person#Faculty",
    "Instructor",
}
ASSISTANT_ROLES = {LIS + "membership/Instructor#TeachingAssistant"}
LEARNER_ROLES = {
    LIS + "membership#Learner",
    LIS + "institution/person#Student",
    LIS + "institution/person#Learner",
    "Learner",
}
MENTOR_ROLES = {LIS + "membership#Mentor", LIS + "institution/person#Mentor", "Mentor"}

#: What a value of a registration's role parameter may mean (``none``: refused).
ROLE_PARAMETER_CHOICES: dict[str, Role | None] = {
    "pupil": Role.PUPIL,
    "teacher": Role.TEACHER,
    "support_staff": Role.SUPPORT_STAFF,
    "none": None,
}
#: Longest id accepted in ``role_scope_mentor``.
MAX_REF = 255

UNMATCHED_ADULT = N_(
    "Countersign does not know you yet, and your LMS does not say whether you are a pupil or a member "
    "of staff (Moodle sends non-editing teachers as learners), so no account was made. "
    "Pupils: ask your teacher to sync this course's class list in Countersign. "
    "Staff: ask the school office to add you to the school roster. "
    "For the school's Countersign administrator: map the LMS role parameter under "
    "Admin > LMS connections (see docs/lti.md, section 3)."
)


class LaunchRefused(Exception):
    """The launch is valid but Countersign will not sign this person in; ``message`` says why."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.message, self.status = message, status


# ---------------------------------------------------------------- registrations


def add_registration(
    *,
    name: str,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str | None,
    deployment_ids: list[str],
    auth_audience: str | None = None,
    key_set: dict[str, Any] | None = None,
    actor: Person | None = None,
) -> LtiRegistration:
    existing = session.scalar(
        select(LtiRegistration).where(
            LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id
        )
    )
    if existing is not None:
        raise ValueError(gettext("A registration for issuer %(issuer)s and client id %(client_id)s already exists.",
                                 issuer=issuer, client_id=client_id))
    if not key_set_url and not key_set:
        raise ValueError(gettext("Give the platform's public keyset URL."))
    for label, url in ((gettext("Authentication request URL"), auth_login_url),
                       (gettext("Access token URL"), auth_token_url),
                       (gettext("Public keyset URL"), key_set_url)):
        reason = refusal(url, resolve=False) if url else None
        if reason is not None:
            raise ValueError(gettext("%(label)s: the portal will not use this address: %(reason)s.",
                                     label=label, reason=reason))
    deps = sorted({d.strip() for d in deployment_ids if d.strip()})
    if not deps:
        raise ValueError(gettext("Give at least one deployment id."))
    with all_schools(session):  # the deployment must name one school only
        others = session.scalars(select(LtiRegistration).where(
            LtiRegistration.issuer == issuer, LtiRegistration.client_id == client_id)).all()
    taken = sorted({d for other in others for d in (other.deployment_ids or [])} & set(deps))
    if taken:
        raise ValueError(gettext("Deployment id %(ids)s of this LMS is already registered for another school.",
                                 ids=", ".join(taken)))
    row = LtiRegistration(
        name=name,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=auth_login_url,
        auth_token_url=auth_token_url,
        key_set_url=key_set_url or None,
        key_set=key_set,
        auth_audience=auth_audience or None,
        deployment_ids=deps,
    )
    from portal.lti.tool import shared_settings

    # Schools sharing one LMS client share its keys and addresses (portal/lti/tool.py: find_registration_row).
    if any(shared_settings(other) != shared_settings(row) for other in others):
        raise ValueError(gettext(
            "Another school has registered this LMS client (issuer %(issuer)s, client id %(client_id)s) with a "
            "different keyset or different addresses. Schools that share an LMS client must give the same ones: "
            "ask your LMS administrator for them, or your portal administrator to check the other registration.",
            issuer=issuer, client_id=client_id))
    session.add(row)
    session.flush()
    audit.record(
        "lti.registration_added", actor=actor, target=row, issuer=issuer[:200], client_id=client_id[:100]
    )
    return row


def parse_role_map(text: str) -> dict[str, str]:
    """``value = role`` lines -> {value (lower-case): role}.

    :raises ValueError: a line that is not ``value = role`` with a known role, naming the line.
    """
    out: dict[str, str] = {}
    choices = ", ".join(ROLE_PARAMETER_CHOICES)
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        value, sep, role = line.partition("=")
        value, role = value.strip().lower(), role.strip().lower()
        if not sep or not value or len(value) > 100:
            raise ValueError(gettext("Line %(line)s: write it as value = role, for example: teacher = support_staff.",
                                     line=number))
        if "*" in value[:-1] or value == "*":
            raise ValueError(gettext("Line %(line)s: a * may only end a value (staff-* means every value starting "
                                     "staff-).", line=number))
        if role not in ROLE_PARAMETER_CHOICES:
            if not role:
                raise ValueError(gettext("Line %(line)s: 'the role' is not one of %(choices)s.", line=number,
                                         choices=choices))
            raise ValueError(gettext("Line %(line)s: %(role)s is not one of %(choices)s.", line=number,
                                     role=repr(role), choices=choices))
        if value in out:
            raise ValueError(gettext("Line %(line)s: the value %(value)s is already given on an earlier line.",
                                     line=number, value=repr(value)))
        out[value] = role
    return out


def update_registration_settings(row: LtiRegistration, *, approve_mentor_links: bool, role_parameter: str | None,
                                 role_map: dict[str, str], actor: Person | None = None) -> list[str]:
    """Change a registration's per-LMS settings (flush). Returns the names of the changed settings.

    :raises ValueError: values without a parameter name, or a parameter with no values.
    """
    role_parameter = (role_parameter or "").strip().lower() or None
    if role_map and not role_parameter:
        raise ValueError(gettext("Give the name of the role parameter the values come in."))
    if role_parameter and not role_map:
        raise ValueError(gettext("Say what at least one value of the role parameter means."))
    bad = {v for v in role_map.values() if v not in ROLE_PARAMETER_CHOICES}
    if bad:
        raise ValueError(gettext("Unknown role(s): %(roles)s.", roles=", ".join(sorted(bad))))
    changed = []
    for attr, value in (("approve_mentor_links", approve_mentor_links), ("role_parameter", role_parameter),
                        ("role_map", dict(role_map))):
        if getattr(row, attr) != value:
            setattr(row, attr, value)
            changed.append(attr)
    session.flush()
    if changed:
        audit.record("lti.registration_settings_changed", actor=actor, target=row, fields=changed,
                     approve_mentor_links=row.approve_mentor_links)
    return changed


def remove_registration(row: LtiRegistration, *, actor: Person | None = None) -> None:
    audit.record("lti.registration_removed", actor=actor, target=row, issuer=row.issuer[:200])
    session.delete(row)
    session.flush()


# ---------------------------------------------------------------- launches


def spend_nonce(issuer: str, nonce: str) -> bool:
    """Mark the launch nonce used; False if it was used before (a replayed launch)."""
    try:
        with session.begin_nested():
            session.add(LtiNonce(issuer=issuer[:255], nonce=nonce[:255]))
            session.flush()
    except IntegrityError:
        return False
    return True


def roles_of(claims: dict[str, Any]) -> set[str]:
    value = claims.get(ROLES_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    return {r for r in value if isinstance(r, str)} if isinstance(value, list) else set()


def mentor_refs(claims: dict[str, Any]) -> list[str]:
    """The LMS user ids in ``role_scope_mentor``, each whole.

    The claim is an array of ids; Moodle declares it ``isarray false``, so a Moodle plugin sends
    one id as a single string, which is one id (``"13"`` is never ``"1"`` and ``"3"``). Items
    may be strings or whole numbers; empty ones are ignored.

    :raises LaunchRefused: the claim is anything else (an object, a number, nested lists...).
    """
    value = claims.get(MENTOR_SCOPE_CLAIM)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    refused = LaunchRefused(N_("The LMS sent the list of your children in a form Countersign does not "
                            "understand. Please tell the school's LMS administrator."), 400)
    if not isinstance(items, list):
        raise refused
    out: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise refused
        ref = str(item).strip()
        if len(ref) > MAX_REF:
            raise refused
        if ref and ref not in out:
            out.append(ref)
    return out


def parameter_role(reg: LtiRegistration | None, claims: dict[str, Any]) -> tuple[bool, Role | None]:
    """The role the registration's role parameter gives: ``(True, role)`` when the launch carries
    a mapped value (``role`` is None for ``none``), ``(False, None)`` otherwise."""
    if reg is None or not reg.role_parameter:
        return False, None
    custom = claims.get(CUSTOM_CLAIM)
    value = custom.get(reg.role_parameter) if isinstance(custom, dict) else None
    if not isinstance(value, str) or not value.strip() or value.strip().startswith("$"):
        return False, None  # Moodle sends "$Name" back when it cannot substitute it
    meaning = role_for_value(reg.role_map or {}, value)
    if meaning not in ROLE_PARAMETER_CHOICES:
        return False, None
    return True, ROLE_PARAMETER_CHOICES[meaning]


def role_for_value(role_map: dict[str, str], value: str) -> str | None:
    """The meaning of *value* in *role_map*: an exact key (case does not matter), else the longest
    key ending in ``*`` that *value* starts with (``staff-* = support_staff`` for ID numbers such
    as ``STAFF-0042``)."""
    value = value.strip().lower()
    if value in role_map:
        return role_map[value]
    prefixes = sorted((k for k in role_map if k.endswith("*") and value.startswith(k[:-1])), key=len, reverse=True)
    return role_map[prefixes[0]] if prefixes else None


def is_moodle(claims: dict[str, Any]) -> bool:
    platform = claims.get(PLATFORM_CLAIM)
    family = platform.get("product_family_code") if isinstance(platform, dict) else None
    return isinstance(family, str) and family.strip().lower() == "moodle"


def mapped_roles(claims: dict[str, Any], reg: LtiRegistration | None = None) -> set[Role]:
    """Portal roles for the LTI roles. Administrator only from system/institution roles
    (a course role cannot make anyone an administrator); never a Head Teacher designation.

    When the registration has a role parameter and the launch carries one of its mapped values,
    that value decides the course role (pupil, teacher, support staff, or none) instead of the
    LTI course roles.

    :raises LaunchRefused: a malformed ``role_scope_mentor`` claim.
    """
    lti = roles_of(claims)
    out: set[Role] = set()
    if lti & ADMIN_ROLES:
        out.add(Role.ADMIN)
    by_parameter, role = parameter_role(reg, claims)
    if by_parameter:
        if role is not None:
            out.add(role)
    elif lti & INSTRUCTOR_ROLES:
        out.add(Role.TEACHER)
    elif lti & ASSISTANT_ROLES:
        out.add(Role.SUPPORT_STAFF)
    if lti & MENTOR_ROLES and mentor_refs(claims):
        out.add(Role.PARENT)
    if lti & LEARNER_ROLES and not out and not by_parameter:
        out.add(Role.PUPIL)
    return out


def learner_is_pupil(reg: LtiRegistration, claims: dict[str, Any]) -> bool:
    """Whether a Learner launch says the person is a pupil (and so may get a new pupil account).

    Yes when the role parameter maps their value to ``pupil``. When the registration has a role
    parameter but the launch carries no mapped value, we cannot tell. Moodle sends non-editing
    teachers (and any adult without the right to manage the activity) as Learner, so from Moodle
    without a role parameter we cannot tell either. Other platforms send teaching assistants and
    observers as such, so their Learner is a learner.
    """
    by_parameter, role = parameter_role(reg, claims)
    if by_parameter:
        return role is Role.PUPIL
    if reg.role_parameter:
        return False
    return not is_moodle(claims)


def _sourced_id(claims: dict[str, Any]) -> str | None:
    lis = claims.get(CLAIM + "lis") or {}
    value = _plain(lis.get("person_sourcedid"))
    return value[:100] or None


def _names(claims: Mapping[str, Any], lms_id: str) -> tuple[str, str]:
    """The given and family names an LMS sends, without control characters or the bidirectional overrides
    that make a name display as something else (the roster refuses those; from an LMS they are dropped).

    An LMS set not to share names (Moodle's privacy setting) sends none: the person is then "LMS user"
    and their LMS id (Moodle's user number; the end of a long id), which the school can look up in the
    LMS and put right with a roster import."""
    given = _plain(claims.get("given_name"))
    family = _plain(claims.get("family_name"))
    if not given and claims.get("name"):
        given, _, rest = _plain(claims["name"]).partition(" ")
        family = family or rest
    if not given and not family:
        ref = _plain(lms_id)
        return "LMS user", (ref if len(ref) <= 12 else "…" + ref[-12:])
    return (given or "LMS user")[:100], (family or "-")[:100]


def _plain(value: Any) -> str:
    return UNSAFE_CHARS.sub("", str(value or "")).strip()


def _find_person(issuer: str, sub: str, sourced_id: str | None) -> tuple[Person | None, LtiIdentity | None]:
    ident = session.scalar(select(LtiIdentity).where(LtiIdentity.issuer == issuer, LtiIdentity.sub == sub))
    if ident is not None:
        return ident.person, ident
    if sourced_id:
        person = session.scalar(select(Person).where(Person.external_id == sourced_id))
        if person is not None:
            return person, None
    return None, None


def estimated_birth_date(year_group: int) -> dt.date:
    """The first birthday of the cohort now in *year_group* (1 September; UK school years).

    Used only for pupils the LMS creates before the MIS roster has given their real date.
    """
    settings = School.get()
    today = dt.date.today()
    start = (
        settings.academic_year_of(today) if settings else (today.year if today.month >= 9 else today.year - 1)
    )
    return dt.date(start - 5 - year_group, 9, 1)


def _make_pupil(person: Person, year_group: int, class_id: int | None) -> None:
    session.add(
        PupilProfile(
            person_id=person.id,
            year_group=year_group,
            date_of_birth=estimated_birth_date(year_group),
            class_id=class_id,
        )
    )
    session.flush()
    session.refresh(person)


def person_for_launch(reg: LtiRegistration, claims: dict[str, Any]) -> Person:
    """The person a validated launch signs in: found by issuer + sub (or the roster's sourced id),
    or created. Roles are added, never removed; a pupil is never given adult roles.

    :raises LaunchRefused: no usable role, an inactive account, or a new learner whose year
        group is unknown.
    """
    issuer, sub = reg.issuer, str(claims.get("sub") or "")
    if not sub or "\x00" in sub:
        raise LaunchRefused(N_("The LMS did not say who you are (anonymous launches are not supported)."), 400)
    wanted = mapped_roles(claims, reg)
    if not wanted:
        raise LaunchRefused(N_("Your role in the LMS does not have a Countersign account."))
    person, ident = _find_person(issuer, sub, _sourced_id(claims))
    created = person is None
    if person is None:
        if Role.PUPIL in wanted:
            if not learner_is_pupil(reg, claims):
                # An unmatched adult (a Moodle non-editing teacher, say) must never become a pupil.
                raise LaunchRefused(UNMATCHED_ADULT)
            year_group, class_id = _learner_year(reg, claims)
            if year_group is None:
                raise LaunchRefused(
                    N_("Countersign does not know your year group yet. Ask your teacher to "
                    "sync this course's class, or the school office to import the roster.")
                )
        given, family = _names(claims, sub)
        person = Person(given_name=given, family_name=family, email=None)
        session.add(person)
        session.flush()
        if Role.PUPIL in wanted:
            _make_pupil(person, cast(int, year_group), class_id)  # refused above when unknown
    if not person.active:
        raise LaunchRefused(N_("This Countersign account is switched off. Please contact the school office."))
    if not created:
        from portal.people.models import CapabilityGrant
        from portal.security import designations

        powerful = person.role_set & {Role.ADMIN, Role.AUDITOR} or session.scalar(
            select(CapabilityGrant.id).where(CapabilityGrant.person_id == person.id,
                                             CapabilityGrant.revoked_at.is_(None)).limit(1))
        if designations(person) or powerful:
            # The Head Teacher, DSL, chair of governors, administrators, auditors and anyone
            # holding a delegated capability sign in to Countersign directly: an LMS (or whoever
            # runs it) must not be able to open the accounts that can see or change the most.
            raise LaunchRefused(
                N_("For safety, this account cannot be opened from the LMS. "
                "Please sign in to Countersign directly.")
            )
        # A course role never adds a staff role to an existing account (a parent made
        # "Instructor" in one LMS course stays a parent here); the school's roster decides.
        wanted -= {Role.TEACHER, Role.SUPPORT_STAFF, Role.ADMIN} - person.role_set
        if not wanted:
            raise LaunchRefused(
                N_("Your Countersign account does not have that role. Please contact the school office."))
    if person.has_role(Role.PUPIL) or person.pupil is not None:
        wanted &= {Role.PUPIL}
        if not wanted:
            raise LaunchRefused(N_("A pupil account cannot open Countersign with a staff or parent role."))
    elif Role.PUPIL in wanted and not created:
        wanted.discard(Role.PUPIL)  # an adult is never turned into a pupil
        if not wanted:
            raise LaunchRefused(
                N_("Your LMS opened Countersign as a learner, but your Countersign account is not a pupil's. "
                "Please sign in to Countersign directly. (For the school's Countersign administrator: "
                "Moodle sends non-editing teachers as learners; map the LMS role parameter under "
                "Admin > LMS connections, see docs/lti.md, section 3.)"))
    added = sorted(r.value for r in wanted if not person.has_role(r))
    for role in wanted:
        person.add_role(role)
    if ident is None:
        ident = LtiIdentity(issuer=issuer, sub=sub, person_id=person.id)  # its length was checked with the token
        session.add(ident)
    ident.last_launch_at = utcnow()
    if person.account is None:
        # Signing in goes through an account; someone known only to the LMS gets one with no
        # email and no password (they can only ever arrive from the LMS).
        if person.email:
            ensure_account(person)
        else:
            person.account = Account(email=None, display_name=person.full_name)
    session.flush()
    children, waiting = _link_mentees(reg, person, claims) if Role.PARENT in wanted else ([], [])
    audit.record(
        "lti.launch",
        actor=person,
        target=person,
        registration=reg.id,
        created=created,
        roles_added=added,
        children_linked=children,
        children_waiting=waiting,
    )
    return person


def _learner_year(reg: LtiRegistration, claims: dict[str, Any]) -> tuple[int | None, int | None]:
    """Year group (and class) of a new learner: the class linked to the LMS course, if any."""
    ctx_id = (claims.get(CLAIM + "context") or {}).get("id")
    if ctx_id:
        ctx = session.scalar(
            select(LtiContext).where(
                LtiContext.registration_id == reg.id, LtiContext.context_id == str(ctx_id)
            )
        )
        if ctx is not None and ctx.school_class is not None:
            return ctx.school_class.year_group, ctx.school_class.id
    return None, None


def _find_mentee(issuer: str, ref: str) -> Person | None:
    """The pupil whose LMS user id (for this issuer) or roster external id is exactly *ref*."""
    pupil, _ = _find_person(issuer, ref, ref)
    return pupil if pupil is not None and pupil.pupil is not None else None


def _link_mentees(reg: LtiRegistration, parent: Person, claims: dict[str, Any]) -> tuple[list[int], list[int]]:
    """Links to the pupils named in ``role_scope_mentor`` (exact LMS user ids or roster external
    ids). With the registration's approval on (the default) each new link waits for the school
    (:class:`LtiMentorLink`); otherwise it is made at once.

    :returns: the pupil ids linked now, and those newly waiting for approval.
    """
    linked: list[int] = []
    waiting: list[int] = []
    for ref in mentor_refs(claims):
        pupil = _find_mentee(reg.issuer, ref)
        if pupil is None or pupil.id == parent.id:
            continue
        if _guardian_link(parent.id, pupil.id) is not None:
            continue
        request = session.scalar(select(LtiMentorLink).where(
            LtiMentorLink.parent_id == parent.id, LtiMentorLink.pupil_id == pupil.id))
        if reg.approve_mentor_links:
            if request is None:
                session.add(LtiMentorLink(registration_id=reg.id, parent_id=parent.id, pupil_id=pupil.id))
                waiting.append(pupil.id)
            continue  # pending stays pending; a declined link is not asked again
        if request is not None and request.status == "declined":
            continue  # the school said no; turning approval off does not undo that
        session.add(GuardianLink(parent_id=parent.id, pupil_id=pupil.id, relationship_label="parent"))
        if request is not None:
            request.status, request.decided_at = "approved", utcnow()
        linked.append(pupil.id)
    session.flush()
    return linked, waiting


def _guardian_link(parent_id: int, pupil_id: int) -> int | None:
    return session.scalar(select(GuardianLink.id).where(
        GuardianLink.parent_id == parent_id, GuardianLink.pupil_id == pupil_id))


def mentee_ids(parent: Person, issuer: str, claims: dict[str, Any]) -> list[int]:
    """The pupils named in the claim that *parent* is already linked to (approved links only)."""
    out = []
    for ref in mentor_refs(claims):
        pupil = _find_mentee(issuer, ref)
        if pupil is not None and _guardian_link(parent.id, pupil.id) is not None:
            out.append(pupil.id)
    return out


def waiting_links_of(parent: Person) -> int:
    """How many LMS parent links of *parent* wait for the school's approval."""
    return len(session.scalars(select(LtiMentorLink.id).where(
        LtiMentorLink.parent_id == parent.id, LtiMentorLink.status == "pending")).all())


def pending_mentor_links() -> list[LtiMentorLink]:
    return list(session.scalars(select(LtiMentorLink).where(LtiMentorLink.status == "pending")
                                .order_by(LtiMentorLink.created_at, LtiMentorLink.id)))


def decide_mentor_link(link: LtiMentorLink, *, approve: bool, actor: Person) -> None:
    """Approve (making the parent-child link) or decline an LMS parent link (flush).

    :raises ValueError: it was already decided.
    """
    if link.status != "pending":
        raise ValueError(gettext("This link has already been decided."))
    link.status = "approved" if approve else "declined"
    link.decided_by_id, link.decided_at = actor.id, utcnow()
    if approve and _guardian_link(link.parent_id, link.pupil_id) is None:
        session.add(GuardianLink(parent_id=link.parent_id, pupil_id=link.pupil_id, relationship_label="parent"))
    session.flush()
    audit.record("lti.mentor_link_approved" if approve else "lti.mentor_link_declined", actor=actor,
                 target=link, parent=link.parent_id, pupil=link.pupil_id)


def version_from_claims(claims: dict[str, Any]) -> int | None:
    value = (claims.get(CLAIM + "custom") or {}).get(VERSION_PARAM)
    return row_id(value.strip() if isinstance(value, str) else value)


def record_context(reg: LtiRegistration, person: Person, claims: dict[str, Any]) -> LtiContext | None:
    """Remember the course of an instructor launch (and its NRPS URL) so staff can sync it."""
    ctx_claim = claims.get(CLAIM + "context") or {}
    if not ctx_claim.get("id") or not person.has_role(Role.TEACHER):
        return None
    ctx = session.scalar(
        select(LtiContext).where(
            LtiContext.registration_id == reg.id, LtiContext.context_id == str(ctx_claim["id"])[:255]
        )
    )
    if ctx is None:
        ctx = LtiContext(registration_id=reg.id, context_id=str(ctx_claim["id"])[:255])
        session.add(ctx)
    ctx.title = str(ctx_claim.get("title") or ctx_claim.get("label") or ctx.context_id)[:255]
    nrps = claims.get(NRPS_CLAIM) or {}
    if nrps.get("context_memberships_url"):
        ctx.memberships_url = str(nrps["context_memberships_url"])[:500]
    ctx.updated_at = utcnow()
    session.flush()
    if not any(t.person_id == person.id for t in ctx.teachers):
        ctx.teachers.append(LtiContextTeacher(person_id=person.id))
    session.flush()
    return ctx


def record_grade_link(reg: LtiRegistration, person: Person, claims: dict[str, Any]) -> LtiGradeLink | None:
    """Remember where to post a score when this person signs (AGS claim with the score scope)."""
    ags = claims.get(AGS_CLAIM) or {}
    link = (claims.get(CLAIM + "resource_link") or {}).get("id")
    if not link or not ags.get("lineitem") or SCORE_SCOPE not in (ags.get("scope") or []):
        return None
    row = session.scalar(
        select(LtiGradeLink).where(
            LtiGradeLink.registration_id == reg.id,
            LtiGradeLink.person_id == person.id,
            LtiGradeLink.resource_link_id == str(link)[:255],
        )
    )
    if row is None:
        row = LtiGradeLink(registration_id=reg.id, person_id=person.id, resource_link_id=str(link)[:255])
        session.add(row)
    row.sub = str(claims["sub"])[:255]
    row.lineitem_url = str(ags["lineitem"])[:500]
    row.scopes = list(ags.get("scope") or [])
    row.version_id = version_from_claims(claims)
    row.updated_at = utcnow()
    session.flush()
    return row


# ---------------------------------------------------------------- grade passback (AGS)


def grade_links_for(signature: Any) -> list[LtiGradeLink]:
    """The grade links a committed signature scores on: the signer's links for that version
    (links without a version count for any signature the person makes). None for a decline."""
    from portal.signatures.models import Decision

    if signature.decision != Decision.SIGNED.value:
        return []
    links = session.scalars(select(LtiGradeLink).where(LtiGradeLink.person_id == signature.signer_id)
                            .order_by(LtiGradeLink.id)).all()
    return [link for link in links if link.version_id is None or link.version_id == signature.version_id]


def score_key(link_id: int, signature_id: int) -> str:
    """The done-mark of one posted score (see :mod:`portal.jobs.models`)."""
    return f"lti-score:{link_id}:{signature_id}"


def post_score(link: LtiGradeLink, signature: Any) -> None:
    """Post 1/1 for *signature* to the LMS line item of *link* (the score's timestamp is the
    signature's, so posting it again changes nothing at the LMS).

    :raises Exception: the LMS refused or could not be reached (the job retries).
    """
    from pylti1p3.assignments_grades import AssignmentsGradesService, TAssignmentsGradersData
    from pylti1p3.grade import Grade

    from portal.lti.tool import service_connector

    ags = AssignmentsGradesService(
        service_connector(link.registration),
        # The link's scopes are the AGS scope URLs the platform granted (from the launch claim).
        cast("TAssignmentsGradersData", {"scope": link.scopes, "lineitem": link.lineitem_url}),
    )
    grade = (
        Grade()
        .set_score_given(1)
        .set_score_maximum(1)
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
        .set_user_id(link.sub)
        .set_timestamp(signature.signed_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00")
    )
    ags.put_grade(grade)


def send_score(link_id: int, signature_id: int) -> str:
    """Post one score unless it has been posted; record it (flush). Returns what happened.

    :raises Exception: the LMS refused or could not be reached.
    """
    from portal.jobs.operations import is_done, mark_done
    from portal.signatures.models import Signature

    key = score_key(link_id, signature_id)
    if is_done(key):
        return "already sent"
    link = session.get(LtiGradeLink, link_id)
    signature = session.get(Signature, signature_id)
    if link is None or signature is None:
        return "gone"
    try:
        post_score(link, signature)
    except Exception as exc:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        log.warning("LTI score %s not posted: %s", key, f"HTTP {status}" if status else type(exc).__name__)
        raise
    mark_done(key)
    audit.record("lti.score_sent", target=link, signature=signature_id, registration=link.registration_id)
    return "sent"


def queue_scores(signature: Any) -> int:
    """Queue ``lti.post_score`` for each grade link of a committed signature. Returns how many
    were queued; with the broker down none are, and the hourly ``lti.sweep`` queues them later."""
    from portal.jobs import QueueUnavailable, enqueue

    queued = 0
    for link in grade_links_for(signature):
        try:
            enqueue("lti.post_score", school_id=signature.school_id, grade_link_id=link.id,
                    signature_id=signature.id)
        except QueueUnavailable:
            break
        queued += 1
    return queued


def unsent_scores(since: dt.datetime) -> list[tuple[int, int]]:
    """(grade link id, signature id) of signatures made since *since* whose score is not marked sent."""
    from portal.jobs.operations import is_done
    from portal.signatures.models import Signature

    out = []
    signer_ids = select(LtiGradeLink.person_id)
    for sig in session.scalars(select(Signature).where(Signature.signed_at >= since,
                                                       Signature.signer_id.in_(signer_ids))
                               .order_by(Signature.id)):
        for link in grade_links_for(sig):
            if not is_done(score_key(link.id, sig.id)):
                out.append((link.id, sig.id))
    return out


@handles_batches
def on_signature_committed(sender: Any, signature: Any = None, **_: Any) -> None:
    """Receiver of :data:`portal.signals.signature_committed`: queue the scores (never raises)."""
    if signature is None or "portal" not in getattr(sender, "extensions", {}):
        return
    try:
        queue_scores(signature)
    except Exception:
        session.rollback()
        log.exception("Could not queue LTI scores for signature %s", getattr(signature, "id", "?"))


def on_signatures_committed(sender: Any, signatures: list[Any] | None = None, **_: Any) -> None:
    """Receiver of :data:`portal.signals.signatures_committed`: one look-up for all the signers."""
    sigs = list(signatures or [])
    if not sigs or "portal" not in getattr(sender, "extensions", {}):
        return
    try:
        with_links = set(session.scalars(select(LtiGradeLink.person_id).where(
            LtiGradeLink.person_id.in_({s.signer_id for s in sigs}))))
        for sig in sigs:
            if sig.signer_id in with_links:
                queue_scores(sig)
    except Exception:
        session.rollback()
        log.exception("Could not queue LTI scores for %s signatures", len(sigs))


# ---------------------------------------------------------------- roster sync (NRPS)


@dataclass
class SyncSummary:
    created: int = 0
    linked: int = 0
    moved: int = 0
    skipped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """What the sync did, in the page's language (English in jobs and the CLI)."""
        text: str = gettext("%(created)s new pupil(s), %(linked)s pupil(s) linked to their LMS account, %(moved)s "
                            "pupil(s) put in the class.", created=self.created, linked=self.linked, moved=self.moved)
        if self.skipped:
            text += " " + gettext("%(num)s member(s) skipped.", num=len(self.skipped))
        return text


def sync_context(ctx: LtiContext, *, actor: Person | None) -> SyncSummary:
    """Fetch the course members from the LMS (NRPS) and put its learners in the linked class.

    :raises ValueError: no memberships URL or no linked class.
    :raises pylti1p3.exception.LtiException: the LMS refused or failed.
    """
    from pylti1p3.names_roles import NamesRolesProvisioningService

    from portal.lti.tool import service_connector

    if not ctx.memberships_url:
        raise ValueError(
            gettext("The LMS did not offer its member list (Names and Role Provisioning) for this course.")
        )
    cls: SchoolClass | None = ctx.school_class
    if cls is None:
        raise ValueError(gettext("Choose the class this course belongs to first."))
    nrps = NamesRolesProvisioningService(
        service_connector(ctx.registration), {"context_memberships_url": ctx.memberships_url}
    )
    members = nrps.get_members()
    summary = SyncSummary()
    issuer = ctx.registration.issuer
    for m in members:
        uid = str(m.get("user_id") or "")
        roles = set(m.get("roles") or [])
        if not uid or "\x00" in uid or m.get("status", "Active") != "Active" or not roles & LEARNER_ROLES:
            continue
        if len(uid) > MAX_SUB:
            summary.skipped.append(uid)  # never cut (see MAX_SUB)
            continue
        sourced = _plain(m.get("lis_person_sourcedid"))[:100] or None
        person, ident = _find_person(issuer, uid, sourced)
        if person is not None and person.pupil is None:
            summary.skipped.append(uid)  # an adult account; never turned into a pupil
            continue
        if person is None:
            given, family = _names(m, uid)
            person = Person(given_name=given, family_name=family, email=None)
            person.add_role(Role.PUPIL)
            session.add(person)
            session.flush()
            _make_pupil(person, cls.year_group, cls.id)
            summary.created += 1
        elif (profile := person.pupil) is not None and profile.class_id != cls.id:  # adults skipped above
            profile.class_id = cls.id
            summary.moved += 1
        if ident is None:
            session.add(LtiIdentity(issuer=issuer, sub=uid, person_id=person.id))
            summary.linked += 1
        session.flush()
    ctx.last_synced_at = utcnow()
    audit.record(
        "lti.roster_synced",
        actor=actor,
        target=ctx,
        school_class=cls.id,
        created=summary.created,
        linked=summary.linked,
        moved=summary.moved,
        skipped=len(summary.skipped),
    )
    return summary
