"""Signed records in the auditor portal: read-only, records.view / records.export."""
from __future__ import annotations

from tests.access import Rule, allow

READERS = ["auditor", "head"]  # auditors by role; the Head Teacher holds every records capability

RULES = [
    Rule("portal.auditor.record_pdf", lambda w: f"/portal/auditor/records/{w.signature.id}.pdf", allow(READERS)),
    Rule("portal.auditor.export_zip", "/portal/auditor/export.zip", allow(READERS)),
    Rule("portal.auditor.verify", "/portal/auditor/verify", allow(READERS)),
    Rule("portal.auditor.verify", "/portal/auditor/verify", allow(READERS, 400), method="POST"),
]


def setup(world, db) -> None:
    """One sealed record: a parent's signature for their child."""
    import datetime as dt

    from portal.policies.models import Policy, PolicyVersion
    from portal.records.keys import init_keys
    from portal.records.operations import make_record
    from portal.signatures.models import Signature

    policy = Policy(slug="access-parent-aup", title="Parents' agreement", audience="parent")
    version = PolicyVersion(policy=policy, number=1, status="published", title=policy.title,
                            body_md="Be kind online.")
    db.add(policy)
    db.flush()
    world.signature = Signature(
        version_id=version.id, signer_id=world.parent.id, signer_role="parent", on_behalf_of_id=world.child.id,
        signed_name=world.parent.full_name, text_sha256="0" * 64, ip="192.0.2.1", user_agent="matrix",
        academic_year=2026, signed_at=dt.datetime(2026, 9, 10, tzinfo=dt.UTC))
    db.add(world.signature)
    db.commit()
    from portal.records.keys import school_keys_dir
    from portal.schools.models import School

    init_keys(school_keys_dir(School.get()), "Matrix School")
    make_record(world.signature.id)
