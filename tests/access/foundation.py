"""Foundation routes: home, sign-in, the role portals, delegation and administration."""
from __future__ import annotations

from tests.access import ADULTS, ANY_ACCOUNT, Rule, allow

RULES = [
    Rule("portal.home", "/portal/", {**allow(ANY_ACCOUNT, 302), "admin": 302}),
    Rule("portal.auth.login", "/portal/auth/login", {**allow(ANY_ACCOUNT), "anonymous": 200}),
    Rule("portal.auth.forgot", "/portal/auth/forgot", {**allow(ANY_ACCOUNT), "anonymous": 200}),
    Rule("portal.auth.reset", "/portal/auth/reset/not-a-token", {**allow(ANY_ACCOUNT, 400), "anonymous": 400}),
    Rule("portal.auth.accept_invite", "/portal/auth/invite/not-a-token", {**allow(ANY_ACCOUNT, 400), "anonymous": 400}),
    Rule("portal.auth.logout", "/portal/auth/logout", allow(ANY_ACCOUNT, 302), method="POST"),
    Rule("portal.auth.schools", "/portal/auth/schools", allow(ANY_ACCOUNT)),
    # Choosing a school the account has no place in: 404 for everyone (their own: see test_schools.py).
    Rule("portal.auth.choose", "/portal/auth/schools", {}, method="POST",
         data=lambda w: {"school_id": w.school_id + 999}),
    Rule("portal.parent.home", "/portal/parent/", allow(["parent", "other_parent"])),
    Rule("portal.parent.child", lambda w: f"/portal/parent/children/{w.child.id}", allow(["parent"])),
    Rule("portal.pupil.home", "/portal/pupil/", allow(["pupil"])),
    Rule("portal.staff.home", "/portal/staff/", allow(ADULTS)),
    Rule("portal.staff.school_class", lambda w: f"/portal/staff/classes/{w.school_class.id}",
         allow(["teacher", "head", "dsl", "support"])),  # support holds a delegated compliance.view
    Rule("portal.staff.delegation", "/portal/staff/delegation", allow(["head"])),
    Rule("portal.staff.revoke_grant", lambda w: f"/portal/staff/delegation/{w.grant.id}/revoke",
         allow(["head"], 302), method="POST"),
    Rule("portal.auditor.home", "/portal/auditor/", allow(["auditor", "head"])),
    Rule("portal.admin.home", "/portal/admin/", allow(["admin", "head"])),
    Rule("portal.admin.roster", "/portal/admin/roster", allow(["admin", "head"])),
    Rule("portal.admin.people", "/portal/admin/people", allow(["admin", "head"])),
    Rule("portal.admin.invite", lambda w: f"/portal/admin/people/{w.parent.id}/invite",
         allow(["admin", "head"], 302), method="POST"),
]


def setup(world, db) -> None:
    from portal.people.models import CapabilityGrant

    world.grant = CapabilityGrant(person_id=world.support.id, capability="compliance.view",
                                  granted_by_id=world.head.id)
    db.add(world.grant)
    db.commit()

# The parent has no two-step sign-in to reset: administrators get a message and the list again.
RULES.append(Rule("portal.admin.reset_mfa", lambda w: f"/portal/admin/people/{w.parent.id}/reset-mfa",
                  allow(["admin", "head"], 302), method="POST"))
RULES.append(Rule("portal.admin.settings", "/portal/admin/settings", allow(["admin", "head"])))
