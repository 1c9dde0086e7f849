from __future__ import annotations

from flask import render_template
from flask_login import current_user

from portal.blueprints.parent import bp
from portal.people.models import Role
from portal.policies.queries import family_status, one_signature_load
from portal.security import access, children_of, own_child_or_404
from portal.tasks import tasks_for


@bp.get("/")
@access(roles=[Role.PARENT])
def home():
    """To-dos, then each child with what is signed, declined or outstanding and by whom."""
    children = children_of(current_user)
    # The to-do list and the children's statuses read the same signatures: load them once.
    with one_signature_load([current_user, *children]):
        tasks, statuses = tasks_for(current_user), family_status(current_user, children=children)
    return render_template("portal/parent/home.html", children=children, tasks=tasks, statuses=statuses)


@bp.get("/children/<portal_id:pupil_id>")
@access(roles=[Role.PARENT])
def child(pupil_id: int):
    pupil = own_child_or_404(current_user, pupil_id)
    status = family_status(current_user, children=[pupil])[0]
    return render_template("portal/parent/child.html", pupil=pupil, status=status)
