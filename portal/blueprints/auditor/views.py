"""The auditor portal: filter and download signed records, export them, check a PDF."""
from __future__ import annotations

from flask import Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from portal import audit
from portal.audit import chain_head
from portal.blueprints.auditor import bp
from portal.blueprints.auditor.forms import RecordFilterForm, VerifyForm
from portal.db import session
from portal.people.models import academic_year_label
from portal.policies.models import AUDIENCE_LABELS
from portal.records.archive import ArchiveError, archive_store
from portal.records.queries import RecordFilter, filter_choices, records_page
from portal.schools.isolation import PortalSession, set_school
from portal.schools.models import School
from portal.security import access
from portal.templating import N_
from portal.web import error_page

PER_PAGE = 50


def _filter_form() -> tuple[RecordFilterForm, RecordFilter | None]:
    """The filter form bound to the query string, and the filter (None when the input is invalid)."""
    form = RecordFilterForm(request.args)
    choices = filter_choices(session)
    form.year.choices = [("", _("Any year"))] + choices["years"]
    form.policy.choices = [("", _("Any policy"))] + choices["policies"]
    form.audience.choices = [("", _("Any audience"))] + choices["audiences"]
    form.school_class.choices = [("", _("Any class"))] + choices["classes"]
    try:
        ok = form.validate()
    except ValueError:
        ok = False
    if not ok:
        return form, None
    return form, RecordFilter(academic_year=form.year.data, policy_id=form.policy.data,
                              audience=form.audience.data or None, class_id=form.school_class.data,
                              person=(form.person.data or "").strip() or None)


def _page() -> int:
    raw = request.args.get("page", "1")
    return max(1, min(int(raw), 100000)) if raw.isdecimal() and len(raw) < 7 else 1


@bp.get("/")
@access(capabilities=["records.view"])
def home():
    form, f = _filter_form()
    rows, has_next, page = [], False, _page()
    if f is not None:
        rows = records_page(session, f, PER_PAGE + 1, (page - 1) * PER_PAGE)
        has_next = len(rows) > PER_PAGE
        rows = rows[:PER_PAGE]
    count, head = chain_head()
    args = {k: v for k, v in request.args.items() if k not in ("page", "submit") and v}
    return render_template(
        "portal/auditor/home.html", form=form, rows=rows, page=page, has_next=has_next, args=args,
        audit_count=count, audit_head=head, academic_year_label=academic_year_label,
        audience_labels={a.value: label for a, label in AUDIENCE_LABELS.items()},
        filtered=bool(args),
    ), (200 if f is not None else 400)


@bp.get("/records/<portal_id:signature_id>.pdf")
@access(capabilities=["records.view"])
def record_pdf(signature_id: int):
    from portal.records.operations import record_for
    from portal.records.operations import record_pdf as read_pdf

    record = record_for(signature_id)
    if record is None:
        return error_page(404, _("Record not found"), _("There is no signature with that number."))
    if not record.is_sealed:
        return error_page(503, _("Not ready yet"), _(
            "The sealed PDF of this record could not be made yet. "
            "The portal will try again; you can also ask the school to run `flask portal records repair`."))
    try:
        data = read_pdf(record)
    except ArchiveError as exc:
        current_app.logger.error("signed record %s: %s", record.id, exc)
        audit.record("record.integrity_failed", actor=current_user, target=record)
        session.commit()
        return error_page(500, _("Archived copy is damaged"), _(
            "The archived PDF of this record is missing or does not "
            "match its recorded fingerprint. The school has been told in its audit log."))
    audit.record("record.downloaded", actor=current_user, target=record)
    session.commit()
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="signature-{signature_id}.pdf"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@bp.get("/export.zip")
@access(capabilities=["records.export"])
def export_zip():
    from portal.records.export import start_export, stream_export

    _form, f = _filter_form()
    if f is None:
        return error_page(400, _("Check the filter"),
                          _("The filter for the export is not valid. Go back and choose again."))
    head = start_export(f, actor=current_user)
    # Walk finding: "signed-records-368.zip" (the export's audit entry) meant nothing to the person saving it.
    from portal.concerns.schooldays import uk_today

    school = School.get()
    name = f"signed-records-{school.slug if school else 'school'}-{uk_today().isoformat()}.zip"
    engine, store = current_app.extensions["portal"].engine, archive_store()

    school_id = current_user.school_id

    def body():
        # Its own database session, scoped to the school, for as long as the download runs.
        db = PortalSession(bind=engine)
        set_school(db, school_id)
        try:
            yield from stream_export(f, head, db=db, store=store)
        finally:
            db.close()

    return Response(body(), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})


@bp.route("/verify", methods=["GET", "POST"])
@access(capabilities=["records.view"])
def verify():
    from portal.records.verify import NotAPdf, verify_pdf

    form = VerifyForm()
    verdict, error = None, None
    if form.validate_on_submit():
        upload = form.file.data
        limit = int(current_app.config["PORTAL_RECORDS_MAX_VERIFY_BYTES"])
        data = upload.read(limit + 1)
        if len(data) > limit:
            error = _("This file is larger than %(size)s; records are much smaller.", size=_size(limit))
        elif not data:
            error = _("This file is empty.")
        else:
            try:
                verdict = verify_pdf(data)
            except NotAPdf as exc:
                error = _(str(exc))  # the messages are listed below for the catalogues
            else:
                audit.record("record.verified", actor=current_user, genuine=verdict.genuine,
                             sha256=verdict.sha256, signature_id=verdict.signature_id)
                session.commit()
    elif form.file.errors:
        error = form.file.errors[0]
    status = 400 if error else 200
    return render_template("portal/auditor/verify.html", form=form, verdict=verdict, error=error), status


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


#: portal.records.rules.NotAPdf's messages (raised in English), shown above in the reader's language.
_NOT_A_PDF_WORDS = (N_("This file is not a PDF (it does not start like one)."),
                    N_("This PDF is incomplete: its end is missing. Use the whole file."),
                    N_("This PDF is damaged and cannot be read."))
