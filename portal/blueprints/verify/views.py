"""Public verification: upload a sealed PDF, or open the address from its QR code.

No sign-in, no search (a record is reached only by the unguessable reference printed on it, or by
the file itself), rate limited per client address. The answer is genuine / changed / not ours,
and the page shows only what the PDF itself shows (read from the evidence inside the file, never
from the database). The root certificates and CRLs are downloadable here.
"""
from __future__ import annotations

import re
from typing import Any, cast

from flask import Response, abort, current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from portal import audit
from portal.auth import throttle
from portal.blueprints.verify import bp
from portal.blueprints.verify.forms import CheckFileForm
from portal.db import session
from portal.records import keys
from portal.records.archive import ArchiveError, archive_store
from portal.records.models import SignedRecord
from portal.schools.isolation import all_schools
from portal.schools.models import School
from portal.security import access, client_ip
from portal.web import error_page

_CA_NAME = re.compile(r"^(installation|trust-[a-z0-9-]{1,60})$")
_PUBLIC_ID = re.compile(r"^[0-9a-f]{32}$")


def _limited() -> bool:
    """Count this check against the client address; True when the address is over its limit."""
    cfg = current_app.config
    key = f"verify:{client_ip()}"
    if throttle.is_limited(key, limit=int(cfg["PORTAL_VERIFY_MAX_REQUESTS"]),
                           window=int(cfg["PORTAL_VERIFY_WINDOW_SECONDS"])):
        return True
    throttle.note_failure(key)  # (the sign-in throttle's table: one row per check)
    session.commit()
    return False


def _too_many():
    return error_page(429, _("Too many checks"), _("This address has checked many files in a short time. Wait a "
                                                   "few minutes and try again."))


def _schools() -> list[School]:
    return list(session.scalars(select(School).order_by(School.id)))


def _downloads() -> list[dict[str, Any]]:
    """The root certificates and CRLs anyone can download."""
    out = []
    for name in keys.ca_names():
        ca = keys.authority(name)
        cert = ca.root()
        out.append({"name": name, "subject": cert.subject.human_friendly, "sha256": cert.sha256.hex(),
                    "crl": ca.crl_path.is_file()})
    return out


def _check_upload(form: CheckFileForm, schools: list[School]):
    """(verdict, error) for the uploaded file."""
    from portal.records.verify import NotAPdf, verify_pdf

    limit = int(current_app.config["PORTAL_RECORDS_MAX_VERIFY_BYTES"])
    data = form.file.data.read(limit + 1)
    if len(data) > limit:
        return None, _("This file is larger than %(mb)s MB; records are much smaller.", mb=limit // (1024 * 1024))
    if not data:
        return None, _("This file is empty.")
    try:
        verdict = verify_pdf(data, schools=schools)
    except NotAPdf as exc:
        return None, _(str(exc))
    audit.record("record.verified", school=verdict.school, public=True, outcome=verdict.outcome,
                 sha256=verdict.sha256)
    session.commit()
    return verdict, None


@bp.route("/", methods=["GET", "POST"])
@access(public=True)
def home():
    """Upload a PDF to check it."""
    form = CheckFileForm()
    verdict, error, status = None, None, 200
    if form.is_submitted():
        if _limited():
            return _too_many()
        if form.validate():
            verdict, error = _check_upload(form, _schools())
        else:
            error = (form.file.errors or [_("The form has expired; reload the page and try again.")])[0]
        status = 400 if error else 200
    return render_template("portal/verify/home.html", form=form, verdict=verdict, error=error,
                           downloads=_downloads(), tsa_roots=bool(current_app.config.get("PORTAL_TSA_ROOTS"))), status


@bp.route("/r/<public_id>", methods=["GET", "POST"])
@access(public=True)
def record(public_id: str):
    """The record named by the QR code: what its sealed PDF shows, and a check of an uploaded copy."""
    from portal.records.verify import verify_pdf

    if _limited():
        return _too_many()
    if not _PUBLIC_ID.match(public_id):
        abort(404)
    with all_schools(session):  # the reference names one record in any school; nothing else is searchable
        row = session.scalar(select(SignedRecord).where(SignedRecord.public_id == public_id))
    if row is None or not row.is_sealed:
        abort(404)
    school = cast(School, session.get(School, row.school_id))  # the record's school (a foreign key)
    try:
        archived = archive_store(school).get(cast(str, row.pdf_sha256))  # sealed: it has its PDF
    except ArchiveError:
        current_app.logger.error("public verification: archived PDF of record %s unreadable", row.id)
        abort(500)
    archived_verdict = verify_pdf(archived, schools=[school])
    form = CheckFileForm()
    upload, error, status = None, None, 200
    if form.is_submitted():
        if form.validate():
            upload, error = _check_upload(form, [school])
            if upload is not None and upload.genuine and (upload.record is None or upload.record.id != row.id):
                upload.other_record = True
        else:
            error = (form.file.errors or [_("The form has expired; reload the page and try again.")])[0]
        status = 400 if error else 200
    return render_template("portal/verify/record.html", record=row, public_id=public_id, archived=archived_verdict,
                           evidence=archived_verdict.evidence or {}, form=form, upload=upload, error=error), status


@bp.get("/ca/<name>.pem")
@access(public=True)
def ca_cert(name: str):
    """A root certificate (PEM), or ``tsa.pem``: the TSA's roots when they are not ours."""
    if name == "tsa":
        path = current_app.config.get("PORTAL_TSA_ROOTS")
        if not path:
            abort(404)
        with open(path, "rb") as f:
            data = f.read()
    else:
        if not _CA_NAME.match(name) or not keys.authority(name).exists:
            abort(404)
        data = keys.authority(name).cert_path.read_bytes()
    return Response(data, mimetype="application/x-pem-file", headers={
        "Content-Disposition": f'attachment; filename="{name}-root.pem"', "Cache-Control": "public, max-age=3600"})


@bp.get("/ca/<name>.crl")
@access(public=True)
def ca_crl(name: str):
    """The CA's current certificate revocation list (DER), at the address written in its certificates."""
    if not _CA_NAME.match(name):
        abort(404)
    der = keys.authority(name).crl_der()
    if der is None:
        abort(404)
    return Response(der, mimetype="application/pkix-crl", headers={
        "Content-Disposition": f'attachment; filename="{name}.crl"', "Cache-Control": "public, max-age=600"})
