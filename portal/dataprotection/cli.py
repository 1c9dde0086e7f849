"""``flask portal retention ...`` and ``flask portal sar PERSON``."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup, with_appcontext

from portal.schools.cli import each_school, one_school

retention_cli = AppGroup("retention", help="The retention schedule and the disposal run.")


def _date(_ctx: Any, _param: Any, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD, e.g. 2027-07-21") from None


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--today", callback=_date, default=None, metavar="YYYY-MM-DD",
              help="Apply the rules as of this day (default: today in the UK).")
@each_school
def run_command(schools: list[Any], dry_run: bool, today: dt.date | None) -> None:
    """Apply the retention schedule: delete, anonymise or ask for reviews (never under a legal hold).

    Each school runs in its own transaction; without --school the installation's sign-in records
    are cleared too. Running it again the same day changes nothing.
    """
    from portal.dataprotection.retention import run_installation, run_school
    from portal.db import session

    failed = False
    for school in schools:
        try:
            report = run_school(school.id, today, dry_run=dry_run)
        except Exception as exc:  # noqa: BLE001 - one school's failure must not stop the others
            session.rollback()
            failed = True
            click.echo(f"{school.slug}: FAILED ({type(exc).__name__}: {exc}); nothing was changed there.", err=True)
            continue
        click.echo(f"{school.slug}: {report.summary()}.")
        for o in report.outcomes:
            if o.result in ("deleted", "anonymised", "review", "held"):
                click.echo(f"  {o.result:<10} {o.summary} ({o.record_type}, due {o.due_on})")
    if click.get_current_context().params.get("school_slug") is None:
        n = run_installation(today, dry_run=dry_run)
        if not dry_run:
            session.commit()
        click.echo(f"Installation: {n} sign-in record(s) {'would be ' if dry_run else ''}deleted.")
    if failed:
        raise SystemExit(1)


@retention_cli.command("show")
@one_school
def show_command() -> None:
    """Print the schedule in force for the school (and which periods still need confirming)."""
    from portal.dataprotection.rules import effective_rules

    for rule in effective_rules().values():
        mark = "" if rule.confirmed else "  [to confirm]"
        then = rule.action + (f" by {rule.review_role}" if rule.action == "review" else "")
        click.echo(f"{rule.key:<32} {rule.period_label:>10} from {rule.default.trigger.value:<22} then {then}"
                   f" ({rule.origin}){mark}")


def _rule_options(f: Any) -> Any:
    for opt in reversed([
        click.option("--period", required=True, help="A whole number, at least 1."),
        click.option("--unit", type=click.Choice(["years", "months", "days"]), default="years", show_default=True),
        click.option("--action", type=click.Choice(["delete", "anonymise", "review"]), required=True),
        click.option("--review-role", type=click.Choice(["head", "dsl"]), default=None),
    ]):
        f = opt(f)
    return f


@retention_cli.command("set")
@click.argument("record_type")
@_rule_options
@one_school
def set_command(record_type: str, period: str, unit: str, action: str, review_role: str | None) -> None:
    """Set the school's rule for RECORD_TYPE (see `retention show`); audited."""
    from portal.dataprotection.rules import RuleError, set_rule
    from portal.db import session

    try:
        rule = set_rule(record_type, period=period, unit=unit, action=action, review_role=review_role, actor=None)
    except RuleError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"{rule.key}: {rule.period_label}, then {rule.action}.")


@retention_cli.command("trust-default")
@click.argument("trust_slug")
@click.argument("record_type")
@_rule_options
@with_appcontext
def trust_default_command(trust_slug: str, record_type: str, period: str, unit: str, action: str,
                          review_role: str | None) -> None:
    """Set TRUST_SLUG's default rule for RECORD_TYPE (its schools without their own rule use it)."""
    from sqlalchemy import select

    from portal.dataprotection.rules import RuleError, set_trust_default
    from portal.db import session
    from portal.schools.models import Trust

    trust = session.scalar(select(Trust).where(Trust.slug == trust_slug.strip().lower()))
    if trust is None:
        raise click.ClickException(f"No trust with the slug {trust_slug!r}.")
    try:
        set_trust_default(trust, record_type, period=period, unit=unit, action=action, review_role=review_role)
    except RuleError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"{trust.slug}: {record_type} default is now {period} {unit}, then {action}.")


@click.command("sar")
@click.argument("person")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The ZIP file to write (must not exist).")
@click.option("--requested-by", default=None, metavar="PARENT",
              help="A parent asking about their child (email, MIS identifier or #id); default: the person.")
@click.option("--include-safeguarding", is_flag=True,
              help="Include safeguarding records (only when the DSL has decided so).")
@one_school
def sar_command(person: str, out: Path, requested_by: str | None, include_safeguarding: bool) -> None:
    """Write everything the school's portal holds about PERSON (email, MIS identifier or #id) as a ZIP
    with a readable index.html, data.json and the sealed PDFs. Audited."""
    from portal import audit
    from portal.dataprotection.sar import SarError, build_zip, collect, find_person, is_guardian
    from portal.db import session

    if out.exists():
        raise click.ClickException(f"{out} exists already; choose a new file name.")
    try:
        subject = find_person(person)
        requester = find_person(requested_by) if requested_by else subject
    except SarError as exc:
        raise click.ClickException(str(exc)) from None
    if requester.id != subject.id and not is_guardian(requester, subject):
        raise click.ClickException("A parent can only ask about their own child.")
    data = build_zip(subject, requester, include_safeguarding=include_safeguarding)
    flags = len(collect(subject, requester, include_safeguarding=include_safeguarding).redaction)
    out.write_bytes(data)
    audit.record("sar.exported", subject_id=subject.id, requester_id=requester.id, size=len(data),
                 include_safeguarding=include_safeguarding, via="cli")
    session.commit()
    click.echo(f"Wrote {out} ({len(data)} bytes) for {subject.full_name}. {flags} name(s) are flagged for "
               "redaction review in index.html: read them before giving the copy.")
