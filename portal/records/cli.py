"""``flask portal keys ...`` and ``flask portal records ...``."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from portal.schools.cli import each_school, one_school

keys_cli = AppGroup("keys", help="The school's certificate that seals signed records.")
records_cli = AppGroup("records", help="Sealed PDF records of signatures.")


@keys_cli.command("init")
@click.option("--force", is_flag=True, help="Replace an existing key (old records stay valid only with the old cert).")
@click.option("--if-missing", is_flag=True, help="Do nothing (and succeed) when a key already exists.")
@each_school
def keys_init(force: bool, if_missing: bool, schools: list) -> None:
    """Make a self-signed sealing certificate and key for each school (or --school) under PORTAL_KEYS_DIR."""
    from portal.records.keys import init_keys, load_cert, school_keys_dir

    if not schools:
        raise click.ClickException("There is no school yet: add one with `flask portal schools add`.")
    for school in schools:
        try:
            key, cert = init_keys(school_keys_dir(school), school.name, force=force)
        except FileExistsError as exc:
            if if_missing:
                tag = f"{school.name}: t" if len(schools) > 1 else "T"
                click.echo(f"{tag}he school certificate already exists; nothing changed.")
                continue
            raise click.ClickException(f"{exc}; use --force to replace it.") from None
        fp = load_cert(cert).sha256.hex()
        tag = f"{school.name}:\n" if len(schools) > 1 else ""
        click.echo(f"{tag}Key: {key} (mode 0600)\nCertificate: {cert}\nSHA-256 fingerprint: {fp}")


@records_cli.command("repair")
@click.option("--limit", type=int, default=None, help="At most this many records per school.")
@each_school
def records_repair(limit: int | None, schools: list) -> None:
    """Make the sealed PDF of every signature that lacks one, in each school (safe to run again)."""
    from portal.db import session
    from portal.progress import click_bar
    from portal.records.operations import repair
    from portal.schools.isolation import school_scope

    total_failed = 0
    for school in schools:
        with school_scope(session, school.id):
            sealed, failed = repair(limit, progress=click_bar)
        total_failed += failed
        tag = f"{school.name}: " if len(schools) > 1 else ""
        click.echo(f"{tag}Records made: {sealed}. Still failing: {failed}.")
    if total_failed:
        sys.exit(1)


@records_cli.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="ZIP file to write (must not exist).")
@click.option("--year", type=int, default=None, help="Academic year by its starting year, e.g. 2026.")
@click.option("--policy", "policy_id", type=int, default=None, help="Policy id.")
@click.option("--audience", default=None, help="Audience, e.g. parent or pupil_ks2.")
@click.option("--class", "class_id", type=int, default=None, help="Class id.")
@click.option("--person", default=None, help="Part of a signer's or pupil's name, or a roster id.")
@one_school
def records_export(out: Path, year, policy_id, audience, class_id, person) -> None:
    """Write the PDFs, manifest.csv and the audit-chain head to a ZIP."""
    from portal.db import session
    from portal.records.archive import archive_store
    from portal.records.export import start_export, stream_export
    from portal.records.queries import RecordFilter

    if out.exists():
        raise click.ClickException(f"{out} already exists.")
    from sqlalchemy import func, select

    from portal.progress import click_bar
    from portal.records.queries import records_query

    f = RecordFilter(academic_year=year, policy_id=policy_id, audience=audience, class_id=class_id, person=person)
    matching = records_query(f).subquery()
    pdf_bytes = session.scalar(select(func.coalesce(func.sum(matching.c.size), 0))) or 0
    head = start_export(f)
    tmp = out.with_name(out.name + ".part")
    # Progress in bytes: the PDFs' sizes, plus a little for the manifest and the ZIP's own records.
    total = int(pdf_bytes) + 64 * 1024
    with tmp.open("wb") as fh, click_bar("Writing the ZIP", total) as bar:
        done = 0
        for chunk in stream_export(f, head, db=session, store=archive_store()):
            fh.write(chunk)
            step = min(len(chunk), max(total - done - 1, 0))
            done += step
            bar.update(step)
        bar.update(total - done)
    tmp.rename(out)
    click.echo(f"Wrote {out} ({out.stat().st_size} bytes); audit chain head {head[1]}.")


@records_cli.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@one_school
def records_verify(file: Path) -> None:
    """Say whether FILE is a genuine, unchanged record sealed by this school (exit 0 only then)."""
    from portal import audit
    from portal.db import session
    from portal.records.verify import NotAPdf, verify_pdf

    limit = current_app.config["PORTAL_MAX_UPLOAD_BYTES"]
    if file.stat().st_size > limit:
        raise click.ClickException(f"{file.name} is larger than {limit} bytes.")
    try:
        verdict = verify_pdf(file.read_bytes())
    except NotAPdf as exc:
        raise click.ClickException(str(exc)) from None
    audit.record("record.verified", genuine=verdict.genuine, sha256=verdict.sha256,
                 signature_id=verdict.signature_id)
    session.commit()
    click.echo(verdict.summary)
    click.echo(f"SHA-256 of the file: {verdict.sha256}")
    if verdict.signer_name:
        click.echo(f"Sealed by: {verdict.signer_name}")
    if verdict.record is not None:
        click.echo(f"Identical to archived record {verdict.record.id}.")
    for p in verdict.problems:
        click.echo(f"Note: {p}")
    sys.exit(0 if verdict.genuine else 1)
