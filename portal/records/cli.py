"""``flask portal keys ...`` and ``flask portal records ...``."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from portal.schools.cli import each_school, one_school


def _need_public_url() -> None:
    """Certificates print the CRL's address and records the verification page's: both need the
    portal's public address, which a command (outside any request) knows only from the setting."""
    from portal.urls import PublicUrlMissing, public_url

    try:
        public_url("portal.verify.home")
    except PublicUrlMissing as exc:
        raise click.ClickException(str(exc)) from None

keys_cli = AppGroup("keys", help="The root CA and each school's certificate that seals signed records.")
records_cli = AppGroup("records", help="Sealed PDF records of signatures.")


def _root_key_options(f):
    """``--root-key FILE`` and its passphrase, for commands that need the root CA's key."""
    f = click.option("--root-key-passphrase", envvar="PORTAL_ROOT_KEY_PASSPHRASE", default=None,
                     help="Passphrase of --root-key (asked for when the file is encrypted and this is not given).")(f)
    return click.option("--root-key", "root_key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        default=None, help="The root CA's key file when it is not on the server (e.g. on a "
                        "removable drive); it is read, used and never copied.")(f)


def _load_root_key(ca, root_key_file: Path | None, passphrase: str | None):
    """The root key of *ca* from the server or *root_key_file* (asking for a passphrase if needed)."""
    from portal.records.keys import RootKeyUnavailable

    if root_key_file is None and not ca.key_online:
        raise click.ClickException(
            f"The root key of {ca.name} is not on this server. Give it with --root-key FILE.")
    pw = passphrase.encode() if passphrase else None
    try:
        return ca.private_key(root_key_file, pw)
    except RootKeyUnavailable as exc:
        if root_key_file is not None and pw is None and "encrypted" in str(exc).lower():
            pw = click.prompt("Passphrase of the root key", hide_input=True).encode()
            try:
                return ca.private_key(root_key_file, pw)
            except RootKeyUnavailable as again:
                raise click.ClickException(str(again)) from None
        raise click.ClickException(str(exc)) from None


def _describe_cert(school, cert_path: Path) -> str:
    from portal.records.keys import load_cert

    cert = load_cert(cert_path)
    return (f"{school.name}:\nCertificate: {cert_path}\nIssued by: {cert.issuer.human_friendly}\n"
            f"Valid until: {cert.not_valid_after:%Y-%m-%d}\nSHA-256 fingerprint: {cert.sha256.hex()}")


@keys_cli.command("init")
@click.option("--force", is_flag=True, help="Replace an existing school key (the old certificate is kept for "
              "verification).")
@click.option("--if-missing", is_flag=True, help="Do nothing (and succeed) when a school key already exists.")
@_root_key_options
@each_school
def keys_init(force: bool, if_missing: bool, root_key_file: Path | None, root_key_passphrase: str | None,
              schools: list) -> None:
    """Make the root CA (per trust, or for the installation) and each school's sealing certificate."""
    _need_public_url()
    from portal.records.keys import (
        KEY_FILE,
        authority_of,
        ca_display_name,
        init_authority,
        issue_school_certificate,
        school_keys_dir,
    )

    if not schools:
        if if_missing:  # a new installation's first migrate unit: nothing to certify yet, and nothing wrong
            click.echo("There is no school yet, so no certificate was made. After `flask portal schools add`, "
                       "run this again (or start the countersign-migrate unit).")
            return
        raise click.ClickException("There is no school yet: add one with `flask portal schools add`.")
    for school in schools:
        if (school_keys_dir(school) / KEY_FILE).exists() and not force:
            if if_missing:
                tag = f"{school.name}: t" if len(schools) > 1 else "T"
                click.echo(f"{tag}he school certificate already exists; nothing changed.")
                continue
            raise click.ClickException(f"{school_keys_dir(school) / KEY_FILE} already exists; use --force to "
                                       "replace it, or `keys rotate`.")
        ca = authority_of(school)
        if not ca.exists:
            init_authority(ca, ca_display_name(ca.name, school))
            click.echo(f"Root CA {ca.name}: {ca.cert_path} (key {ca.key_path}, mode 0600; move it off the server "
                       "with `flask portal keys export-root`).")
        root_key = _load_root_key(ca, root_key_file, root_key_passphrase)
        key, cert = issue_school_certificate(school, root_key=root_key, force=True)
        click.echo(_describe_cert(school, cert) + f"\nKey: {key} (mode 0600)")


@keys_cli.command("rotate")
@click.option("--revoke-old", "revoke_reason", default=None,
              type=click.Choice(["key_compromise", "superseded", "cessation_of_operation", "affiliation_changed"]),
              help="Also revoke the old certificate (e.g. key_compromise when its key may be known to others).")
@_root_key_options
@one_school
def keys_rotate(revoke_reason: str | None, root_key_file: Path | None, root_key_passphrase: str | None) -> None:
    """Give the school a new key and certificate; the old certificate is kept so its records still verify."""
    _need_public_url()
    from portal.records.keys import (
        CERT_FILE,
        authority_for,
        authority_of,
        ca_display_name,
        init_authority,
        issue_school_certificate,
        load_cert,
        school_keys_dir,
    )
    from portal.schools.models import School

    school = School.get()
    ca = authority_of(school)
    if not ca.exists:  # e.g. the school joined a trust that has no CA yet
        init_authority(ca, ca_display_name(ca.name, school))
    root_key = _load_root_key(ca, root_key_file, root_key_passphrase)
    old = school_keys_dir(school) / CERT_FILE
    old_cert = load_cert(old) if old.is_file() else None
    _, cert = issue_school_certificate(school, root_key=root_key, force=True)
    if revoke_reason and old_cert is not None:
        old_ca = authority_for(old_cert)
        if old_ca is None:
            click.echo("The old certificate was not issued by the portal's CA: ask its issuer to revoke it.")
        else:
            old_key = root_key if old_ca.name == ca.name else _load_root_key(old_ca, root_key_file, root_key_passphrase)
            old_ca.revoke(old_key, int(old_cert.serial_number), revoke_reason)
            click.echo(f"Revoked the old certificate (serial {old_cert.serial_number:x}, {revoke_reason}).")
    _audit_keys("keys.rotated", school, fingerprint=load_cert(cert).sha256.hex())
    click.echo(_describe_cert(school, cert))


@keys_cli.command("revoke")
@click.option("--reason", default="unspecified",
              type=click.Choice(["key_compromise", "superseded", "cessation_of_operation", "affiliation_changed",
                                 "unspecified"]))
@click.option("--serial", default=None, help="Serial number (hex) of an earlier certificate; default: the current one.")
@_root_key_options
@one_school
def keys_revoke(reason: str, serial: str | None, root_key_file: Path | None, root_key_passphrase: str | None) -> None:
    """Revoke the school's certificate and publish a new CRL. Sealing stops until `keys rotate`."""
    from portal.records.keys import CERT_FILE, RETIRED_DIR, authority_for, load_cert, school_keys_dir
    from portal.schools.models import School

    school = cast(School, School.get())  # @one_school scoped the command to its school
    folder = school_keys_dir(school)
    if serial:
        try:
            number = int(serial, 16)
        except ValueError:
            raise click.ClickException("--serial must be hexadecimal.") from None
        certs = [load_cert(p) for p in [folder / CERT_FILE, *sorted((folder / RETIRED_DIR).glob("*.cert.pem"))]
                 if p.is_file()]
        cert = next((c for c in certs if int(c.serial_number) == number), None)
        if cert is None:
            raise click.ClickException(f"{school.name} has no certificate with serial {serial}.")
    else:
        path = folder / CERT_FILE
        if not path.is_file():
            raise click.ClickException("The school has no certificate.")
        cert = load_cert(path)
        number = int(cert.serial_number)
    ca = authority_for(cert)
    if ca is None:
        raise click.ClickException("This certificate was not issued by the portal's CA; ask its issuer to revoke it.")
    root_key = _load_root_key(ca, root_key_file, root_key_passphrase)
    ca.revoke(root_key, number, reason)
    _audit_keys("keys.revoked", school, serial=format(number, "x"), reason=reason)
    click.echo(f"Revoked serial {number:x} ({reason}); the new CRL is published. Seal again after "
               "`flask portal keys rotate`.")


@keys_cli.command("crl")
@click.option("--ca", "ca_names_", multiple=True, help="Only this CA (installation or trust-<slug>); repeat.")
@_root_key_options
@with_appcontext
def keys_crl(ca_names_: tuple[str, ...], root_key_file: Path | None, root_key_passphrase: str | None) -> None:
    """Publish a new certificate revocation list (needed before the current one runs out)."""
    from cryptography import x509

    from portal.records.keys import authority, ca_names

    names = list(ca_names_) or ca_names()
    if not names:
        raise click.ClickException("There is no root CA yet: run `flask portal keys init`.")
    for name in names:
        ca = authority(name)
        if not ca.exists:
            raise click.ClickException(f"There is no CA named {name}.")
        if root_key_file is None and not ca.key_online:
            click.echo(f"{name}: the root key is offline; skipped (give it with --root-key FILE --ca {name}).")
            continue
        crl = x509.load_der_x509_crl(ca.issue_crl(_load_root_key(ca, root_key_file, root_key_passphrase)))
        click.echo(f"{name}: new CRL valid until {crl.next_update_utc:%Y-%m-%d}.")


@keys_cli.command("export-root")
@click.option("--ca", "name", default=None, help="installation or trust-<slug> (default: the only CA).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the encrypted key (e.g. on a removable drive); must not exist.")
@click.option("--passphrase", envvar="PORTAL_ROOT_KEY_PASSPHRASE", prompt=True, hide_input=True,
              confirmation_prompt=True, help="Encrypts the exported key (at least 12 characters).")
@with_appcontext
def keys_export_root(name: str | None, out: Path, passphrase: str) -> None:
    """Move the root CA's key off the server: write it encrypted to --out, check it, delete the server copy."""
    from portal.records.keys import RootKeyUnavailable, authority, ca_names, export_root_key

    names = ca_names()
    if name is None:
        if len(names) != 1:
            raise click.ClickException(f"Name the CA with --ca (one of: {', '.join(names) or 'none yet'}).")
        name = names[0]
    ca = authority(name)
    try:
        export_root_key(ca, out, passphrase.encode())
    except (RootKeyUnavailable, FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    _audit_keys("keys.root_exported", None, ca=name)
    click.echo(f"The root key of {name} is now only in {out} (encrypted). The server keeps the root certificate "
               "and the school keys. Keep the file and its passphrase apart and safe; you need them to issue, "
               "rotate or revoke a school certificate and to renew the CRL.")


@keys_cli.command("import-p12")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--password", envvar="PORTAL_P12_PASSWORD", prompt=True, hide_input=True, default="",
              help="The PKCS#12 file's password.")
@click.option("--chain", "chain", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM file with the issuing CA certificates, when the PKCS#12 file lacks them.")
@one_school
def keys_import_p12(file: Path, password: str, chain: Path | None) -> None:
    """Seal this school's records with a certificate from a commercial CA (PKCS#12 file)."""
    from portal.records.keys import import_pkcs12
    from portal.schools.models import School

    school = cast(School, School.get())  # @one_school scoped the command to its school
    try:
        cert = import_pkcs12(school, file.read_bytes(), password.encode() if password else None,
                             chain.read_bytes() if chain else None)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _audit_keys("keys.imported", school, fingerprint=cert.sha256.hex())
    click.echo(f"{school.name} now seals with {cert.subject.human_friendly} (issued by "
               f"{cert.issuer.human_friendly}, valid until {cert.not_valid_after:%Y-%m-%d}, "
               f"SHA-256 {cert.sha256.hex()}).")


@keys_cli.command("status")
@each_school
def keys_status(schools: list) -> None:
    """Each CA (key online or offline, CRL validity) and each school's certificate."""
    import datetime as dt

    from portal.records.keys import CERT_FILE, authority, ca_names, load_cert, school_keys_dir

    now = dt.datetime.now(dt.UTC)
    for name in ca_names():
        ca = authority(name)
        crl = ca.crl()
        until = crl.next_update_utc if crl is not None else None
        warn = "  RENEW SOON: `flask portal keys crl`" if until is None or until - now < dt.timedelta(days=30) else ""
        crl_text = f"CRL valid until {until:%Y-%m-%d}" if until else "no CRL"
        key_text = "on this server" if ca.key_online else "offline"
        click.echo(f"CA {name}: root {ca.root().sha256.hex()}; key {key_text}; {crl_text}{warn}")
    for school in schools:
        path = school_keys_dir(school) / CERT_FILE
        if not path.is_file():
            click.echo(f"{school.slug}: no certificate (run `flask portal keys init`).")
            continue
        cert = load_cert(path)
        click.echo(f"{school.slug}: {cert.subject.human_friendly}; issued by {cert.issuer.human_friendly}; valid "
                   f"until {cert.not_valid_after:%Y-%m-%d}; SHA-256 {cert.sha256.hex()}")


def _audit_keys(action: str, school, **data) -> None:
    from portal import audit
    from portal.db import session

    audit.record(action, school=school, **data)
    session.commit()


@records_cli.command("retimestamp")
@click.option("--margin-days", type=int, default=None,
              help="Time-stamp records whose newest time stamp or certificate expires within this many days "
              "(default PORTAL_RETIMESTAMP_MARGIN_DAYS).")
@click.option("--limit", type=int, default=None, help="At most this many records per school.")
@each_school
def records_retimestamp(margin_days: int | None, limit: int | None, schools: list) -> None:
    """Add a time stamp to every record that needs one, so records stay verifiable (run it as a scheduled job)."""
    import datetime as dt

    from portal.db import session
    from portal.records.operations import retimestamp_due
    from portal.schools.isolation import school_scope

    margin = dt.timedelta(days=margin_days) if margin_days is not None else None
    failed = waiting = 0
    for school in schools:
        with school_scope(session, school.id):
            report = retimestamp_due(margin, limit=limit)
        failed += report.failed
        waiting += report.waiting_for_tsa
        tag = f"{school.name}: " if len(schools) > 1 else ""
        click.echo(f"{tag}New document time stamps: {report.timestamped}. Sealed again with a time stamp: "
                   f"{report.resealed}. Failed (will retry): {report.failed}."
                   + (f" Waiting for a TSA (set PORTAL_TSA_URL): {report.waiting_for_tsa}."
                      if report.waiting_for_tsa else ""))
    if failed or waiting:
        sys.exit(1)


@records_cli.command("repair")
@click.option("--limit", type=int, default=None, help="At most this many records per school.")
@each_school
def records_repair(limit: int | None, schools: list) -> None:
    """Make the sealed PDF of every signature that lacks one, in each school (safe to run again)."""
    _need_public_url()
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
