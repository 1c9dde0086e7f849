from __future__ import annotations

from typing import cast

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from portal import audit
from portal.auth.links import send_invitation
from portal.blueprints.admin import bp
from portal.blueprints.admin.forms import InviteForm, RetryJobForm, RosterForm, SettingsForm
from portal.db import session
from portal.people.importing import run_upload_import
from portal.people.models import ADULT_ROLES, Account, Person, PersonRole, Role, SchoolClass
from portal.people.roster import STAFF_ROLE_NAMES, import_roster
from portal.schools.models import DeputyDsl, School
from portal.schools.operations import DESIGNATIONS, SETTINGS_FIELDS, save_settings
from portal.security import access
from portal.templating import N_


@bp.get("/")
@access(capabilities=["roster.manage"])
def home():
    counts = dict(session.execute(select(PersonRole.role, func.count()).group_by(PersonRole.role)).all())
    classes = session.scalar(select(func.count(SchoolClass.id)))
    return render_template("portal/admin/home.html", counts=counts, classes=classes)


@bp.route("/roster", methods=["GET", "POST"])
@access(capabilities=["roster.manage"])
def roster() -> ResponseReturnValue:
    form = RosterForm()
    errors: list[str] = []
    if form.validate_on_submit():
        errors = run_upload_import(
            form.file.data, current_app.config["PORTAL_MAX_ROSTER_BYTES"],
            _("{name}: the file is larger than {mb} MB. Split it and import each part: classes and pupils "
              "first, then parents and staff (a row may name people an earlier part added)."),
            lambda data, name: import_roster(data, name, actor=current_user), "roster.csv") or []
        if not errors:
            return redirect(url_for(".roster"))
    status = 400 if errors or form.errors else 200
    return render_template("portal/admin/roster.html", form=form, errors=errors,
                           roster_staff_roles=sorted(STAFF_ROLE_NAMES)), status


#: People listed on a page of "People and invitations".
PEOPLE_PER_PAGE = 100


@bp.get("/people")
@access(capabilities=["roster.manage"])
def people():
    """People with an email address, a page at a time; found by name or address, or only those who have not
    signed in yet (walk finding: about 90 rows with no search, and nothing said who had been invited)."""
    from sqlalchemy import or_
    from sqlalchemy.orm import selectinload

    from portal.audit.models import AuditEntry
    from portal.auth.models import PasskeyFactor, TotpFactor
    from portal.paging import paginate

    q = (request.args.get("q") or "").strip()[:100]
    waiting = request.args.get("show") == "waiting"
    stmt = (select(Person).where(Person.email.is_not(None))
            .options(selectinload(Person.account), selectinload(Person.roles))
            .order_by(Person.family_name, Person.given_name, Person.id))
    if q:
        words = func.lower(Person.given_name + " " + Person.family_name)
        stmt = stmt.where(or_(words.contains(q.lower(), autoescape=True),
                              Person.email.contains(q.lower(), autoescape=True)))
    if waiting:
        stmt = stmt.where(~Person.account.has(Account.password_hash.is_not(None)))
    rows = paginate(stmt, PEOPLE_PER_PAGE, keep=("q", "show"))
    account_ids = [p.account_id for p in rows.items if p.account_id]
    with_mfa = set(session.scalars(select(TotpFactor.account_id).where(TotpFactor.account_id.in_(account_ids)))) | \
        set(session.scalars(select(PasskeyFactor.account_id).where(PasskeyFactor.account_id.in_(account_ids))))
    invited = dict(session.execute(
        select(AuditEntry.target_id, func.max(AuditEntry.created_at))
        .where(AuditEntry.action == "person.invited", AuditEntry.target_type == "Person",
               AuditEntry.target_id.in_([str(p.id) for p in rows.items]))
        .group_by(AuditEntry.target_id)).all()) if rows.items else {}
    return render_template("portal/admin/people.html", people=rows, form=InviteForm(), with_mfa=with_mfa,
                           invited={int(k): v for k, v in invited.items()}, q=q, waiting=waiting)


@bp.post("/people/<portal_id:person_id>/invite")
@access(capabilities=["roster.manage"])
def invite(person_id: int):
    form = InviteForm()
    person = session.get(Person, person_id)
    if person is None or not person.email:
        abort(404)
    if form.validate_on_submit():
        if send_invitation(person):
            audit.record("person.invited", actor=current_user, target=person)
            session.commit()
            flash(_("Invitation sent to %(name)s.", name=person.full_name), "success")
        else:
            flash(_("The invitation could not be sent: the mail server did not accept it. Try again later."), "danger")
    return redirect(url_for(".people"))


@bp.post("/people/<portal_id:person_id>/reset-mfa")
@access(capabilities=["roster.manage"])
def reset_mfa(person_id: int):
    """Clear a person's two-step sign-in (a lost phone): audited, the holder is emailed, and they
    set it up again at their next sign-in. An account that is also used in another school or by
    a trust is reset by the installation's operator (``flask portal accounts reset-mfa``)."""
    from portal.auth import mfa
    from portal.schools.context import account_school_ids, trust_roles_of

    form = InviteForm()
    person = session.get(Person, person_id)
    if person is None or person.account is None:
        abort(404)
    if not form.validate_on_submit():
        abort(400)
    account = person.account
    if person.id == current_user.id:
        flash(_("You cannot reset your own two-step sign-in; ask another administrator."), "warning")
    elif account_school_ids(account.id) != [person.school_id] or trust_roles_of(account.id):
        flash(_("%(name)s's account is also used elsewhere (another school or the trust). Ask the "
                "installation's operator to reset it.", name=person.full_name), "warning")
    elif not mfa.enrolled(account):
        flash(_("%(name)s has no two-step sign-in to reset.", name=person.full_name), "info")
    else:
        mfa.reset(account, by=current_user)
        session.commit()
        _tell_mfa_reset(person)
        flash(_("Two-step sign-in reset for %(name)s. They set it up again when they next sign in.",
                name=person.full_name), "success")
    return redirect(url_for(".people"))


def _tell_mfa_reset(person: Person) -> None:
    from portal.i18n import in_language, language_of
    from portal.mail import MailError, send_mail

    with in_language(language_of(person)):  # in the reader's language
        body = (_("Hello %(name)s,", name=person.given_name) + "\n\n"
                + _("A portal administrator at your school has reset your two-step sign-in, and every session of "
                    "your account has been signed out. Next time you sign in with your password you will be asked "
                    "to set it up again.") + "\n\n"
                + _("If you did not ask for this, tell the school office at once.") + "\n")
        subject = _("Your two-step sign-in was reset")
    try:
        account = cast(Account, person.account)  # two-step sign-in belongs to the person's account
        send_mail(account.email or person.email or "", subject, body)
    except MailError:
        current_app.logger.warning("could not email a person about a two-step sign-in reset")




def _designations_allowed(form, current, may_designate: bool) -> bool:
    """Refuse a change of designation from anyone but the Head Teacher (with a message)."""
    if may_designate or current is None:
        return True
    ok = True
    for name in DESIGNATIONS:
        field = getattr(form, name)
        if (field.data or None) != getattr(current, name):
            field.errors = list(field.errors) + [_("Only the Head Teacher can change this.")]
            ok = False
    return ok


@bp.route("/settings", methods=["GET", "POST"])
@access(capabilities=["settings.manage"])
def settings():
    current = School.get()
    # Only the Head Teacher (or, before one is named, an administrator setting the school up)
    # may change who holds the designations: they carry safeguarding and delegation powers.
    may_designate = current is None or current.head_teacher_id is None or current.head_teacher_id == current_user.id
    deputies_before = sorted(session.scalars(select(DeputyDsl.person_id)))
    if request.method == "POST" and not may_designate:
        # Disabled fields are not sent by browsers: keep the current holders.
        formdata = request.form.copy()
        for name in DESIGNATIONS:
            if name not in formdata:
                formdata[name] = str(getattr(current, name) or 0)
        formdata.setlist("deputy_dsl_ids", [str(i) for i in deputies_before])
        form = SettingsForm(formdata=formdata, obj=current)
    else:
        form = SettingsForm(obj=current)
        if request.method == "GET":
            form.deputy_dsl_ids.data = deputies_before
    adults = session.scalars(
        select(Person).join(PersonRole).where(PersonRole.role.in_([r.value for r in ADULT_ROLES]), Person.active)
        .order_by(Person.family_name, Person.given_name).distinct()
    ).all()
    staff = [(p.id, p.full_name) for p in adults if p.role_set & {Role.TEACHER, Role.SUPPORT_STAFF}]
    governors = [(p.id, p.full_name) for p in adults if Role.GOVERNOR in p.role_set]
    form.head_teacher_id.choices = staff
    form.dsl_id.choices = staff
    form.deputy_dsl_ids.choices = staff
    form.chair_of_governors_id.choices = [(0, _("Not set"))] + governors
    if not may_designate:
        for name in (*DESIGNATIONS, "deputy_dsl_ids"):
            getattr(form, name).render_kw = {"disabled": True}
    if form.validate_on_submit() and _designations_allowed(form, current, may_designate):
        changed = save_settings(current, {name: getattr(form, name).data for name in SETTINGS_FIELDS},
                                deputies=form.deputy_dsl_ids.data or [] if may_designate else None,
                                actor=current_user)
        session.commit()
        flash(_("Settings saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for(".settings"))
    cfg = current_app.config
    defaults = (_("first after %(num)s school days", num=cfg["PORTAL_REMINDER_FIRST_DAYS"]),
                _("then every %(num)s", num=cfg["PORTAL_REMINDER_EVERY_DAYS"]),
                _("at most %(num)s", num=cfg["PORTAL_REMINDER_MAX"]))
    return render_template("portal/admin/settings.html", form=form, reminder_defaults=defaults,
                           may_designate=may_designate), (400 if form.errors else 200)


# ---------------------------------------------------------------- background jobs


@bp.get("/jobs")
@access(capabilities=["settings.manage"])
def jobs():
    """Background jobs of this school that kept failing (sealing, scores, reminders...)."""
    from portal.jobs.operations import open_failures
    from portal.jobs.queue import describe_arguments

    rows = open_failures()
    return render_template("portal/admin/jobs.html", rows=rows, describe=describe_arguments, form=RetryJobForm(),
                           labels=JOB_LABELS)


@bp.post("/jobs/<portal_id:failure_id>/retry")
@access(capabilities=["settings.manage"])
def retry_job(failure_id: int):
    from portal.jobs.models import JobFailure
    from portal.jobs.operations import requeue
    from portal.jobs.queue import QueueUnavailable

    form = RetryJobForm()
    if not form.validate_on_submit():
        abort(400)
    row = session.get(JobFailure, failure_id)
    if row is None or row.resolved_at is not None:
        abort(404)
    try:
        queued = requeue(row, actor=current_user)  # commits the listing, then queues the job
    except QueueUnavailable:
        session.rollback()
        flash(_("The job queue cannot be reached just now. Nothing was changed; please try again later."), "danger")
        return redirect(url_for(".jobs"))
    if queued:
        flash(_("The job has been queued again."), "success")
    else:
        flash(_("This job had already been queued again."), "info")
    return redirect(url_for(".jobs"))


#: Plain words for the jobs an admin may see listed.
JOB_LABELS = {
    "records.seal": N_("Make a sealed PDF record"),
    "lti.post_score": N_("Send a grade to the LMS"),
    "lti.sync_roster": N_("Fetch a course's class list from the LMS"),
    "mail.send": N_("Send an email"),
    "policies.send_reminders": N_("Send reminders to sign"),
    "policies.send_class_summaries": N_("Send the weekly class summaries"),
    "concerns.send_overdue": N_("Send overdue-concern emails"),
}
