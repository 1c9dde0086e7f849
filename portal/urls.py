"""Public addresses: links in emails, and addresses printed in sealed PDFs and certificates (they must outlive
any request)."""
from __future__ import annotations

from typing import Any

from flask import current_app


class PublicUrlMissing(RuntimeError):
    """The portal does not know its public address (set ``PORTAL_PUBLIC_URL``)."""


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of *endpoint* as people outside reach it.

    ``PORTAL_PUBLIC_URL`` (e.g. ``https://portal.school.example``; include any path the host mounts the app
    under) wins; else ``SERVER_NAME`` (with ``PREFERRED_URL_SCHEME`` and ``APPLICATION_ROOT``). Never the
    current request's ``Host`` header, which the sender chooses: a password-reset link built from it went to
    whichever host an attacker named (security probe).

    :raises PublicUrlMissing: when neither is set.
    """
    cfg = current_app.config
    base = cfg.get("PORTAL_PUBLIC_URL")
    if not base and cfg.get("SERVER_NAME"):
        root = str(cfg.get("APPLICATION_ROOT") or "/").rstrip("/")
        base = f"{cfg.get('PREFERRED_URL_SCHEME') or 'http'}://{cfg['SERVER_NAME']}{root}"
    if not base:
        raise PublicUrlMissing("Set PORTAL_PUBLIC_URL to the portal's public address (for example "
                               "https://portal.school.example): it is used in links in emails and printed in "
                               "sealed records and certificates.")
    adapter = current_app.url_map.bind("localhost", script_name="/")
    return str(base).rstrip("/") + adapter.build(endpoint, values, force_external=False)


def mail_link(endpoint: str, **values: Any) -> str:
    """A link for an email: :func:`public_url`; when the portal does not know its address, the path alone
    (the reader still learns where to look once signed in) and an error in the log, never a link to
    whichever host the request named."""
    try:
        return public_url(endpoint, **values)
    except PublicUrlMissing:
        import logging

        logging.getLogger("portal.mail").error(
            "PORTAL_PUBLIC_URL (or SERVER_NAME) is not set: a link in an email has no address.")
        return current_app.url_map.bind("localhost", script_name="/").build(endpoint, values)
