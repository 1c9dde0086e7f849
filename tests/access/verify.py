"""The public verification page: open to everyone, signed in or not (no school data beyond what a PDF shows)."""
from __future__ import annotations

from tests.access import ANY_ACCOUNT, Rule, allow

EVERYONE = {**allow(ANY_ACCOUNT), "anonymous": 200}
EVERYONE_400 = {**allow(ANY_ACCOUNT, 400), "anonymous": 400}

RULES = [
    Rule("portal.verify.home", "/portal/verify/", EVERYONE),
    # A check with no file is refused for everyone alike.
    Rule("portal.verify.home", "/portal/verify/", EVERYONE_400, method="POST"),
    Rule("portal.verify.record", lambda w: f"/portal/verify/r/{w.record_public_id}", EVERYONE),
    Rule("portal.verify.record", lambda w: f"/portal/verify/r/{w.record_public_id}", EVERYONE_400, method="POST"),
    Rule("portal.verify.record", "/portal/verify/r/" + "0" * 32, {"anonymous": 404}),  # no such record: 404 for all
    Rule("portal.verify.ca_cert", "/portal/verify/ca/installation.pem", EVERYONE),
    Rule("portal.verify.ca_crl", "/portal/verify/ca/installation.crl", EVERYONE),
]


def setup(world, db) -> None:
    """The sealed record made in tests/access/records.py; checks are not throttled here (the matrix
    makes hundreds of requests from one address; tests/test_records_verify.py tests the limit)."""
    from flask import current_app
    from sqlalchemy import select

    from portal.records.models import SignedRecord

    current_app.config["PORTAL_VERIFY_MAX_REQUESTS"] = 100_000
    world.record_public_id = db.scalar(select(SignedRecord.public_id).where(
        SignedRecord.signature_id == world.signature.id))
