"""``flask portal lti ...`` and ``flask portal import-oneroster``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

lti_cli = AppGroup("lti", help="LTI 1.3: tool keys, LMS registrations, grade passback.")


@lti_cli.command("keys")
@click.option("--rotate", is_flag=True, help="Add a new signing key (old ones stay published until deleted).")
@with_appcontext
def keys_command(rotate: bool) -> None:
    """Make the tool's RSA key pair (once), or a new one with --rotate; print the keyset."""
    from portal.lti import keys

    existing = keys.jwks()["keys"]
    if rotate or not existing:
        kid = keys.generate_key()
        click.echo(f"New tool key {kid} in {keys.keys_dir()}.")
    else:
        click.echo(f"The tool already has {len(existing)} key(s); use --rotate to add one.")
    for k in keys.jwks()["keys"]:
        click.echo(f"  kid {k['kid']}")


@lti_cli.command("add")
@click.option("--name", required=True)
@click.option("--issuer", required=True, help="Platform ID (Moodle: the site URL).")
@click.option("--client-id", required=True)
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True)
@click.option("--auth-login-url", required=True, help="Moodle: <site>/mod/lti/auth.php")
@click.option("--auth-token-url", required=True, help="Moodle: <site>/mod/lti/token.php")
@click.option("--key-set-url", required=True, help="Moodle: <site>/mod/lti/certs.php")
@click.option("--auth-audience", default=None)
@with_appcontext
def add_command(
    name, issuer, client_id, deployment_ids, auth_login_url, auth_token_url, key_set_url, auth_audience
) -> None:
    """Register an LMS (platform)."""
    from portal.db import session
    from portal.lti.operations import add_registration

    try:
        row = add_registration(
            name=name,
            issuer=issuer,
            client_id=client_id,
            deployment_ids=list(deployment_ids),
            auth_login_url=auth_login_url,
            auth_token_url=auth_token_url,
            key_set_url=key_set_url,
            auth_audience=auth_audience,
        )
    except ValueError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"Registered {row.name} (id {row.id}).")


@lti_cli.command("list")
@with_appcontext
def list_command() -> None:
    """List the registered LMSs."""
    from sqlalchemy import select

    from portal.db import session
    from portal.lti.models import LtiRegistration

    rows = session.scalars(select(LtiRegistration).order_by(LtiRegistration.id)).all()
    if not rows:
        click.echo("No LMS is registered.")
    for r in rows:
        click.echo(
            f"{r.id}\t{r.name}\t{r.issuer}\tclient {r.client_id}\tdeployments {','.join(r.deployment_ids)}"
        )


@lti_cli.command("remove")
@click.argument("registration_id", type=int)
@with_appcontext
def remove_command(registration_id: int) -> None:
    """Remove a registration (its launches are refused from then on)."""
    from portal.db import session
    from portal.lti.models import LtiRegistration
    from portal.lti.operations import remove_registration

    row = session.get(LtiRegistration, registration_id)
    if row is None:
        raise click.ClickException(f"No registration {registration_id}.")
    remove_registration(row)
    session.commit()
    click.echo(f"Removed {row.name}.")


@lti_cli.command("retry-scores")
@with_appcontext
def retry_scores_command() -> None:
    """Post the scores that could not be sent yet (run it from cron, e.g. every 15 minutes)."""
    from portal.db import session
    from portal.lti.operations import pending_jobs, send_score

    sent = failed = 0
    for job in pending_jobs():
        if send_score(job):
            sent += 1
        else:
            failed += 1
        session.commit()
    click.echo(f"{sent} score(s) sent, {failed} still waiting or failed.")


@click.command("import-oneroster")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def import_oneroster_command(path: Path) -> None:
    """Import a OneRoster 1.1 CSV export (a zip file or a folder), all or nothing."""
    from portal.db import session
    from portal.lti.oneroster import import_oneroster, read_folder, read_zip
    from portal.people.roster import RosterError

    cfg = current_app.config
    try:
        if path.is_dir():
            files = read_folder(path, max_unzipped=cfg["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"])
        else:
            if path.stat().st_size > cfg["PORTAL_MAX_ONEROSTER_BYTES"]:
                raise RosterError([f"{path.name}: larger than {cfg['PORTAL_MAX_ONEROSTER_BYTES']} bytes."])
            files = read_zip(path.read_bytes(), max_unzipped=cfg["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"])
        summary = import_oneroster(files)
    except RosterError as exc:
        session.rollback()
        for line in exc.errors:
            click.echo(line, err=True)
        raise click.ClickException(f"Nothing was imported ({len(exc.errors)} problem(s)).") from None
    session.commit()
    click.echo(summary.describe())
