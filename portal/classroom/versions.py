"""Which published rules a class or a pupil should agree to, and who has already agreed.

Kept here (not in portal.policies) until the lead unifies it with the policy area.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.db import session, utcnow
from portal.people.bands import age_band_for_year
from portal.people.models import Person
from portal.policies.models import BAND_AUDIENCE, Policy, PolicyVersion, VersionStatus
from portal.signatures.models import Decision, Signature


def published_version(audience: str, *, send: bool = False) -> PolicyVersion | None:
    """The newest published version of a policy for *audience* (``send`` picks the SEND variant)."""
    return session.scalar(
        select(PolicyVersion)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .where(Policy.audience == audience, Policy.send_variant.is_(send),
               PolicyVersion.status == VersionStatus.PUBLISHED.value)
        .order_by(PolicyVersion.published_at.desc(), PolicyVersion.id.desc())
        .limit(1)
    )


def published_versions() -> dict[tuple[str, bool], PolicyVersion]:
    """(audience, SEND variant?) -> the newest published version, for every pupil audience at
    once (the same choice as :func:`published_version`, in one query)."""
    rows = session.execute(
        select(PolicyVersion, Policy.audience, Policy.send_variant)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .where(PolicyVersion.status == VersionStatus.PUBLISHED.value, Policy.audience.startswith("pupil_"))
        .order_by(PolicyVersion.published_at.desc(), PolicyVersion.id.desc())
    ).all()
    out: dict[tuple[str, bool], PolicyVersion] = {}
    for version, audience, send in rows:
        out.setdefault((audience, bool(send)), version)
    return out


def covered_versions(versions) -> dict[int, list[int]]:
    """version id -> the ids whose signatures still count for it (as
    :func:`_versions_still_covered_by`), for several versions in one query."""
    versions = [v for v in versions if v is not None]
    if not versions:
        return {}
    history: dict[int, list] = {}
    for row in session.execute(
            select(PolicyVersion.id, PolicyVersion.policy_id, PolicyVersion.number, PolicyVersion.requires_resign)
            .where(PolicyVersion.policy_id.in_({v.policy_id for v in versions}),
                   PolicyVersion.status != VersionStatus.DRAFT.value)
            .order_by(PolicyVersion.number.desc())):
        history.setdefault(row.policy_id, []).append(row)
    out: dict[int, list[int]] = {}
    for version in versions:
        ids = [version.id]
        if not version.requires_resign:
            for row in history.get(version.policy_id, []):
                if row.number >= version.number:
                    continue
                ids.append(row.id)
                if row.requires_resign:
                    break
        out[version.id] = ids
    return out


def audience_for_year(year_group: int) -> str:
    return BAND_AUDIENCE[age_band_for_year(year_group)].value


def versions_for_year(year_group: int) -> tuple[PolicyVersion | None, PolicyVersion | None]:
    """(the non-SEND version, the SEND variant or None) for pupils in *year_group*."""
    audience = audience_for_year(year_group)
    return published_version(audience), published_version(audience, send=True)


def version_for_pupil(pupil: Person) -> PolicyVersion | None:
    """The version *pupil* should agree to: their band's, the SEND variant for SEND pupils
    when one is published (the policies area decides; see portal.policies.queries)."""
    from portal.policies.queries import version_for_pupil as _policy_version

    return _policy_version(pupil)


def academic_year(now: dt.datetime | None = None) -> int:
    """Starting year of the academic year containing *now* (school settings, else 1 September)."""
    from portal.policies.queries import current_academic_year

    return current_academic_year((now or utcnow()).date())


def _versions_still_covered_by(version: PolicyVersion) -> list[int]:
    """Ids of *version* and earlier versions of its policy whose signatures still count for it:
    walking back, every version published after them did not ask people to sign again."""
    ids = [version.id]
    if not version.requires_resign:
        earlier = session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.policy_id == version.policy_id, PolicyVersion.number < version.number,
                   PolicyVersion.status != VersionStatus.DRAFT.value)
            .order_by(PolicyVersion.number.desc())
        ).all()
        for v in earlier:
            ids.append(v.id)
            if v.requires_resign:
                break
    return ids


def acknowledged_ids(pupil_ids: list[int], version: PolicyVersion, year: int) -> set[int]:
    """The pupils among *pupil_ids* who have agreed to *version* (or an earlier version it did
    not ask to be signed again) in academic *year*."""
    if not pupil_ids:
        return set()
    rows = session.scalars(
        select(Signature.signer_id).where(
            Signature.signer_id.in_(pupil_ids),
            Signature.version_id.in_(_versions_still_covered_by(version)),
            Signature.academic_year == year,
            Signature.decision == Decision.SIGNED.value,
        )
    )
    return set(rows)


def has_acknowledged(pupil: Person, version: PolicyVersion, year: int) -> bool:
    return pupil.id in acknowledged_ids([pupil.id], version, year)


def acknowledgement_of(pupil: Person, version: PolicyVersion, year: int) -> Signature | None:
    """The signature by which *pupil* agreed to *version* this *year*, if any."""
    return session.scalar(
        select(Signature).where(
            Signature.signer_id == pupil.id,
            Signature.version_id.in_(_versions_still_covered_by(version)),
            Signature.academic_year == year,
            Signature.decision == Decision.SIGNED.value,
        ).order_by(Signature.signed_at.desc()).limit(1)
    )
