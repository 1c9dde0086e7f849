"""``flask portal lti ...`` and ``flask portal import-oneroster``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


@lti_cli.command("settings")
@click.argument("registration_id", type=int)
@click.option("--approve-mentor-links/--no-approve-mentor-links", default=None,
              help="Parent links from this LMS wait for the school's approval (the default), or not.")
@click.option("--role-parameter", default=None, metavar="NAME",
              help="Custom parameter carrying each person's role (e.g. countersign_role); '' removes it.")
@click.option("--role-map", "role_map", multiple=True, metavar="VALUE=ROLE",
              help="What a value of the role parameter means: pupil, teacher, support_staff or none (repeat).")
@one_school
def settings_command(registration_id: int, approve_mentor_links: bool | None, role_parameter: str | None,
                     role_map: tuple[str, ...]) -> None:
    """Show or change an LMS's settings: approval of parent links, and the role parameter (Moodle)."""
    from portal.db import session
    from portal.lti.models import LtiRegistration
    from portal.lti.operations import parse_role_map, update_registration_settings

    row = session.get(LtiRegistration, registration_id)
    if row is None:
        raise click.ClickException(f"No registration {registration_id}.")
    if approve_mentor_links is not None or role_parameter is not None or role_map:
        try:
            update_registration_settings(
                row,
                approve_mentor_links=row.approve_mentor_links if approve_mentor_links is None else approve_mentor_links,
                role_parameter=row.role_parameter if role_parameter is None else role_parameter,
                role_map=parse_role_map("\n".join(role_map)) if role_map else
                ({} if role_parameter == "" else dict(row.role_map or {})),
            )
        except ValueError as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"{row.name}: parent links {'wait for approval' if row.approve_mentor_links else 'are made at once'}; "
               + (f"role parameter {row.role_parameter}: "
                  + ", ".join(f"{k}={v}" for k, v in sorted(row.role_map.items()))
                  if row.role_parameter else "no role parameter") + ".")


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


def _parse_orgs(org_map: tuple[str, ...]) -> dict[str, str]:
    explicit = {}
    for item in org_map:
        org, sep, slug = item.partition("=")
        if not sep or not org.strip() or not slug.strip():
            raise click.ClickException(f"--org {item!r}: write it as SOURCEDID=SLUG.")
        explicit[org.strip()] = slug.strip()
    return explicit


def _import_into_schools(read: Any, school_slug: str | None, explicit: dict[str, str]) -> None:
    """Read the export (``read()`` -> files or a dataset), import it into the named school, the
    only school, or each school its orgs map to; all or nothing; report."""
    from sqlalchemy import select

    from portal.db import session
    from portal.lti.oneroster import as_dataset, import_oneroster, import_oneroster_schools, orgs_by_school
    from portal.people.roster import RosterError
    from portal.schools.cli import _school_by_slug
    from portal.schools.isolation import school_scope
    from portal.schools.models import School

    schools = list(session.scalars(select(School).order_by(School.id)))
    if not schools:
        raise click.ClickException("There is no school yet: add one with `flask portal schools add`.")
    school = _school_by_slug(school_slug) if school_slug else None
    try:
        ds = as_dataset(read())
        if school is not None or (len(schools) == 1 and not explicit):
            school = school or schools[0]
            with school_scope(session, school.id):
                summaries = {school.id: import_oneroster(ds)}
        else:
            mapping = orgs_by_school(ds, schools, explicit)
            if not mapping:
                raise RosterError(["orgs.csv: no school org matches a school here by URN (identifier) or name; "
                                   "map them with --org SOURCEDID=SLUG."])
            summaries = import_oneroster_schools(ds, mapping)
    except RosterError as exc:
        session.rollback()
        for line in exc.errors:
            click.echo(line, err=True)
        raise click.ClickException(f"Nothing was imported ({len(exc.errors)} problem(s)).") from None
    session.commit()
    _report(summaries, schools)


def _report(summaries: dict, schools: list) -> None:
    names = {s.id: s.name for s in schools}
    for sid, summary in summaries.items():
        prefix = f"{names[sid]}: " if len(summaries) > 1 else ""
        click.echo(prefix + summary.describe())
        for warning in summary.warnings:
            click.echo(f"{prefix}Warning: {warning}", err=True)


_SCHOOL_OPTION = click.option("--school", "school_slug", default=None, metavar="SLUG",
                              help="Import everything into this school (the export's other schools are left out).")
_ORG_OPTION = click.option("--org", "org_map", multiple=True, metavar="SOURCEDID=SLUG",
                           help="Map an org of type school to a school of this installation (repeat; by default "
                                "orgs map by URN = identifier, then by name).")


@click.command("import-oneroster")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@_SCHOOL_OPTION
@_ORG_OPTION
@with_appcontext
def import_oneroster_command(path: Path, school_slug: str | None, org_map: tuple[str, ...]) -> None:
    """Import a OneRoster 1.1 or 1.2 CSV export (a zip file or a folder), all or nothing.

    A trust-wide export goes to each school its orgs map to; a one-school export to the school.
    A delta export (manifest.csv: file.users,delta) changes only the rows it holds.
    """
    from portal.lti.oneroster import read_folder, read_zip
    from portal.people.roster import RosterError

    cfg = current_app.config
    explicit = _parse_orgs(org_map)

    def read() -> Any:
        if path.is_dir():
            return read_folder(path, max_unzipped=cfg["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"])
        if path.stat().st_size > cfg["PORTAL_MAX_ONEROSTER_BYTES"]:
            raise RosterError([f"{path.name}: larger than {cfg['PORTAL_MAX_ONEROSTER_BYTES']} bytes."])
        return read_zip(path.read_bytes(), max_unzipped=cfg["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"])

    _import_into_schools(read, school_slug, explicit)


oneroster_cli = AppGroup("oneroster", help="OneRoster: import an export, or pull from a rostering service.")
oneroster_cli.add_command(import_oneroster_command, "import")


@oneroster_cli.command("pull")
@click.option("--url", required=True, help="The service's Rostering base URL, e.g. "
              "https://sis.example/ims/oneroster/rostering/v1p2 (OneRoster 1.1: .../ims/oneroster/v1p1).")
@click.option("--client-id", required=True, help="The OAuth 2 client id the rostering service issued.")
@click.option("--token-url", default=None, help="The OAuth 2 token URL (default: the URL's part before /ims/, "
              "then /token).")
@click.option("--scope", "scopes", multiple=True, help="OAuth 2 scope (repeat; default: roster.readonly and "
              "roster-demographics.readonly of the URL's OneRoster version).")
@click.option("--page-size", default=500, show_default=True, type=click.IntRange(1, 10000))
@_SCHOOL_OPTION
@_ORG_OPTION
@with_appcontext
def pull_command(url: str, client_id: str, token_url: str | None, scopes: tuple[str, ...], page_size: int,
                 school_slug: str | None, org_map: tuple[str, ...]) -> None:
    """Pull the roster from a OneRoster REST service (OAuth 2 client credentials) and import it.

    The client secret is read from PORTAL_ONEROSTER_CLIENT_SECRET, or asked for (never echoed,
    never given on the command line, where other users could see it).
    """
    import os

    from portal.lti.oneroster_rest import pull
    from portal.lti.tool import http_session

    explicit = _parse_orgs(org_map)
    secret = os.environ.get("PORTAL_ONEROSTER_CLIENT_SECRET") or click.prompt("Client secret", hide_input=True)
    cfg = current_app.config

    def read() -> Any:
        with http_session() as http:
            return pull(url, client_id=client_id, secret=secret, token_url=token_url, scopes=list(scopes) or None,
                        page_size=page_size, max_bytes=cfg["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"], http=http)

    _import_into_schools(read, school_slug, explicit)
