"""Policies: signing (scoped to one's own audiences and children), history, consents,
management (policies.manage) and the compliance dashboard (compliance.view)."""
from __future__ import annotations

from tests.access import SIGNED_IN, STAFF, Rule, allow

#: compliance.view: the Head, the DSL, and support (delegated in tests/access/foundation.py).
COMPLIANCE = ("head", "dsl", "support")

RULES = [
    # The parent AUP: parents only; everyone else is told it does not exist for them.
    Rule("portal.policies.sign", lambda w: f"/portal/policies/versions/{w.parent_aup.id}/sign",
         allow(["parent", "other_parent"])),
    # A Year 1 child's AUP: only that child's parent may countersign.
    Rule("portal.policies.sign", lambda w: f"/portal/policies/versions/{w.ks1_aup.id}/sign?pupil_id={w.child.id}",
         allow(["parent"])),
    # The staff AUP: teachers and support staff (the Head and DSL are teachers).
    Rule("portal.policies.sign", lambda w: f"/portal/policies/versions/{w.staff_aup.id}/sign", allow(STAFF)),
    # The KS3-4 AUP: the Year 8 pupil with an account signs for themselves.
    Rule("portal.policies.sign", lambda w: f"/portal/policies/versions/{w.ks3_aup.id}/sign", allow(["pupil"])),
    # A draft is never signable.
    Rule("portal.policies.sign", lambda w: f"/portal/policies/versions/{w.draft.id}/sign", {}),
    # A signature posted by someone outside the audience is refused before anything is read. In the audience:
    # an empty form is refused (400), and one from a parent whose agreement is already recorded (the other
    # parent's paper slip, tests/access/experience.py) is told so (409).
    Rule("portal.policies.sign", lambda w: f"/portal/policies/versions/{w.parent_aup.id}/sign",
         {"parent": 400, "other_parent": 409}, method="POST", data={"action": "sign"}),
    Rule("portal.policies.history", "/portal/policies/history", allow(SIGNED_IN)),
    # A countersignature for the Year 1 child: the parent sees it; nobody else even learns it exists.
    Rule("portal.policies.signature", lambda w: f"/portal/policies/signatures/{w.countersignature.id}",
         allow(["parent"])),
    # Its sealed copy's status and PDF: only the signer (a missing record is made on download).
    Rule("portal.policies.signature_record_status",
         lambda w: f"/portal/policies/signatures/{w.countersignature.id}/record.json", allow(["parent"])),
    Rule("portal.policies.signature_pdf", lambda w: f"/portal/policies/signatures/{w.countersignature.id}.pdf",
         allow(["parent"])),
    Rule("portal.policies.signature_pdf", lambda w: f"/portal/policies/signatures/{w.signature.id}.pdf",
         allow(["parent"])),
    Rule("portal.policies.consents", "/portal/policies/consents", allow(SIGNED_IN)),
    Rule("portal.policies.manage", "/portal/policies/manage/", allow(["head"])),
    Rule("portal.policies.new_policy", "/portal/policies/manage/new", allow(["head"])),
    Rule("portal.policies.policy", lambda w: f"/portal/policies/manage/{w.parent_aup.policy_id}", allow(["head"])),
    Rule("portal.policies.new_draft", lambda w: f"/portal/policies/manage/{w.staff_aup.policy_id}/drafts",
         allow(["head"], 302), method="POST"),
    Rule("portal.policies.edit_version", lambda w: f"/portal/policies/manage/versions/{w.draft.id}",
         allow(["head"])),
    Rule("portal.policies.publish", lambda w: f"/portal/policies/manage/versions/{w.draft.id}/publish",
         allow(["head"], 302), method="POST"),
    Rule("portal.policies.add_consent_item",
         lambda w: f"/portal/policies/manage/versions/{w.draft.id}/consent-items", allow(["head"], 302),
         method="POST"),
    Rule("portal.policies.translations", lambda w: f"/portal/policies/manage/versions/{w.parent_aup.id}/translations",
         allow(["head"])),
    Rule("portal.policies.publish_translation",
         lambda w: f"/portal/policies/manage/translations/{w.translation.id}/publish", allow(["head"], 302),
         method="POST"),
    Rule("portal.policies.compliance", "/portal/policies/compliance/", allow(COMPLIANCE)),
    Rule("portal.policies.compliance_policy",
         lambda w: f"/portal/policies/compliance/policies/{w.parent_aup.policy_id}", allow(COMPLIANCE)),
    Rule("portal.policies.remind", "/portal/policies/compliance/remind", allow(COMPLIANCE, 302), method="POST",
         data=lambda w: {"policy_id": str(w.parent_aup.policy_id)}),
]



def setup(world, db) -> None:
    from sqlalchemy import select

    from portal.policies import operations
    from portal.policies.models import Policy
    from portal.policies.pack import load_default_pack

    load_default_pack()
    db.commit()
    policies = {p.slug: p for p in db.scalars(select(Policy))}
    world.parent_aup = operations.published_of(policies["aup-parent"])
    world.ks1_aup = operations.published_of(policies["aup-ks1"])
    world.staff_aup = operations.published_of(policies["aup-staff"])
    world.ks3_aup = operations.published_of(policies["aup-ks3-4"])
    world.draft = operations.create_draft(policies["aup-governor"])
    db.commit()
    from portal.policies.translations import save_translation

    world.translation = save_translation(world.parent_aup, language="pl", title="Zasady", body_md="Tekst.")
    db.commit()
    from portal.policies import queries
    from portal.policies.rendering import render_version

    req = queries.requirement_for(world.parent, world.ks1_aup, world.child)
    world.countersignature = operations.sign(req, world.parent, operations.SignRequest(
        shown_sha256=render_version(world.ks1_aup).sha256, ip="127.0.0.1", user_agent="setup",
        typed_name=world.parent.full_name, agreed=True))
    db.commit()
