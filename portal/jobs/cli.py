"""``flask portal jobs ...``: run the worker, list and requeue failed jobs."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

jobs_cli = AppGroup("jobs", help="Background jobs (sealing, scores, reminders): the worker and failures.")


@jobs_cli.command("worker")
@click.option("--workers", type=int, default=None, help="Worker threads (default PORTAL_JOBS_WORKERS).")
@click.option("--periodic/--no-periodic", default=True,
              help="Also run the scheduler of periodic jobs (run it in exactly one worker per installation).")
@with_appcontext
def worker_command(workers: int | None, periodic: bool) -> None:
    """Run jobs until stopped (SIGINT: finish the running jobs first; SIGTERM: stop now)."""
    import logging

    queue = current_app.extensions["portal"].jobs
    if current_app.config["PORTAL_JOBS_IMMEDIATE"]:
        raise click.ClickException("PORTAL_JOBS_IMMEDIATE is on: jobs run where they are queued; no worker needed.")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    n = workers or int(current_app.config["PORTAL_JOBS_WORKERS"])
    click.echo(f"Countersign worker: {n} thread(s), broker {_safe(queue.broker_url())}, "
               f"periodic jobs {'on' if periodic else 'off'}.")
    consumer = queue.huey.create_consumer(workers=n, periodic=periodic, worker_type="thread",
                                          check_worker_health=True)
    consumer.run()


@jobs_cli.command("failed")
@click.option("--school", "school_slug", default=None, metavar="SLUG", help="Only this school.")
@with_appcontext
def failed_command(school_slug: str | None) -> None:
    """List jobs whose retries are spent (exit 1 when there are any)."""
    from sqlalchemy import select

    from portal.db import session
    from portal.jobs.models import JobFailure
    from portal.jobs.queue import describe_arguments
    from portal.schools.cli import _school_by_slug
    from portal.schools.isolation import all_schools, school_scope
    from portal.schools.models import School

    if school_slug:
        school = _school_by_slug(school_slug)
        scope = school_scope(session, school.id)
    else:
        scope = all_schools(session)  # an operator's view of the whole installation
    with scope:
        rows = session.scalars(select(JobFailure).where(JobFailure.resolved_at.is_(None))
                               .order_by(JobFailure.failed_at, JobFailure.id)).all()
        slugs = {sid: slug for sid, slug in session.execute(select(School.id, School.slug))}
    if not rows:
        click.echo("No failed jobs.")
        return
    for r in rows:
        where = slugs.get(r.school_id, "-") if r.school_id else "-"
        click.echo(f"{r.id}\t{r.failed_at:%Y-%m-%d %H:%M}\t{where}\t{r.name}({describe_arguments(r.arguments)})"
                   f"\t{r.attempts} attempts\t{r.error[:200]}")
    sys.exit(1)


@jobs_cli.command("retry")
@click.argument("failure_id", type=int)
@with_appcontext
def retry_command(failure_id: int) -> None:
    """Queue a failed job (its id from `jobs failed`) again."""
    from portal.db import session
    from portal.jobs.models import JobFailure
    from portal.jobs.operations import requeue
    from portal.jobs.queue import QueueUnavailable
    from portal.schools.isolation import all_schools, school_scope

    with all_schools(session):  # the id names the row; its own school is then in scope
        row = session.get(JobFailure, failure_id)
    if row is None or row.resolved_at is not None:
        raise click.ClickException(f"No open failure {failure_id}.")
    scope = school_scope(session, row.school_id) if row.school_id else all_schools(session)
    with scope:
        try:
            queued = requeue(row)  # commits
        except QueueUnavailable as exc:
            session.rollback()
            raise click.ClickException(f"The queue is not available: {exc}") from None
    if not queued:
        raise click.ClickException(f"No open failure {failure_id}.")
    click.echo(f"Queued {row.name} again.")


@jobs_cli.command("run")
@click.argument("name")
@with_appcontext
def run_command(name: str) -> None:
    """Run one periodic job now, in this process (e.g. `jobs run records.sweep`)."""
    from portal.jobs.registry import spec

    try:
        job = spec(name)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    if not job.periodic:
        raise click.ClickException(f"{name} is not a periodic job.")
    result = job.func()
    click.echo(f"{name}: {result if result is not None else 'done'}.")


def _safe(url: str) -> str:
    """The broker URL without a password."""
    import re

    return re.sub(r"//[^@/]*@", "//***@", url)
