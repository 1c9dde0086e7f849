"""Background jobs that failed: the school's administrators and the Head (settings.manage)."""
from __future__ import annotations

from tests.access import Rule, allow

RULES = [
    Rule("portal.admin.jobs", "/portal/admin/jobs", allow(["admin", "head"])),
    # Queued again (a job whose signature is gone: it finishes quietly); then it is resolved,
    # so only the first allowed persona can do it (the matrix asks the Head before the admin).
    Rule("portal.admin.retry_job", lambda w: f"/portal/admin/jobs/{w.job_failure.id}/retry",
         {"head": 302, "admin": 404}, method="POST"),
]


def setup(world, db) -> None:
    from portal.jobs.models import JobFailure

    world.job_failure = JobFailure(school_id=world.school.id, name="records.seal",
                                   arguments={"school_id": world.school.id, "signature_id": 0},
                                   error="ArchiveError: the object store did not keep it", attempts=9)
    db.add(world.job_failure)
    db.commit()
