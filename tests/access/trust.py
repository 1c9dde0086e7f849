"""Trust pages: each trust persona (an account holding one trust role, in no school) opens its own
pages; nobody in a school does. A concern the DSL has not shared is never readable by the trust."""
from __future__ import annotations

from tests.access import Rule, allow

TRUST = ("trust_admin", "trust_auditor", "trust_safeguarding", "trust_compliance")


def _t(suffix: str):
    return lambda w: f"/portal/trust/{w.trust.id}/{suffix}"


RULES = [
    Rule("portal.trust.index", "/portal/trust/", allow(TRUST, 302)),
    Rule("portal.trust.home", _t(""), allow(TRUST)),
    Rule("portal.trust.new_school", _t("schools/new"), allow(["trust_admin"])),
    Rule("portal.trust.roster", lambda w: f"/portal/trust/{w.trust.id}/schools/{w.school_id}/roster",
         allow(["trust_admin"])),
    Rule("portal.trust.records", _t("records"), allow(["trust_auditor"])),
    Rule("portal.trust.export_zip", _t("records/export.zip"), allow(["trust_auditor"])),
    Rule("portal.trust.safeguarding", _t("safeguarding"), allow(["trust_safeguarding"])),
    Rule("portal.trust.shared_concern",
         lambda w: f"/portal/trust/{w.trust.id}/safeguarding/{w.school_id}/concerns/{w.shared_concern.id}",
         allow(["trust_safeguarding"])),
    Rule("portal.trust.shared_concern",
         lambda w: f"/portal/trust/{w.trust.id}/safeguarding/{w.school_id}/concerns/{w.concern.id}", {}),
    Rule("portal.trust.compliance", _t("compliance"), allow(["trust_compliance"])),
]


def setup(world, db) -> None:
    from sqlalchemy import select

    from portal.db import utcnow
    from portal.people.models import Account
    from portal.schools.models import School, Trust, TrustRole
    from portal.schools.operations import get_or_create_trust, grant_trust_role

    world.trust = db.scalar(select(Trust).where(Trust.slug == "matrix-trust")) or \
        get_or_create_trust("matrix-trust", "Matrix Learning Trust (fictional)")
    school = School.get()
    school.trust_id = world.trust.id
    world.school_id = school.id
    for role in TrustRole:
        key = role.value
        email = f"{key.replace('_', '-')}@trust.example"
        account = db.scalar(select(Account).where(Account.email == email))
        if account is None:
            from portal.auth.passwords import hash_password
            from tests.factories import PASSWORD

            account = Account(email=email, password_hash=hash_password(PASSWORD), display_name=key)
            db.add(account)
            db.flush()
            grant_trust_role(account, world.trust, role)
        setattr(world, key, account)
    world.sg_concern.shared_with_trust_at = utcnow()
    world.shared_concern = world.sg_concern
    db.commit()
