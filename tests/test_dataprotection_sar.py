"""Subject access: the ZIP holds the person's data and nothing of another family; requests are
tracked (one calendar month), safeguarding records only when the DSL includes them, names of
other people flagged and redacted before release; the CLI."""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from portal.dataprotection import sar
from portal.dataprotection.dates import one_calendar_month
from portal.dataprotection.models import SubjectAccessRequest
from tests.dataprotection_helpers import *  # noqa: F401,F403
from tests.dataprotection_helpers import PNG, D, audit_actions, raise_concern
from tests.records_support import *  # noqa: F401,F403


def _unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _text(files: dict[str, bytes]) -> str:
    return "\n".join(b.decode("utf-8", "replace") for n, b in files.items() if not n.endswith(".pdf")
                     and not n.startswith("files/"))


@pytest.fixture
def both_families(db, fam, sign, seal_keys):
    """Records of both families: agreements with sealed PDFs, consents, concerns with files."""
    from portal.records.operations import make_record

    mine = sign(fam.parent, D(2026, 9, 14))
    for_child = sign(fam.parent, D(2026, 9, 15), audience="pupil_ks2", for_child=fam.child)
    theirs = sign(fam.other_parent, D(2026, 9, 16))
    sign(fam.other_parent, D(2026, 9, 17), audience="pupil_ks2", for_child=fam.other_child)
    for s in (mine, for_child, theirs):
        assert make_record(s.id).is_sealed
    c1 = raise_concern(db, fam.parent, subject="Reading scheme pace", description="Wren finds the books too easy.",
                       child=fam.child, files=[("reading.png", PNG)])
    from portal.concerns.operations import add_message

    add_message(c1, fam.head, "Thank you, we will look at the reading level.")
    db.commit()
    raise_concern(db, fam.other_parent, subject="Quillon lunch question", description="Otto's packed lunch.",
                  child=fam.other_child)
    return {"mine": mine, "for_child": for_child, "theirs": theirs, "concern": c1}


OTHER_FAMILY = ("Quillon", "Marisol", "Otto", "marisol.quillon@test.example", "packed lunch")


def test_a_parents_zip_holds_their_data_and_nothing_of_another_family(app, db, fam, both_families):
    files = _unzip(sar.build_zip(fam.parent))
    assert {"index.html", "data.json"} <= set(files)
    data = json.loads(files["data.json"])
    assert data["person"]["email"] == "juniper.fernsby@test.example"
    assert data["person"]["roles"] == ["parent"]
    assert {s["id"] for s in data["signatures"]} == {both_families["mine"].id, both_families["for_child"].id}
    pdfs = sorted(n for n in files if n.startswith("records/"))
    assert pdfs == sorted(f"records/signature-{s.id}.pdf" for s in (both_families["mine"], both_families["for_child"]))
    assert all(files[p].startswith(b"%PDF") for p in pdfs)
    assert [c["subject"] for c in data["concerns"]] == ["Reading scheme pace"]
    assert data["concerns"][0]["messages"][0]["body"].startswith("Thank you")
    assert [n for n in files if n.startswith("files/")] == [f"files/{both_families['concern'].reference}-1-reading.png"]
    assert len(data["consent_history"]) == 2
    assert data["family"]["children"] == [{"name": "Wren Fernsby", "relationship": "parent"}]
    text = _text(files)
    for word in OTHER_FAMILY:
        assert word not in text, word
    for name, blob in files.items():  # nor in the sealed PDFs or files
        assert b"Quillon" not in blob, name
    index = files["index.html"].decode()
    assert "Information held about Juniper Fernsby" in index and "<script" not in index


def test_a_parent_asking_about_their_child_gets_the_childs_data_only(app, db, fam, both_families):
    files = _unzip(sar.build_zip(fam.child, fam.parent))
    data = json.loads(files["data.json"])
    assert data["subject"]["name"] == "Wren Fernsby" and data["requested_by"]["relationship"] == "parent or carer"
    assert [s["id"] for s in data["signatures"]] == [both_families["for_child"].id]
    assert [c["reference"] for c in data["concerns"]] == [both_families["concern"].reference]
    for word in OTHER_FAMILY:
        assert word not in _text(files), word


def test_a_parent_cannot_ask_about_someone_elses_child(app, db, fam):
    with pytest.raises(sar.SarError, match="own child"):
        sar.create_request(fam.other_child, fam.parent, received_on=D(2026, 11, 2), actor=fam.head)
    db.rollback()
    assert db.scalar(select(func.count(SubjectAccessRequest.id))) == 0


@pytest.mark.parametrize("received, due", [
    (D(2026, 6, 10), D(2026, 7, 10)),   # the same date next month (a Friday)
    (D(2026, 1, 31), D(2026, 3, 2)),    # no 31 February: 28 February, a Saturday, so Monday 2 March
    (D(2026, 3, 4), D(2026, 4, 7)),     # 4 April is a Saturday and 6 April Easter Monday
    (D(2026, 11, 28), D(2026, 12, 29)),  # 28 December 2026 is the substitute Boxing Day holiday
])
def test_the_deadline_is_one_calendar_month_moved_to_a_working_day(received, due):
    assert one_calendar_month(received) == due


def test_safeguarding_records_are_left_out_until_the_dsl_includes_them(app, db, fam, both_families, login_as):
    sg = raise_concern(db, fam.parent, subject="Worried about a chat message", description="Someone messaged Wren.",
                       at_risk=True, child=fam.child)
    req = sar.create_request(fam.parent, fam.parent, received_on=D(2026, 11, 2), actor=fam.head)
    db.commit()
    data = json.loads(_unzip(sar.build_zip(req))["data.json"])
    assert sg.reference not in [c["reference"] for c in data["concerns"]]
    assert data["withheld"] == ["1 safeguarding concern(s)"]
    # The Head cannot include them; the DSL can.
    assert login_as(fam.head).post(f"/portal/data-protection/requests/{req.id}/safeguarding",
                                   data={"include": "yes"}).status_code == 403
    resp = login_as(fam.dsl).post(f"/portal/data-protection/requests/{req.id}/safeguarding", data={"include": "yes"})
    assert resp.status_code == 302
    db.expire_all()
    req = db.get(SubjectAccessRequest, req.id)
    assert req.include_safeguarding
    data = json.loads(_unzip(sar.build_zip(req))["data.json"])
    assert sg.reference in [c["reference"] for c in data["concerns"]]
    assert audit_actions(db, "sar.safeguarding_decided")[-1].actor_id == fam.dsl.id


def test_names_of_other_people_are_flagged_and_redacted_in_the_released_copy(app, db, fam, both_families,
                                                                           login_as):
    concern = raise_concern(db, fam.parent, subject="Playground", description="Otto Quillon pushed Wren twice.",
                            child=fam.child)
    client = login_as(fam.head)
    resp = client.post("/portal/data-protection/requests", data={
        "subject_id": fam.parent.id, "requester_id": 0, "received_on": "2026-11-02"})
    assert resp.status_code == 302
    req = db.scalar(select(SubjectAccessRequest))
    assert req.due_on == D(2026, 12, 2)
    page = client.get(f"/portal/data-protection/requests/{req.id}").get_data(as_text=True)
    assert "Otto Quillon" in page and f"Concern {concern.reference}" in page
    working = _unzip(client.get(f"/portal/data-protection/requests/{req.id}/download").data)
    flags = json.loads(working["data.json"])["redaction_review"]
    assert {"name": "Otto Quillon", "where": "description", "how": "full name written",
            "record": f"Concern {concern.reference}"} in flags
    # Release needs the review first.
    resp = client.post(f"/portal/data-protection/requests/{req.id}/release", data={"method": "by hand"})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(SubjectAccessRequest, req.id).released_at is None
    # Not confirmed: refused. A name that was not flagged: refused.
    client.post(f"/portal/data-protection/requests/{req.id}/reviewed", data={"redact": ["Otto Quillon"]})
    client.post(f"/portal/data-protection/requests/{req.id}/reviewed",
                data={"redact": ["Nobody Flagged"], "confirm": "y"})
    db.expire_all()
    assert db.get(SubjectAccessRequest, req.id).redaction_reviewed_at is None
    resp = client.post(f"/portal/data-protection/requests/{req.id}/reviewed",
                       data={"redact": ["Otto Quillon"], "confirm": "y"})
    assert resp.status_code == 302
    resp = client.post(f"/portal/data-protection/requests/{req.id}/release", data={"method": "by hand"})
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    released = _unzip(resp.data)
    text = _text(released)
    assert "Otto Quillon" not in text and "[redacted] pushed Wren twice." in text
    assert "redaction_review" not in json.loads(released["data.json"])
    db.expire_all()
    req = db.get(SubjectAccessRequest, req.id)
    import hashlib

    assert req.released_at is not None and req.release_sha256 == hashlib.sha256(resp.data).hexdigest()
    entry = audit_actions(db, "sar.released")[-1]
    assert entry.data["sha256"] == req.release_sha256
    assert "pushed" not in json.dumps(entry.data)


def test_a_request_for_someone_in_the_future_or_bad_input_is_refused(app, db, fam, login_as):
    client = login_as(fam.head)
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    for data in ({"subject_id": fam.parent.id, "requester_id": 0, "received_on": future},
                 {"subject_id": 0, "requester_id": 0, "received_on": "2026-11-02"},
                 {"subject_id": fam.parent.id, "requester_id": 0, "received_on": "not a date"},
                 {"subject_id": 999999, "requester_id": 0, "received_on": "2026-11-02"},
                 {"subject_id": fam.other_child.id, "requester_id": fam.parent.id, "received_on": "2026-11-02"}):
        resp = client.post("/portal/data-protection/requests", data=data)
        assert resp.status_code == 400, data
    assert db.scalar(select(func.count(SubjectAccessRequest.id))) == 0


def test_the_cli_writes_the_zip_and_refuses_an_unknown_person(app, db, fam, both_families, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "sar.zip"
    result = runner.invoke(args=["portal", "sar", "juniper.fernsby@test.example", "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = _unzip(out.read_bytes())
    assert json.loads(files["data.json"])["subject"]["name"] == "Juniper Fernsby"
    assert audit_actions(db, "sar.exported")[-1].data["via"] == "cli"
    missing = tmp_path / "nobody.zip"
    result = runner.invoke(args=["portal", "sar", "nobody@test.example", "--out", str(missing)])
    assert result.exit_code == 1 and "no one in this school" in result.output
    assert not missing.exists()
    result = runner.invoke(args=["portal", "sar", "#" + str(fam.other_child.id), "--requested-by",
                                 "juniper.fernsby@test.example", "--out", str(missing)])
    assert result.exit_code == 1 and "own child" in result.output and not missing.exists()


def test_the_request_form_finds_the_person_by_name_and_offers_only_who_may_ask(app, db, fam, login_as):
    """The form never lists the whole roll: the Head finds whose information it is by name; who asked is
    the person themselves or a parent or carer of a child found (the only people who may)."""
    client = login_as(fam.head)
    page = client.get("/portal/data-protection/requests").get_data(as_text=True)
    assert 'role="search"' in page and "Wren Fernsby" not in page and "Marisol" not in page
    page = client.get("/portal/data-protection/requests?q=Wren").get_data(as_text=True)
    subject = page[page.index('name="subject_id"'):page.index('name="requester_id"')]
    asked_by = page[page.index('name="requester_id"'):page.index("</select>", page.index('name="requester_id"'))]
    assert f'<option value="{fam.child.id}">Wren Fernsby (Pupil)</option>' in subject
    assert '<option value="0">The person themselves</option>' in asked_by
    assert f'<option value="{fam.parent.id}">Juniper Fernsby (Parent or carer)</option>' in asked_by
    assert "Marisol" not in asked_by and "Otto" not in page
    resp = client.post("/portal/data-protection/requests", data={
        "q": "Wren", "subject_id": fam.child.id, "requester_id": fam.parent.id, "received_on": "2026-11-02"})
    assert resp.status_code == 302
    req = db.scalar(select(SubjectAccessRequest))
    assert (req.subject_id, req.requester_id) == (fam.child.id, fam.parent.id)


def test_concerns_about_whoever_prepares_the_copy_are_left_out_and_they_cannot_release_it(app, db, fam,
                                                                                          both_families, login_as):
    """Security probe: the Head made a subject access request for a parent and read, in the copy, the parent's
    complaint about the Head with the chair of governors' internal note. Now the Head's copies leave it out, the
    page says why, and the Head cannot release; a colleague who manages data protection prepares it whole."""
    from portal.concerns.models import About
    from portal.concerns.operations import add_message
    from portal.people.models import CapabilityGrant

    about_head = raise_concern(db, fam.parent, subject="About the Head", description="A complaint about the Head.",
                               about=About.HEAD_TEACHER)
    add_message(about_head, fam.chair, "CHAIR-ONLY note: speak to the Head first.", internal=True)
    db.add(CapabilityGrant(person_id=fam.teacher.id, capability="dataprotection.manage", granted_by_id=fam.head.id))
    db.commit()
    head = login_as(fam.head)
    head.post("/portal/data-protection/requests", data={
        "subject_id": fam.parent.id, "requester_id": 0, "received_on": "2026-11-02"})
    req = db.scalar(select(SubjectAccessRequest))
    base = f"/portal/data-protection/requests/{req.id}"
    page = head.get(base).get_data(as_text=True)
    assert "Some records in this request are about you, so they are left out of your copies" in page
    assert "you can give someone that on Staff, Delegate capabilities" in page  # the Head is told it is theirs to do
    assert about_head.reference not in page and "Review and release" not in page
    working = _text(_unzip(head.get(f"{base}/download").data))
    assert "CHAIR-ONLY" not in working and "A complaint about the Head" not in working
    assert f"Concern {about_head.id}" not in working  # nor its audit entries
    assert both_families["concern"].reference in working  # the rest of the copy is there
    # The Head can neither review (walk: a review of the smaller copy let a colleague release names nobody had
    # read) nor release.
    for step, data in (("reviewed", {"confirm": "y"}), ("release", {"method": "by hand"})):
        refused = head.post(f"{base}/{step}", data=data, follow_redirects=True).get_data(as_text=True)
        assert "Some of these records are about you, so you cannot review or release this copy." in refused
    db.expire_all()
    req = db.get(SubjectAccessRequest, req.id)
    assert req.redaction_reviewed_at is None and req.released_at is None
    # A colleague who manages data protection gets the whole copy, and releases it.
    colleague = login_as(fam.teacher)
    assert "is about you" not in colleague.get(base).get_data(as_text=True)
    colleague.post(f"{base}/reviewed", data={"confirm": "y"})
    released = colleague.post(f"{base}/release", data={"method": "by hand"})
    assert released.mimetype == "application/zip"
    assert "A complaint about the Head" in _text(_unzip(released.data))
    assert "Some records in this request are about you" not in head.get(base).get_data(as_text=True)  # done now
