"""The portal's Huey queue: one per Flask app, built lazily from ``PORTAL_JOBS_*``.

``PORTAL_JOBS_URL`` chooses the broker: ``sqlite:///PATH`` (the default is
``<instance folder>/portal-jobs.sqlite``: embedded, no service to run) or ``redis://HOST:PORT/DB``
(several web hosts and workers). Every job is registered on the app's queue with a runner that
pushes an application context, scopes the session to the job's school and commits nothing on
its own: the job's operation decides (it flushes, the job commits).
"""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer

from portal.jobs.registry import JobSpec, all_jobs

log = logging.getLogger("portal.jobs")


class QueueUnavailable(RuntimeError):
    """The broker could not take the job (Redis down, SQLite file unwritable)."""


class RetryLater(Exception):
    """Raised by a job whose work is not finished (e.g. some emails were refused): the queue
    tries again with backoff, and lists the job as failed once its retries are spent."""


class JobQueue:
    """The queue of one app (``app.extensions["portal"].jobs``)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._huey: Huey | None = None
        self._lock = threading.Lock()
        self.tasks: dict[str, Any] = {}

    # ------------------------------------------------------------ building

    @property
    def huey(self) -> Huey:
        if self._huey is None:
            with self._lock:
                if self._huey is None:
                    self._huey = self._build()
        return self._huey

    def broker_url(self) -> str:
        url = self.app.config.get("PORTAL_JOBS_URL")
        if url:
            return str(url)
        return f"sqlite:///{Path(self.app.instance_path) / 'portal-jobs.sqlite'}"

    def _build(self) -> Huey:
        cfg = self.app.config
        url = self.broker_url()
        name = str(cfg["PORTAL_JOBS_NAME"])
        immediate = bool(cfg["PORTAL_JOBS_IMMEDIATE"])
        common: dict[str, Any] = {"results": False, "immediate": immediate, "utc": True}
        if url.startswith(("redis://", "rediss://", "unix://")):
            from redis import ConnectionPool

            pool = ConnectionPool.from_url(url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=30)
            huey: Huey = RedisHuey(name, connection_pool=pool, **common)
        elif url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///"):])
            path.parent.mkdir(parents=True, exist_ok=True)
            huey = SqliteHuey(name, filename=str(path), timeout=30, **common)
        else:
            raise RuntimeError(f"PORTAL_JOBS_URL must start with sqlite:/// or redis://, not {url.split(':')[0]}:")
        delay = float(cfg["PORTAL_JOBS_RETRY_DELAY"])
        backoff = float(cfg["PORTAL_JOBS_RETRY_BACKOFF"])
        for spec in all_jobs():
            runner = _runner(self.app, spec)
            if spec.periodic:
                task = huey.periodic_task(spec.schedule, retries=spec.retries, retry_delay=delay,
                                          retry_backoff=backoff, name=spec.name)(runner)
            else:
                task = huey.task(retries=spec.retries, retry_delay=delay, retry_backoff=backoff,
                                 name=spec.name)(runner)
            self.tasks[spec.name] = task
        huey.post_execute(name="portal-failures")(self._after_job)
        return huey

    # ------------------------------------------------------------ using

    def enqueue(self, name: str, *, school_id: int | None, delay: float | None = None, **kwargs: Any) -> None:
        """Queue the job *name* for *school_id* with *kwargs* (JSON-able ids and short values).

        :raises QueueUnavailable: the broker did not take it (the caller keeps its own record of
            the work, e.g. a pending sealed record, so that a sweep queues it later).
        """
        self.huey  # noqa: B018 - builds the queue and its tasks on first use
        task = self.tasks[name]
        try:
            if delay:
                task.schedule(kwargs={"school_id": school_id, **kwargs}, delay=delay)
            else:
                task(school_id=school_id, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any broker error means "not queued"
            log.warning("job %s not queued: %s: %s", name, type(exc).__name__, str(exc)[:200])
            raise QueueUnavailable(f"{type(exc).__name__}: {exc}"[:300]) from exc

    def pending_count(self) -> int:
        """Jobs waiting in the broker (not counting scheduled retries)."""
        return int(self.huey.pending_count())

    def embedded_consumer(self, *, workers: int = 1, periodic: bool = False, tick: float | None = None,
                          **options: Any) -> Consumer:
        """A consumer to run in this process's threads (tests, benchmarks, a single-process host).
        Call ``start()`` and later ``stop(graceful=True)``. It installs no signal handlers.

        *tick*: how often, in seconds, the consumer looks for scheduled jobs that are due (a retry
        waiting out its delay). Huey's own setting stops at 1 s; the tests of retries use less."""
        if tick is not None and not tick > 0:
            raise ValueError("tick must be a positive number of seconds")
        options.setdefault("initial_delay", 0.05)
        options.setdefault("max_delay", 0.5)
        return _QuietConsumer(self.huey, tick=tick, workers=workers, periodic=periodic, worker_type="thread",
                              **options)

    # ------------------------------------------------------------ failures

    def _after_job(self, task: Any, value: Any, exc: BaseException | None) -> None:
        """Huey's post-execute hook: list a job whose last attempt failed; clear the listing
        when the same job later succeeds."""
        from portal.jobs.operations import job_failed, job_succeeded

        if exc is not None and task.retries:
            return  # will be tried again
        kwargs = dict(task.kwargs or {})
        with self.app.app_context():
            try:
                if exc is None:
                    job_succeeded(task.name, kwargs)
                else:
                    job_failed(task.name, kwargs, exc)
            except Exception:  # noqa: BLE001 - bookkeeping must never break the worker
                log.exception("could not record the outcome of job %s", task.name)


class _QuietConsumer(Consumer):
    def __init__(self, huey: Huey, *, tick: float | None = None, **options: Any) -> None:
        self._tick = tick
        super().__init__(huey, **options)

    def _create_scheduler(self) -> Any:
        scheduler = super()._create_scheduler()
        if self._tick is not None:
            scheduler.interval = float(self._tick)
        #: The scheduler itself (Huey keeps only the thread that runs it).
        self.schedule_reader = scheduler
        return scheduler

    def _set_signal_handlers(self) -> None:  # embedded: the host process owns its signals
        return None


def _runner(app: Flask, spec: JobSpec) -> Any:
    def run(school_id: int | None = None, **kwargs: Any) -> Any:
        from portal.db import session
        from portal.schools.isolation import set_school

        with app.app_context():
            try:
                if not spec.periodic and (school_id is not None or spec.needs_school):
                    if school_id is None or not _school_exists(school_id):
                        log.info("job %s: school %s no longer exists; nothing to do", spec.name, school_id)
                        return None
                    set_school(session, school_id)
                return spec.func(**kwargs)
            except Exception:
                session.rollback()
                raise

    run.__name__ = spec.name.replace(".", "_")
    run.__qualname__ = run.__name__
    return run


def _school_exists(school_id: int) -> bool:
    from sqlalchemy import select

    from portal.db import session
    from portal.schools.models import School

    return session.scalar(select(School.id).where(School.id == int(school_id))) is not None


def queue() -> JobQueue:
    """The current app's queue."""
    return current_app.extensions["portal"].jobs


def enqueue(name: str, *, school_id: int | None, delay: float | None = None, **kwargs: Any) -> None:
    """Queue a job on the current app's queue (see :meth:`JobQueue.enqueue`)."""
    queue().enqueue(name, school_id=school_id, delay=delay, **kwargs)


def describe_arguments(arguments: dict[str, Any]) -> str:
    """Short words for a failure listing: ids and numbers only."""
    shown = {k: v for k, v in sorted(arguments.items()) if isinstance(v, int) and k != "school_id"}
    return json.dumps(shown, separators=(", ", "=")).strip("{}").replace('"', "") if shown else ""


def school_ids() -> list[int]:
    """Every school's id (for periodic jobs that loop over the schools)."""
    from sqlalchemy import select

    from portal.db import session
    from portal.schools.models import School

    return list(session.scalars(select(School.id).order_by(School.id)))
