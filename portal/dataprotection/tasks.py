"""Home-page tasks: reviews waiting, requests and transfer receipts due, holds to look at again."""
from __future__ import annotations

from flask import url_for
from flask_babel import gettext, ngettext
from sqlalchemy import select

from portal.concerns.schooldays import uk_today
from portal.dataprotection.models import LegalHold, RetentionReview, SubjectAccessRequest, TransferPack
from portal.db import session
from portal.i18n import format_date
from portal.people.models import Person
from portal.security import capabilities_of, designations
from portal.tasks import Task, task_provider


@task_provider
def data_protection_work(person: Person) -> list[Task]:
    caps, held = capabilities_of(person), designations(person)
    if not (caps & {"dataprotection.manage", "dataprotection.hold", "concerns.safeguarding"}
            or "chair_of_governors" in held):
        return []
    today = uk_today()
    out: list[Task] = []
    roles = set()
    if "dataprotection.manage" in caps:
        roles.add("head")
    if "concerns.safeguarding" in caps:
        roles.add("dsl")
    if "chair_of_governors" in held:
        roles.add("chair")
    reviews = [r for r in session.scalars(select(RetentionReview).where(
        RetentionReview.decision.is_(None), RetentionReview.review_role.in_(roles)))
        if r.about_person_id != person.id
        and (r.record_type not in ("allegations", "low_level_concerns") or r.review_role != "head"
             or "head_teacher" in held)]
    if reviews:
        out.append(Task(ngettext("%(num)s record to review (retention)", "%(num)s records to review (retention)",
                                 len(reviews)),
                        url_for("portal.dataprotection.reviews"), level="warning"))
    if caps & {"dataprotection.manage"}:
        late = session.scalars(select(SubjectAccessRequest).where(SubjectAccessRequest.released_at.is_(None),
                                                                  SubjectAccessRequest.due_on < today)).all()
        soon = session.scalars(select(SubjectAccessRequest).where(SubjectAccessRequest.released_at.is_(None),
                                                                  SubjectAccessRequest.due_on >= today)).all()
        if late:
            out.append(Task(ngettext("%(num)s subject access request is overdue",
                                     "%(num)s subject access requests are overdue", len(late)),
                            url_for("portal.dataprotection.sars"), level="danger"))
        if soon:
            out.append(Task(ngettext("%(num)s subject access request to answer",
                                     "%(num)s subject access requests to answer", len(soon)),
                            url_for("portal.dataprotection.sars"),
                            detail=gettext("next deadline %(day)s",
                                           day=format_date(min(r.due_on for r in soon), "long"))))
    if "dataprotection.hold" in caps:
        due = session.scalars(select(LegalHold).where(LegalHold.released_at.is_(None),
                                                      LegalHold.review_on <= today)).all()
        if due:
            out.append(Task(ngettext("%(num)s legal hold to review", "%(num)s legal holds to review", len(due)),
                            url_for("portal.dataprotection.holds")))
    if "concerns.safeguarding" in caps:
        waiting = session.scalars(select(TransferPack).where(TransferPack.received_on.is_(None))).all()
        late_packs = [p for p in waiting if today > p.due_on]
        if late_packs:
            out.append(Task(ngettext("%(num)s transfer pack has no proof of receipt after 5 school days",
                                     "%(num)s transfer packs have no proof of receipt after 5 school days",
                                     len(late_packs)),
                            url_for("portal.dataprotection.transfers"), level="danger"))
    return out
