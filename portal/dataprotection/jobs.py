"""Jobs of the data-protection area: the nightly retention run (the same run as
``flask portal retention run``: each school in its own transaction, then the installation's
sign-in records). Idempotent: a second run the same day finds nothing more to dispose of."""
from __future__ import annotations

import logging

from huey import crontab

from portal.jobs import RetryLater, periodic
from portal.jobs.queue import school_ids

log = logging.getLogger("portal.dataprotection")


@periodic("retention.run", crontab(minute="10", hour="3"))
def retention_run() -> str:
    """Nightly at 03:10: apply each school's retention schedule; one school's failure does not
    stop the others (the job is retried for the ones that failed)."""
    from portal.dataprotection.retention import run_installation, run_school
    from portal.db import session

    disposed = reviews = 0
    failed: list[int] = []
    for school_id in school_ids():
        try:
            report = run_school(school_id)
        except Exception:  # noqa: BLE001 - recorded and retried; the other schools go on
            session.rollback()
            log.exception("retention.run: school %s failed", school_id)
            failed.append(school_id)
            continue
        disposed += report.count("deleted") + report.count("anonymised")
        reviews += report.count("review")
    removed = run_installation()
    session.commit()
    if failed:
        raise RetryLater(f"the retention run failed for {len(failed)} school(s)")
    return f"{disposed} disposed of, {reviews} for review, {removed} sign-in records removed"
