from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from pylti1p3.exception import LtiException
from sqlalchemy import select

from portal.blueprints.lms import bp
from portal.blueprints.lms.forms import CourseForm, OneRosterForm, RegistrationForm, RemoveForm
from portal.db import session
from portal.people.importing import run_upload_import
from portal.lti import operations
from portal.lti.models import LtiContext, LtiContextTeacher, LtiRegistration
from portal.lti.oneroster import import_oneroster, read_zip
from portal.people.models import ClassTeacher, SchoolClass
from portal.security import access, has_capability


@bp.route("/registrations", methods=["GET", "POST"])
@access(capabilities=["lti.manage"])
def registrations():
    form = RegistrationForm()
    error = None
    if form.validate_on_submit():
        try:
            operations.add_registration(
                name=form.name.data.strip(),
                issuer=form.issuer.data.strip(),
                client_id=form.client_id.data.strip(),
                auth_login_url=form.auth_login_url.data.strip(),
                auth_token_url=form.auth_token_url.data.strip(),
                key_set_url=form.key_set_url.data.strip(),
                deployment_ids=form.deployment_list(),
                actor=current_user,
            )
        except ValueError as exc:
            session.rollback()
            error = str(exc)
        else:
            session.commit()
            flash(
                f"{form.name.data.strip()} was added. Teachers can now add Countersign to their courses.",
                "success",
            )
            return redirect(url_for(".registrations"))
    rows = session.scalars(select(LtiRegistration).order_by(LtiRegistration.name)).all()
    status = 400 if error or form.errors else 200
    return render_template(
        "portal/lms/registrations.html", form=form, rows=rows, error=error, remove_form=RemoveForm()
    ), status


@bp.post("/registrations/<int:reg_id>/remove")
@access(capabilities=["lti.manage"])
def remove_registration(reg_id: int):
    form = RemoveForm()
    row = session.get(LtiRegistration, reg_id)
    if row is None:
        abort(404)
    if form.validate_on_submit():
        name = row.name
        operations.remove_registration(row, actor=current_user)
        session.commit()
        flash(f"{name} was removed. Launches from it are now refused.", "success")
    return redirect(url_for(".registrations"))


@bp.route("/oneroster", methods=["GET", "POST"])
@access(capabilities=["roster.manage"])
def oneroster():
    form = OneRosterForm()
    errors: list[str] = []
    if form.validate_on_submit():
        max_unzipped = current_app.config["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"]
        errors = run_upload_import(
            form.file.data, current_app.config["PORTAL_MAX_ONEROSTER_BYTES"],
            "The zip file is larger than {mb} MB.",
            lambda data, _name: import_oneroster(read_zip(data, max_unzipped=max_unzipped), actor=current_user),
            "oneroster.zip") or []
        if not errors:
            return redirect(url_for(".oneroster"))
    status = 400 if errors or form.errors else 200
    return render_template("portal/lms/oneroster.html", form=form, errors=errors), status


def _courses_query():
    query = select(LtiContext).order_by(LtiContext.title)
    if not has_capability(current_user, "roster.manage"):
        query = query.join(LtiContextTeacher).where(LtiContextTeacher.person_id == current_user.id)
    return query


@bp.get("/courses")
@access(staff=True, capabilities=["roster.manage"])
def courses():
    return render_template("portal/lms/courses.html", courses=session.scalars(_courses_query()).all())


@bp.route("/courses/<int:ctx_id>", methods=["GET", "POST"])
@access(staff=True, capabilities=["roster.manage"])
def course(ctx_id: int):
    ctx = session.scalar(_courses_query().where(LtiContext.id == ctx_id))
    if ctx is None:
        abort(404)
    classes_q = select(SchoolClass).order_by(SchoolClass.year_group, SchoolClass.name)
    if not has_capability(current_user, "roster.manage"):
        classes_q = classes_q.join(ClassTeacher).where(ClassTeacher.teacher_id == current_user.id)
    classes = session.scalars(classes_q).all()
    form = CourseForm(class_id=ctx.class_id or 0)
    form.class_id.choices = [(0, "Choose a class")] + [(c.id, c.name) for c in classes]
    error = None
    if form.validate_on_submit():
        chosen = next((c for c in classes if c.id == form.class_id.data), None)
        if chosen is None:
            error = "Choose one of your classes."
        else:
            ctx.class_id = chosen.id
            session.flush()
            session.refresh(ctx)
            try:
                summary = operations.sync_context(ctx, actor=current_user)
            except ValueError as exc:
                session.rollback()
                error = str(exc)
            except LtiException:
                session.rollback()
                current_app.logger.warning("NRPS sync failed for LTI context %s", ctx.id, exc_info=True)
                error = "The LMS did not send the class list. Try again later, or ask your LMS administrator."
            else:
                session.commit()
                flash(summary.describe(), "success")
                return redirect(url_for(".course", ctx_id=ctx.id))
    status = 400 if error or (request.method == "POST" and form.errors) else 200
    return render_template("portal/lms/course.html", ctx=ctx, form=form, error=error), status
