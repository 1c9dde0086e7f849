"""Staff pages and staff emails in Welsh (issue 18): the Head's dashboard and a class teacher's weekly summary."""
from __future__ import annotations

import pytest

from portal.people.models import Role
from tests.test_scheduled_jobs import _publish

# These tests check the words on a page or in an email, which do not depend on the database: they run on SQLite only.
pytestmark = pytest.mark.one_backend


def test_a_welsh_speaking_head_sees_the_staff_dashboard_in_welsh(app, db, school, make_class, make_pupil, login_as):
    _publish(db, "pupil_eyfs_ks1", "Our online rules")
    head = school.head
    cls = make_class(1, teacher=head, name="Year 1 Robins")
    make_pupil(1, cls, given="Pip")
    head.account.language = "cy"
    db.commit()
    page = login_as(head).get("/portal/staff/").get_data(as_text=True)
    assert 'lang="cy"' in page
    assert "Beth sydd angen eich sylw" in page          # What needs your attention
    assert "Cyfraddau llofnodi eleni" in page           # Signing rates this school year
    assert "Eich dosbarthiadau" in page and "Rhieni: 1 o 1 eto i gydlofnodi" in page
    assert "Pennaeth" in page and "Eich offer" in page
    assert "What needs your attention" not in page and "Your tools" not in page
    # The signing rate's audience is named in Welsh too (Reception to Year 2).
    assert "Disgyblion o&#39;r Derbyn i Flwyddyn 2" in page and "Pupils in Reception to Year 2" not in page

    charts = login_as(head).get("/portal/staff/charts").get_data(as_text=True)
    assert "Y flwyddyn ysgol hyd yma" in charts and "The school year so far" not in charts

    head.account.language = "en_GB"
    db.commit()
    page = login_as(head).get("/portal/staff/").get_data(as_text=True)
    assert "What needs your attention" in page and "1 of 1 still to" in page


def test_a_welsh_teachers_weekly_summary_arrives_in_welsh(app, db, school, make_person, make_class, make_pupil,
                                                          make_parent, mailbox):
    from portal.jobs import enqueue

    _publish(db, "pupil_eyfs_ks1", "Our online rules")
    welsh = make_person(Role.TEACHER, given="Gwen", email="gwen@test.example")
    welsh.account.language = "cy"
    english = make_person(Role.TEACHER, given="Tamsin", email="tamsin@test.example")
    pip = make_pupil(1, make_class(1, teacher=welsh, name="Blwyddyn 1 Robin"), given="Pip")
    make_parent(pip, given="Penny")
    make_pupil(1, make_class(1, teacher=english, name="Year 1 Larks"), given="Lark")
    db.commit()
    enqueue("policies.send_class_summaries", school_id=1, today="2026-11-23")

    [msg] = [m for m in mailbox.messages if "gwen@test.example" in m["To"]]
    assert msg["Subject"] == "Eto i lofnodi yn Blwyddyn 1 Robin"
    body = msg.get_content()
    assert body.startswith("Annwyl ")
    assert "Our online rules (rhiant i lofnodi)" in body and "Daw'r crynodeb hwn bob dydd Llun." in body
    assert "This summary comes every Monday" not in body
    [other] = [m for m in mailbox.messages if "tamsin@test.example" in m["To"]]
    assert other["Subject"] == "Still to sign in Year 1 Larks"
    assert "This summary comes every Monday." in other.get_content()


def test_a_welsh_speaking_head_reads_the_family_links_register_in_welsh(app, db, school, login_as):
    school.head.account.language = "cy"
    db.commit()
    page = login_as(school.head).get("/portal/links/register").get_data(as_text=True)
    assert "<h1>Cofrestr cysylltiadau teuluol</h1>" in page
    assert "Does dim cysylltiadau wedi'u cymeradwyo." in page and "Family links register" not in page
