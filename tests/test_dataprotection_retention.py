"""The retention schedule applied with a moving clock: each rule type, holds, tombstones, idempotency."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from portal.audit import verify_chain
from portal.dataprotection import retention
from portal.dataprotection.models import DisposalRecord
from portal.people.models import Person
from portal.records.models import SignedRecord
from portal.signatures.models import ConsentAnswer, Signature
from tests.dataprotection_helpers import *  # noqa: F401,F403
from tests.dataprotection_helpers import D, audit_actions, leave
from tests.records_support import *  # noqa: F401,F403


def run(fam, today, **kw):
    """Run the schedule for the school; the report leaves out the yearly audit-log reviews (every test
    writes audit entries, so those come due in every far-future run)."""
    with_audit = kw.pop("with_audit", False)
    report = retention.run_school(fam.school.id, today, **kw)
    if not with_audit:
        report.outcomes = [o for o in report.outcomes if o.record_type != "audit_entries"]
    return report


def exists(db, model, id_):
    db.expire_all()
    return db.get(model, id_) is not None


def test_a_pupils_signature_goes_a_year_after_they_leave_with_its_sealed_pdf_and_a_tombstone(
        app, db, fam, sign, seal_keys):
    from portal.records.archive import archive_store
    from portal.records.operations import make_record

    sig = sign(fam.parent, D(2026, 9, 14), audience="pupil_ks2", for_child=fam.child)
    record = make_record(sig.id)
    assert record.is_sealed
    sha = record.pdf_sha256
    assert archive_store().exists(sha)
    leave(db, fam.child, D(2027, 7, 21))

    report = run(fam, D(2028, 7, 20))
    assert report.count("deleted") == 0 and exists(db, Signature, sig.id)

    report = run(fam, D(2028, 7, 21))
    # Then nothing refers to the child or (their only child having left) the parent: both are anonymised.
    assert [(o.record_type, o.target_id, o.result) for o in report.outcomes] == [
        ("signatures_pupil", sig.id, "deleted"), ("people", fam.child.id, "anonymised"),
        ("people", fam.parent.id, "anonymised")]
    assert not exists(db, Signature, sig.id)
    # Nor can an anonymised person be found by their old name: what they are searched by changed with it.
    assert db.get(Person, fam.child.id).name_key == f"former member of the school {fam.child.id}"
    assert db.get(Person, fam.parent.id).name_key == f"former member of the school {fam.parent.id}"
    assert db.get(Person, fam.child.id).given_name == "Former member"
    assert db.scalar(select(func.count(SignedRecord.id))) == 0
    assert db.scalar(select(func.count(ConsentAnswer.id))) == 0
    assert not archive_store().exists(sha)
    tomb = audit_actions(db, "retention.disposed")
    assert len(tomb) == 1
    data = tomb[0].data
    assert data["record_type"] == "signatures_pupil" and data["target_id"] == sig.id
    assert data["rule"]["period"] == 1 and data["rule"]["trigger"] == "superseded_or_leaves"
    assert data["due_on"] == "2028-07-21" and data["trigger_on"] == "2027-07-21"
    disposal = db.scalar(select(DisposalRecord))
    assert disposal.removed_sha256 == data["removed_sha256"] and len(data["removed_sha256"]) == 64
    assert data["counts"] == {"portal_signatures": 1, "portal_consent_answers": 1, "portal_signed_records": 1,
                              "files": 1}
    assert verify_chain().ok

    # The same day again: nothing more to do, nothing more written.
    entries = len(audit_actions(db, "retention.run"))
    report = run(fam, D(2028, 7, 21))
    assert report.outcomes == [] and len(audit_actions(db, "retention.run")) == entries


def test_an_agreement_replaced_by_a_newer_one_goes_after_the_period_the_newer_one_stays(app, db, fam, sign):
    old = sign(fam.parent, D(2026, 9, 14))
    new = sign(fam.parent, D(2027, 9, 13))
    assert run(fam, D(2028, 9, 12)).count("deleted") == 0
    report = run(fam, D(2028, 9, 13))
    assert [(o.target_type, o.target_id, o.result) for o in report.outcomes] == [("Signature", old.id, "deleted")]
    assert exists(db, Signature, new.id) and not exists(db, Signature, old.id)


def test_staff_agreements_are_kept_six_years_after_the_member_of_staff_leaves(app, db, fam, sign):
    sig = sign(fam.teacher, D(2026, 9, 2), audience="staff")
    assert run(fam, D(2040, 1, 1)).count("deleted") == 0  # never left: kept
    leave(db, fam.teacher, D(2030, 8, 31))
    assert run(fam, D(2036, 8, 30)).count("deleted") == 0
    run(fam, D(2036, 8, 31))
    assert not exists(db, Signature, sig.id)


def test_a_changed_consent_answer_is_removed_six_years_after_the_change_the_current_one_stays(app, db, fam,
                                                                                              policy_version):
    from portal.dataprotection.schedule import BY_KEY
    from tests.dataprotection_helpers import at

    item = policy_version("parent").consent_items[0]
    first = ConsentAnswer(consent_item_id=item.id, person_id=fam.parent.id, answer=True, answered_at=at(D(2026, 9, 1)))
    second = ConsentAnswer(consent_item_id=item.id, person_id=fam.parent.id, answer=False,
                           answered_at=at(D(2027, 3, 1)))
    db.add_all([first, second])
    db.commit()
    assert BY_KEY["consent_answers"].period == 6
    assert run(fam, D(2033, 2, 28)).count("deleted") == 0
    report = run(fam, D(2033, 3, 1))
    assert [(o.record_type, o.target_id) for o in report.outcomes if o.result == "deleted"] == [
        ("consent_answers", first.id)]
    assert exists(db, ConsentAnswer, second.id)


def test_an_informal_concern_is_deleted_three_years_after_it_closed_with_its_files(app, db, fam):
    from portal.concerns.models import Concern, ConcernAttachment
    from portal.concerns.storage import path_of
    from tests.dataprotection_helpers import PNG, raise_concern

    concern = raise_concern(db, fam.parent, closed_on=D(2027, 2, 10), files=[("photo.png", PNG)])
    stored = concern.attachments[0].stored_name
    assert path_of(stored).exists()
    # The file goes a year after closing (its own rule); the concern stays.
    report = run(fam, D(2028, 2, 10))
    assert [(o.record_type, o.result) for o in report.outcomes] == [("attachments", "deleted")]
    assert not path_of(stored).exists() and exists(db, Concern, concern.id)
    assert db.scalar(select(func.count(ConcernAttachment.id))) == 0
    assert run(fam, D(2030, 2, 9)).count("deleted") == 0
    report = run(fam, D(2030, 2, 10))
    assert ("concerns_teaching", "deleted") in [(o.record_type, o.result) for o in report.outcomes]
    assert not exists(db, Concern, concern.id)


def test_an_open_concern_is_never_disposed_of(app, db, fam):
    from portal.concerns.models import Concern
    from tests.dataprotection_helpers import raise_concern

    concern = raise_concern(db, fam.parent)
    run(fam, D(2090, 1, 1))
    assert exists(db, Concern, concern.id)


def test_anonymising_a_concern_keeps_its_category_and_dates_but_not_its_words_once(app, db, fam):
    from portal.concerns.models import Concern, ConcernMessage
    from portal.concerns.operations import add_message
    from portal.dataprotection.rules import set_rule
    from tests.dataprotection_helpers import raise_concern

    concern = raise_concern(db, fam.parent, closed_on=None)
    add_message(concern, fam.parent, "Another private line about spelling.")
    from portal.concerns.models import Status

    concern.status, concern.closed_at = Status.CLOSED.value, dt.datetime(2027, 1, 5, 12, tzinfo=dt.UTC)
    set_rule("concerns_teaching", period=2, unit="years", action="anonymise", review_role=None, actor=fam.head)
    db.commit()
    report = run(fam, D(2029, 1, 5))
    assert [(o.record_type, o.result) for o in report.outcomes] == [("concerns_teaching", "anonymised")]
    db.expire_all()
    c = db.get(Concern, concern.id)
    assert c.category == "teaching" and c.closed_at is not None
    assert "spelling" not in c.subject.lower() and "spelling" not in c.description.lower()
    assert all("spelling" not in m.body.lower() for m in db.scalars(select(ConcernMessage)))
    assert len(audit_actions(db, "retention.anonymised")) == 1
    run(fam, D(2029, 1, 6))
    assert len(audit_actions(db, "retention.anonymised")) == 1  # once only


def test_a_safeguarding_concern_is_reviewed_by_the_dsl_when_the_child_is_25(app, db, fam):
    from portal.concerns.models import Concern
    from portal.dataprotection.dates import add_period
    from portal.dataprotection.models import RetentionReview
    from portal.dataprotection.operations import DataProtectionError, decide_review
    from tests.dataprotection_helpers import raise_concern

    concern = raise_concern(db, fam.parent, closed_on=D(2027, 1, 5), at_risk=True, child=fam.child)
    due = add_period(fam.child_dob, 25, "years")
    assert run(fam, due - dt.timedelta(days=1)).outcomes == []
    report = run(fam, due)
    assert [(o.record_type, o.result) for o in report.outcomes] == [("safeguarding_concerns", "review")]
    review = db.scalar(select(RetentionReview).where(RetentionReview.target_type == "Concern"))
    assert review.review_role == "dsl" and review.due_on == due and review.summary == f"Concern {concern.reference}"
    assert "spelling" not in review.summary.lower()
    assert exists(db, Concern, concern.id)
    # Asked once: the next run waits for the decision.
    assert [o.result for o in run(fam, due + dt.timedelta(days=3)).outcomes] == ["waiting"]
    assert db.scalar(select(func.count(RetentionReview.id)).where(RetentionReview.target_type == "Concern")) == 1
    with pytest.raises(DataProtectionError):
        decide_review(review, actor=fam.dsl, decision="keep", keep_until=due, reason="Inquiry", today=due)
    decide_review(review, actor=fam.dsl, decision="keep", keep_until=due.replace(year=due.year + 5),
                  reason="An inquiry asked schools to keep such records.", today=due)
    db.commit()
    assert [o.result for o in run(fam, due.replace(year=due.year + 2)).outcomes] == ["kept"]
    run(fam, due.replace(year=due.year + 5))
    second = db.scalars(select(RetentionReview).where(RetentionReview.target_type == "Concern")
                        .order_by(RetentionReview.id.desc())).first()
    assert second.id != review.id and second.decision is None
    removal = decide_review(second, actor=fam.dsl, decision="dispose", today=due.replace(year=due.year + 5))
    db.commit()
    retention.dispose_files(removal)
    assert not exists(db, Concern, concern.id)
    assert audit_actions(db, "retention.disposed")[-1].data["record_type"] == "safeguarding_concerns"


def test_a_formal_complaint_is_reviewed_by_the_head_six_years_after_it_closed(app, db, fam):
    from portal.concerns.models import Stage
    from portal.dataprotection.models import RetentionReview
    from tests.dataprotection_helpers import raise_concern

    concern = raise_concern(db, fam.parent, closed_on=D(2027, 6, 1))
    concern.stage = Stage.STAGE_1.value
    db.commit()
    assert run(fam, D(2033, 5, 31)).outcomes == []
    assert [(o.record_type, o.result) for o in run(fam, D(2033, 6, 1)).outcomes] == [("complaints", "review")]
    assert db.scalar(select(RetentionReview).where(RetentionReview.target_type == "Concern")).review_role == "head"


def _contact(db, fam, direction, closed_on=None, adult=None):
    from portal.incidents.operations import record_contact

    incident = record_contact(by=fam.teacher, pupil=fam.child, adult=adult or fam.assistant, kind="phone",
                              direction=direction, platform="", occurred_on=D(2026, 10, 1),
                              summary="A text message about a trip.")
    if closed_on:
        incident.closed_at = dt.datetime(closed_on.year, closed_on.month, closed_on.day, 9, tzinfo=dt.UTC)
    db.commit()
    return incident


def test_incidents_each_follow_their_own_rule(app, db, fam):
    from portal.dataprotection.dates import add_period
    from portal.incidents.operations import record_social

    pupil_started = _contact(db, fam, "from_pupil", closed_on=D(2027, 1, 1))
    adult_started = _contact(db, fam, "from_adult", closed_on=D(2027, 1, 1))
    social = record_social(by=fam.teacher, prevent_flag=False, author_type="third_party",
                           author_description="an unknown account", platform="Video site", posted_on=None,
                           seen_on=D(2026, 10, 2), summary="A clip of the school gate.")
    social.closed_at = dt.datetime(2027, 2, 1, 9, tzinfo=dt.UTC)
    db.commit()
    report = run(fam, D(2033, 1, 1))
    assert [(o.record_type, o.target_id, o.result) for o in report.outcomes] == [
        ("incidents_contact_conduct", adult_started.id, "review")]
    report = run(fam, D(2033, 2, 1))
    assert [(o.record_type, o.result) for o in report.outcomes if o.result == "review"] == [
        ("incidents_social_media", "review")]
    due = add_period(fam.child_dob, 25, "years")
    report = run(fam, due)
    assert ("incidents_contact_safeguarding", pupil_started.id, "review") in [
        (o.record_type, o.target_id, o.result) for o in report.outcomes]


def test_a_deleted_incident_takes_its_append_only_timeline_with_it(app, db, fam):
    from portal.dataprotection.rules import set_rule
    from portal.incidents.models import ContactIncident, IncidentAction

    incident_id = _contact(db, fam, "from_adult", closed_on=D(2027, 1, 1)).id
    set_rule("incidents_contact_conduct", period=1, unit="years", action="delete", review_role=None, actor=fam.head)
    db.commit()
    run(fam, D(2028, 1, 1))
    assert not exists(db, ContactIncident, incident_id)
    assert db.scalar(select(func.count(IncidentAction.id))) == 0


def test_family_links_go_six_years_after_the_adult_or_the_pupil_leaves(app, db, fam):
    from portal.links.models import FamilyLinkDeclaration

    link = FamilyLinkDeclaration(declared_by_id=fam.assistant.id, adult_id=fam.assistant.id, pupil_id=fam.child.id,
                                 relationship_kind="aunt_uncle", academic_year=2026, status="approved")
    db.add(link)
    db.commit()
    incident = _contact(db, fam, "from_pupil")
    incident.covering_link_id, incident.covered_by_link = link.id, True
    db.commit()
    leave(db, fam.child, D(2028, 7, 20))
    assert run(fam, D(2034, 7, 19)).count("deleted") == 0
    run(fam, D(2034, 7, 20))
    assert not exists(db, FamilyLinkDeclaration, link.id)
    db.expire_all()
    assert incident.covering_link_id is None and incident.covered_by_link is True


def test_classroom_sessions_go_a_year_after_they_closed(app, db, fam, policy_version):
    from portal.classroom.models import ClassroomEntry, ClassroomSession

    version = policy_version("pupil_ks2")
    s = ClassroomSession(class_id=fam.cls.id, teacher_id=fam.teacher.id, version_id=version.id, code="DPTEST01",
                         expires_at=dt.datetime(2026, 10, 1, 10, tzinfo=dt.UTC),
                         closed_at=dt.datetime(2026, 10, 1, 9, 30, tzinfo=dt.UTC))
    s.entries.append(ClassroomEntry(pupil_id=fam.child.id, version_id=version.id, text_sha256="0" * 64,
                                    ip="192.0.2.5", user_agent="Tablet"))
    db.add(s)
    db.commit()
    assert run(fam, D(2027, 9, 30)).count("deleted") == 0
    run(fam, D(2027, 10, 1))
    assert not exists(db, ClassroomSession, s.id)
    assert db.scalar(select(func.count(ClassroomEntry.id))) == 0


def test_audit_entries_are_only_ever_reviewed(app, db, fam):
    from portal.dataprotection.models import RetentionReview
    from portal.dataprotection.operations import DataProtectionError, decide_review
    from portal.dataprotection.rules import RuleError, set_rule

    with pytest.raises(RuleError):
        set_rule("audit_entries", period=6, unit="years", action="delete", review_role=None, actor=fam.head)
    from portal import audit

    audit.record("test.something_happened", actor=fam.head)
    db.commit()
    this_year = dt.date.today().year
    report = run(fam, dt.date(this_year + 6, 12, 30), with_audit=True)
    assert [o for o in report.outcomes if o.record_type == "audit_entries"] == []
    report = run(fam, dt.date(this_year + 6, 12, 31), with_audit=True)
    assert ("audit_entries", "AuditYear", this_year, "review") in [
        (o.record_type, o.target_type, o.target_id, o.result) for o in report.outcomes]
    review = db.scalar(select(RetentionReview).where(RetentionReview.target_type == "AuditYear"))
    with pytest.raises(DataProtectionError):
        decide_review(review, actor=fam.head, decision="dispose", today=dt.date(this_year + 7, 1, 1))
    assert verify_chain().ok


def test_sign_in_records_of_the_installation_go_after_thirty_days(app, db, fam):
    from portal.people.models import LoginAttempt

    db.add_all([LoginAttempt(key="email:someone@test.example", at=dt.datetime(2027, 1, 1, 8, tzinfo=dt.UTC)),
                LoginAttempt(key="ip:192.0.2.9", at=dt.datetime(2027, 1, 20, 8, tzinfo=dt.UTC))])
    db.commit()
    assert retention.run_installation(D(2027, 2, 1)) == 1
    db.commit()
    assert [a.key for a in db.scalars(select(LoginAttempt))] == ["ip:192.0.2.9"]
    from portal.audit.models import AuditEntry
    from portal.schools.isolation import all_schools

    with all_schools(db):
        tomb = db.scalar(select(AuditEntry).where(AuditEntry.action == "retention.disposed"))
    assert tomb.chain == 0 and tomb.data["record_type"] == "login_records"


def test_a_dry_run_writes_nothing(app, db, fam, sign):
    sig = sign(fam.parent, D(2026, 9, 14))
    leave(db, fam.parent, D(2027, 1, 1))
    before = len(audit_actions(db, "retention.run"))
    report = run(fam, D(2030, 1, 1), dry_run=True)
    assert report.count("deleted") == 1 and report.dry_run
    assert exists(db, Signature, sig.id) and len(audit_actions(db, "retention.run")) == before
    assert db.scalar(select(func.count(DisposalRecord.id))) == 0


def test_a_person_is_anonymised_only_once_nothing_refers_to_them(app, db, fam, sign):
    from portal.people.models import Account, Person

    sign(fam.teacher, D(2026, 9, 2), audience="staff")
    account_id = fam.teacher.account_id
    leave(db, fam.teacher, D(2027, 8, 31))
    report = run(fam, D(2028, 9, 1))  # a year after leaving, but the staff agreement is kept six years
    assert report.count("anonymised") == 0
    report = run(fam, D(2033, 8, 31))
    assert [(o.record_type, o.result) for o in report.outcomes] == [("signatures_staff", "deleted"),
                                                                    ("people", "anonymised")]
    db.expire_all()
    teacher = db.get(Person, fam.teacher.id)
    assert "Tamsin" not in teacher.full_name and teacher.email is None and teacher.account_id is None
    assert db.get(Account, account_id) is None


# ------------------------------------------------------------------ allegations (KCSIE Part four)


REPORTED = D(2026, 10, 5)


def _allegation(db, fam, about=None, kind="allegation", reported_on=REPORTED, pension=None):
    from portal.concerns.models import About
    from portal.dataprotection import allegations
    from tests.dataprotection_helpers import raise_concern

    about = about or fam.teacher
    head = about.id == fam.head.id
    concern = raise_concern(db, fam.parent, about=About.HEAD_TEACHER if head else About.STAFF,
                            about_person=None if head else about)
    a = allegations.mark(concern, kind, actor=fam.head if not head else fam.chair, reported_on=reported_on)
    if pension:
        a.normal_pension_on = pension
    db.commit()
    return a, concern


def test_an_allegation_is_kept_ten_years_or_until_normal_pension_age_whichever_is_longer(app, db, fam):
    from portal.concerns.models import Concern
    from portal.dataprotection.models import RetentionReview, StaffAllegation

    a, concern = _allegation(db, fam, pension=D(2045, 5, 1))
    # Ten years from the allegation is not enough: the pension date is later.
    assert run(fam, D(2036, 10, 5)).outcomes == []
    report = run(fam, D(2045, 5, 1))
    assert [(o.record_type, o.result) for o in report.outcomes] == [("allegations", "review")]
    review = db.scalar(select(RetentionReview).where(RetentionReview.target_type == "StaffAllegation"))
    assert review.review_role == "head" and review.about_person_id == fam.teacher.id
    # The concern it came from is governed by the allegation's rule, not the informal-concern rule.
    assert exists(db, Concern, concern.id) and exists(db, StaffAllegation, a.id)


def test_an_allegation_with_ten_years_longer_than_pension_age_counts_ten_years(app, db, fam):
    _allegation(db, fam, pension=D(2030, 1, 1))
    assert run(fam, D(2036, 10, 4)).outcomes == []
    assert [o.record_type for o in run(fam, D(2036, 10, 5)).outcomes] == ["allegations"]


def test_an_allegation_without_a_pension_date_is_never_deleted_automatically(app, db, fam):
    from portal.dataprotection.models import RetentionReview, StaffAllegation
    from portal.dataprotection.rules import set_rule

    a, _ = _allegation(db, fam)
    set_rule("allegations", period=10, unit="years", action="delete", review_role=None, actor=fam.head)
    db.commit()
    report = run(fam, D(2036, 10, 5))
    assert [(o.record_type, o.result) for o in report.outcomes] == [("allegations", "review")]
    review = db.scalar(select(RetentionReview).where(RetentionReview.target_type == "StaffAllegation"))
    assert "pension age is not recorded" in review.note
    assert exists(db, StaffAllegation, a.id)


def test_a_review_of_an_allegation_about_the_head_goes_to_the_chair(app, db, fam):
    from portal.dataprotection.models import RetentionReview

    a, _ = _allegation(db, fam, about=fam.head, pension=D(2030, 1, 1))
    assert a.case_manager == "chair"
    run(fam, D(2036, 10, 5))
    review = db.scalar(select(RetentionReview).where(RetentionReview.target_type == "StaffAllegation"))
    assert review.review_role == "chair"


def test_a_low_level_concern_is_reviewed_a_year_after_the_adult_leaves(app, db, fam):
    from portal.dataprotection.models import RetentionReview

    _allegation(db, fam, kind="low_level")
    assert run(fam, D(2050, 1, 1)).outcomes == []  # the adult has not left: kept
    leave(db, fam.teacher, D(2031, 8, 31))
    assert run(fam, D(2032, 8, 30)).outcomes == []
    assert [(o.record_type, o.result) for o in run(fam, D(2032, 8, 31)).outcomes] == [
        ("low_level_concerns", "review")]
    assert db.scalar(select(RetentionReview).where(RetentionReview.target_type == "StaffAllegation")) is not None


def test_disposing_of_an_allegation_removes_the_concern_it_came_from(app, db, fam):
    from portal.concerns.models import Concern
    from portal.dataprotection.models import RetentionReview, StaffAllegation
    from portal.dataprotection.operations import decide_review

    a, concern = _allegation(db, fam, pension=D(2030, 1, 1))
    run(fam, D(2036, 10, 5))
    review = db.scalar(select(RetentionReview).where(RetentionReview.target_type == "StaffAllegation"))
    decide_review(review, actor=fam.head, decision="dispose", reason="Period over.", today=D(2036, 10, 5))
    db.commit()
    assert not exists(db, StaffAllegation, a.id) and not exists(db, Concern, concern.id)
    tomb = audit_actions(db, "retention.disposed")[-1].data
    assert tomb["record_type"] == "allegations" and tomb["counts"]["portal_concerns"] == 1


# ------------------------------------------------------------------ legal holds


def test_a_hold_on_a_pupil_blocks_disposal_until_it_is_released(app, db, fam, sign):
    from portal.dataprotection import holds

    sig = sign(fam.parent, D(2026, 9, 14), audience="pupil_ks2", for_child=fam.child)
    leave(db, fam.child, D(2027, 7, 21))
    hold = holds.place_hold("pupil", fam.child.id, "A claim about an accident in 2027 has been made.",
                            actor=fam.head)
    db.commit()
    report = run(fam, D(2030, 1, 1))
    assert ("signatures_pupil", sig.id, "held") in [(o.record_type, o.target_id, o.result) for o in report.outcomes]
    assert exists(db, Signature, sig.id)
    assert report.count("deleted") == 0 and report.count("anonymised") == 0
    holds.release_hold(hold, "The claim was settled.", actor=fam.head)
    db.commit()
    run(fam, D(2030, 1, 1))
    assert not exists(db, Signature, sig.id)


def test_a_hold_on_a_concern_keeps_the_concern_and_its_files(app, db, fam):
    from portal.concerns.models import Concern
    from portal.dataprotection import holds
    from tests.dataprotection_helpers import PNG, raise_concern

    concern = raise_concern(db, fam.parent, closed_on=D(2027, 2, 10), files=[("photo.png", PNG)])
    other = raise_concern(db, fam.other_parent, closed_on=D(2027, 2, 10))
    holds.place_hold("concern", concern.id, "Complaint to the Ombudsman pending.", actor=fam.dsl)
    db.commit()
    report = run(fam, D(2031, 1, 1))
    assert {(o.target_type, o.target_id, o.result) for o in report.outcomes} >= {
        ("Concern", concern.id, "held"), ("Concern", other.id, "deleted")}
    db.expire_all()
    assert exists(db, Concern, concern.id) and db.get(Concern, concern.id).attachments


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_hold_without_a_reason_is_refused_and_writes_nothing(app, db, fam, reason):
    from portal.dataprotection import holds
    from portal.dataprotection.models import LegalHold

    with pytest.raises(holds.HoldError, match="Give a reason"):
        holds.place_hold("person", fam.parent.id, reason, actor=fam.head)
    db.rollback()
    assert db.scalar(select(func.count(LegalHold.id))) == 0


def test_a_hold_on_something_of_another_school_is_refused(app, db, fam, make_school, make_person):
    from portal.dataprotection import holds
    from portal.people.models import Role
    from tests.schools import as_school

    other = make_school("hold-other")
    with as_school(other.id):
        stranger = make_person(Role.PARENT, given="Ignatius")
    with pytest.raises(holds.HoldError, match="no such person"):
        holds.place_hold("person", stranger.id, "Because.", actor=fam.head)


# ------------------------------------------------------------------ the schedule itself


@pytest.mark.parametrize("period", [0, -1, "-6", "zero", "", "2.5"])
def test_a_period_of_zero_negative_or_not_a_number_is_refused(app, db, fam, period):
    from portal.dataprotection.models import RetentionRule
    from portal.dataprotection.rules import RuleError, set_rule

    with pytest.raises(RuleError):
        set_rule("concerns_teaching", period=period, unit="years", action="delete", review_role=None, actor=fam.head)
    db.rollback()
    assert db.scalar(select(func.count(RetentionRule.id))) == 0
    assert audit_actions(db, "retention.rule_changed") == []


def test_changing_a_period_is_audited_with_the_old_and_new_rule(app, db, fam):
    from portal.dataprotection.rules import effective_rules, set_rule

    assert not effective_rules()["complaints"].confirmed
    set_rule("complaints", period=7, unit="years", action="review", review_role="head", actor=fam.head)
    db.commit()
    entry = audit_actions(db, "retention.rule_changed")[-1]
    assert entry.actor_id == fam.head.id
    assert entry.data["old"]["period"] == 6 and entry.data["new"]["period"] == 7
    rule = effective_rules()["complaints"]
    assert rule.period == 7 and rule.origin == "school" and rule.confirmed


def test_the_trusts_default_applies_where_the_school_has_no_rule_of_its_own(app, db, fam):
    from portal.dataprotection.rules import effective_rules, set_rule, set_trust_default
    from portal.schools.operations import get_or_create_trust

    trust = get_or_create_trust("dp-trust", "Data Protection Trust (fictional)")
    fam.school.trust_id = trust.id
    db.commit()
    set_trust_default(trust, "signatures_parent", period=2, unit="years", action="delete", review_role=None)
    db.commit()
    rule = effective_rules()["signatures_parent"]
    assert (rule.period, rule.origin) == (2, "trust")
    assert audit_actions(db, "retention.trust_default_changed")  # in the school's own chain too
    set_rule("signatures_parent", period=3, unit="years", action="delete", review_role=None, actor=fam.head)
    db.commit()
    assert (effective_rules()["signatures_parent"].period, effective_rules()["signatures_parent"].origin) == (
        3, "school")


def test_every_default_names_its_source_and_the_two_confirmed_periods_are_marked(app):
    from portal.dataprotection.schedule import BY_KEY, DEFAULTS

    assert all(d.source.strip() for d in DEFAULTS)
    cp = BY_KEY["safeguarding_concerns"]
    assert (cp.trigger.value, cp.period, cp.unit, cp.confirmed) == ("date_of_birth", 25, "years", True)
    al = BY_KEY["allegations"]
    assert (al.trigger.value, al.period, al.confirmed) == ("allegation", 10, True)
    assert "pension age" in al.source and "Keeping children safe in education" in al.source
    assert not BY_KEY["complaints"].confirmed and not BY_KEY["concerns_teaching"].confirmed


def test_the_documentation_lists_every_record_type_with_its_default():
    from pathlib import Path

    from portal.dataprotection.schedule import DEFAULTS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "data-protection.md").read_text()
    for d in DEFAULTS:
        unit = d.unit[:-1] if d.period == 1 else d.unit
        assert f"(`{d.key}`) | {d.trigger.label} | {d.period} {unit} |" in doc, d.key


def test_a_member_of_staff_whose_child_leaves_has_not_left(app, db, fam, sign, make_pupil):
    from portal.people.models import GuardianLink, Person, Role

    kid = make_pupil(6, fam.cls, given="Rowan")
    db.add(GuardianLink(parent_id=fam.teacher.id, pupil_id=kid.id))
    fam.teacher.add_role(Role.PARENT)
    db.commit()
    staff_sig = sign(fam.teacher, D(2026, 9, 2), audience="staff")
    leave(db, kid, D(2027, 7, 21))
    run(fam, D(2040, 1, 1))
    db.expire_all()
    assert exists(db, Signature, staff_sig.id)
    assert "Tamsin" in db.get(Person, fam.teacher.id).full_name


@pytest.mark.parametrize("audience, role, years", [
    ("governor", "GOVERNOR", 6), ("volunteer", "VOLUNTEER", 6), ("contractor", "CONTRACTOR", 6),
    ("visitor", "VISITOR", 6), ("staff", "SUPPORT_STAFF", 6), ("pupil_ks3_4", "PUPIL", 1),
])
def test_each_audiences_agreements_follow_their_own_period(app, db, fam, sign, make_person, audience, role, years):
    from portal.people.models import Role

    person = make_person(getattr(Role, role), given="Ottilie")
    sig = sign(person, D(2026, 9, 3), audience=audience)
    leave(db, person, D(2028, 3, 31))
    due = D(2028 + years, 3, 31)
    assert run(fam, due - dt.timedelta(days=1)).count("deleted") == 0
    report = run(fam, due)
    assert (f"signatures_{audience.split('_')[0]}", sig.id, "deleted") in [
        (o.record_type, o.target_id, o.result) for o in report.outcomes]


def test_a_transfer_pack_is_reviewed_by_the_dsl_when_the_child_is_25(app, db, fam):
    from portal.dataprotection.dates import add_period
    from portal.dataprotection.models import RetentionReview, TransferPack

    pack = TransferPack(pupil_id=fam.child.id, destination="Brookfield Academy", moved_on=D(2027, 4, 12),
                        due_on=D(2027, 4, 19), pdf_sha256="1" * 64, size=10)
    db.add(pack)
    db.commit()
    due = add_period(fam.child_dob, 25, "years")
    assert run(fam, due - dt.timedelta(days=1)).outcomes == []
    assert [(o.record_type, o.result) for o in run(fam, due).outcomes] == [("transfer_packs", "review")]
    review = db.scalar(select(RetentionReview).where(RetentionReview.target_type == "TransferPack"))
    assert review.review_role == "dsl" and review.summary == f"Transfer pack {pack.reference}"
