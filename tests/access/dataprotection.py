"""Data protection: the schedule and leavers (Head; leavers also admins), legal holds (Head and DSL,
or trust admins and safeguarding leads from the trust page), reviews (the role named), subject access
requests (Head; the DSL decides on safeguarding records), allegations (their case manager: the Head)
and low-level concerns (Head and DSL), transfer packs (DSL), the privacy notice (everyone).

``teacher`` (Tara) is the adult the allegation and the low-level concern are about: she never opens
them. ``governor`` is the chair of governors.
"""
from __future__ import annotations

import datetime as _dt

from tests.access import ANY_ACCOUNT, Rule, allow

B = "/portal/data-protection"
KEEP = {"decision": "keep", "keep_until": "2099-01-01", "reason": "Still needed for the access matrix."}


def _p(suffix: str):
    return lambda w: f"{B}/{suffix.format(w=w)}"


RULES = [
    Rule("portal.dataprotection.home", f"{B}/", allow(["head", "dsl", "governor"])),
    Rule("portal.dataprotection.schedule", f"{B}/retention", allow(["head"])),
    Rule("portal.dataprotection.rule", f"{B}/retention/complaints", allow(["head"])),
    Rule("portal.dataprotection.rule", f"{B}/retention/complaints", allow(["head"], 302), method="POST",
         data={"period": "7", "unit": "years", "action": "review", "review_role": "head"}),
    Rule("portal.dataprotection.confirm", f"{B}/retention/classroom_sessions/confirm", allow(["head"], 302),
         method="POST"),
    Rule("portal.dataprotection.reset", f"{B}/retention/complaints/reset", allow(["head"], 302), method="POST"),
    Rule("portal.dataprotection.reviews", f"{B}/reviews", allow(["head", "dsl", "governor"])),
    Rule("portal.dataprotection.decide", _p("reviews/{w.review.id}"), allow(["head"], 302), method="POST",
         data=KEEP),
    Rule("portal.dataprotection.decide", _p("reviews/{w.dsl_review.id}"), allow(["dsl"], 302), method="POST",
         data=KEEP),
    Rule("portal.dataprotection.holds", f"{B}/holds", allow(["head", "dsl"])),
    Rule("portal.dataprotection.holds", f"{B}/holds", allow(["head", "dsl"], 302), method="POST",
         data=lambda w: {"kind": "person", "target": f"#{w.volunteer.id}", "reason": "Matrix: a claim."}),
    Rule("portal.dataprotection.review_hold", _p("holds/{w.hold.id}/review"), allow(["head", "dsl"], 302),
         method="POST", data={"next_review_on": "2099-06-01"}),
    Rule("portal.dataprotection.release_hold", _p("holds/{w.hold.id}/release"), allow(["head", "dsl"], 302),
         method="POST", data={"release_reason": "No longer needed."}),
    Rule("portal.dataprotection.leavers", f"{B}/leavers", allow(["head", "admin"])),
    Rule("portal.dataprotection.leavers", f"{B}/leavers", allow(["head", "admin"], 302), method="POST",
         data=lambda w: {"person_id": w.volunteer.id, "left_on": "2027-07-21"}),
    # The admin may undo too, but the Head has undone this one already: 404.
    Rule("portal.dataprotection.undo_leaver", _p("leavers/{w.contractor.id}/undo"), {"head": 302}, method="POST"),
    Rule("portal.dataprotection.sars", f"{B}/requests", allow(["head", "dsl"])),
    Rule("portal.dataprotection.sars", f"{B}/requests", allow(["head"], 302), method="POST",
         data=lambda w: {"subject_id": w.parent.id, "requester_id": 0, "received_on": "2026-11-02"}),
    Rule("portal.dataprotection.sar_detail", _p("requests/{w.sar.id}"), allow(["head", "dsl"])),
    Rule("portal.dataprotection.sar_download", _p("requests/{w.sar.id}/download"), allow(["head", "dsl"])),
    Rule("portal.dataprotection.sar_safeguarding", _p("requests/{w.sar.id}/safeguarding"), allow(["dsl"], 302),
         method="POST", data={"include": "no"}),
    Rule("portal.dataprotection.sar_reviewed", _p("requests/{w.sar.id}/reviewed"), allow(["head"], 302),
         method="POST", data={"confirm": "y"}),
    Rule("portal.dataprotection.sar_release", _p("requests/{w.sar_ready.id}/release"), allow(["head"]),
         method="POST", data={"method": "By hand, in an envelope."}),
    Rule("portal.dataprotection.allegations", f"{B}/allegations", allow(["head", "dsl", "governor"])),
    Rule("portal.dataprotection.mark", _p("allegations/mark/concern/{w.staff_concern.id}"), allow(["head"])),
    Rule("portal.dataprotection.mark", _p("allegations/mark/contact/{w.dp_incident.id}"), allow(["head", "dsl"])),
    Rule("portal.dataprotection.allegation", _p("allegations/{w.allegation.id}"), allow(["head"])),
    Rule("portal.dataprotection.allegation", _p("allegations/{w.low_level.id}"), allow(["head", "dsl"])),
    Rule("portal.dataprotection.allegation_lado", _p("allegations/{w.allegation.id}/lado"), allow(["head"], 302),
         method="POST", data={"consulted_on": "2026-10-06", "reference": "LADO/1", "advice": "Advice given."}),
    Rule("portal.dataprotection.allegation_outcome", _p("allegations/{w.allegation.id}/outcome"),
         allow(["head"], 302), method="POST", data={"outcome": "unfounded", "outcome_on": "2026-10-20"}),
    Rule("portal.dataprotection.allegation_notes", _p("allegations/{w.low_level.id}/notes"),
         allow(["head", "dsl"], 302), method="POST", data={"notes": "Talked it through."}),
    Rule("portal.dataprotection.transfers", f"{B}/transfers", allow(["dsl"])),
    Rule("portal.dataprotection.transfer_detail", _p("transfers/{w.pack.id}"), allow(["dsl"])),
    Rule("portal.dataprotection.transfer_pdf", _p("transfers/{w.pack.id}/pack.pdf"), allow(["dsl"])),
    Rule("portal.dataprotection.transfer_receipt", _p("transfers/{w.pack.id}/receipt"), allow(["dsl"], 302),
         method="POST",
         data=lambda w: {"received_on": _dt.date.today().isoformat(), "received_by": "A. Receiver, DSL"}),
    Rule("portal.dataprotection.privacy_notice", f"{B}/privacy", {**allow(ANY_ACCOUNT), "anonymous": 200}),
    Rule("portal.dataprotection.privacy_edit", f"{B}/privacy/edit", allow(["head", "admin"])),
    Rule("portal.dataprotection.trust_holds", lambda w: f"{B}/trust/{w.trust.id}/holds",
         allow(["trust_admin", "trust_safeguarding"])),
    Rule("portal.dataprotection.trust_release_hold",
         lambda w: f"{B}/trust/{w.trust.id}/holds/{w.trust_hold.id}/release",
         allow(["trust_admin", "trust_safeguarding"], 302), method="POST", data={"release_reason": "Settled."}),
]


def setup(world, db) -> None:
    import datetime as dt

    from portal.dataprotection import allegations
    from portal.dataprotection.models import (
        Departure,
        LegalHold,
        RetentionReview,
        SubjectAccessRequest,
        TransferPack,
    )
    from portal.db import utcnow
    from portal.incidents.models import ContactIncident
    from portal.records.archive import archive_store

    world.dp_incident = ContactIncident(
        kind="phone", direction="from_adult", pupil_id=world.child.id, adult_id=world.teacher.id,
        occurred_on=dt.date(2026, 10, 1), summary="A late-night text.", routed_to="head",
        recorded_by_id=world.other_teacher.id)
    db.add(world.dp_incident)
    db.flush()
    world.allegation = allegations.mark(world.staff_concern, "allegation", actor=world.head,
                                        reported_on=dt.date(2026, 10, 5))
    world.low_level = allegations.mark(world.dp_incident, "low_level", actor=world.head,
                                       reported_on=dt.date(2026, 10, 2))
    world.review = RetentionReview(record_type="complaints", target_type="Concern", target_id=world.concern.id,
                                   summary=f"Concern {world.concern.reference}", review_role="head",
                                   due_on=dt.date(2026, 1, 1))
    world.dsl_review = RetentionReview(record_type="safeguarding_concerns", target_type="Concern",
                                       target_id=world.sg_concern.id, summary=f"Concern {world.sg_concern.reference}",
                                       review_role="dsl", due_on=dt.date(2026, 1, 1))
    world.hold = LegalHold(kind="pupil", person_id=world.other_child.id, reason="An insurance claim.",
                           placed_by_id=world.head.id, review_on=dt.date(2027, 1, 1))
    world.trust_hold = LegalHold(kind="concern", concern_id=world.concern.id, target_label="Concern",
                                 reason="A claim against the trust.", review_on=dt.date(2027, 1, 1))
    db.add(Departure(person_id=world.contractor.id, left_on=dt.date(2026, 7, 20)))
    world.sar = SubjectAccessRequest(subject_id=world.parent.id, requester_id=world.parent.id,
                                     received_on=dt.date(2026, 11, 2), due_on=dt.date(2026, 12, 2))
    world.sar_ready = SubjectAccessRequest(subject_id=world.child.id, requester_id=world.parent.id,
                                           received_on=dt.date(2026, 11, 2), due_on=dt.date(2026, 12, 2),
                                           redaction_reviewed_at=utcnow(), redaction_reviewed_by_id=world.head.id)
    sha = archive_store().put(b"%PDF-1.7\n% a stand-in for a sealed transfer pack\n%%EOF\n")
    world.pack = TransferPack(pupil_id=world.other_child.id, destination="Brookfield Academy (fictional)",
                              moved_on=dt.date(2026, 10, 1), due_on=dt.date(2026, 10, 8), pdf_sha256=sha, size=60)
    db.add_all([world.review, world.dsl_review, world.hold, world.trust_hold, world.sar, world.sar_ready, world.pack])
    db.commit()
