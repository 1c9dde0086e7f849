"""Real Chromium: an auditor filters signed records and checks a PDF (axe: zero violations)."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from portal.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in
from tests.schools import demo_installation

pytestmark = pytest.mark.browser


@pytest.fixture
def signed_school(live_app, tmp_path):
    """The demo school with a parents' policy signed for three pupils in two classes, sealed."""
    from portal.db import session
    from portal.people.models import GuardianLink, Person, PupilProfile, SchoolClass
    from portal.policies.models import Policy, PolicyVersion
    from portal.records.archive import archive_store
    from portal.records.keys import init_keys
    from portal.records.models import SignedRecord
    from portal.records.operations import make_record
    from portal.signatures.models import Signature

    # Sealed outside a request: the public address printed on records comes from the configuration.
    live_app.config["PORTAL_PUBLIC_URL"] = "https://portal.larkspur.example"
    with demo_installation(live_app):
        init_keys(live_app.config["PORTAL_KEYS_DIR"], "Larkspur Hollow All-Through School")
        policy = Policy(slug="parents-home-school", title="Home and school online agreement", audience="parent")
        version = PolicyVersion(policy=policy, number=1, status="published", title=policy.title,
                                body_md="We will talk with our child about staying safe online.",
                                published_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
        session.add(policy)
        session.flush()
        made = {}
        for code in ("R-ROB", "Y6-FAL"):
            cls = session.scalar(select(SchoolClass).where(SchoolClass.code == code))
            pupils = session.scalars(select(Person).join(PupilProfile, PupilProfile.person_id == Person.id)
                                     .where(PupilProfile.class_id == cls.id).order_by(Person.id)
                                     .limit(2 if code == "R-ROB" else 1))
            for pupil in pupils:
                parent = session.scalar(select(Person).join(GuardianLink, GuardianLink.parent_id == Person.id)
                                        .where(GuardianLink.pupil_id == pupil.id).limit(1))
                sig = Signature(version_id=version.id, signer_id=parent.id, signer_role="parent",
                                on_behalf_of_id=pupil.id, signed_name=parent.full_name,
                                text_sha256=hashlib.sha256(version.body_md.encode()).hexdigest(),
                                ip="192.0.2.44", user_agent="Browser test", academic_year=2026,
                                signed_at=dt.datetime(2026, 9, 20, 9, 0, tzinfo=dt.UTC))
                session.add(sig)
                session.commit()
                made[pupil.full_name] = (code, sig.id)
        for _, sid in made.values():
            assert make_record(sid).is_sealed
        any_id = next(iter(made.values()))[1]
        record = session.scalar(select(SignedRecord).where(SignedRecord.signature_id == any_id))
        pdf = tmp_path / "record.pdf"
        pdf.write_bytes(archive_store().get(record.pdf_sha256))
        classes = {c.code: c.name for c in session.scalars(select(SchoolClass))}
    return made, pdf, any_id, classes


def test_auditor_filters_records_by_class_and_name(signed_school, new_page):
    made, _, _, classes = signed_school
    page = new_page()
    sign_in(page, "auditor@larkspur.example", DEMO_PASSWORD)
    page.goto("/portal/auditor/")
    table = page.get_by_role("table")
    for name in made:
        assert name in table.inner_text()
    assert_accessible(page)

    page.get_by_label("Class").select_option(label=classes["R-ROB"])
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    text = page.get_by_role("table").inner_text()
    for name, (code, _) in made.items():
        assert (name in text) == (code == "R-ROB"), name
    assert_accessible(page)

    y6_name = next(n for n, (code, _) in made.items() if code == "Y6-FAL")
    page.get_by_label("Class").select_option(label="Any class")
    page.get_by_label("Name or roster id").fill(y6_name.split()[0])
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert y6_name in page.get_by_role("table").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these records as a ZIP").click()
    assert download.value.suggested_filename.endswith(".zip")
    assert_accessible(page)


def test_auditor_checks_a_pdf_on_the_verification_page(signed_school, new_page, tmp_path):
    _, pdf, signature_id, _ = signed_school
    page = new_page()
    sign_in(page, "auditor@larkspur.example", DEMO_PASSWORD)
    page.goto("/portal/auditor/")
    page.get_by_role("link", name="Check a PDF you were given").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Check a signed record"
    assert_accessible(page)

    page.get_by_label("PDF file").set_input_files(str(pdf))
    page.get_by_role("button", name="Check this PDF").click()
    result = page.get_by_role("status")
    assert "Genuine record" in result.inner_text()
    assert f"records signature {signature_id}" in result.inner_text()
    assert_accessible(page)

    junk = tmp_path / "notes.pdf"
    junk.write_text("these are not the records you are looking for")
    page.get_by_label("PDF file").set_input_files(str(junk))
    page.get_by_role("button", name="Check this PDF").click()
    assert "This file is not a PDF" in page.get_by_role("alert").inner_text()
    assert_accessible(page)
