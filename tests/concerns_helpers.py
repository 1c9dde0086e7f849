"""Shared set-up for the concerns tests: a small cast of people and a form-posting helper."""
from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from portal.concerns.models import Concern
from portal.people.models import CapabilityGrant, Role

PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + b"\0" * 200
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
#: Words that must never leave the page: not in mail, audit data or the log.
SECRET_SUBJECT = "Quokka-subject-7731"
SECRET_TEXT = "Marmoset-description-4412 about the reading scheme"


@pytest.fixture
def cast(db, school, make_person, make_class, make_pupil, make_parent):
    c = SimpleNamespace(head=school.head, dsl=school.dsl_person, chair=school.chair, school=school)
    c.teacher = make_person(Role.TEACHER, given="Tara", email="tara@test.example")
    c.reviewer = make_person(Role.TEACHER, given="Rhea", email="rhea@test.example")
    c.accused = make_person(Role.TEACHER, given="Abel", email="abel@test.example")
    c.governor = make_person(Role.GOVERNOR, given="Gil", email="gil@test.example")
    for p in (c.reviewer, c.accused):
        db.add(CapabilityGrant(person_id=p.id, capability="concerns.review", granted_by_id=c.head.id))
    c.head.email, c.dsl.email, c.chair.email = "head@test.example", "dsl@test.example", "chair@test.example"
    db.commit()
    c.cls = make_class(3, teacher=c.teacher, name="Year 3 Owls")
    c.other_cls = make_class(5, name="Year 5 Hawks")
    c.child = make_pupil(3, c.cls, given="Kit")
    c.sibling = make_pupil(5, c.other_cls, given="Ray")
    c.other_child = make_pupil(3, c.cls, given="Oli")
    c.parent = make_parent(c.child, c.sibling, given="Paula")
    c.parent.email = "paula@test.example"
    c.other_parent = make_parent(c.other_child, given="Omar")
    db.commit()
    return c


def form_data(**overrides) -> MultiDict:
    from portal.idempotency import new_token

    data = MultiDict({"category": "teaching", "child_id": "0", "about": "nobody", "about_person_id": "0",
                      "subject": SECRET_SUBJECT, "description": SECRET_TEXT, "at_risk": "no", "_once": new_token()})
    for k, v in overrides.items():
        if k != "files":
            data[k] = v
    for name, content in overrides.get("files") or []:
        data.add("attachments", FileStorage(io.BytesIO(content), filename=name,
                                            content_type="application/octet-stream"))
    return data


def raise_concern(client, **overrides):
    """POST the form as multipart (encoded in memory, so big test files leave no temp file open)."""
    boundary, body = encode_multipart(form_data(**overrides))
    return client.post("/portal/concerns/new", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def newest(db) -> Concern | None:
    db.expire_all()
    return db.scalar(select(Concern).order_by(Concern.id.desc()).limit(1))
