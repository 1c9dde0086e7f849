"""App-level set-up done when the LTI blueprint is registered: CSRF exemption, iframe cookies,
frame-ancestors, and the grade-passback signal receiver."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask


def init_lti(app: Flask, bp: Blueprint) -> None:
    from portal.lti.operations import on_signature_committed, on_signatures_committed
    from portal.signals import signature_committed, signatures_committed

    app.extensions["csrf"].exempt(bp)
    signature_committed.connect(on_signature_committed, weak=False)
    signatures_committed.connect(on_signatures_committed, weak=False)
    if app.config.get("PORTAL_LTI_IFRAME_COOKIES"):
        # Inside an LMS iframe the portal is a third party: only SameSite=None cookies come
        # back, and browsers require Secure for those. Partitioned (CHIPS) keeps the iframe's
        # session separate from a top-level visit to the portal.
        for prefix in ("SESSION", "REMEMBER"):
            app.config[f"{prefix}_COOKIE_SAMESITE"] = "None"
            app.config[f"{prefix}_COOKIE_SECURE"] = True
        app.config["SESSION_COOKIE_PARTITIONED"] = True
        app.after_request(_frame_ancestors)


def _frame_ancestors(response: Any) -> Any:
    """Let the registered LMS sites (and only them) frame the portal."""
    from sqlalchemy import select

    from portal.db import session
    from portal.lti.models import LtiRegistration

    origins = set()
    try:
        for iss, login in session.execute(
            select(LtiRegistration.issuer, LtiRegistration.auth_login_url).where(
                LtiRegistration.active.is_(True)
            )
        ):
            for url in (iss, login):
                p = urlsplit(url)
                if p.scheme == "https" and p.netloc:
                    origins.add(f"https://{p.netloc}")
    except Exception:  # noqa: BLE001 - before migrations
        return response
    from portal.headers import set_directive

    set_directive(response, "frame-ancestors", " ".join(["'self'", *sorted(origins)]))
    response.headers.pop("X-Frame-Options", None)
    return response
