"""Real Chromium: a Head Teacher whose account language is Welsh opens the main staff pages on a desktop and
on a phone. Each page says it is Welsh (``<html lang="cy">``), shows its own Welsh words, and axe-core finds
no violations."""
from __future__ import annotations

import pytest

from portal.demo import DEMO_PASSWORD
from tests.browser import assert_accessible, sign_in
from tests.schools import demo_installation

pytestmark = pytest.mark.browser

HEAD = "head@larkspur.example"

#: (address, a Welsh phrase the page shows: its main heading, or for a class the state of a pupil's policy)
PAGES = [
    ("/portal/staff/", "Helo, Helen"),
    ("/portal/staff/charts", "Y flwyddyn ysgol hyd yma"),
    ("/portal/concerns/inbox", "Pryderon rhieni"),
    ("/portal/policies/compliance/", "Pwy sydd wedi llofnodi"),
    ("/portal/links/register", "Cofrestr cysylltiadau teuluol"),
    ("/portal/incidents/", "Digwyddiadau"),
    ("/portal/staff/delegation", "Dirprwyo galluoedd"),
    ("/portal/data-protection/", "Diogelu data"),
    ("/portal/data-protection/retention", "Amserlen gadw"),
    ("/portal/data-protection/reviews", "Cofnodion i'w hadolygu"),
    ("/portal/data-protection/holds", "Daliadau cyfreithiol"),
    ("/portal/data-protection/leavers", "Pobl sydd wedi gadael"),
    ("/portal/data-protection/requests", "Ceisiadau gwrthrych am wybodaeth"),
    ("/portal/auditor/", "Cofnodion wedi'u llofnodi"),
    ("/portal/classroom/", "Cydnabyddiaethau yn y dosbarth"),
    ("CLASS", "Heb ei lofnodi eto"),
]


@pytest.fixture
def welsh_head(live_app):
    """The demo school; its Head Teacher reads the portal in Welsh. Returns a class's address."""
    from sqlalchemy import select

    from portal.db import session
    from portal.people.models import Account, SchoolClass

    with demo_installation(live_app):
        session.scalar(select(Account).where(Account.email == HEAD)).language = "cy"
        first_class = session.scalar(select(SchoolClass).order_by(SchoolClass.id))
        session.commit()
        return f"/portal/staff/classes/{first_class.id}"


@pytest.mark.parametrize("mobile", [False, True], ids=["desktop", "phone"])
def test_a_welsh_head_teachers_staff_pages_are_welsh_and_accessible(welsh_head, new_page, mobile):
    page = new_page(mobile=mobile)
    sign_in(page, HEAD, DEMO_PASSWORD)
    for address, phrase in PAGES:
        address = welsh_head if address == "CLASS" else address
        response = page.goto(address)
        assert response is not None and response.status == 200, address
        assert page.locator("html").get_attribute("lang") == "cy", address
        assert phrase in page.locator("main").inner_text(), address
        assert_accessible(page)
