"""Languages on the staff policy pages: a Welsh-speaking Head reads the compliance dashboard and one
policy's compliance page in Welsh (a missing translation falls back to English, as tests/test_i18n.py
checks in general)."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from portal.policies.models import Policy
from portal.policies.pack import load_default_pack

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend


def _text(resp) -> str:
    return re.sub(r"\s+", " ", html.unescape(resp.get_data(as_text=True)))


def test_a_welsh_head_sees_the_compliance_pages_in_welsh(db, school, login_as):
    load_default_pack()
    school.head.account.language = "cy"
    db.commit()
    client = login_as(school.head)

    resp = client.get("/portal/policies/compliance/")
    assert resp.status_code == 200
    page = _text(resp)
    assert 'lang="cy"' in page
    assert "<h1>Pwy sydd wedi llofnodi</h1>" in page
    assert "Gwrthodiadau yw penderfyniadau rhieni, wedi'u cofnodi, i beidio â llofnodi" in page
    assert "Llofnodion ar gyfer pob polisi sydd wedi'i gyhoeddi" in page  # a caption passed to the macro
    assert "Disgyblion yn ôl dosbarth" in page and 'data-label="Llofnodwyd"' in page
    for english in ("Who has signed", "Declines are parents' recorded decisions",
                    "Signatures for each published policy", "Pupils by class", 'data-label="Signed"'):
        assert english not in page, english

    staff_policy = db.scalar(select(Policy).where(Policy.slug == "aup-staff"))
    resp = client.get(f"/portal/policies/compliance/policies/{staff_policy.id}")
    assert resp.status_code == 200
    page = _text(resp)
    assert re.search(r"Dim ymateb eto \(\d+\)", page)  # the Head has not signed the staff policy yet
    assert school.head.full_name in page
    assert "Anfon nodiadau atgoffa e-bost" in page
    assert "Does neb yn cael ei atgoffa fwy nag unwaith mewn 7 diwrnod." in page
    assert "Does neb wedi gwrthod." in page
    for english in ("No response yet", "Send email reminders", "Nobody is reminded more than once",
                    "No one has declined.", "People who have not responded"):
        assert english not in page, english


def test_a_welsh_head_edits_a_draft_in_welsh(db, school, login_as):
    from portal.policies import operations

    load_default_pack()
    staff_policy = db.scalar(select(Policy).where(Policy.slug == "aup-staff"))
    draft = operations.create_draft(staff_policy)
    school.head.account.language = "cy"
    db.commit()
    client = login_as(school.head)
    url = f"/portal/policies/manage/versions/{draft.id}"
    page = _text(client.get(url))
    assert f"fersiwn {draft.number} (drafft)" in page
    assert ">Testun y polisi<" in page and "Cadw'r drafft" in page and "Cwestiynau ie/na" in page
    assert "Save draft" not in page and ">Policy text<" not in page and "(draft)" not in page
    # A refused save answers in Welsh too (a form validator and an error from the operations layer).
    resp = client.post(url, data={"title": draft.title, "body_md": "x" * (101 * 1024), "action": "save"})
    assert resp.status_code == 400 and "Mae'r testun yn fwy na 100 KB." in _text(resp)
    saved = client.post(url, data={"title": draft.title, "body_md": "## Rheol\n\nTestun.", "action": "save"},
                        follow_redirects=True)
    assert "Drafft wedi'i gadw." in _text(saved) and "Draft saved." not in _text(saved)
    refused = client.post(f"{url}/publish", data={}, follow_redirects=True)  # no kind of change chosen
    assert "Dewiswch a oes rhaid i bawb lofnodi eto." in _text(refused)
    assert "Choose whether everyone must sign again." not in _text(refused)
