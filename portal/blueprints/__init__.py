"""The portal blueprint and its nested area blueprints.

``make_blueprint()`` builds a fresh ``portal`` blueprint and nests each area explicitly;
every view in it is guarded by :func:`portal.security.access`.
"""
from __future__ import annotations

import importlib
from itertools import chain

from flask import Blueprint, Flask, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter, Map

from portal.ids import MAX_ROW_ID
from portal.paths import STATIC_DIR, TEMPLATES_DIR
from portal.web import error_page

#: Area packages under ``portal.blueprints``; each has ``bp`` and a ``views`` module.
AREAS: tuple[str, ...] = ("auth", "parent", "pupil", "staff", "auditor", "admin", "policies", "concerns", "lti",
                          "lms", "links", "incidents", "classroom", "trust", "verify", "dataprotection")


class RowIdConverter(IntegerConverter):
    """``<portal_id:name>``: a row's id in a portal address, a whole number from 1 to 2,147,483,647
    (see :mod:`portal.ids`). Out of range, the address matches no route: 404, as for any id that does
    not exist, instead of a number the database cannot take."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_ROW_ID)


def register_converters(app: Flask) -> None:
    """Add the portal's converter to *app* (before the blueprint's routes), never replacing a host's own."""
    existing = app.url_map.converters.get("portal_id")
    if existing is not None and existing is not RowIdConverter:
        raise RuntimeError("the host application already has a URL converter called 'portal_id'")
    app.url_map.converters["portal_id"] = RowIdConverter


def refuse_nul_characters() -> ResponseReturnValue | None:
    """400 for a query string, form field or file name holding a NUL character, before any view runs.

    No keyboard types one, and PostgreSQL cannot keep one in a text column: a form saving it would fail
    at the database (a server error) after the person had filled it in. The page is in the reader's language."""
    fields = chain(request.args.items(multi=True), request.form.items(multi=True),
                   ((name, f.filename or "") for name, f in request.files.items(multi=True)))
    texts = chain.from_iterable(fields)
    if any("\x00" in text for text in texts):
        return error_page(400, _("Please check what you sent"),
                          _("Something you sent holds a character that cannot be kept (a NUL character, which no "
                            "keyboard types). Go back, take it out and send it again."))
    return None


def make_blueprint() -> Blueprint:
    bp = Blueprint(
        "portal",
        __name__,
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
        static_url_path="/static",
    )
    from portal import idempotency
    from portal.blueprints.front import home

    bp.before_request(refuse_nul_characters)
    bp.add_url_rule("/", endpoint="home", view_func=home)
    from portal.blueprints.classroom.views import join_code, short_join

    # The short join address written on the board, and the one its QR code opens.
    bp.add_url_rule("/join", endpoint="join", view_func=short_join)
    bp.add_url_rule("/join/<code>", endpoint="join_code", view_func=join_code)
    idempotency.register(bp)  # one-time form tokens and the 409 answer to conflicting changes
    for area in AREAS:
        importlib.import_module(f"portal.blueprints.{area}.views")
        child = importlib.import_module(f"portal.blueprints.{area}").bp
        bp.register_blueprint(child)
    return bp
