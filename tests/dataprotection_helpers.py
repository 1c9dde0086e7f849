"""Shared set-up for the data-protection tests: two families, staff, and record makers.

Every name is invented; addresses are on ``.example``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.people.models import PupilProfile, Role
from portal.policies.models import ConsentItem, Policy, PolicyVersion, VersionStatus
from portal.signatures.models import ConsentAnswer, Signature

D = dt.date
UTC = dt.UTC


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def fam(db, school, make_person, make_class, make_pupil, make_parent):
    """Two families (the Fernsby and the Quillon family), a teacher, a support assistant."""
    f = SimpleNamespace(school=school, head=school.head, dsl=school.dsl_person, chair=school.chair)
    f.teacher = make_person(Role.TEACHER, given="Tamsin", family="Orchard", email="tamsin.orchard@test.example")
    f.assistant = make_person(Role.SUPPORT_STAFF, given="Ansel", family="Brackwater",
                              email="ansel.brackwater@test.example")
    f.cls = make_class(4, teacher=f.teacher, name="Year 4 Kestrels")
    f.child = make_pupil(4, f.cls, given="Wren")
    f.child.family_name = "Fernsby"
    f.parent = make_parent(f.child, given="Juniper")
    f.parent.family_name, f.parent.email = "Fernsby", "juniper.fernsby@test.example"
    f.other_child = make_pupil(4, f.cls, given="Otto")
    f.other_child.family_name = "Quillon"
    f.other_parent = make_parent(f.other_child, given="Marisol")
    f.other_parent.family_name, f.other_parent.email = "Quillon", "marisol.quillon@test.example"
    db.commit()
    f.child_dob = db.get(PupilProfile, f.child.id).date_of_birth
    return f


@pytest.fixture
def policy_version(db, fam):
    """``policy_version(audience)`` -> a published version with one consent question."""
    made: dict[str, PolicyVersion] = {}

    def _make(audience: str = "parent") -> PolicyVersion:
        if audience in made:
            return made[audience]
        policy = Policy(slug=f"dp-{audience}", title=f"Agreement for {audience}", audience=audience)
        version = PolicyVersion(policy=policy, number=1, status=VersionStatus.PUBLISHED.value, title=policy.title,
                                body_md="# Rules\n\n- Be kind online.\n", published_at=at(D(2026, 9, 1)),
                                published_by_id=fam.head.id)
        version.consent_items.append(ConsentItem(key="photos_website", question="Photos on the website?", position=0))
        db.add(policy)
        db.commit()
        made[audience] = version
        return version

    return _make


@pytest.fixture
def sign(db, policy_version):
    """``sign(signer, on=date, audience=..., for_child=None, answer=True)`` -> a committed Signature."""

    def _sign(signer, on: dt.date, audience: str = "parent", for_child=None, answer: bool = True) -> Signature:
        version = policy_version(audience)
        sig = Signature(version_id=version.id, signer_id=signer.id,
                        signer_role="parent" if Role.PARENT in signer.role_set else "teacher",
                        on_behalf_of_id=for_child.id if for_child else None, signed_name=signer.full_name,
                        text_sha256=hashlib.sha256(version.body_md.encode()).hexdigest(), signed_at=at(on),
                        ip="192.0.2.44", user_agent="TestBrowser/2.0", academic_year=on.year)
        db.add(sig)
        db.flush()
        db.add(ConsentAnswer(consent_item_id=version.consent_items[0].id, signature_id=sig.id, person_id=signer.id,
                             pupil_id=for_child.id if for_child else None, answer=answer, answered_at=at(on)))
        db.commit()
        return sig

    return _sign


def raise_concern(db, parent, *, closed_on: dt.date | None = None, files=(), **kw):
    """A concern raised by *parent* (closed on *closed_on* when given); committed."""
    from portal.concerns import operations as ops
    from portal.concerns.models import Category, Status
    from portal.concerns.storage import CheckedFile, UploadBatch

    checked = [CheckedFile(data, "image/png", name, hashlib.sha256(data).hexdigest()) for name, data in files]
    args = {"category": Category.TEACHING, "subject": "Spelling homework", "at_risk": False,
            "description": "Private words about spelling homework.", **kw}
    with UploadBatch() as batch:
        concern = ops.raise_concern(parent, files=checked, batch=batch, **args)
        db.commit()
        batch.keep()
    if closed_on is not None:
        concern.status = Status.CLOSED.value
        concern.closed_at = at(closed_on)
        db.commit()
    return concern


def audit_actions(db, action: str) -> list[AuditEntry]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def leave(db, person, on: dt.date, destination: str = "") -> None:
    from portal.dataprotection.operations import record_departure

    record_departure(person, on, actor=None, destination=destination)
    db.commit()


PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + b"\1" * 120

__all__ = ["D", "PNG", "at", "audit_actions", "fam", "leave", "policy_version", "raise_concern", "sign"]
