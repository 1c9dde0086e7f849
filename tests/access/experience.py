"""The everyday experience (issue 17): the staff charts, the office's paper and verbal
agreements, and the classroom's short join address and kiosk exit."""
from __future__ import annotations

from tests.access import PERSONAS, Rule, allow

#: compliance.view (the Head, the DSL, support by delegation) or concerns.review / safeguarding.
CHARTS = ("head", "dsl", "support")
#: signatures.record_offline: admins and the Head.
OFFICE = ("head", "admin")
#: Who may download a slip's scan: the office, compliance.view and records.view holders.
SCAN_READERS = ("head", "admin", "dsl", "support", "auditor")

RULES = [
    Rule("portal.staff.charts", "/portal/staff/charts", allow(CHARTS)),
    Rule("portal.policies.offline_home", "/portal/policies/offline/?q=pau", allow(OFFICE)),
    Rule("portal.policies.offline_parent", lambda w: f"/portal/policies/offline/parents/{w.parent.id}",
         allow(OFFICE)),
    # A pupil is not a parent: nothing to record for them.
    Rule("portal.policies.offline_parent", lambda w: f"/portal/policies/offline/parents/{w.child.id}", {}),
    Rule("portal.policies.offline_record",
         lambda w: f"/portal/policies/offline/parents/{w.parent.id}/record?version_id={w.exp_parent_aup.id}",
         allow(OFFICE)),
    # An empty form is refused with the form's errors, and nothing is written.
    Rule("portal.policies.offline_record",
         lambda w: f"/portal/policies/offline/parents/{w.parent.id}/record?version_id={w.exp_parent_aup.id}",
         allow(OFFICE, 400), method="POST"),
    # The short join address, and the QR code's (public: pupils' devices have no account).
    Rule("portal.join", "/portal/join", allow(PERSONAS, 302)),
    Rule("portal.join_code", lambda w: f"/portal/join/{w.cr_session.code}", allow(PERSONAS, 302)),
    Rule("portal.join_code", "/portal/join/NOT-A-CODE!", allow(PERSONAS, 400)),
    # The kiosk's way back: without a kiosk in this browser, it sends everyone to the join page.
    Rule("portal.classroom.kiosk_exit", "/portal/classroom/kiosk/exit", allow(PERSONAS, 302)),
    Rule("portal.classroom.kiosk_exit", "/portal/classroom/kiosk/exit", allow(PERSONAS, 302), method="POST",
         data={"secret": "1234"}),
    Rule("portal.policies.offline_scan", lambda w: f"/portal/policies/offline/agreements/{w.exp_offline.id}/scan",
         allow(SCAN_READERS)),
]


def setup(world, db) -> None:
    import datetime as dt

    from sqlalchemy import select

    from portal.concerns.storage import CheckedFile, UploadBatch
    from portal.policies import operations, queries
    from portal.policies.models import Policy
    from portal.policies.pack import load_default_pack
    from portal.signatures.models import Method

    load_default_pack()  # idempotent: tests/access/policies.py loads it too
    db.commit()
    world.exp_parent_aup = operations.published_of(db.scalar(select(Policy).where(Policy.slug == "aup-parent")))
    req = queries.requirement_for(world.other_parent, world.exp_parent_aup)
    data = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    scan = CheckedFile(data, "image/png", "slip.png", __import__("hashlib").sha256(data).hexdigest())
    with UploadBatch("agreements") as batch:
        sig = operations.record_offline(
            req, world.other_parent, recorded_by=world.admin, method=Method.PAPER,
            agreed_on=dt.date.today(), note="", answers={i.id: True for i in world.exp_parent_aup.consent_items},
            scan=scan, batch=batch)
        db.commit()
        batch.keep()
    world.exp_offline = sig.offline
