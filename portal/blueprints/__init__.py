"""The portal blueprint and its nested area blueprints.

``make_blueprint()`` builds a fresh ``portal`` blueprint and nests each area explicitly;
every view in it is guarded by :func:`portal.security.access`.
"""
from __future__ import annotations

import importlib

from flask import Blueprint

from portal.paths import STATIC_DIR, TEMPLATES_DIR

#: Area packages under ``portal.blueprints``; each has ``bp`` and a ``views`` module.
AREAS: tuple[str, ...] = ("auth", "parent", "pupil", "staff", "auditor", "admin", "policies", "concerns", "lti",
                          "lms", "links", "incidents", "classroom", "trust", "dataprotection")


def make_blueprint() -> Blueprint:
    bp = Blueprint(
        "portal",
        __name__,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
        static_url_path="/static",
    )
    from portal.blueprints.front import home

    bp.add_url_rule("/", endpoint="home", view_func=home)
    for area in AREAS:
        importlib.import_module(f"portal.blueprints.{area}.views")
        child = importlib.import_module(f"portal.blueprints.{area}").bp
        bp.register_blueprint(child)
    return bp
