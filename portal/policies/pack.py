"""The default policy pack: one social-media acceptable-use policy per audience.

The texts (``pack/*.md``) were written for Countersign. ``{{official_channel}}`` and
``{{school_name}}`` are filled in from the school settings when a page is shown.
:func:`load_default_pack` creates and publishes any policy of the pack that does not exist
yet (matched by slug), so running it twice changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from portal import audit
from portal.people.models import Person
from portal.policies import operations
from portal.policies.models import Audience, Policy

PACK_DIR = Path(__file__).resolve().parent / "pack"

#: The parent AUP's optional consent questions (key, question).
PARENT_CONSENTS = (
    ("photos_website", "May the school show photos of my children on the school website?"),
    ("photos_social", "May the school show photos of my children on the school's social media accounts?"),
)


@dataclass(frozen=True)
class PackPolicy:
    slug: str
    title: str
    audience: Audience
    file: str
    send_variant: bool = False
    consents: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def body(self) -> str:
        return (PACK_DIR / self.file).read_text(encoding="utf-8")


PACK: tuple[PackPolicy, ...] = (
    PackPolicy("aup-ks1", "Our online rules (Reception to Year 2)", Audience.PUPIL_EYFS_KS1, "ks1.md"),
    PackPolicy("aup-ks2", "Our online rules (Years 3 to 6)", Audience.PUPIL_KS2, "ks2.md"),
    PackPolicy("aup-ks2-send", "My online rules (Years 3 to 6, easy read)", Audience.PUPIL_KS2, "ks2-send.md",
               send_variant=True),
    PackPolicy("aup-ks3-4", "Social media agreement (Years 7 to 11)", Audience.PUPIL_KS3_4, "ks3-4.md"),
    PackPolicy("aup-ks5", "Social media agreement (Sixth Form)", Audience.PUPIL_KS5, "ks5.md"),
    PackPolicy("aup-parent", "Social media agreement for parents and carers", Audience.PARENT, "parent.md",
               consents=PARENT_CONSENTS),
    PackPolicy("aup-staff", "Staff social media policy", Audience.STAFF, "staff.md"),
    PackPolicy("aup-governor", "Governors' social media policy", Audience.GOVERNOR, "governor.md"),
    PackPolicy("aup-volunteer", "Volunteers' social media agreement", Audience.VOLUNTEER, "volunteer.md"),
    PackPolicy("aup-contractor", "Contractors' social media agreement", Audience.CONTRACTOR, "contractor.md"),
    PackPolicy("aup-visitor", "Visitors' phones and social media agreement", Audience.VISITOR, "visitor.md"),
)


def load_default_pack(actor: Person | None = None) -> list[Policy]:
    """Create and publish (as version 1) each pack policy whose slug is not in use.

    Flushes and audits; the caller commits. Returns the policies created (empty when the
    pack is already loaded).
    """
    from portal.db import session

    existing = set(session.scalars(select(Policy.slug)))
    created: list[Policy] = []
    for item in PACK:
        if item.slug in existing:
            continue
        policy = operations.create_policy(slug=item.slug, title=item.title, audience=item.audience,
                                          send_variant=item.send_variant, actor=actor)
        version = operations.create_draft(policy, actor=actor, title=item.title, body_md=item.body,
                                          change_note="First version.")
        for key, question in item.consents:
            operations.add_consent_item(version, key=key, question=question, actor=actor)
        operations.publish_version(version, requires_resign=True, actor=actor)
        created.append(policy)
    if created:
        audit.record("policy.pack_loaded", actor=actor, created=[p.slug for p in created])
    return created
