"""Background jobs on an existing, well-kept engine: Huey.

* Each domain registers its jobs next to its operations (``portal/<area>/jobs.py``) with
  :func:`job` (run when queued, for one school) or :func:`periodic` (Huey's scheduler; loops
  over the schools or queues one job per school). Jobs are thin, idempotent wrappers: the retry
  policy (``PORTAL_JOBS_RETRY_DELAY`` doubled each time) lives on the job, not the operation.
* :func:`enqueue` puts a job on the app's queue (``PORTAL_JOBS_URL``: an embedded SQLite file by
  default, Redis at scale). ``flask portal jobs worker`` runs them.
* A job whose retries are spent is listed in ``portal_job_failures`` (the admins' *Background
  jobs* page and ``flask portal jobs failed``); the listing clears when it later succeeds.
"""
from __future__ import annotations

from portal.jobs.queue import JobQueue, QueueUnavailable, RetryLater, enqueue, queue
from portal.jobs.registry import job, periodic

__all__ = ["JobQueue", "QueueUnavailable", "RetryLater", "enqueue", "job", "periodic", "queue"]
