"""Which requests are the portal's, and the page it answers a refusal with.

The portal's own security headers and error pages apply to its requests only, never to the pages of a
host application it is mounted in. A request is the portal's when one of the portal's routes answered it,
or when its address is under the portal's prefix (``PORTAL_URL_PREFIX``) and no route matched it: the
portal answers that with its own "Page not found", which shows the signed-in person's menu and so needs
the same headers as any portal page (no caching, the Content-Security-Policy).
"""
from __future__ import annotations

from flask import current_app, render_template, request


def portal_prefix() -> str:
    """The portal's address prefix without a trailing slash ("" when it is mounted at the root)."""
    return str(current_app.config["PORTAL_URL_PREFIX"] or "").rstrip("/")


def is_portal_request() -> bool:
    """Whether the current request is the portal's (see the module's docstring)."""
    if (request.blueprint or "").startswith("portal"):
        return True
    prefix = portal_prefix()
    if not prefix:
        return request.url_rule is None  # mounted at the root: an address no route matched
    return request.path == prefix or request.path.startswith(prefix + "/")


def error_page(code: int, title: str, message: str) -> tuple[str, int]:
    """The portal's error page (``templates/portal/error.html``) with HTTP status *code*: a title and a
    sentence in the reader's language (the caller passes them through gettext), and a way back home."""
    return render_template("portal/error.html", code=code, title=title, message=message), code
