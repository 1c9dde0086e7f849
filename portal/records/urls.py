"""Public addresses printed in sealed PDFs and certificates (they must outlive any request)."""
from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for


class PublicUrlMissing(RuntimeError):
    """The portal does not know its public address (set ``PORTAL_PUBLIC_URL``)."""


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of *endpoint* as people outside reach it.

    ``PORTAL_PUBLIC_URL`` (e.g. ``https://portal.school.example``; include any path the host mounts
    the app under) wins; else the current request's host, else ``SERVER_NAME``.

    :raises PublicUrlMissing: when none of them is known (a command run without ``PORTAL_PUBLIC_URL``).
    """
    base = current_app.config.get("PORTAL_PUBLIC_URL")
    if base:
        adapter = current_app.url_map.bind("localhost", script_name="/")
        return str(base).rstrip("/") + adapter.build(endpoint, values, force_external=False)
    if has_request_context() or current_app.config.get("SERVER_NAME"):
        return url_for(endpoint, _external=True, **values)
    raise PublicUrlMissing("Set PORTAL_PUBLIC_URL to the portal's public address (for example "
                           "https://portal.school.example): it is printed in sealed records and certificates.")
