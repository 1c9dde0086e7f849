from __future__ import annotations

from typing import cast

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from pylti1p3.exception import LtiException
from sqlalchemy import select

from portal import audit
from portal.blueprints.lms import bp
from portal.blueprints.lms.forms import (
    CourseForm,
    DecisionForm,
    MergeSettingForm,
    OneRosterForm,
    RegistrationForm,
    RegistrationSettingsForm,
    RemoveForm,
)
from portal.db import session
from portal.lti import operations
from portal.lti import tasks as _tasks  # noqa: F401  (registers the home-page tasks)
from portal.lti.models import LtiContext, LtiContextTeacher, LtiMentorLink, LtiRegistration
from portal.lti.oneroster import import_oneroster, read_zip
from portal.people.importing import run_upload_import
from portal.people.models import ClassTeacher, SchoolClass
from portal.schools.models import School
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
                _("%(lms)s was added. Teachers can now add Countersign to their courses.", lms=form.name.data.strip()),
                "success",
            )
            return redirect(url_for(".registrations"))
    rows = session.scalars(select(LtiRegistration).order_by(LtiRegistration.name)).all()
    status = 400 if error or form.errors else 200
    return render_template(
        "portal/lms/registrations.html", form=form, rows=rows, error=error, remove_form=RemoveForm()
    ), status


@bp.post("/registrations/<portal_id:reg_id>/remove")
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
        flash(_("%(lms)s was removed. Launches from it are now refused.", lms=name), "success")
    return redirect(url_for(".registrations"))


@bp.route("/registrations/<portal_id:reg_id>/settings", methods=["GET", "POST"])
@access(capabilities=["lti.manage"])
def registration_settings(reg_id: int):
    """Per-LMS settings: approval of parent links, and the role parameter (Moodle)."""
    row = session.get(LtiRegistration, reg_id)
    if row is None:
        abort(404)
    form = RegistrationSettingsForm(obj=row if request.method == "GET" else None)
    if request.method == "GET":
        form.role_map.data = "\n".join(f"{k} = {v}" for k, v in sorted((row.role_map or {}).items()))
    error = None
    if form.validate_on_submit():
        try:
            operations.update_registration_settings(
                row, approve_mentor_links=form.approve_mentor_links.data,
                role_parameter=form.role_parameter.data,
                role_map=operations.parse_role_map(form.role_map.data or ""), actor=current_user)
        except ValueError as exc:
            session.rollback()
            error = str(exc)
        else:
            session.commit()
            flash(_("The settings of %(lms)s were saved.", lms=row.name), "success")
            return redirect(url_for(".registrations"))
    status = 400 if error or form.errors else 200
    return render_template("portal/lms/registration_settings.html", row=row, form=form, error=error,
                           choices=operations.ROLE_PARAMETER_CHOICES), status


@bp.get("/parent-links")
@access(capabilities=["links.approve"])
def parent_links():
    """Parent-child links an LMS asserted, waiting for the school's decision."""
    return render_template("portal/lms/parent_links.html", links=operations.pending_mentor_links(),
                           form=DecisionForm())


@bp.post("/parent-links/<portal_id:link_id>")
@access(capabilities=["links.approve"])
def decide_parent_link(link_id: int):
    link = session.get(LtiMentorLink, link_id)
    if link is None:
        abort(404)
    form = DecisionForm()
    if not form.validate_on_submit() or form.approve.data == form.decline.data:
        abort(400)
    if current_user.id in (link.parent_id, link.pupil_id):
        flash(_("You cannot decide a link about yourself; another approver must."), "danger")
        return redirect(url_for(".parent_links"))
    parent, pupil = link.parent.full_name, link.pupil.full_name
    try:
        operations.decide_mentor_link(link, approve=bool(form.approve.data), actor=current_user)
    except ValueError as exc:
        session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for(".parent_links"))
    session.commit()
    if form.approve.data:
        flash(_("%(parent)s is now linked to %(pupil)s as a parent or carer.", parent=parent, pupil=pupil), "success")
    else:
        flash(_("The link between %(parent)s and %(pupil)s was declined. The LMS will not ask again.", parent=parent,
                pupil=pupil), "success")
    return redirect(url_for(".parent_links"))


@bp.route("/oneroster", methods=["GET", "POST"])
@access(capabilities=["roster.manage"])
def oneroster() -> ResponseReturnValue:
    form = OneRosterForm()
    errors: list[str] = []
    if form.validate_on_submit():
        max_unzipped = current_app.config["PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES"]
        errors = run_upload_import(
            form.file.data, current_app.config["PORTAL_MAX_ONEROSTER_BYTES"],
            _("The zip file is larger than {mb} MB."),
            lambda data, _name: import_oneroster(read_zip(data, max_unzipped=max_unzipped), actor=current_user),
            "oneroster.zip") or []
        if not errors:
            return redirect(url_for(".oneroster"))
    status = 400 if errors or form.errors else 200
    school = cast(School, School.get())  # a school page: the request is scoped to one school
    return render_template("portal/lms/oneroster.html", form=form, errors=errors,
                           merge_form=MergeSettingForm(roster_merge_same_email=school.roster_merge_same_email),
                           can_set=has_capability(current_user, "settings.manage")), status


@bp.post("/oneroster/settings")
@access(capabilities=["settings.manage"])
def oneroster_settings():
    """The school's setting for staff who are also parents in one OneRoster export."""
    form = MergeSettingForm()
    if not form.validate_on_submit():
        abort(400)
    school = School.get()
    if school.roster_merge_same_email != form.roster_merge_same_email.data:
        school.roster_merge_same_email = bool(form.roster_merge_same_email.data)
        audit.record("settings.changed", actor=current_user, target=school, fields=["roster_merge_same_email"],
                     roster_merge_same_email=school.roster_merge_same_email)
        session.commit()
    flash(_("Staff who are also parents now become one person with both roles.") if school.roster_merge_same_email
          else _("Staff and parents with the same email are now reported as a problem."), "success")
    return redirect(url_for(".oneroster"))


def _courses_query():
    query = select(LtiContext).order_by(LtiContext.title)
    if not has_capability(current_user, "roster.manage"):
        query = query.join(LtiContextTeacher).where(LtiContextTeacher.person_id == current_user.id)
    return query


@bp.get("/courses")
@access(staff=True, capabilities=["roster.manage"])
def courses():
    return render_template("portal/lms/courses.html", courses=session.scalars(_courses_query()).all())


@bp.route("/courses/<portal_id:ctx_id>", methods=["GET", "POST"])
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
    form.class_id.choices = [(0, _("Choose a class"))] + [(c.id, c.name) for c in classes]
    error = None
    if form.validate_on_submit():
        chosen = next((c for c in classes if c.id == form.class_id.data), None)
        if chosen is None:
            error = _("Choose one of your classes.")
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
                error = _("The LMS did not send the class list. Try again later, or ask your LMS administrator.")
            else:
                session.commit()
                flash(summary.describe(), "success")
                return redirect(url_for(".course", ctx_id=ctx.id))
    status = 400 if error or (request.method == "POST" and form.errors) else 200
    return render_template("portal/lms/course.html", ctx=ctx, form=form, error=error), status
