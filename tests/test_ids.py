"""Numbers that cannot be a row's id, from addresses, query strings, forms and LMS launches: found
nowhere, never sent to the database (where PostgreSQL's integer stops at 2,147,483,647)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.dataprotection import holds
from portal.dataprotection.sar import SarError, find_person
from portal.ids import MAX_ROW_ID, form_id, row_id
from portal.lti.operations import CLAIM, VERSION_PARAM, version_from_claims
from portal.policies.models import Policy, PolicyVersion
from portal.policies.pack import load_default_pack


@pytest.mark.parametrize(("value", "expected"), [
    ("1", 1), ("0042", 42), (7, 7), (str(MAX_ROW_ID), MAX_ROW_ID), ("٣", 3),  # Arabic-Indic three is a decimal digit
    ("2147483648", None), ("99999999999999999999", None), (2**31, None), ("0", None), (0, None), (-3, None),
    ("-3", None), ("", None), (None, None), ("²", None), ("1.5", None), (" 7", None), ("x", None), (True, None),
])
def test_row_id_takes_whole_numbers_a_row_can_have(value, expected):
    assert row_id(value) == expected


@pytest.mark.parametrize(("value", "expected"), [("5", 5), (" 5 ", 5), ("0", 0), ("-5", 0), ("2147483648", 0),
                                                 ("99999999999999999999", 0)])
def test_form_id_reads_an_impossible_id_as_nothing_chosen(value, expected):
    assert form_id(value) == expected


@pytest.mark.parametrize("value", ["", "²", "1.5", "x"])
def test_form_id_refuses_what_int_refuses(value):
    with pytest.raises(ValueError):
        form_id(value)


def test_odd_numbers_for_a_child_a_person_or_a_record_find_nothing(app, db, school, make_pupil, make_parent,
                                                                   login_as):
    load_default_pack()
    db.commit()
    child = make_pupil(year_group=2, given="Ivy")
    parent = make_parent(child, given="Juniper")
    ks1 = db.scalar(select(PolicyVersion).join(Policy).where(Policy.audience == "pupil_eyfs_ks1",
                                                            Policy.send_variant.is_(False),
                                                            PolicyVersion.status == "published"))
    client = login_as(parent)
    page = f"/portal/policies/versions/{ks1.id}/sign"
    assert client.get(f"{page}?pupil_id={child.id}").status_code == 200
    for odd in ("²", "2147483648", "99999999999999999999", "0", "-1"):
        assert client.get(f"{page}?pupil_id={odd}").status_code == 404, odd
    for ref in ("#2147483648", "#99999999999999999999"):
        with pytest.raises(SarError):
            find_person(ref)
    assert holds.resolve("concern", "C-99999999999999999999") == 0
    with pytest.raises(holds.HoldError, match="no such concern"):
        holds.place_hold("concern", holds.resolve("concern", "C-99999999999999999999"), "Kept for a claim.",
                         actor=school.head)


@pytest.mark.parametrize(("given", "expected"), [("12", 12), (12, 12), (" 12 ", 12), ("99999999999999999999", None),
                                                 ("2147483648", None), ("twelve", None), (None, None)])
def test_a_launchs_policy_version_must_be_an_id(given, expected):
    claims = {CLAIM + "custom": {VERSION_PARAM: given}} if given is not None else {}
    assert version_from_claims(claims) == expected


def test_odd_page_numbers_give_the_first_page(app, db, school, login_as):
    """"²" passes str.isdigit() but not int(), and int() refuses a string of more than 4,300 digits:
    both are only a page number no one asked for."""
    client = login_as(school.head)
    for path in ("/portal/auditor/", "/portal/concerns/inbox"):
        for odd in ("²", "9" * 5000, "0", "-2"):
            resp = client.get(f"{path}?page={odd}")
            assert resp.status_code == 200, (path, odd[:10])


@pytest.mark.parametrize(("grade", "expected"), [("07", "7"), ("13", "13"), ("KG", "R"), ("²", None), ("14", None),
                                                 ("", None)])
def test_a_oneroster_grade_of_odd_digits_is_no_grade(grade, expected):
    from portal.lti.oneroster import parse_grade

    assert parse_grade(grade) == expected
