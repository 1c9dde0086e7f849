"""Family links and incidents: who may open what."""
from __future__ import annotations

import datetime as dt

from tests.access import ADULTS, Rule, allow

RECORDERS = ("teacher", "other_teacher", "support", "head", "dsl")
MANAGERS = ("head", "dsl")

RULES = [
    Rule("portal.links.mine", "/portal/links/", allow(ADULTS)),
    Rule("portal.links.declare", "/portal/links/declare", allow(ADULTS, 400), method="POST"),
    Rule("portal.links.confirm", "/portal/links/confirm", allow(ADULTS, 302), method="POST"),
    Rule("portal.links.relative", "/portal/links/relative", allow(["parent", "other_parent"])),
    Rule("portal.links.register", "/portal/links/register", allow(MANAGERS)),
    Rule("portal.links.export", "/portal/links/register.csv", allow(MANAGERS)),
    Rule("portal.links.review", lambda w: f"/portal/links/declarations/{w.pending_link.id}", allow(["head"])),
    Rule("portal.incidents.home", "/portal/incidents/", allow(RECORDERS)),
    Rule("portal.incidents.new_contact", "/portal/incidents/contact/new", allow(RECORDERS)),
    Rule("portal.incidents.new_social", "/portal/incidents/social/new", allow(RECORDERS)),
    Rule("portal.incidents.link_check",
         lambda w: f"/portal/incidents/link-check?pupil_id={w.child.id}&adult_id={w.other_teacher.id}",
         allow(MANAGERS)),  # links.view only: other recorders learn it after saving
    # The teacher recorded both incidents: they see them; other recorders get 404.
    Rule("portal.incidents.contact", lambda w: f"/portal/incidents/contact/{w.contact_incident.id}",
         allow(["teacher", *MANAGERS])),
    Rule("portal.incidents.social", lambda w: f"/portal/incidents/social/{w.social_incident.id}",
         allow(["teacher", *MANAGERS])),
    Rule("portal.incidents.follow_up", lambda w: f"/portal/incidents/social/{w.social_incident.id}/follow-up",
         allow(MANAGERS, 302), method="POST"),
    Rule("portal.incidents.add_action",
         lambda w: f"/portal/incidents/contact/{w.contact_incident.id}/actions",
         allow(MANAGERS, 302), method="POST", data={"text": "Spoke to the adult."}),
]


def setup(world, db) -> None:
    from portal.incidents.models import ContactIncident, SocialMediaIncident
    from portal.links.models import FamilyLinkDeclaration

    world.pending_link = FamilyLinkDeclaration(
        source="adult", declared_by_id=world.teacher.id, adult_id=world.teacher.id, pupil_id=world.child.id,
        relationship_kind="aunt_uncle", note="", academic_year=2026)
    world.approved_link = FamilyLinkDeclaration(
        source="adult", declared_by_id=world.other_teacher.id, adult_id=world.other_teacher.id,
        pupil_id=world.child.id, relationship_kind="grandparent", note="", academic_year=2026,
        status="approved", decided_by_id=world.head.id)
    world.contact_incident = ContactIncident(
        kind="friend_request", direction="from_pupil", pupil_id=world.other_child.id, adult_id=world.support.id,
        occurred_on=dt.date(2026, 1, 5), summary="A friend request was sent.", routed_to="dsl",
        recorded_by_id=world.teacher.id)
    world.social_incident = SocialMediaIncident(
        author_type="third_party", author_description="an unknown account", platform="Photo app",
        seen_on=dt.date(2026, 1, 6), summary="A post naming the school.", routed_to="head",
        recorded_by_id=world.teacher.id)
    db.add_all([world.pending_link, world.approved_link, world.contact_incident, world.social_incident])
    db.commit()
