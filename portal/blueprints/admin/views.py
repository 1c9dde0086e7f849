from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from portal import audit
from portal.blueprints.admin import bp
from portal.blueprints.admin.forms import InviteForm, RosterForm
from portal.blueprints.auth.views import send_invitation
from portal.db import session
from portal.people.models import Person, PersonRole, SchoolClass
from portal.people.roster import RosterError, import_roster
from portal.security import access


@bp.get("/")
@access(capabilities=["roster.manage"])
def home():
    counts = dict(session.execute(select(PersonRole.role, func.count()).group_by(PersonRole.role)).all())
    classes = session.scalar(select(func.count(SchoolClass.id)))
    return render_template("portal/admin/home.html", counts=counts, classes=classes)


@bp.route("/roster", methods=["GET", "POST"])
@access(capabilities=["roster.manage"])
def roster():
    form = RosterForm()
    errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        limit = current_app.config["PORTAL_MAX_ROSTER_BYTES"]
        data = upload.read(limit + 1)
        name = (upload.filename or "roster.csv")[-100:]
        if len(data) > limit:
            errors = [f"{name}: the file is larger than {limit // (1024 * 1024)} MB. Split it and import each part."]
        else:
            try:
                summary = import_roster(data, name, actor=current_user)
            except RosterError as exc:
                session.rollback()
                errors = exc.errors
            else:
                session.commit()
                flash(summary.describe(), "success")
                return redirect(url_for(".roster"))
    status = 400 if errors or form.errors else 200
    return render_template("portal/admin/roster.html", form=form, errors=errors), status


@bp.get("/people")
@access(capabilities=["roster.manage"])
def people():
    rows = session.scalars(
        select(Person).where(Person.email.is_not(None)).order_by(Person.family_name, Person.given_name)
    ).all()
    return render_template("portal/admin/people.html", people=rows, form=InviteForm())


@bp.post("/people/<int:person_id>/invite")
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
            flash(f"Invitation sent to {person.full_name}.", "success")
        else:
            flash("The invitation could not be sent: the mail server did not accept it. Try again later.", "danger")
    return redirect(url_for(".people"))
