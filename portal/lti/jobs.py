"""Jobs of the LMS area: post a grade, sweep for grades not posted, sync course rosters (NRPS)."""
from __future__ import annotations

import datetime as dt
import logging

from huey import crontab

from portal.jobs import job, periodic
from portal.jobs.queue import school_ids

log = logging.getLogger("portal.lti")

#: How far back the sweep looks for signatures whose grade was never posted.
SWEEP_DAYS = 14


@job("lti.post_score", retries=8)
def post_score(grade_link_id: int, signature_id: int) -> str:
    """Post one signature's score to the LMS (idempotent: a posted score is marked done)."""
    from portal.db import session
    from portal.lti.operations import send_score

    outcome = send_score(grade_link_id, signature_id)
    if outcome == "gone":
        log.info("lti.post_score: grade link %s or signature %s no longer exists", grade_link_id, signature_id)
    session.commit()
    return outcome


@job("lti.sync_roster", retries=3)
def sync_roster(context_id: int) -> str:
    """Fetch one linked course's members from the LMS and update its class (idempotent)."""
    from portal.db import session
    from portal.lti.models import LtiContext
    from portal.lti.operations import sync_context

    ctx = session.get(LtiContext, context_id)
    if ctx is None or ctx.class_id is None or not ctx.memberships_url:
        log.info("lti.sync_roster: course %s no longer exists or is not linked to a class", context_id)
        return "gone"
    summary = sync_context(ctx, actor=None)
    session.commit()
    return summary.describe()


@periodic("lti.sweep", crontab(minute="17"))
def sweep() -> str:
    """Hourly, in each school: queue the grades of recent signatures that were never posted
    (the broker was down at signing time, or the job's retries were spent)."""
    from portal.db import session, utcnow
    from portal.jobs import QueueUnavailable, enqueue
    from portal.lti.operations import unsent_scores
    from portal.schools.isolation import school_scope

    since = utcnow() - dt.timedelta(days=SWEEP_DAYS)
    queued = 0
    for school_id in school_ids():
        with school_scope(session, school_id):
            pairs = unsent_scores(since)
        for link_id, sig_id in pairs:
            try:
                enqueue("lti.post_score", school_id=school_id, grade_link_id=link_id, signature_id=sig_id)
            except QueueUnavailable:
                return f"{queued} queued; the queue is unavailable"
            queued += 1
    return f"{queued} queued"


@periodic("lti.sync_rosters", crontab(minute="5", hour="3"))
def sync_rosters() -> str:
    """Nightly: queue a roster sync of every course linked to a class."""
    from sqlalchemy import select

    from portal.db import session
    from portal.jobs import enqueue
    from portal.lti.models import LtiContext
    from portal.schools.isolation import school_scope

    queued = 0
    for school_id in school_ids():
        with school_scope(session, school_id):
            ids = list(session.scalars(select(LtiContext.id).where(LtiContext.class_id.is_not(None),
                                                                   LtiContext.memberships_url.is_not(None))))
        for ctx_id in ids:
            enqueue("lti.sync_roster", school_id=school_id, context_id=ctx_id)
            queued += 1
    return f"{queued} queued"

