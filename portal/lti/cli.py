"""``flask portal lti ...`` and ``flask portal import-oneroster``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from portal.schools.cli import each_school, one_school

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
@one_school
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
@each_school
def list_command(schools: list) -> None:
    """List the registered LMSs (of each school, or --school)."""
    from sqlalchemy import select

    from portal.db import session
    from portal.lti.models import LtiRegistration
    from portal.schools.isolation import school_scope

    found = False
    for school in schools:
        with school_scope(session, school.id):
            rows = session.scalars(select(LtiRegistration).order_by(LtiRegistration.id)).all()
        for r in rows:
            found = True
            tag = f"\t{school.slug}" if len(schools) > 1 else ""
            click.echo(
                f"{r.id}\t{r.name}\t{r.issuer}\tclient {r.client_id}\tdeployments {','.join(r.deployment_ids)}{tag}"
            )
    if not found:
        click.echo("No LMS is registered.")


@lti_cli.command("remove")
@click.argument("registration_id", type=int)
@one_school
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


@click.command("import-oneroster")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--school", "school_slug", default=None, metavar="SLUG",
              help="Import everything into this school (the file's other schools are left out).")
@click.option("--org", "org_map", multiple=True, metavar="SOURCEDID=SLUG",
              help="Map an orgs.csv school to a school of this installation (repeat; by default orgs map "
                   "by URN = identifier, then by name).")
@with_appcontext
def import_oneroster_command(path: Path, school_slug: str | None, org_map: tuple[str, ...]) -> None:
    """Import a OneRoster 1.1 CSV export (a zip file or a folder), all or nothing.

    A trust-wide export goes to each school its orgs map to; a one-school export to the school.
    """
    from sqlalchemy import select

    from portal.db import session
    from portal.lti.oneroster import import_oneroster, import_oneroster_schools, orgs_by_school, read_folder, read_zip
    from portal.people.roster import RosterError
    from portal.schools.cli import _school_by_slug
    from portal.schools.isolation import school_scope
    from portal.schools.models import School

    cfg = current_app.config
    explicit = {}
    for item in org_map:
        org, sep, slug = item.partition("=")
        if not sep or not org.strip() or not slug.strip():
            raise click.ClickException(f"--org {item!r}: write it as SOURCEDID=SLUG.")
        explicit[org.strip()] = slug.strip()
    schools = list(session.scalars(select(School).order_by(School.id)))
    if not schools:
        raise click.ClickException("There is no school yet: add one with `flask portal schools add`.")
    try:
        if path.is_dir():
            files = read_folder(path, max_unzipped=cfg["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"])
        else:
            if path.stat().st_size > cfg["PORTAL_MAX_ONEROSTER_BYTES"]:
                raise RosterError([f"{path.name}: larger than {cfg['PORTAL_MAX_ONEROSTER_BYTES']} bytes."])
            files = read_zip(path.read_bytes(), max_unzipped=cfg["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"])
        if school_slug or (len(schools) == 1 and not explicit):
            school = _school_by_slug(school_slug) if school_slug else schools[0]
            with school_scope(session, school.id):
                summaries = {school.id: import_oneroster(files)}
        else:
            mapping = orgs_by_school(files, schools, explicit)
            if not mapping:
                raise RosterError(["orgs.csv: no school org matches a school here by URN (identifier) or name; "
                                   "map them with --org SOURCEDID=SLUG."])
            summaries = import_oneroster_schools(files, mapping)
    except RosterError as exc:
        session.rollback()
        for line in exc.errors:
            click.echo(line, err=True)
        raise click.ClickException(f"Nothing was imported ({len(exc.errors)} problem(s)).") from None
    session.commit()
    names = {s.id: s.name for s in schools}
    for sid, summary in summaries.items():
        click.echo((f"{names[sid]}: " if len(summaries) > 1 else "") + summary.describe())
