"""The LMS pages in real Chromium, checked with axe-core."""

from __future__ import annotations

import pytest

from tests.browser import assert_accessible, sign_in
from tests.schools import demo_installation, in_school

pytestmark = pytest.mark.browser


def test_lms_pages_are_accessible(live_app, new_page):
    from portal.demo import DEMO_PASSWORD, load_demo

    with demo_installation(live_app):
        pass
    page = new_page()
    sign_in(page, "office@larkspur.example", DEMO_PASSWORD)
    page.goto("/portal/admin/")
    page.get_by_role("link", name="LMS connections (LTI)").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "LMS connections"
    assert_accessible(page)
    page.get_by_role("button", name="Add the platform").click()
    page.wait_for_load_state()
    assert page.get_by_text("The client ID is required.").first.is_visible()
    assert_accessible(page)
    page.goto("/portal/lms/oneroster")
    assert_accessible(page)
    teacher = new_page(mobile=True)
    sign_in(teacher, "teacher2@larkspur.example", DEMO_PASSWORD)
    teacher.goto("/portal/staff/")
    teacher.get_by_role("link", name="LMS courses").click()
    teacher.wait_for_load_state()
    assert_accessible(teacher)
