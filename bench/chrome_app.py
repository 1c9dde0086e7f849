"""The portal as ``bench/pages.py`` serves it: the real app, plus two reference pages.

The reference pages say what every signed-in portal page costs before its own work, so the page
ratios can be read against them:

* ``/bench/signed-in``: the sign-in of each request (the server-side session, the account, the
  person in the school, the school scope) and a one-word answer;
* ``/bench/layout``: the same, and the portal's layout (the Bootstrap page with its navigation,
  language menu and footer) around one paragraph.

Only the benchmark serves this module; the routes are not part of the product.

    gunicorn -w 2 chrome_app:app      (with the portal's PORTAL_* settings in the environment)
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required

from portal.app import create_app

#: "portal..." so the portal scopes its requests to the school, as for its own pages.
reference = Blueprint("portal_bench_reference", __name__, url_prefix="/bench")

LAYOUT = '{% extends "portal/layout.html" %}{% block content %}<p>Reference page.</p>{% endblock %}'


@reference.get("/signed-in")
@login_required
def signed_in() -> str:
    return f"signed in as {current_user.id}"


@reference.get("/layout")
@login_required
def layout() -> str:
    # Compiled once per worker, as the portal's own templates are (render_template_string compiles each time).
    template = current_app.extensions.get("bench_reference_layout")
    if template is None:
        template = current_app.extensions["bench_reference_layout"] = current_app.jinja_env.from_string(LAYOUT)
    return render_template(template)


app = create_app()
app.register_blueprint(reference)
