from __future__ import annotations

from flask import render_template
from flask_login import current_user

from portal.blueprints.pupil import bp
from portal.people.models import Role
from portal.security import access
from portal.tasks import tasks_for


@bp.get("/")
@access(roles=[Role.PUPIL])
def home():
    return render_template("portal/pupil/home.html", profile=current_user.pupil, tasks=tasks_for(current_user))
