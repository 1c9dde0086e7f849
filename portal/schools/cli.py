"""``flask portal schools ...`` and the ``--school`` option of the other commands."""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

schools_cli = AppGroup("schools", help="The schools of this installation (and their trust).")


def _school_by_slug(slug: str) -> Any:
    from portal.db import session
    from portal.schools.models import School

    school = session.scalar(select(School).where(School.slug == slug.strip().lower()))
    if school is None:
        known = ", ".join(session.scalars(select(School.slug).order_by(School.slug))) or "none yet"
        raise click.ClickException(f"No school with the slug {slug!r}. Schools: {known}.")
    return school


def one_school(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--school SLUG`` to a command and run it scoped to that school.

    Without the option, a single-school installation uses its one school; with several schools
    the option is required (the error lists the slugs).
    """

    @click.option("--school", "school_slug", default=None, metavar="SLUG",
                  help="The school (its slug; see `flask portal schools list`). Needed when there are several.")
    @with_appcontext
    @functools.wraps(f)
    def wrapped(*args: Any, school_slug: str | None = None, **kwargs: Any) -> Any:
        from portal.db import session
        from portal.schools.isolation import school_scope
        from portal.schools.models import School

        if school_slug:
            school = _school_by_slug(school_slug)
        else:
            schools = session.scalars(select(School).order_by(School.id).limit(2)).all()
            if not schools:
                raise click.ClickException("There is no school yet: add one with `flask portal schools add`.")
            if len(schools) > 1:
                known = ", ".join(session.scalars(select(School.slug).order_by(School.slug)))
                raise click.ClickException(f"Name the school with --school (one of: {known}).")
            school = schools[0]
        with school_scope(session, school.id):
            return f(*args, **kwargs)

    return wrapped


def each_school(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--school SLUG`` to a command that otherwise runs once per school.

    The command receives ``schools``: the named one, or every school; it scopes itself to each.
    """

    @click.option("--school", "school_slug", default=None, metavar="SLUG",
                  help="Only this school (its slug). Default: every school.")
    @with_appcontext
    @functools.wraps(f)
    def wrapped(*args: Any, school_slug: str | None = None, **kwargs: Any) -> Any:
        from portal.db import session
        from portal.schools.models import School

        if school_slug:
            schools = [_school_by_slug(school_slug)]
        else:
            schools = list(session.scalars(select(School).order_by(School.id)))
        return f(*args, schools=schools, **kwargs)

    return wrapped


@schools_cli.command("list")
@with_appcontext
def list_command() -> None:
    """Print each school's slug and name (and its trust)."""
    from portal.db import session
    from portal.schools.models import School

    rows = session.scalars(select(School).order_by(School.slug)).all()
    if not rows:
        click.echo("No schools yet. Add one with `flask portal schools add`.")
    for s in rows:
        trust = f"\t{s.trust.name}" if s.trust else ""
        click.echo(f"{s.slug}\t{s.name}{trust}")


@schools_cli.command("add")
@click.option("--slug", required=True, help="Short name: lower-case letters, digits and hyphens.")
@click.option("--name", required=True, help="The school's name as people know it.")
@click.option("--urn", default=None, help="The DfE unique reference number (six digits).")
@click.option("--phase", "phases", multiple=True, type=click.Choice(["nursery", "primary", "secondary", "sixth_form"]),
              help="A phase the school covers (repeat for several).")
@click.option("--trust", "trust_slug", default=None, help="The trust's slug (made with --trust-name if new).")
@click.option("--trust-name", default=None, help="Name of a new trust to create with --trust.")
@click.option("--policies/--no-policies", default=True, help="Publish the default policy pack (default: yes).")
@with_appcontext
def add_command(slug: str, name: str, urn: str | None, phases: tuple[str, ...], trust_slug: str | None,
                trust_name: str | None, policies: bool) -> None:
    """Create a school (and its trust, if new)."""
    from portal.db import session
    from portal.schools.operations import SchoolError, create_school

    try:
        school = create_school(slug=slug, name=name, urn=urn, phases=list(phases), trust_slug=trust_slug,
                               trust_name=trust_name, with_policies=policies)
    except SchoolError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"Added {school.slug}: {school.name}.")


@schools_cli.command("export")
@click.argument("slug")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write (must not exist or be empty).")
@with_appcontext
def export_command(slug: str, out: Path) -> None:
    """Write everything SLUG owns to a folder that `schools import` can load elsewhere."""
    from portal.db import session
    from portal.schools.transfer import TransferError, export_school

    school = _school_by_slug(slug)
    try:
        manifest = export_school(school, out, progress=_progress)
    except TransferError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"Exported {school.slug} to {out}: {sum(t['rows'] for t in manifest['tables'].values())} rows, "
               f"{len(manifest['files'])} files.")


@schools_cli.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--trust", "trust_slug", default=None, help="Put the school in this trust (its slug).")
@with_appcontext
def import_command(folder: Path, trust_slug: str | None) -> None:
    """Load a school exported by `schools export` (all or nothing)."""
    from sqlalchemy.exc import SQLAlchemyError

    from portal.db import session
    from portal.schools.transfer import TransferError, import_school

    try:
        school = import_school(folder, trust_slug=trust_slug, progress=_progress)
    except TransferError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:  # a row this database refuses (a hand-edited export): nothing is kept
        session.rollback()
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
        raise click.ClickException(f"Nothing was imported: the database refused the export's data ({reason}).") \
            from None
    session.commit()
    click.echo(f"Imported {school.slug}: {school.name}.")


@schools_cli.command("remove")
@click.argument("slug")
@click.option("--exported-to", "exported_to", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The folder `schools export` wrote for this school (checked before anything is deleted).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def remove_command(slug: str, exported_to: Path, yes: bool) -> None:
    """Delete SLUG and everything it owns, after checking its export (audited)."""
    from portal.db import session
    from portal.schools.transfer import TransferError, remove_school

    school = _school_by_slug(slug)
    if not yes:
        click.confirm(f"Delete {school.name} and all its data from this installation?", abort=True)
    try:
        remove_school(school, exported_to)
    except TransferError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"Removed {slug}.")


def _progress(label: str, total: int) -> Any:
    """A click progress bar (shown on a terminal, quiet otherwise)."""
    return click.progressbar(length=max(total, 1), label=label, file=None)
