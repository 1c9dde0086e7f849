from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import audit
from portal.blueprints.staff import bp
from portal.blueprints.staff.forms import GrantForm, RevokeForm
from portal.db import session, utcnow
from portal.people.models import ADULT_ROLES, POLICY_ADULT_ROLES, STAFF_ROLES, CapabilityGrant, ClassTeacher, Person, PersonRole, SchoolClass
from portal.security import CAPABILITIES, NOT_DELEGABLE, access, capabilities_of, designations
from portal.tasks import tasks_for


@bp.get("/")
@access(roles=POLICY_ADULT_ROLES)
def home():
    classes = session.scalars(
        select(SchoolClass).join(ClassTeacher).where(ClassTeacher.teacher_id == current_user.id)
        .options(selectinload(SchoolClass.pupils)).order_by(SchoolClass.year_group, SchoolClass.code)
    ).all()
    return render_template(
        "portal/staff/home.html",
        classes=classes,
        tasks=tasks_for(current_user),
        caps=capabilities_of(current_user),
        designations=designations(current_user),
        declares_links=bool(current_user.role_set & ADULT_ROLES),
    )


@bp.get("/classes/<int:class_id>")
@access(staff=True)
def school_class(class_id: int):
    cls = session.get(SchoolClass, class_id)
    if cls is None:
        abort(404)
    caps = capabilities_of(current_user)
    if current_user.id not in {t.teacher_id for t in cls.teachers} and not caps & {"compliance.view", "roster.manage"}:
        abort(404)
    pupils = sorted(cls.pupils, key=lambda p: (p.person.given_name, p.person.family_name))
    return render_template("portal/staff/class.html", cls=cls, pupils=pupils)


def _staff_choices() -> list[tuple[int, str]]:
    people = session.scalars(
        select(Person).join(PersonRole).where(PersonRole.role.in_([r.value for r in STAFF_ROLES]), Person.active)
        .order_by(Person.family_name, Person.given_name).distinct()
    ).all()
    return [(p.id, p.full_name) for p in people if p.id != current_user.id]


@bp.route("/delegation", methods=["GET", "POST"])
@access(capabilities=["capabilities.delegate"])
def delegation():
    form = GrantForm()
    form.person_id.choices = _staff_choices()
    form.capability.choices = [(k, v) for k, v in CAPABILITIES.items() if k not in NOT_DELEGABLE]
    if form.validate_on_submit():
        exists = session.scalar(select(CapabilityGrant).where(
            CapabilityGrant.person_id == form.person_id.data, CapabilityGrant.capability == form.capability.data,
            CapabilityGrant.revoked_at.is_(None)))
        if exists:
            flash("That person already holds that capability.", "warning")
        else:
            grant = CapabilityGrant(person_id=form.person_id.data, capability=form.capability.data,
                                    granted_by_id=current_user.id)
            session.add(grant)
            audit.record("capability.granted", actor=current_user, target=grant,
                         person_id=grant.person_id, capability=grant.capability)
            session.commit()
            flash("Capability delegated.", "success")
        return redirect(url_for(".delegation"))
    grants = session.scalars(
        select(CapabilityGrant).where(CapabilityGrant.revoked_at.is_(None)).order_by(CapabilityGrant.granted_at)
    ).all()
    return render_template("portal/staff/delegation.html", form=form, grants=grants, revoke=RevokeForm(),
                           labels=CAPABILITIES)


@bp.post("/delegation/<int:grant_id>/revoke")
@access(capabilities=["capabilities.delegate"])
def revoke_grant(grant_id: int):
    form = RevokeForm()
    grant = session.get(CapabilityGrant, grant_id)
    if grant is None or grant.revoked_at is not None:
        abort(404)
    if form.validate_on_submit():
        grant.revoked_at = utcnow()
        grant.revoked_by_id = current_user.id
        audit.record("capability.revoked", actor=current_user, target=grant,
                     person_id=grant.person_id, capability=grant.capability)
        session.commit()
        flash("Capability withdrawn.", "success")
    return redirect(url_for(".delegation"))
