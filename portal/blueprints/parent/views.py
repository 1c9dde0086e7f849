from __future__ import annotations

from flask import render_template
from flask_login import current_user

from portal.blueprints.parent import bp
from portal.people.models import Role
from portal.security import access, children_of, own_child_or_404
from portal.tasks import tasks_for


@bp.get("/")
@access(roles=[Role.PARENT])
def home():
    return render_template(
        "portal/parent/home.html", children=children_of(current_user), tasks=tasks_for(current_user)
    )


@bp.get("/children/<int:pupil_id>")
@access(roles=[Role.PARENT])
def child(pupil_id: int):
    pupil = own_child_or_404(current_user, pupil_id)
    return render_template("portal/parent/child.html", pupil=pupil)
