"""Security headers on every portal response (host pages are untouched).

* ``Content-Security-Policy``: scripts, styles, fonts and frames from the portal itself only, no
  inline script or style, no plugins, no ``<base>``, forms post to the portal only, and the
  portal cannot be framed by other sites (LTI iframe mode widens ``frame-ancestors`` to the
  registered LMS origins). ``img-src`` also allows ``data:`` because Bootstrap's stylesheet draws
  its icons (menu button, select arrows, check marks) as ``data:`` SVG images.
* ``Referrer-Policy``, ``Permissions-Policy``, ``X-Content-Type-Options``, ``X-Frame-Options``.
* ``Strict-Transport-Security`` (a year) on responses to HTTPS requests (behind a proxy: with
  ``PORTAL_PROXY_FIX`` set, as the proxy says), so a browser that has been here once never tries plain HTTP
  again; not ``includeSubDomains``, which would bind a school's other sites too.
* ``Cache-Control: no-store`` on every page and file the portal serves (except its static files
  and responses that choose their own caching): pages show concerns, incidents, family links and
  signed records, and none of them may stay in a shared or back-button cache.

A view that needs a different rule sets the directive on its response with :func:`set_directive`
(the deep-link return page lets its form post back to the LMS); a response whose policy already
has ``default-src`` (a downloaded attachment: ``default-src 'none'; sandbox``) is left alone.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, request

from portal.web import is_portal_request

#: The portal's policy, directive by directive.
CSP: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'self'",
}

PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone", "payment", "usb"))
REFERRER_POLICY = "same-origin"
#: How long a browser keeps to HTTPS for the portal's host after a visit (a year).
HSTS_SECONDS = 31_536_000


def parse_csp(value: str | None) -> dict[str, str]:
    """``"a x; b y"`` -> ``{"a": "x", "b": "y"}`` (directive names lower-cased)."""
    out: dict[str, str] = {}
    for part in (value or "").split(";"):
        name, _, rest = part.strip().partition(" ")
        if name:
            out[name.lower()] = rest.strip()
    return out


def format_csp(directives: dict[str, str]) -> str:
    return "; ".join(f"{k} {v}".strip() for k, v in directives.items())


def set_directive(response: Any, name: str, value: str) -> Any:
    """Set one directive of *response*'s policy, keeping the others."""
    directives = parse_csp(response.headers.get("Content-Security-Policy"))
    directives[name] = value
    response.headers["Content-Security-Policy"] = format_csp(directives)
    return response


def security_headers(response: Any) -> Any:
    """``after_request``: add the headers above to portal responses."""
    if not is_portal_request():
        return response
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    own = parse_csp(response.headers.get("Content-Security-Policy"))
    if "default-src" not in own:
        response.headers["Content-Security-Policy"] = format_csp({**CSP, **own})
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_SECONDS}")
    if not current_app.config.get("PORTAL_LTI_IFRAME_COOKIES"):
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if not (request.endpoint or "").endswith(".static") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
