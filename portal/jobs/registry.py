"""The catalogue of jobs: each domain registers its own next to its operations.

A job is a thin wrapper around a domain operation (as Indico's and Warehouse's tasks are): it
names the school it works for, scopes the session to it, calls the operation and commits.
The retry policy lives here, on the job, never in the operation.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Modules that register jobs (imported explicitly, in this order, when a queue is built).
JOB_MODULES = (
    "portal.mail",
    "portal.auth.links",
    "portal.records.jobs",
    "portal.lti.jobs",
    "portal.policies.jobs",
    "portal.concerns.jobs",
    "portal.audit.jobs",
    "portal.dataprotection.jobs",
)


@dataclass(frozen=True)
class JobSpec:
    """One kind of job."""

    #: Dotted name, e.g. ``records.seal`` (also the task name in the broker).
    name: str
    func: Callable[..., Any]
    #: Attempts after the first one before the job is listed as failed.
    retries: int = 5
    #: ``None``: runs when enqueued, for one school (``school_id``). Otherwise a Huey ``crontab``
    #: validator: a periodic job with no arguments that loops over (or fans out to) the schools.
    schedule: Callable[..., bool] | None = None
    #: False: the job may run for no school (``school_id=None``), e.g. an email to an account.
    needs_school: bool = True

    @property
    def periodic(self) -> bool:
        return self.schedule is not None


_JOBS: dict[str, JobSpec] = {}


def job(name: str, *, retries: int = 5, needs_school: bool = True) -> Callable[[Callable[..., Any]],
                                                                               Callable[..., Any]]:
    """Register *func* as the job *name*; it is called with the keyword arguments it was queued
    with (never ``school_id``: the session is already scoped to that school). It must be
    idempotent: running it twice changes nothing more than running it once."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        _JOBS[name] = JobSpec(name=name, func=func, retries=retries, needs_school=needs_school)
        return func

    return register


def periodic(name: str, schedule: Callable[..., bool], *, retries: int = 2) -> Callable[[Callable[..., Any]],
                                                                                       Callable[..., Any]]:
    """Register *func* (no arguments) to run on *schedule* (a ``huey.crontab``, UTC)."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        _JOBS[name] = JobSpec(name=name, func=func, retries=retries, schedule=schedule)
        return func

    return register


def all_jobs() -> list[JobSpec]:
    """Every registered job (importing the modules that register them)."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    return list(_JOBS.values())


def spec(name: str) -> JobSpec:
    all_jobs()
    try:
        return _JOBS[name]
    except KeyError:
        raise KeyError(f"no job called {name!r}") from None
