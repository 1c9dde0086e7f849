"""Classroom acknowledgements.

Teacher screens need ``classroom.run`` and only show the teacher's own classes and sessions
(someone else's session is a 404; someone else's class in the start form is a 400 form error).
Pupil-device screens are public but gated by the join code: without the device token from a
valid code they redirect (302) to the join page, for everyone. The join page itself is public.
"""
from __future__ import annotations

import datetime as dt

from tests.access import PERSONAS, Rule, allow

EVERYONE = PERSONAS  # includes "anonymous"
RUNNERS = ("teacher", "other_teacher", "head", "dsl")  # hold classroom.run

RULES = [
    Rule("portal.classroom.home", "/portal/classroom/", allow(RUNNERS)),
    Rule("portal.classroom.start", "/portal/classroom/start",
         {"teacher": 302, **allow(["other_teacher", "head", "dsl"], 400)}, method="POST",
         data=lambda w: {"class_id": w.school_class.id}),
    Rule("portal.classroom.session_page", lambda w: f"/portal/classroom/sessions/{w.cr_session.id}",
         allow(["teacher"])),
    Rule("portal.classroom.progress", lambda w: f"/portal/classroom/sessions/{w.cr_session.id}/progress.json",
         allow(["teacher"])),
    Rule("portal.classroom.close", lambda w: f"/portal/classroom/sessions/{w.cr_closing.id}/close",
         allow(["teacher"], 302), method="POST"),
    Rule("portal.classroom.kiosk", lambda w: f"/portal/classroom/sessions/{w.cr_session.id}/kiosk",
         allow(["teacher"], 302), method="POST"),
    Rule("portal.classroom.remove_entry",
         lambda w: f"/portal/classroom/sessions/{w.cr_session.id}/entries/{w.cr_entry.id}/remove",
         allow(["teacher"], 302), method="POST"),
    Rule("portal.classroom.join", "/portal/classroom/join", allow(EVERYONE)),
    Rule("portal.classroom.join", "/portal/classroom/join", allow(EVERYONE, 302), method="POST",
         data=lambda w: {"code": w.cr_session.code}),
    Rule("portal.classroom.device", "/portal/classroom/device/", allow(EVERYONE, 302)),
    Rule("portal.classroom.device_pupil", lambda w: f"/portal/classroom/device/pupils/{w.child.id}",
         allow(EVERYONE, 302)),
    Rule("portal.classroom.device_pupil", lambda w: f"/portal/classroom/device/pupils/{w.child.id}",
         allow(EVERYONE, 302), method="POST"),
    Rule("portal.classroom.device_leave", "/portal/classroom/device/leave", allow(EVERYONE, 302), method="POST"),
    Rule("portal.classroom.my_rules", "/portal/classroom/my-rules", allow(["pupil"])),
    Rule("portal.classroom.my_rules", "/portal/classroom/my-rules", allow(["pupil"], 302), method="POST",
         data={"agree": "y"}),
]


def setup(world, db) -> None:
    from portal.classroom.models import ClassroomEntry, ClassroomSession
    from portal.db import utcnow
    from portal.policies.models import Audience, Policy, PolicyVersion

    versions = {}
    for audience in (Audience.PUPIL_EYFS_KS1, Audience.PUPIL_KS3_4):
        policy = Policy(slug=f"matrix-{audience.value}", title="Online-safety rules", audience=audience.value)
        version = PolicyVersion(policy=policy, number=1, status="published", title="Online-safety rules",
                                body_md="- Be kind online.\n- Tell an adult.\n", published_at=utcnow())
        db.add_all([policy, version])
        versions[audience] = version
    db.flush()
    now = utcnow()
    ks1 = versions[Audience.PUPIL_EYFS_KS1]
    from portal.schools.models import School

    tag = "A" if School.get().slug == "test-school" else "B"  # join codes are unique in the installation
    world.cr_session = ClassroomSession(class_id=world.school_class.id, teacher_id=world.teacher.id,
                                        version_id=ks1.id, code=f"M{tag}TRX7", created_at=now,
                                        expires_at=now + dt.timedelta(minutes=60))
    world.cr_closing = ClassroomSession(class_id=world.school_class.id, teacher_id=world.teacher.id,
                                        version_id=ks1.id, code=f"M{tag}TRX9", created_at=now,
                                        expires_at=now + dt.timedelta(minutes=60))
    db.add_all([world.cr_session, world.cr_closing])
    db.flush()
    world.cr_entry = ClassroomEntry(session_id=world.cr_session.id, pupil_id=world.child.id, version_id=ks1.id,
                                    text_sha256="0" * 64, ip="127.0.0.1", user_agent="matrix")
    db.add(world.cr_entry)
    db.commit()
