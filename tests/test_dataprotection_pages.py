"""Data protection pages: the schedule, holds, leavers, allegation routing (KCSIE Part four),
transfer packs with their deadline and receipt, the privacy notice, and the retention CLI."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from portal.dataprotection.models import LegalHold, RetentionRule, StaffAllegation, TransferPack
from tests.dataprotection_helpers import *  # noqa: F401,F403
from tests.dataprotection_helpers import D, audit_actions, raise_concern
from tests.records_support import *  # noqa: F401,F403

BASE = "/portal/data-protection"


# ------------------------------------------------------------------ schedule


def test_the_schedule_shows_sources_and_what_to_confirm(app, fam, login_as):
    page = login_as(fam.head).get(f"{BASE}/retention").get_data(as_text=True)
    assert "Information and Records Management Society" in page or "IRMS Information Management Toolkit" in page
    assert "Keeping children safe in education" in page
    assert "To confirm" in page and "date of birth" in page


@pytest.mark.parametrize("period", ["0", "-3", "abc", ""])
def test_a_bad_period_on_the_page_is_refused_with_a_clear_message(app, db, fam, login_as, period):
    resp = login_as(fam.head).post(f"{BASE}/retention/concerns_teaching",
                                   data={"period": period, "unit": "years", "action": "delete", "review_role": "head"})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "at least 1" in page or "whole number" in page or "Give a period" in page
    assert db.scalar(select(func.count(RetentionRule.id))) == 0


def test_saving_and_confirming_rules_on_the_page(app, db, fam, login_as):
    client = login_as(fam.head)
    resp = client.post(f"{BASE}/retention/complaints",
                       data={"period": "8", "unit": "years", "action": "review", "review_role": "head"})
    assert resp.status_code == 302
    resp = client.post(f"{BASE}/retention/classroom_sessions/confirm")
    assert resp.status_code == 302
    rules = {r.record_type: r for r in db.scalars(select(RetentionRule))}
    assert rules["complaints"].period == 8 and rules["classroom_sessions"].confirmed_at is not None
    assert audit_actions(db, "retention.rule_confirmed")[-1].data["record_type"] == "classroom_sessions"
    # An action the record type does not allow.
    resp = client.post(f"{BASE}/retention/audit_entries",
                       data={"period": "6", "unit": "years", "action": "delete", "review_role": "head"})
    assert resp.status_code == 400
    assert client.get(f"{BASE}/retention/login_records").status_code == 404  # installation-wide


# ------------------------------------------------------------------ holds and leavers


def test_holds_on_the_page_need_a_reason_and_are_reviewed_and_released(app, db, fam, login_as):
    client = login_as(fam.dsl)
    resp = client.post(f"{BASE}/holds", data={"kind": "pupil", "target": fam.child.external_id, "reason": " "})
    assert resp.status_code == 400 and "Give a reason" in resp.get_data(as_text=True)
    resp = client.post(f"{BASE}/holds", data={"kind": "person", "target": "nobody@test.example",
                                              "reason": "Police enquiry."})
    assert resp.status_code == 400 and "no one in this school" in resp.get_data(as_text=True)
    assert db.scalar(select(func.count(LegalHold.id))) == 0
    resp = client.post(f"{BASE}/holds", data={"kind": "pupil", "target": fam.child.external_id,
                                              "reason": "Police enquiry about an incident in October."})
    assert resp.status_code == 302
    hold = db.scalar(select(LegalHold))
    assert hold.person_id == fam.child.id and hold.placed_by_id == fam.dsl.id
    page = client.get(f"{BASE}/holds").get_data(as_text=True)
    assert "Police enquiry about an incident" in page and fam.child.full_name in page
    later = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    assert client.post(f"{BASE}/holds/{hold.id}/review", data={"next_review_on": later}).status_code == 302
    client.post(f"{BASE}/holds/{hold.id}/release", data={"release_reason": ""})
    db.expire_all()
    assert db.get(LegalHold, hold.id).active  # no reason: not released
    client.post(f"{BASE}/holds/{hold.id}/release", data={"release_reason": "The enquiry is closed."})
    db.expire_all()
    assert not db.get(LegalHold, hold.id).active
    assert [e.action for e in audit_actions(db, "legal_hold.placed")] == ["legal_hold.placed"]
    assert "Police" not in str(audit_actions(db, "legal_hold.placed")[0].data)


def test_a_trust_safeguarding_lead_puts_a_hold_on_from_the_trust_page(app, db, fam, login_as, make_account):
    from portal.schools.models import TrustRole
    from portal.schools.operations import get_or_create_trust, grant_trust_role

    trust = get_or_create_trust("hold-trust", "Hold Trust (fictional)")
    fam.school.trust_id = trust.id
    lead = make_account("lead@trust.example")
    grant_trust_role(lead, trust, TrustRole.SAFEGUARDING)
    db.commit()
    client = login_as(lead)
    concern = raise_concern(db, fam.parent)
    resp = client.post(f"{BASE}/trust/{trust.id}/holds", data={
        "school_id": fam.school.id, "kind": "concern", "target": concern.reference, "reason": ""})
    assert resp.status_code == 400
    resp = client.post(f"{BASE}/trust/{trust.id}/holds", data={
        "school_id": fam.school.id, "kind": "concern", "target": concern.reference,
        "reason": "A claim has been made against the trust."})
    assert resp.status_code == 302
    hold = db.scalar(select(LegalHold))
    assert hold.concern_id == concern.id and hold.placed_by_account_id == lead.id
    # The school's Head sees it in the school.
    assert "A claim has been made against the trust." in login_as(fam.head).get(f"{BASE}/holds").get_data(
        as_text=True)
    resp = client.post(f"{BASE}/trust/{trust.id}/holds/{hold.id}/release",
                       data={"release_reason": "Claim withdrawn."})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(LegalHold, hold.id).released_by_account_id == lead.id


def test_leavers_are_recorded_and_start_the_clock(app, db, fam, login_as):
    from portal.dataprotection.models import Departure

    client = login_as(fam.head)
    # The person is found by name (the page never lists the whole roll), each with their roles in the reader's
    # language, by family name; the form carries the search back.
    page = client.get(f"{BASE}/leavers").get_data(as_text=True)
    assert "Wren Fernsby" not in page and 'role="search"' in page
    page = client.get(f"{BASE}/leavers?q=fernsby").get_data(as_text=True)
    assert page.index(f'<option value="{fam.parent.id}">Juniper Fernsby (Parent or carer)</option>') \
        < page.index(f'<option value="{fam.child.id}">Wren Fernsby (Pupil)</option>')
    assert "Quillon" not in page and '<input type="hidden" name="q" value="fernsby">' in page
    assert f'<option value="{fam.assistant.id}">Ansel Brackwater (Support staff)</option>' in client.get(
        f"{BASE}/leavers?q=ansel+brack").get_data(as_text=True)
    assert "No one matches “Nobody”." in client.get(f"{BASE}/leavers?q=Nobody").get_data(as_text=True)
    one_letter = client.get(f"{BASE}/leavers?q=W").get_data(as_text=True)
    assert "Fernsby" not in one_letter and "Type at least 2 letters of the name." in one_letter
    fam.head.account.language = "cy"
    db.commit()
    page = client.get(f"{BASE}/leavers?q=Wren").get_data(as_text=True)
    assert f'<option value="{fam.child.id}">Wren Fernsby (Disgybl)</option>' in page
    fam.head.account.language = None
    db.commit()
    assert client.post(f"{BASE}/leavers", data={"person_id": 0, "left_on": "2027-07-21"}).status_code == 400
    nobody = client.post(f"{BASE}/leavers", data={"person_id": 999999, "left_on": "2027-07-21"})
    assert nobody.status_code == 400 and "Choose the person who left." in nobody.get_data(as_text=True)
    assert client.post(f"{BASE}/leavers", data={"person_id": fam.child.id, "left_on": "21/07/2027"}).status_code == 400
    resp = client.post(f"{BASE}/leavers", data={"person_id": fam.child.id, "left_on": "2027-07-21",
                                                "destination": "Brookfield Academy (fictional)"})
    assert resp.status_code == 302
    row = db.scalar(select(Departure))
    assert (row.person_id, row.left_on) == (fam.child.id, D(2027, 7, 21))
    assert client.post(f"{BASE}/leavers/{fam.child.id}/undo").status_code == 302
    assert db.scalar(select(func.count(Departure.id))) == 0


# ------------------------------------------------------------------ allegations


@pytest.fixture
def staff_concern(db, fam):
    from portal.concerns.models import About

    fam.teacher.email = "tamsin.orchard@test.example"
    db.commit()
    return raise_concern(db, fam.parent, subject="Comment in class", description="Tamsin shouted at Wren.",
                         about=About.STAFF, about_person=fam.teacher)


def test_an_allegation_goes_to_the_head_only_and_never_to_the_adult(app, db, fam, staff_concern, login_as, mailbox):
    fam.head.email = "head@test.example"
    db.commit()
    resp = login_as(fam.head).post(f"{BASE}/allegations/mark/concern/{staff_concern.id}",
                                   data={"kind": "allegation", "reported_on": dt.date.today().isoformat()})
    assert resp.status_code == 302
    a = db.scalar(select(StaffAllegation))
    assert a.case_manager == "head" and a.about_person_id == fam.teacher.id
    assert login_as(fam.head).get(f"{BASE}/allegations/{a.id}").status_code == 200
    for who in (fam.dsl, fam.chair, fam.teacher, fam.assistant):
        assert login_as(who).get(f"{BASE}/allegations/{a.id}").status_code in (403, 404), who.full_name
    assert login_as(fam.teacher).get(f"{BASE}/allegations").status_code == 403
    assert "Comment in class" not in str(audit_actions(db, "allegation.recorded")[0].data)
    # The Head marked it, so no email to themselves; the DSL marking one would email the Head.


def test_an_allegation_about_the_head_goes_to_the_chair_by_email_without_details(app, db, fam, login_as, mailbox):
    from portal.concerns.models import About

    fam.chair.email = "chair@test.example"
    db.commit()
    concern = raise_concern(db, fam.parent, subject="About the Head", description="The Head said something.",
                            about=About.HEAD_TEACHER)
    resp = login_as(fam.chair).post(f"{BASE}/allegations/mark/concern/{concern.id}",
                                    data={"kind": "allegation", "reported_on": dt.date.today().isoformat()})
    assert resp.status_code == 302
    a = db.scalar(select(StaffAllegation))
    assert a.case_manager == "chair"
    assert login_as(fam.chair).get(f"{BASE}/allegations/{a.id}").status_code == 200
    assert login_as(fam.head).get(f"{BASE}/allegations/{a.id}").status_code == 404
    assert mailbox.to("chair@test.example") == []  # the chair marked it: no email to themselves


def test_the_dsl_marking_an_allegation_emails_the_head_no_details(app, db, fam, login_as, mailbox):
    from portal.concerns.models import About

    fam.head.email = "head@test.example"
    db.commit()
    concern = raise_concern(db, fam.parent, subject="Risky chat", description="A teacher messaged Wren at night.",
                            about=About.STAFF, about_person=fam.teacher, at_risk=True, child=fam.child)
    resp = login_as(fam.dsl).post(f"{BASE}/allegations/mark/concern/{concern.id}",
                                  data={"kind": "allegation", "reported_on": dt.date.today().isoformat()})
    assert resp.status_code == 302
    a = db.scalar(select(StaffAllegation))
    mails = mailbox.to("head@test.example")
    assert len(mails) == 1
    body = mails[0].get_content()
    assert a.reference in body and f"/allegations/{a.id}" in body
    for secret in ("Tamsin", "Orchard", "Wren", "Risky", "messaged"):
        assert secret not in body and secret not in mails[0]["Subject"]
    # The DSL is not the case manager: the allegation itself is the Head's.
    assert login_as(fam.dsl).get(f"{BASE}/allegations/{a.id}").status_code == 404


def test_lado_consultation_and_outcome_are_recorded_by_the_case_manager(app, db, fam, staff_concern, login_as):
    from portal.dataprotection import allegations

    a = allegations.mark(staff_concern, "allegation", actor=fam.head, reported_on=D(2026, 10, 5))
    db.commit()
    client = login_as(fam.head)
    client.post(f"{BASE}/allegations/{a.id}/lado", data={"consulted_on": "2026-10-04", "advice": "Early."})
    db.expire_all()
    assert db.get(StaffAllegation, a.id).lado_consulted_on is None  # before the allegation: refused
    client.post(f"{BASE}/allegations/{a.id}/lado", data={"consulted_on": "2026-10-06", "reference": "LADO/26/0412",
                                                         "advice": "Internal investigation; no police referral."})
    client.post(f"{BASE}/allegations/{a.id}/outcome", data={"outcome": "unsubstantiated", "outcome_on": "2026-11-01",
                                                            "normal_pension_on": "2049-03-31"})
    db.expire_all()
    a = db.get(StaffAllegation, a.id)
    assert (a.lado_reference, a.outcome, a.normal_pension_on) == ("LADO/26/0412", "unsubstantiated", D(2049, 3, 31))
    assert "Internal investigation" not in str([e.data for e in audit_actions(db, "allegation.lado_recorded")])


def test_low_level_concerns_are_seen_by_the_head_and_the_dsl_only(app, db, fam, staff_concern, login_as):
    resp = login_as(fam.head).post(f"{BASE}/allegations/mark/concern/{staff_concern.id}",
                                   data={"kind": "low_level", "notes": "Spoke about the code of conduct."})
    assert resp.status_code == 302
    a = db.scalar(select(StaffAllegation))
    assert a.kind == "low_level"
    for who, status in ((fam.head, 200), (fam.dsl, 200)):
        assert login_as(who).get(f"{BASE}/allegations/{a.id}").status_code == status
        assert a.reference in login_as(who).get(f"{BASE}/allegations").get_data(as_text=True)
    for who in (fam.chair, fam.teacher, fam.assistant, fam.parent):
        assert login_as(who).get(f"{BASE}/allegations/{a.id}").status_code in (403, 404)


def test_only_records_about_an_adult_can_be_marked_and_only_once(app, db, fam, staff_concern, login_as):
    plain = raise_concern(db, fam.parent)
    client = login_as(fam.head)
    assert client.get(f"{BASE}/allegations/mark/concern/{plain.id}").status_code == 404
    assert client.get(f"{BASE}/allegations/mark/nonsense/{plain.id}").status_code == 404
    assert client.post(f"{BASE}/allegations/mark/concern/{staff_concern.id}", data={}).status_code == 400
    assert client.post(f"{BASE}/allegations/mark/concern/{staff_concern.id}",
                       data={"kind": "allegation", "reported_on": "2999-01-01"}).status_code == 400
    assert client.post(f"{BASE}/allegations/mark/concern/{staff_concern.id}",
                       data={"kind": "low_level"}).status_code == 302
    page = client.get(f"{BASE}/allegations/mark/concern/{staff_concern.id}").get_data(as_text=True)
    assert "already been marked" in page
    assert db.scalar(select(func.count(StaffAllegation.id))) == 1


def test_a_contact_incident_about_an_adult_can_be_marked(app, db, fam, login_as):
    from portal.incidents.operations import record_contact

    incident = record_contact(by=fam.teacher, pupil=fam.child, adult=fam.assistant, kind="phone",
                              direction="from_adult", platform="", occurred_on=D(2026, 10, 1),
                              summary="A text to a pupil late at night.")
    db.commit()
    resp = login_as(fam.dsl).post(f"{BASE}/allegations/mark/contact/{incident.id}",
                                  data={"kind": "allegation", "reported_on": dt.date.today().isoformat()})
    assert resp.status_code == 302
    assert db.scalar(select(StaffAllegation)).contact_incident_id == incident.id
    assert login_as(fam.assistant).get(f"{BASE}/allegations/mark/contact/{incident.id}").status_code == 403


# ------------------------------------------------------------------ moving school


def test_the_dsl_makes_a_sealed_transfer_pack_with_its_deadline_and_receipt(app, db, fam, login_as, seal_keys):
    from pyhanko.pdf_utils.reader import PdfFileReader

    from portal.concerns.schooldays import add_school_days
    from portal.dataprotection.models import Departure
    from portal.records.verify import verify_pdf
    from tests.dataprotection_helpers import PNG

    sg = raise_concern(db, fam.parent, subject="Bruise noticed", description="Wren had a bruise on Monday.",
                       at_risk=True, child=fam.child, files=[("note.png", PNG)])
    raise_concern(db, fam.other_parent, subject="Otto worry", description="Otto's worry.", at_risk=True,
                  child=fam.other_child)
    client = login_as(fam.dsl)
    moved = dt.date.today()
    # The pupil is found by name; only pupils are offered, and someone who is not a pupil is refused.
    found = client.get(f"{BASE}/transfers?q=Fernsby").get_data(as_text=True)
    assert f'<option value="{fam.child.id}">Wren Fernsby (Pupil)</option>' in found and "Juniper" not in found
    refused = client.post(f"{BASE}/transfers", data={"pupil_id": fam.parent.id, "destination": "Brookfield Academy",
                                                     "moved_on": moved.isoformat()})
    assert refused.status_code == 400 and "A transfer pack is made for a pupil." in refused.get_data(as_text=True)
    assert client.post(f"{BASE}/transfers", data={"pupil_id": fam.child.id, "destination": "",
                                                  "moved_on": moved.isoformat()}).status_code == 400
    assert login_as(fam.head).get(f"{BASE}/transfers").status_code == 403
    resp = client.post(f"{BASE}/transfers", data={"pupil_id": fam.child.id, "destination": "Brookfield Academy",
                                                  "moved_on": moved.isoformat()})
    assert resp.status_code == 302
    pack = db.scalar(select(TransferPack))
    assert pack.due_on == add_school_days(moved, 5)
    assert pack.contents == {"concerns": 1, "contact_incidents": 0, "files": 1}
    assert db.scalar(select(Departure)).left_on == moved  # the move is the leaving date
    page = client.get(f"{BASE}/transfers/{pack.id}").get_data(as_text=True)
    assert f"{pack.due_on.day} {pack.due_on:%b %Y}" in page and "5 school days" in page  # Babel en-GB: no leading zero
    pdf = client.get(f"{BASE}/transfers/{pack.id}/pack.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert verify_pdf(pdf.data).genuine
    names = PdfFileReader(io.BytesIO(pdf.data)).root["/Names"]["/EmbeddedFiles"]["/Names"]
    attached = {str(names[i]) for i in range(0, len(names), 2)}
    assert attached == {"transfer.json", f"{sg.reference}-1-note.png"}
    import json

    spec = next(names[i + 1] for i in range(0, len(names), 2) if str(names[i]) == "transfer.json")
    data = json.loads(spec["/EF"]["/F"].data)
    assert [c["reference"] for c in data["concerns"]] == [sg.reference]
    assert "Otto" not in json.dumps(data)
    # Receipt: a name is needed; then it is recorded.
    bad = client.post(f"{BASE}/transfers/{pack.id}/receipt", data={"received_on": moved.isoformat(),
                                                                   "received_by": ""})
    assert bad.status_code == 400
    ok = client.post(f"{BASE}/transfers/{pack.id}/receipt", data={
        "received_on": moved.isoformat(), "received_by": "R. Fairweather, DSL", "reference": "BA-2026-17"})
    assert ok.status_code == 302
    db.expire_all()
    pack = db.get(TransferPack, pack.id)
    assert pack.received_by == "R. Fairweather, DSL"
    assert audit_actions(db, "transfer_pack.received")[-1].data["late"] is False


def test_a_pack_without_receipt_after_five_school_days_is_overdue(app, db, fam):
    from portal.dataprotection import transfer

    pack = TransferPack(pupil_id=fam.child.id, destination="Elsewhere", moved_on=D(2026, 10, 1),
                        due_on=transfer.due_date(D(2026, 10, 1)), pdf_sha256="0" * 64, size=1)
    assert pack.due_on == D(2026, 10, 8)  # Thursday 1 October + 5 school days
    assert not transfer.overdue(pack, D(2026, 10, 8)) and transfer.overdue(pack, D(2026, 10, 9))


# ------------------------------------------------------------------ privacy notice


def test_the_privacy_notice_is_public_linked_from_every_page_and_editable(app, db, fam, login_as):
    anon = app.test_client()
    page = anon.get(f"{BASE}/privacy")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert fam.school.name in text and "subject access request" in text and "Our retention schedule" in text
    assert "{{school_name}}" not in text
    assert f'href="{BASE}/privacy"' in login_as(fam.parent).get("/portal/parent/").get_data(as_text=True)
    client = login_as(fam.head)
    assert client.post(f"{BASE}/privacy/edit", data={"body": "   "}).status_code == 400
    resp = client.post(f"{BASE}/privacy/edit", data={"body": "## Who we are\n\n{{school_name}} <script>x</script>"})
    assert resp.status_code == 302
    text = anon.get(f"{BASE}/privacy").get_data(as_text=True)
    assert f"{fam.school.name} &lt;script&gt;" in text or "<script>x" not in text
    assert audit_actions(db, "privacy_notice.saved")
    assert login_as(fam.parent).post(f"{BASE}/privacy/edit", data={"body": "x"}).status_code == 403


def test_with_several_schools_and_nobody_signed_in_the_notice_asks_which_school(app, db, fam, make_school):
    make_school("second-school", name="Second Fictional School")
    page = app.test_client().get(f"{BASE}/privacy").get_data(as_text=True)
    assert "Choose a school" in page and "Second Fictional School" in page
    page = app.test_client().get(f"{BASE}/privacy?school=second-school").get_data(as_text=True)
    assert "Privacy notice: Second Fictional School" in page


# ------------------------------------------------------------------ the CLI


def test_the_retention_cli_runs_dry_and_for_real_with_a_moving_clock(app, db, fam, sign):
    from portal.signatures.models import Signature
    from tests.dataprotection_helpers import leave

    sig = sign(fam.parent, D(2026, 9, 14))
    leave(db, fam.parent, D(2027, 1, 1))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "retention", "run", "--dry-run", "--today", "2028-01-01"])
    assert result.exit_code == 0, result.output
    assert "1 would be deleted" in result.output
    db.expire_all()
    assert db.get(Signature, sig.id) is not None
    result = runner.invoke(args=["portal", "retention", "run", "--today", "2028-01-01",
                                 "--school", fam.school.slug])
    assert result.exit_code == 0 and "1 deleted" in result.output
    db.expire_all()
    assert db.get(Signature, sig.id) is None
    assert runner.invoke(args=["portal", "retention", "run", "--today", "01/01/2028"]).exit_code == 2
    result = runner.invoke(args=["portal", "retention", "set", "complaints", "--period", "0", "--action", "review",
                                 "--review-role", "head"])
    assert result.exit_code == 1 and "at least 1" in result.output
    result = runner.invoke(args=["portal", "retention", "show"])
    assert "safeguarding_concerns" in result.output and "[to confirm]" in result.output


def test_the_home_page_lists_data_protection_work(app, db, fam, login_as):
    from portal.dataprotection import sar

    sar.create_request(fam.parent, fam.parent, received_on=D(2026, 1, 5), actor=fam.head)
    db.commit()
    page = login_as(fam.head).get("/portal/staff/").get_data(as_text=True)
    assert "1 subject access request is overdue" in page
    assert "subject access request" not in login_as(fam.teacher).get("/portal/staff/").get_data(as_text=True)


def test_the_nightly_retention_job_disposes_of_what_is_due_once(app, db, fam, sign):
    """The scheduled ``retention.run`` job applies the same schedule as the command; run again
    the same night it finds nothing more."""
    import datetime as dt

    from portal.db import clock_at
    from portal.jobs.registry import spec
    from portal.signatures.models import Signature
    from tests.dataprotection_helpers import leave

    sig = sign(fam.parent, D(2026, 9, 14))
    kept = sign(fam.teacher, D(2026, 9, 14))
    leave(db, fam.parent, D(2027, 1, 1))
    job = spec("retention.run")
    assert job.periodic
    with clock_at(dt.datetime(2028, 1, 1, 3, 10, tzinfo=dt.UTC)):
        first = job.func()
        second = job.func()
    assert first.startswith("2 disposed of"), first  # the leaver's signature and its consent answer
    assert second.startswith("0 disposed of"), second
    db.expire_all()
    assert db.get(Signature, sig.id) is None and db.get(Signature, kept.id) is not None
