"""Languages in data protection, for the words built in Python: the retention schedule's names, groups,
triggers and periods (staff page and the privacy notice parents read), the label tables (holds,
allegations, outcomes, request statuses), the errors of rules, holds and requests, the page's flashes,
and the subject-access copy's index. Each in Welsh (and Polish or Arabic where parents read it), with the
English page still showing today's English words."""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from portal.dataprotection.models import LegalHold, RetentionRule
from tests.dataprotection_helpers import *  # noqa: F401,F403
from tests.dataprotection_helpers import D, raise_concern
from tests.i18n_helpers import page_text as _page
from tests.i18n_helpers import speaks as _speaks
from tests.records_support import *  # noqa: F401,F403

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend

BASE = "/portal/data-protection"



# ------------------------------------------------------------------ the privacy notice (parents)


def test_the_privacy_notice_lists_the_schedule_in_the_parents_language(app, db, fam, login_as):
    english = _page(login_as(fam.other_parent).get(f"{BASE}/privacy"))
    assert "Signatures and sealed records: Parents and carers" in english
    assert "the child's date of birth" in english and "25 years" in english and "1 year<" in english
    assert "Concerns: Teaching and learning" in english

    welsh = _page(login_as(_speaks(db, fam.parent, "cy")).get(f"{BASE}/privacy"))
    assert "Llofnodion a chofnodion wedi'u selio: Rhieni a gofalwyr" in welsh
    assert "dyddiad geni'r plentyn" in welsh and "25 o flynyddoedd" in welsh and "1 flwyddyn" in welsh
    assert "Signatures and sealed records" not in welsh and "25 years" not in welsh

    polish = _page(login_as(_speaks(db, fam.parent, "pl")).get(f"{BASE}/privacy"))
    assert "Podpisy i zapieczętowane dokumenty: rodzice i opiekunowie" in polish
    assert "daty urodzenia dziecka" in polish and "25 lat" in polish and "3 lata" in polish
    assert "Zgłoszenia: nauczanie i uczenie się" in polish

    arabic = _page(login_as(_speaks(db, fam.parent, "ar")).get(f"{BASE}/privacy"))
    assert "التوقيعات والسجلات المختومة: أولياء الأمور ومقدمو الرعاية" in arabic and "تاريخ ميلاد الطفل" in arabic


# ------------------------------------------------------------------ the schedule and its rules (staff)


def test_the_schedule_page_names_groups_triggers_and_periods_in_welsh(app, db, fam, login_as):
    english = _page(login_as(fam.head).get(f"{BASE}/retention"))
    assert "Concerns and complaints" in english and "Concerns: Teaching and learning" in english
    assert "3 years" in english and "30 days" in english and "it was closed (or resolved" in english

    welsh = _page(login_as(_speaks(db, fam.head, "cy")).get(f"{BASE}/retention"))
    assert "Pryderon a chwynion" in welsh and "Pryderon: Addysgu a dysgu" in welsh
    assert "3 o flynyddoedd" in welsh and "30 diwrnod" in welsh and "cafodd ei gau (neu ei ddatrys" in welsh
    assert "Concerns and complaints" not in welsh and "3 years" not in welsh

    rule = _page(login_as(fam.head).get(f"{BASE}/retention/complaints"))
    assert "<h1>Cwynion ffurfiol</h1>" in rule and "6 o flynyddoedd, yna adolygu" in rule
    assert ">Blynyddoedd</option>" in rule and ">Pennaeth</option>" in rule


def test_a_rule_refused_and_a_rule_confirmed_speak_welsh(app, db, fam, login_as):
    client = login_as(fam.head)
    resp = client.post(f"{BASE}/retention/complaints",
                       data={"period": "500", "unit": "years", "action": "review", "review_role": "head"})
    assert resp.status_code == 400 and "The period can be at most 100 years." in _page(resp)
    resp = client.post(f"{BASE}/retention/complaints",
                       data={"period": "6", "unit": "years", "action": "keep", "review_role": "head"})
    assert resp.status_code == 400

    client = login_as(_speaks(db, fam.head, "cy"))
    resp = client.post(f"{BASE}/retention/complaints",
                       data={"period": "500", "unit": "years", "action": "review", "review_role": "head"})
    assert resp.status_code == 400 and "Gall y cyfnod fod yn 100 o flynyddoedd ar y mwyaf." in _page(resp)
    resp = client.post(f"{BASE}/retention/classroom_sessions",
                       data={"period": "0", "unit": "days", "action": "delete", "review_role": "head"})
    assert resp.status_code == 400 and "Rhaid i'r cyfnod fod yn 1 o leiaf" in _page(resp)
    assert db.scalar(select(func.count(RetentionRule.id))) == 0

    page = _page(client.post(f"{BASE}/retention/classroom_sessions/confirm", follow_redirects=True))
    assert "Sesiynau dosbarth" in page and "Classroom sessions" not in page


def test_the_wrong_action_for_a_record_type_is_named_in_the_readers_language(app, db, fam):
    from portal.dataprotection.rules import RuleError, check

    with app.test_request_context(), pytest.raises(RuleError) as english:
        check("audit_entries", 6, "years", "delete", "head")
    assert str(english.value) == "For audit log entries the action must be one of: review."
    with app.test_request_context(), force_locale("cy"), pytest.raises(RuleError) as welsh:
        check("audit_entries", 6, "years", "delete", "head")
    assert str(welsh.value) == ("Ar gyfer cofnodion y log archwilio rhaid i'r cam gweithredu fod yn un o'r rhain: "
                                "adolygu.")


# ------------------------------------------------------------------ legal holds


def test_holds_errors_kinds_and_targets_in_welsh(app, db, fam, login_as):
    concern = raise_concern(db, fam.parent)
    english = login_as(fam.head)
    resp = english.post(f"{BASE}/holds", data={"kind": "pupil", "target": fam.child.external_id, "reason": " "})
    assert resp.status_code == 400 and "Give a reason for the hold: it is what tells people later" in _page(resp)
    assert "A pupil (everything about them)" in _page(resp)

    client = login_as(_speaks(db, fam.dsl, "cy"))
    resp = client.post(f"{BASE}/holds", data={"kind": "pupil", "target": fam.child.external_id, "reason": " "})
    page = _page(resp)
    assert resp.status_code == 400 and "Rhowch reswm dros y daliad" in page
    assert '<div id="reason-error" class="invalid-feedback d-block">Rhowch reswm dros y daliad' in page
    assert "Disgybl (popeth amdanynt)" in page and "A pupil (everything about them)" not in page
    resp = client.post(f"{BASE}/holds", data={"kind": "person", "target": "nobody@test.example",
                                              "reason": "Ymholiad yr heddlu."})
    assert resp.status_code == 400 and "Does neb yn yr ysgol hon yn cyfateb i" in _page(resp)
    resp = client.post(f"{BASE}/holds", data={"kind": "concern", "target": "C-99999", "reason": "Hawliad."})
    assert resp.status_code == 400 and "Does dim pryder o'r fath yn yr ysgol hon." in _page(resp)
    assert db.scalar(select(func.count(LegalHold.id))) == 0

    resp = client.post(f"{BASE}/holds", data={"kind": "concern", "target": concern.reference,
                                              "reason": "Hawliad gan y teulu."})
    assert resp.status_code == 302
    assert f"Pryder {concern.reference}" in _page(client.get(f"{BASE}/holds"))
    assert f"Concern {concern.reference}" in _page(english.get(f"{BASE}/holds"))
    assert db.scalar(select(LegalHold)).target_label == f"Concern {concern.reference}"  # stored in English


# ------------------------------------------------------------------ allegations


def test_allegation_kinds_and_outcomes_in_welsh(app, db, fam, login_as):
    from portal.concerns.models import About
    from portal.dataprotection import allegations

    concern = raise_concern(db, fam.parent, subject="Comment in class", description="Raised voice.",
                            about=About.STAFF, about_person=fam.teacher)
    a = allegations.mark(concern, "allegation", actor=fam.head, reported_on=D(2026, 10, 5))
    db.commit()
    client = login_as(fam.head)
    client.post(f"{BASE}/allegations/{a.id}/outcome", data={"outcome": "unsubstantiated", "outcome_on": "2026-11-01"})
    english = _page(client.get(f"{BASE}/allegations/{a.id}"))
    assert "Unsubstantiated: there is not enough evidence to prove or disprove it" in english
    assert ">unsubstantiated<" in _page(client.get(f"{BASE}/allegations"))

    client = login_as(_speaks(db, fam.head, "cy"))
    welsh = _page(client.get(f"{BASE}/allegations/{a.id}"))
    assert "Heb ei brofi: does dim digon o dystiolaeth i'w brofi na'i wrthbrofi" in welsh
    assert "Wedi'i brofi: mae digon o dystiolaeth" in welsh  # the outcome choices
    assert "Unsubstantiated" not in welsh
    assert ">heb ei brofi<" in _page(client.get(f"{BASE}/allegations"))

    # The operation's own limit (the form stops longer notes first), in the language of the request.
    with app.test_request_context(), force_locale("cy"), pytest.raises(allegations.AllegationError) as welsh_error:
        allegations.update_notes(a, actor=fam.head, notes="x" * 5001)
    assert str(welsh_error.value) == "Mae'r nodiadau'n rhy hir (5000 nod ar y mwyaf)."
    with app.test_request_context(), pytest.raises(allegations.AllegationError) as english_error:
        allegations.update_notes(a, actor=fam.head, notes="x" * 5001)
    assert str(english_error.value) == "The notes are too long (at most 5000 characters)."


# ------------------------------------------------------------------ leavers, requests, privacy edits


def test_leavers_requests_and_the_privacy_editor_flash_in_welsh(app, db, fam, login_as):
    today = dt.date.today().isoformat()
    english = login_as(fam.head)
    resp = english.post(f"{BASE}/leavers", data={"person_id": "0", "left_on": today})
    assert resp.status_code == 400 and "Choose the person who left." in _page(resp)
    page = _page(english.post(f"{BASE}/privacy/edit", data={"body": "## Who we are\n\nA school."},
                              follow_redirects=True))
    assert "The privacy notice is saved and shown to everyone." in page

    client = login_as(_speaks(db, fam.head, "cy"))
    resp = client.post(f"{BASE}/leavers", data={"person_id": "0", "left_on": today})
    assert resp.status_code == 400 and "Dewiswch y person a adawodd." in _page(resp)
    resp = client.post(f"{BASE}/requests", data={"subject_id": "0", "requester_id": str(fam.parent.id),
                                                 "received_on": today})
    assert resp.status_code == 400 and "Dewiswch wybodaeth pwy y gofynnir amdani." in _page(resp)

    resp = client.post(f"{BASE}/privacy/edit", data={"body": "   "})
    assert resp.status_code == 400 and "Ni all yr hysbysiad preifatrwydd fod yn wag." in _page(resp)
    page = _page(client.post(f"{BASE}/privacy/edit", data={"body": "## Pwy ydym ni\n\nYsgol."},
                             follow_redirects=True))
    assert "Mae'r hysbysiad preifatrwydd wedi'i gadw ac yn cael ei ddangos i bawb." in page


def test_request_statuses_and_the_copys_index_in_the_readers_language(app, db, fam, login_as):
    from portal.dataprotection import sar

    raise_concern(db, fam.parent, subject="Worried about a chat message", description="Someone messaged Wren.",
                  at_risk=True, child=fam.child)
    req = sar.create_request(fam.parent, fam.parent, received_on=D(2026, 11, 2), actor=fam.head)
    db.commit()
    assert ">Open<" in _page(login_as(fam.dsl).get(f"{BASE}/requests"))
    assert ">Ar agor<" in _page(login_as(_speaks(db, fam.head, "cy")).get(f"{BASE}/requests"))
    sar.mark_reviewed(req, confirmed=True, redact=[], actor=fam.head)
    db.commit()
    assert "Wedi'i adolygu, yn barod i'w ryddhau" in _page(login_as(fam.head).get(f"{BASE}/requests"))

    def index_and_data() -> tuple[str, dict]:
        with zipfile.ZipFile(io.BytesIO(sar.build_zip(req))) as zf:
            return zf.read("index.html").decode(), json.loads(zf.read("data.json"))

    with app.test_request_context():
        index, data = index_and_data()
        assert "1 safeguarding concern" in index and "the person themselves" in index
        assert data["withheld"] == ["1 safeguarding concern(s)"]  # the data file stays English

        _speaks(db, fam.parent, "pl")
        index, data = index_and_data()
        assert "Zgłoszenia dotyczące ochrony dziecka: 1" in index and "sama osoba" in index
        assert data["withheld"] == ["1 safeguarding concern(s)"] and data["requested_by"]["relationship"] == \
            "the person themselves"

        _speaks(db, fam.parent, "ur")
        index, _data = index_and_data()
        assert "تحفظ کے خدشات: 1" in index and "فرد خود" in index


# ------------------------------------------------------------------ reviews


def test_a_review_shows_its_record_and_note_in_welsh(app, db, fam, login_as):
    from portal.dataprotection.models import RetentionReview

    note = ("The adult's normal pension age is not recorded: check it before disposing "
            "(KCSIE: keep at least until then).")
    review = RetentionReview(record_type="allegations", target_type="StaffAllegation", target_id=1,
                             summary="Allegation A-0001", review_role="head", due_on=D(2026, 10, 1), note=note)
    other = RetentionReview(record_type="complaints", target_type="Concern", target_id=2,
                            summary="Concern C-00012", review_role="head", due_on=D(2026, 10, 1))
    db.add_all([review, other])
    db.commit()
    english = _page(login_as(fam.head).get(f"{BASE}/reviews"))
    assert "Allegation A-0001" in english and "Concern C-00012" in english and note in english
    assert "Formal complaints. Due since" in english

    client = login_as(_speaks(db, fam.head, "cy"))
    welsh = _page(client.get(f"{BASE}/reviews"))
    assert "Honiad A-0001" in welsh and "Pryder C-00012" in welsh
    assert "Nid yw oedran pensiwn arferol yr oedolyn wedi'i gofnodi" in welsh and note not in welsh
    assert "Cwynion ffurfiol." in welsh
    later = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    page = _page(client.post(f"{BASE}/reviews/{other.id}", data={"decision": "keep", "keep_until": later,
                                                                  "reason": "Hawliad ar y gweill."},
                             follow_redirects=True))
    assert "Pryder C-00012:" in page
    db.expire_all()
    assert db.get(RetentionReview, other.id).summary == "Concern C-00012"  # stored in English


# ------------------------------------------------------------------ the transfer pack's files


def test_the_transfer_packs_attached_files_are_described_in_the_makers_language(db, fam, login_as, seal_keys):
    import pikepdf

    from portal.dataprotection.models import TransferPack

    raise_concern(db, fam.parent, subject="Bruise noticed", description="Wren had a bruise.", at_risk=True,
                  child=fam.child)

    def descriptions(client) -> set[str]:
        resp = client.post(f"{BASE}/transfers", data={"pupil_id": fam.child.id, "destination": "Brookfield Academy",
                                                      "moved_on": dt.date.today().isoformat()})
        assert resp.status_code == 302
        pack = db.scalars(select(TransferPack).order_by(TransferPack.id.desc())).first()
        pdf = pikepdf.open(io.BytesIO(client.get(f"{BASE}/transfers/{pack.id}/pack.pdf").data))
        return {str(spec.description) for spec in pdf.attachments.values()}

    assert "The pack's contents as JSON" in descriptions(login_as(fam.dsl))
    welsh = descriptions(login_as(_speaks(db, fam.dsl, "cy")))
    assert "Cynnwys y pecyn fel JSON" in welsh and "The pack's contents as JSON" not in welsh


# ------------------------------------------------------------------ the home page's tasks


def test_the_home_pages_data_protection_tasks_in_welsh(app, db, fam, login_as):
    from portal.dataprotection import sar

    sar.create_request(fam.parent, fam.parent, received_on=D(2026, 1, 5), actor=fam.head)
    sar.create_request(fam.other_parent, fam.other_parent, received_on=D(2026, 1, 6), actor=fam.head)
    db.commit()
    assert "2 subject access requests are overdue" in _page(login_as(fam.head).get("/portal/staff/"))
    welsh = _page(login_as(_speaks(db, fam.head, "cy")).get("/portal/staff/"))
    assert "Mae 2 cais gwrthrych am wybodaeth yn hwyr" in welsh and "are overdue" not in welsh
