"""Visitors sign the visitor AUP on "My policies" and have no family-link duties."""
from __future__ import annotations

import re

from markupsafe import escape
from sqlalchemy import select

from portal.people.models import Role
from portal.policies.models import Policy
from portal.signatures.models import Signature


def test_a_visitor_signs_the_visitor_aup(app, db, school, make_person, login_as):
    from portal.policies.pack import load_default_pack

    load_default_pack()
    db.commit()
    visitor = make_person(Role.VISITOR, given="Vic", family="Guestly")
    client = login_as(visitor)
    home = client.get("/portal/staff/")
    assert home.status_code == 200
    assert b"Your family links" not in home.data
    policy = db.scalar(select(Policy).where(Policy.audience == "visitor"))
    version = next(v for v in policy.versions if v.status == "published")
    assert str(escape(version.title)).encode() in home.data  # listed as a task
    page = client.get(f"/portal/policies/versions/{version.id}/sign")
    digest = re.search(r'name="text_hash" type="hidden" value="([0-9a-f]{64})"', page.data.decode()).group(1)
    resp = client.post(f"/portal/policies/versions/{version.id}/sign",
                       data={"action": "sign", "text_hash": digest, "agree": "y", "typed_name": "vic guestly"})
    assert resp.status_code == 302
    sig = db.scalar(select(Signature))
    assert sig.signer_id == visitor.id and sig.signer_role == "visitor"
    assert client.get("/portal/links/").status_code in (403, 404)
