"""Creating schools and trusts, and granting trust roles (operations flush; callers commit)."""
from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from portal import audit
from portal.db import session
from portal.schools.isolation import school_scope
from portal.schools.models import Phase, School, Trust, TrustMembership, TrustRole

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")
URN = re.compile(r"^\d{6}$")


class SchoolError(ValueError):
    """A school or trust cannot be created as asked (the message says why, in the page's language; English in
    the CLI)."""


def check_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG.match(slug):
        raise SchoolError(_("A slug is 1 to 60 lower-case letters, digits and hyphens, e.g. oak-lane-primary."))
    return slug


def get_or_create_trust(slug: str, name: str | None = None, *, actor: Any = None) -> Trust:
    slug = check_slug(slug)
    trust = session.scalar(select(Trust).where(Trust.slug == slug))
    if trust is not None:
        return trust
    name = (name or "").strip()
    if not name:
        raise SchoolError(_("There is no trust %(slug)s; give its name to create it.", slug=repr(slug)))
    if len(name) > 200:
        raise SchoolError(_("A trust name is at most 200 characters."))
    trust = Trust(slug=slug, name=name)
    session.add(trust)
    session.flush()
    audit.record("trust.created", actor=actor, target=trust, school=None, slug=slug)
    return trust


def create_school(*, slug: str, name: str, urn: str | None = None, phases: list[str] | None = None,
                  trust_slug: str | None = None, trust_name: str | None = None, trust: Trust | None = None,
                  with_policies: bool = True, actor: Any = None, **settings: Any) -> School:
    """Create a school with its own sealing-key folder and archive prefix; publish the default
    policies unless told not to.

    :raises SchoolError: for a bad or taken slug, a bad URN or phase, or an unknown trust.
    """
    slug = check_slug(slug)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise SchoolError(_("A school name is 1 to 200 characters."))
    if urn is not None and urn.strip() and not URN.match(urn.strip()):
        raise SchoolError(_("A URN is six digits, e.g. 100000."))
    try:
        phase_values = [Phase(p).value for p in (phases or [])]
    except ValueError:
        raise SchoolError(_("Phases are nursery, primary, secondary and sixth_form.")) from None
    if session.scalar(select(School.id).where(School.slug == slug)) is not None:
        raise SchoolError(_("There is already a school with the slug %(slug)s.", slug=repr(slug)))
    if trust is None and trust_slug:
        trust = get_or_create_trust(trust_slug, trust_name, actor=actor)
    first = session.scalar(select(School.id).limit(1)) is None
    school = School(slug=slug, name=name, urn=(urn or "").strip() or None, phases=",".join(phase_values),
                    trust=trust, keys_path="" if first else f"schools/{slug}",
                    archive_prefix="" if first else f"schools/{slug}", **settings)
    session.add(school)
    session.flush()
    audit.record("school.created", actor=actor, target=school, school=None, slug=slug,
                 trust=trust.slug if trust else None)
    with school_scope(session, school.id):
        account = getattr(actor, "account", None)
        audit.record("school.created", target=school, slug=slug,
                     by_account=account.id if account is not None else None)
        if with_policies:
            from portal.policies.pack import load_default_pack

            load_default_pack()
    return school


def grant_trust_role(account: Any, trust: Trust, role: TrustRole | str, *, actor: Any = None) -> TrustMembership:
    """Give *account* a trust role (no-op when held)."""
    value = TrustRole(role).value
    existing = session.scalar(select(TrustMembership).where(
        TrustMembership.account_id == account.id, TrustMembership.trust_id == trust.id,
        TrustMembership.role == value))
    if existing is not None:
        return existing
    membership = TrustMembership(account_id=account.id, trust_id=trust.id, role=value)
    session.add(membership)
    session.flush()
    audit.record("trust.role_granted", actor=actor, target=membership, school=None, account_id=account.id,
                 role=value, trust=trust.slug)
    return membership


#: The school settings the settings page changes, and among them who holds each designation.
SETTINGS_FIELDS = ("name", "head_teacher_id", "dsl_id", "chair_of_governors_id", "academic_year_start_month",
                   "academic_year_start_day", "official_channel", "helpline_contact", "reminder_first_days",
                   "reminder_every_days", "reminder_max", "default_language")
DESIGNATIONS = ("head_teacher_id", "dsl_id", "chair_of_governors_id")


def save_settings(school: School, values: dict[str, Any], *, deputies: list[int] | None, actor: Any) -> list[str]:
    """Change the school's settings to *values* (and its deputy DSLs to *deputies*; None leaves them, as for
    anyone but the Head Teacher). Returns the names of what changed; audited with who held each designation
    before and after (flushes). Who may change designations is the caller's check."""
    from portal.schools.models import DeputyDsl

    changed = []
    designations_before = {n: getattr(school, n) for n in DESIGNATIONS}
    deputies_before = sorted(session.scalars(select(DeputyDsl.person_id)))
    for name in SETTINGS_FIELDS:
        value = values[name]
        if name == "chair_of_governors_id" and not value:
            value = None
        if isinstance(value, str):
            value = value.strip()
        if name == "default_language":
            value = value or None
        if getattr(school, name) != value:
            setattr(school, name, value)
            changed.append(name)
    wanted = sorted(set(deputies) - {school.dsl_id}) if deputies is not None else deputies_before
    if wanted != deputies_before:
        for row in session.scalars(select(DeputyDsl)):
            if row.person_id not in wanted:
                session.delete(row)
        for pid in set(wanted) - set(deputies_before):
            session.add(DeputyDsl(person_id=pid))
        changed.append("deputy_dsls")
    session.flush()
    moved: dict[str, list[Any]] = {n: [designations_before[n], getattr(school, n)] for n in DESIGNATIONS
                                   if n in changed}
    if "deputy_dsls" in changed:
        moved["deputy_dsls"] = [deputies_before, wanted]
    audit.record("settings.changed", actor=actor, target=school, fields=changed, designations=moved)
    return changed
