"""Real Chromium: the admin's page of failed background jobs and the reminder settings (axe: zero)."""
from __future__ import annotations

import pytest

from portal.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in
from tests.schools import demo_installation

pytestmark = pytest.mark.browser


@pytest.fixture
def failed_job(live_app):
    from portal.db import session
    from portal.jobs.models import JobFailure
    from portal.schools.models import School

    with demo_installation(live_app):
        school = School.get()
        session.add(JobFailure(school_id=school.id, name="records.seal",
                               arguments={"school_id": school.id, "signature_id": 0},
                               error="ArchiveError: the object store did not keep 1f2e3d4c5b6a…: SlowDown",
                               attempts=9))
        session.commit()


def test_the_admin_sees_a_failed_job_tries_it_again_and_sets_reminders(failed_job, new_page):
    page = new_page()
    sign_in(page, "office@larkspur.example", DEMO_PASSWORD)
    page.goto("/portal/admin/")
    page.get_by_role("link", name="Background jobs that failed").click()
    page.wait_for_load_state("load")
    table = page.get_by_role("table")
    assert "Make a sealed PDF record" in table.inner_text() and "SlowDown" in table.inner_text()
    assert_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Try again").click()
    assert "queued again" in page.get_by_role("status").first.inner_text()
    assert "No background job has failed." in page.get_by_role("main").inner_text()
    assert_accessible(page)

    page.goto("/portal/admin/settings")
    page.get_by_label("First reminder after (school days)").fill("0")
    with page.expect_navigation():
        page.get_by_role("button", name="Save settings").click()
    assert "Number must be between 1 and 60" in page.get_by_role("main").inner_text()
    assert_accessible(page)
    page.get_by_label("First reminder after (school days)").fill("4")
    with page.expect_navigation():
        page.get_by_role("button", name="Save settings").click()
    assert page.get_by_label("First reminder after (school days)").input_value() == "4"
    assert_accessible(page)
    page.set_viewport_size({"width": 390, "height": 844})  # phone width
    assert_accessible(page)
