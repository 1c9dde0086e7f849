"""Private concerns: parent pages, the staff inbox (routing decides who may open what), closures.

``support`` holds a delegated ``concerns.review`` (a non-DSL reviewer); ``governor`` is the chair.
``teacher`` (Tara) is the member of staff one concern is about.
"""
from __future__ import annotations

from tests.access import Rule, allow

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

HANDLERS = ("head", "dsl", "support")


def _inbox(name: str):
    return lambda w: f"/portal/concerns/inbox/{getattr(w, name).id}"


RULES = [
    Rule("portal.concerns.mine", "/portal/concerns/", allow(["parent", "other_parent"])),
    Rule("portal.concerns.new", "/portal/concerns/new", allow(["parent", "other_parent"])),
    Rule("portal.concerns.view", lambda w: f"/portal/concerns/{w.concern.id}", allow(["parent"])),
    Rule("portal.concerns.view", lambda w: f"/portal/concerns/{w.sg_concern.id}", allow(["parent"])),
    Rule("portal.concerns.reply", lambda w: f"/portal/concerns/{w.concern.id}/reply", allow(["parent"], 302),
         method="POST", data={"body": "One more thing."}),
    Rule("portal.concerns.escalate", lambda w: f"/portal/concerns/{w.resolved.id}/escalate",
         allow(["parent"], 302), method="POST", data={"escalate-body": "", "escalate-confirm": "y"}),
    Rule("portal.concerns.attachment",
         lambda w: f"/portal/concerns/{w.concern.id}/attachments/{w.concern.attachments[0].id}",
         allow(["parent", *HANDLERS])),
    Rule("portal.concerns.attachment",
         lambda w: f"/portal/concerns/{w.sg_concern.id}/attachments/{w.sg_concern.attachments[0].id}",
         allow(["parent", "dsl"])),
    Rule("portal.concerns.inbox", "/portal/concerns/inbox", allow([*HANDLERS, "governor"])),
    Rule("portal.concerns.handle", _inbox("concern"), allow(HANDLERS)),
    Rule("portal.concerns.handle", _inbox("sg_concern"), allow(["dsl"])),
    Rule("portal.concerns.handle", _inbox("head_concern"), allow(["governor"])),
    Rule("portal.concerns.handle", _inbox("staff_concern"), allow(["head"])),
    Rule("portal.concerns.staff_reply", lambda w: f"/portal/concerns/inbox/{w.concern.id}/reply",
         allow(HANDLERS, 302), method="POST", data={"reply-body": "Thank you for telling us."}),
    Rule("portal.concerns.staff_reply", lambda w: f"/portal/concerns/inbox/{w.sg_concern.id}/reply",
         allow(["dsl"], 302), method="POST", data={"reply-body": "Thank you for telling us."}),
    Rule("portal.concerns.note", lambda w: f"/portal/concerns/inbox/{w.concern.id}/note",
         allow(HANDLERS, 302), method="POST", data={"note-body": "Spoke to the class teacher."}),
    Rule("portal.concerns.status", lambda w: f"/portal/concerns/inbox/{w.concern.id}/status",
         allow(HANDLERS, 302), method="POST", data={"status": "acknowledged"}),
    Rule("portal.concerns.status", lambda w: f"/portal/concerns/inbox/{w.head_concern.id}/status",
         allow(["governor"], 302), method="POST", data={"status": "acknowledged"}),
    Rule("portal.concerns.assign", lambda w: f"/portal/concerns/inbox/{w.concern.id}/assign",
         allow(HANDLERS, 302), method="POST", data={"assignee_id": "0"}),
    Rule("portal.concerns.target", lambda w: f"/portal/concerns/inbox/{w.staff_concern.id}/target",
         allow(["head"], 302), method="POST", data={"new_date": "2099-01-05", "reason": "Waiting for a meeting."}),
    Rule("portal.concerns.share", lambda w: f"/portal/concerns/inbox/{w.sg_concern.id}/share",
         allow(["dsl"], 302), method="POST", data={"share": "yes"}),
    Rule("portal.concerns.calendar", "/portal/concerns/calendar", allow(["head", "admin"])),
    # The admin (a later persona) may remove closures too, but the Head has removed this one: 404.
    Rule("portal.concerns.delete_closure", lambda w: f"/portal/concerns/calendar/{w.closure.id}/delete",
         {"head": 302}, method="POST"),
]


def setup(world, db) -> None:
    import datetime as dt

    from portal.concerns import operations as ops
    from portal.concerns.models import About, Category, SchoolClosure, Status
    from portal.concerns.storage import CheckedFile, UploadBatch
    from portal.people.models import CapabilityGrant

    db.add(CapabilityGrant(person_id=world.support.id, capability="concerns.review", granted_by_id=world.head.id))
    png = CheckedFile(PNG, "image/png", "photo.png", "0" * 64)

    def make(**kw):
        with UploadBatch() as batch:
            c = ops.raise_concern(world.parent, category=Category.TEACHING, subject="Reading books",
                                  description="Private words about reading books.", batch=batch,
                                  **{"at_risk": False, **kw})
            db.commit()
            batch.keep()
        return c

    world.concern = make(child=world.child, files=[png])
    world.sg_concern = make(at_risk=True, child=world.child, files=[png])
    world.head_concern = make(about=About.HEAD_TEACHER)
    world.staff_concern = make(about=About.STAFF, about_person=world.teacher)
    world.resolved = make()
    for s in (Status.ACKNOWLEDGED, Status.RESOLVED):
        ops.change_status(world.resolved, world.head, s)
    world.closure = SchoolClosure(first_day=dt.date(2099, 1, 1), last_day=dt.date(2099, 1, 2), label="Test day")
    db.add(world.closure)
    db.commit()
