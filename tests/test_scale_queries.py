"""The faster forms of the auditor's page and the trust's records counts give the same answers
as the straightforward queries they replace."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from portal.records.models import SignedRecord
from portal.records.queries import RecordFilter, page_ids, records_page, records_query
from portal.schools.isolation import all_schools
from portal.signatures.models import Signature
from tests.test_statement_counts import world  # noqa: F401  (the fixture)


def _filters(w, db):
    from portal.people.models import PupilProfile

    class_id = db.scalar(select(PupilProfile.class_id).where(PupilProfile.class_id.is_not(None)).limit(1))
    policy_id = db.scalar(select(Signature.version_id).limit(1))
    from portal.policies.models import PolicyVersion

    policy_id = db.get(PolicyVersion, policy_id).policy_id
    return [RecordFilter(), RecordFilter(academic_year=w.year), RecordFilter(academic_year=w.year - 1),
            RecordFilter(policy_id=policy_id), RecordFilter(audience="pupil_ks2"), RecordFilter(audience="parent"),
            RecordFilter(class_id=class_id), RecordFilter(person="kid"), RecordFilter(person="T-1"),
            RecordFilter(audience="pupil_ks2", class_id=class_id, person="kid", academic_year=w.year)]


def test_a_page_of_records_is_the_same_as_before(db, world):  # noqa: F811 - the fixture
    world.grow(2)
    for f in _filters(world, db):
        everything = db.execute(records_query(f)).all()
        for limit, offset in ((3, 0), (3, 3), (50, 0), (5, 1000)):
            assert records_page(db, f, limit, offset) == everything[offset:offset + limit], (f, limit, offset)
    assert any(len(db.execute(records_query(f)).all()) > 3 for f in _filters(world, db))


def test_page_ids_join_only_what_the_filter_needs(db, world):  # noqa: F811 - the fixture
    sql = str(page_ids(RecordFilter(), 10).compile())
    assert "JOIN" not in sql.upper()
    sql = str(page_ids(RecordFilter(person="x"), 10).compile())
    assert "portal_policies" not in sql


@pytest.mark.parametrize("audience", [None, "pupil_ks2", "parent"])
def test_trust_records_counts(app, db, world, login_as, audience):  # noqa: F811 - the fixture
    with all_schools(db):
        first = db.scalar(select(SignedRecord.id).order_by(SignedRecord.id).limit(1))
        db.execute(update(SignedRecord).where(SignedRecord.id == first).values(status="sealed"))
        db.commit()
        expected = {}
        from portal.policies.models import Policy, PolicyVersion

        stmt = (select(Signature.school_id, func.count(Signature.id), func.count(SignedRecord.id).filter(
            SignedRecord.status == "sealed"))
                .outerjoin(SignedRecord, SignedRecord.signature_id == Signature.id)
                .join(PolicyVersion, PolicyVersion.id == Signature.version_id).join(Policy)
                .group_by(Signature.school_id))
        if audience:
            stmt = stmt.where(Policy.audience == audience)
        for sid, n, sealed in db.execute(stmt):
            expected[sid] = (n, sealed)
    page = login_as(world.trust_account).get(f"/portal/trust/{world.trust.id}/records"
                                             + (f"?audience={audience}" if audience else ""))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for school in [world.school, *world.schools]:
        n, sealed = expected.get(school.id, (0, 0))
        row = re.search(re.escape(school.name) + r".*?</tr>", text, re.S).group(0)
        assert re.findall(r"<td[^>]*>\s*([\d,]+)\s*</td>", row)[:2] == [str(n), str(sealed)], (school.name, row)
    assert any(v[0] for v in expected.values())


def test_trust_safeguarding_counts(app, db, world, login_as):  # noqa: F811 - the fixture
    """Open, open safeguarding, acknowledgement and response overdue, and all-time concerns per
    school: the page's counts (open ones from the status index, the total from the school index)
    are those of a plain count over every concern."""
    import datetime as dt

    from portal.concerns.models import OPEN_STATUSES, Concern

    world.grow(2)
    today = dt.date.today()
    open_values = {s.value for s in OPEN_STATUSES}
    expected: dict[int, list[int]] = {}
    with all_schools(db):
        for c in db.scalars(select(Concern)):
            row = expected.setdefault(c.school_id, [0, 0, 0, 0, 0])
            is_open = c.status in open_values
            row[0] += is_open
            row[1] += is_open and c.route == "safeguarding"
            row[2] += c.status == "new" and c.ack_due < today
            row[3] += is_open and c.response_due < today
            row[4] += 1
    page = login_as(world.trust_account).get(f"/portal/trust/{world.trust.id}/safeguarding")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for school in [world.school, *world.schools]:
        row = re.search(r"<td[^>]*>" + re.escape(school.name) + r"</td>.*?</tr>", text, re.S).group(0)
        got = [int(n) for n in re.findall(r"<td[^>]*>\s*(\d+)\s*</td>", row)]
        assert got == expected.get(school.id, [0, 0, 0, 0, 0]), (school.name, row)
    assert sum(v[0] for v in expected.values()) and any(v[0] != v[4] for v in expected.values())
    assert any(v[2] for v in expected.values()) and any(v[1] for v in expected.values())
