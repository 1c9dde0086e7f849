"""``flask portal ...`` commands."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from portal.dataprotection.cli import retention_cli, sar_command
from portal.jobs.cli import jobs_cli
from portal.lti.cli import import_oneroster_command, lti_cli, oneroster_cli
from portal.records.cli import keys_cli, records_cli
from portal.schools.cli import one_school, schools_cli

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar  # what click.progressbar returns (click imports it so too)

portal_cli = AppGroup("portal", help="Countersign portal commands.")
db_cli = AppGroup("db", help="Database migrations (the portal's own Alembic version table).")
audit_cli = AppGroup("audit", help="The hash-chained audit log.")
portal_cli.add_command(db_cli)
portal_cli.add_command(audit_cli)
portal_cli.add_command(lti_cli)
portal_cli.add_command(import_oneroster_command)
portal_cli.add_command(oneroster_cli)
portal_cli.add_command(keys_cli)
portal_cli.add_command(records_cli)
portal_cli.add_command(schools_cli)
portal_cli.add_command(jobs_cli)
portal_cli.add_command(retention_cli)
portal_cli.add_command(sar_command)


def _url() -> str:
    return current_app.config["PORTAL_DATABASE_URI"]


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    from portal.migrate import upgrade

    upgrade(_url(), revision)
    click.echo(f"Database is at {revision}.")


@db_cli.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (e.g. base)."""
    from portal.migrate import downgrade

    downgrade(_url(), revision)
    click.echo(f"Database is at {revision}.")


@portal_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has people.")
@click.option("--trust", is_flag=True, help="Load a fictional trust of three schools instead of one school.")
@click.option("--bare", is_flag=True, help="Only people and classes: no month of term behind them.")
@click.option("--seal", type=click.IntRange(min=0), default=None, metavar="N",
              help="Seal the newest N records now (default 24); the rest wait for `records repair`.")
@with_appcontext
def demo_command(if_empty: bool, trust: bool, bare: bool, seal: int | None) -> None:
    """Load the fictional demo school (or trust), a month into term, and print its sign-ins."""
    from sqlalchemy import select

    from portal.db import session
    from portal.demo import load_demo, load_trust_demo, people_exist
    from portal.schools.models import School

    if if_empty and people_exist():
        click.echo("The database already has people; demo not loaded.")
        _print_logins()
        return
    if session.scalar(select(School.id).where(School.slug == "larkspur-hollow")) is not None:
        raise click.ClickException("The demo school is already loaded (use a fresh database).")
    from portal.progress import click_bar
    from portal.urls import PublicUrlMissing, public_url

    try:
        public_url("portal.verify.home")  # certificates and records print it: check before loading anything
        if trust:
            load_trust_demo(lived_in=not bare, seal=seal, progress=click_bar)
        else:
            load_demo(lived_in=not bare, seal=seal, progress=click_bar)
    except PublicUrlMissing as exc:
        session.rollback()
        raise click.ClickException(f"{exc} (make run sets it to the address it serves.)") from None
    if not bare:
        click.echo("The demo school is a month into term. Records not sealed yet are made by "
                   "`flask portal records repair` (make run does this).")
    _print_logins()


def _print_logins() -> None:
    from portal.demo import DEMO_PASSWORD, demo_logins

    logins = demo_logins()
    if not logins:
        return
    click.echo(f"Demo sign-ins (password for all: {DEMO_PASSWORD}):")
    for role, email in logins:
        click.echo(f"  {role:<28} {email}")


@portal_cli.command("import-roster")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@one_school
def import_roster_command(file: Path) -> None:
    """Import classes, pupils, parents and staff from a roster CSV (all or nothing, any size)."""
    from portal.db import session
    from portal.people.roster import RosterError, import_roster

    # PORTAL_MAX_ROSTER_BYTES limits uploads; a file on the server's own disk may be a whole trust's.
    progress = TerminalProgress(f"Importing {file.name}")
    try:
        summary = import_roster(file.read_bytes(), file.name, progress=progress)
    except RosterError as exc:
        progress.finish()
        session.rollback()
        for line in exc.errors:
            click.echo(line, err=True)
        raise click.ClickException(f"Nothing was imported ({len(exc.errors)} problem(s)).") from None
    progress.finish()
    session.commit()
    click.echo(summary.describe())


class TerminalProgress:
    """A progress bar per stage ("Checking", "Writing") on the terminal's error stream (a plain
    line per stage when it is not a terminal)."""

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.bar: ProgressBar[int] | None = None
        self.stage: str | None = None
        self.shown = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.finish()
            self.stage, self.shown = stage, 0
            rows = f"{total:,} row{'' if total == 1 else 's'}"
            self.bar = click.progressbar(length=max(total, 1), label=f"{self.title}: {stage.lower()} {rows}",
                                         file=sys.stderr)
            self.bar.__enter__()
        if self.bar is not None and done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None



def _chains(school_slug: str | None) -> list[tuple[str, int | None]]:
    """(label, school id or None for the installation's chain) for `audit verify` / `checkpoint`."""
    from sqlalchemy import select

    from portal.audit import verify_chain
    from portal.db import session
    from portal.schools.models import School

    schools = session.scalars(select(School).order_by(School.id)).all()
    if school_slug:
        schools = [s for s in schools if s.slug == school_slug]
        if not schools:
            raise click.ClickException(f"No school with the slug {school_slug!r}.")
        return [(s.name, s.id) for s in schools]
    chains: list[tuple[str, int | None]] = [(s.name, s.id) for s in schools]
    if len(schools) != 1 or verify_chain(None).count:
        chains.append(("Installation", None))
    return chains


@audit_cli.command("verify")
@click.option("--school", "school_slug", default=None, metavar="SLUG", help="Only this school's chain.")
@with_appcontext
def audit_verify(school_slug: str | None) -> None:
    """Recompute each audit chain (every school's, and the installation's); name the first broken entry;
    check each chain's end against its newest sealed checkpoint (deleted newest entries are reported)."""
    from portal.audit import verify_chain
    from portal.audit.checkpoints import check_chain
    from portal.audit.models import INSTALLATION_CHAIN

    chains = _chains(school_slug)
    broken = False
    for label, sid in chains:
        report = verify_chain(sid)
        tag = f"{label}: " if len(chains) > 1 else ""
        if report.ok:
            click.echo(f"{tag}Audit chain intact: {report.count} entries, head {report.head}.")
        else:
            broken = True
            click.echo(f"{tag}Audit chain BROKEN at entry {report.first_broken_id}: {report.reason} "
                       f"({report.count} entries before it are intact).", err=True)
        sealed = check_chain(sid if sid is not None else INSTALLATION_CHAIN)
        if sealed.ok:
            click.echo(f"{tag}Its end {sealed.describe()}.")
        else:
            broken = True
            for problem in sealed.problems:
                click.echo(f"{tag}Checkpoint problem: {problem}.", err=True)
    if broken:
        sys.exit(1)


@audit_cli.command("checkpoint")
@click.option("--school", "school_slug", default=None, metavar="SLUG", help="Only this school's chain.")
@with_appcontext
def audit_checkpoint(school_slug: str | None) -> None:
    """Seal each audit chain's head into the archive (run it from cron, e.g. hourly)."""
    from portal.audit.checkpoints import CheckpointError, make_checkpoint
    from portal.audit.models import INSTALLATION_CHAIN
    from portal.db import session

    failed = False
    for label, sid in _chains(school_slug):
        try:
            row = make_checkpoint(sid if sid is not None else INSTALLATION_CHAIN)
        except CheckpointError as exc:
            session.rollback()
            failed = True
            click.echo(f"{label}: no checkpoint made: {exc}", err=True)
            continue
        session.commit()
        stamp = " (time-stamped)" if row.timestamped else ""
        click.echo(f"{label}: checkpoint of entry {row.seq} sealed{stamp}, {row.object_sha256}.")
    if failed:
        sys.exit(1)


accounts_cli = AppGroup("accounts", help="Sign-in accounts (installation-wide).")
portal_cli.add_command(accounts_cli)


@accounts_cli.command("reset-mfa")
@click.argument("email")
@with_appcontext
def accounts_reset_mfa(email: str) -> None:
    """Clear EMAIL's two-step sign-in and end its sessions (audited); they set it up again at sign-in."""
    from sqlalchemy import select

    from portal.auth import mfa
    from portal.db import session
    from portal.people.models import Account

    account = session.scalar(select(Account).where(Account.email == email.strip().lower()))
    if account is None:
        raise click.ClickException(f"No account with the address {email}.")
    mfa.reset(account, by=None)
    session.commit()
    click.echo(f"Two-step sign-in reset for {account.email}; every session of the account has ended.")


@accounts_cli.command("change-email")
@click.argument("old")
@click.argument("new")
@with_appcontext
def accounts_change_email(old: str, new: str) -> None:
    """Give the account that signs in with OLD the address NEW, keeping its password, two-step sign-in and
    people in every school (audited); every session of the account ends. A roster import never moves an
    account in use to another address: this is how the address of someone who signs in is changed."""
    from sqlalchemy import select

    from portal.db import session
    from portal.people.accounts import AddressError, change_address
    from portal.people.models import Account

    account = session.scalar(select(Account).where(Account.email == old.strip().lower()))
    if account is None:
        raise click.ClickException(f"No account with the address {old}.")
    try:
        schools = change_address(account, new)
    except AddressError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"The account now signs in with {account.email} (people in {len(schools)} school(s) updated); "
               "every session of the account has ended.")


policies_cli = AppGroup("policies", help="Acceptable-use policies.")
portal_cli.add_command(policies_cli)


@policies_cli.command("load-defaults")
@one_school
def policies_load_defaults() -> None:
    """Create and publish the default policy pack (policies that already exist are kept)."""
    from portal.db import session
    from portal.policies.pack import load_default_pack

    created = load_default_pack()
    session.commit()
    if created:
        click.echo(f"Published {len(created)} default policies: {', '.join(p.slug for p in created)}.")
    else:
        click.echo("The default policies are already loaded; nothing changed.")

