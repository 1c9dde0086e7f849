"""`flask portal demo` makes a school that looks a month into term, all through the app's
operations (so the audit chain verifies)."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.classroom.models import ClassroomSession
from portal.concerns.models import Concern
from portal.concerns.schooldays import uk_today
from portal.incidents.models import ContactIncident, SocialMediaIncident
from portal.links.models import FamilyLinkDeclaration
from portal.policies import queries
from portal.records.models import SignedRecord
from portal.schools.isolation import set_school
from portal.schools.models import School
from portal.signatures.models import OfflineAgreement, Signature


def test_the_demo_school_looks_a_month_into_term(empty_installation, db):
    app = empty_installation
    result = app.test_cli_runner().invoke(args=["portal", "demo", "--seal", "2"])
    assert result.exit_code == 0, result.output
    assert "a month into term" in result.output and "A month of term" in result.output
    school = db.scalar(select(School).where(School.slug == "larkspur-hollow"))
    set_school(db, school.id)

    # Signing rates between 40% and 95%, varying by class and by audience.
    reqs = queries.school_requirements()
    by_class: dict[str, Counter] = {}
    by_audience: dict[str, Counter] = {}
    for r in reqs:
        by_audience.setdefault(r.version.policy.audience, Counter())[r.status] += 1
        if r.version.policy.audience.startswith("pupil_") and r.school_class is not None:
            by_class.setdefault(r.school_class.name, Counter())[r.status] += 1

    def rate(c: Counter) -> float:
        return c["signed"] / sum(c.values())

    class_rates = {k: rate(c) for k, c in by_class.items()}
    assert len(class_rates) == 8 and all(0.4 <= v <= 0.95 for v in class_rates.values()), class_rates
    assert len({round(v, 2) for v in class_rates.values()}) >= 5
    audience_rates = {k: rate(c) for k, c in by_audience.items()}
    assert all(0.4 <= v <= 0.95 for v in audience_rates.values()), audience_rates
    assert len({round(v, 2) for v in audience_rates.values()}) >= 5

    # Declines with reasons, consents withdrawn, paper and verbal agreements, three class sessions.
    declines = db.scalars(select(Signature).where(Signature.decision == "declined")).all()
    assert len(declines) >= 2 and all(d.decline_reason for d in declines)
    assert db.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "consent.withdrawn")) >= 1
    assert {o.signature.method for o in db.scalars(select(OfflineAgreement))} == {"paper", "verbal"}
    sessions = db.scalars(select(ClassroomSession)).all()
    assert len(sessions) == 3 and all(s.closed_at is not None and s.entries for s in sessions)
    methods = set(db.scalars(select(Signature.method)))
    assert {"online", "countersign", "in_class", "paper", "verbal"} <= methods
    assert db.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "signature.created")) >= 60
    # The month is behind us: signatures are spread over it.
    days = {s.signed_at.date() for s in db.scalars(select(Signature))}
    assert len(days) >= 10

    # Concerns at every status and stage, a safeguarding one, one about the Head, an overdue one.
    concerns = db.scalars(select(Concern)).all()
    assert {c.status for c in concerns} == {"new", "acknowledged", "in_progress", "resolved", "closed"}
    assert {c.stage for c in concerns} == {"informal", "stage_1", "stage_2"}
    assert {"safeguarding", "chair", "general", "head_only"} <= {c.route for c in concerns}
    assert any(c.about == "head_teacher" for c in concerns)
    assert any(c.overdue(uk_today()) for c in concerns)

    # Family links waiting and approved; incidents of each kind.
    assert {d.status for d in db.scalars(select(FamilyLinkDeclaration))} >= {"pending", "approved"}
    contacts = db.scalars(select(ContactIncident)).all()
    assert {c.direction for c in contacts} == {"from_pupil", "from_adult"} and any(c.covered_by_link for c in contacts)
    social = db.scalars(select(SocialMediaIncident)).all()
    assert {s.author_type for s in social} == {"community", "third_party"} and any(s.prevent_flag for s in social)
    assert any(s.deletion_outcome == "removed" for s in social)

    # Sealed records for the auditor (the rest wait for `records repair`), and the chain verifies.
    assert db.scalar(select(func.count(SignedRecord.id)).where(SignedRecord.status == "sealed")) == 2
    verified = app.test_cli_runner().invoke(args=["portal", "audit", "verify"])
    assert verified.exit_code == 0 and "BROKEN" not in verified.output, verified.output
    # Every name is invented and every address is on the reserved .example domain.
    from portal.people.models import Person

    assert all(e.endswith(".example") for e in db.scalars(select(Person.email).where(Person.email.is_not(None))))
