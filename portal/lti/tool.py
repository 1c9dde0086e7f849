"""pylti1p3 glue: the tool configuration over our database, launch-data storage in the
database, and a service connector with timeouts.

pylti1p3's Flask contrib (``FlaskRequest``, ``FlaskOIDCLogin``, ``FlaskMessageLaunch``,
``FlaskCookieService``) is used as is. Its default storage is the Flask session, which an LMS
iframe usually does not send back (third-party cookie), and which cannot make a nonce
single-use; so the login state lives in ``portal_lti_launch_data`` keyed by pylti1p3's own
``lti1p3-session-id`` cookie (``SameSite=None; Secure; Partitioned`` over HTTPS).
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t

import jwt
import requests
from pylti1p3.contrib.flask import FlaskMessageLaunch
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiInvalidNonceException, LtiMessageValidationException
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.registration import Registration, TKeySet
from pylti1p3.service_connector import ServiceConnector
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import delete, select

from portal.db import session, utcnow
from portal.lti import keys
from portal.lti.models import MAX_SUB, LtiLaunchData, LtiRegistration
from portal.lti.outbound import GuardedSession
from portal.people.roster import UNSAFE_CHARS
from portal.schools.isolation import all_schools

log = logging.getLogger("portal.lti")


def registration_for(row: LtiRegistration) -> Registration:
    """A pylti1p3 :class:`Registration` for *row*, with the tool's current signing key."""
    private, public = keys.signing_key()
    reg = (
        Registration()
        .set_issuer(row.issuer)
        .set_client_id(row.client_id)
        .set_auth_login_url(row.auth_login_url)
        .set_auth_token_url(row.auth_token_url)
        .set_key_set(t.cast("TKeySet | None", row.key_set))  # a JWKS: {"keys": [...]}, checked when saved
        .set_key_set_url(row.key_set_url)
        .set_tool_private_key(private)
        .set_tool_public_key(public)
    )
    if row.auth_audience:
        reg.set_auth_audience(row.auth_audience)
    return reg


#: What must be the same in every school's registration of one LMS client: the LMS's keys (they verify
#: its launches) and the addresses the tool sends browsers and requests to.
SHARED_SETTINGS = ("key_set_url", "key_set", "auth_login_url", "auth_token_url", "auth_audience")


def shared_settings(row: LtiRegistration) -> tuple[t.Any, ...]:
    return tuple(getattr(row, name) or None for name in SHARED_SETTINGS)


def find_registration_row(iss: str, client_id: str | None,
                          deployment_id: str | None = None) -> LtiRegistration | None:
    """The registration an LMS message names, in whichever school holds it.

    Several schools may register the same LMS client (Canvas: one developer key, a deployment
    per school); the deployment id then names the school. Without a deployment id (the key that
    checks a launch is chosen before its deployment can be trusted), rows that share issuer and
    client id must agree on :data:`SHARED_SETTINGS`, or none is used: probe finding, a school that
    registered a client first with its own key set could sign launches for another school's
    deployment of the same client. :func:`portal.lti.operations.add_registration` refuses such a
    second registration; this also holds for rows saved before it did.
    """
    query = select(LtiRegistration).where(LtiRegistration.issuer == iss, LtiRegistration.active.is_(True))
    if client_id:
        query = query.where(LtiRegistration.client_id == client_id)
    with all_schools(session):  # a look-up by the LMS's own identifiers, before any school is known
        rows = session.scalars(query.order_by(LtiRegistration.id)).all()
    if not rows:
        return None
    settings_of: dict[str, set[tuple[t.Any, ...]]] = {}
    for r in rows:
        settings_of.setdefault(r.client_id, set()).add(shared_settings(r))
    if any(len(found) > 1 for found in settings_of.values()):
        log.warning("LTI: schools registered issuer %r and one client id with different key sets or addresses; "
                    "its launches are refused until one registration is removed", iss)
        return None
    if deployment_id is not None:
        rows = [r for r in rows if deployment_id in (r.deployment_ids or [])]
    if not rows:
        return None
    if client_id or len({r.client_id for r in rows}) == 1:
        return rows[0]
    return None


class DbToolConf(ToolConfAbstract):
    """Registrations from ``portal_lti_registrations``; every issuer may have several client ids."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    # pylti1p3 annotates these as returning a Registration, but its launch code checks for None
    # ("Registration not found"), which is what an unknown issuer or client gives.
    def find_registration_by_issuer(  # type: ignore[override]
        self, iss: str, *args: t.Any, **kwargs: t.Any
    ) -> Registration | None:
        row = find_registration_row(iss, None)
        return registration_for(row) if row else None

    def find_registration_by_params(  # type: ignore[override]
        self, iss: str, client_id: str | None, *args: t.Any, **kwargs: t.Any
    ) -> Registration | None:
        row = find_registration_row(iss, client_id)
        return registration_for(row) if row else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args: t.Any, **kwargs: t.Any
    ) -> Deployment | None:
        row = find_registration_row(iss, client_id, deployment_id)
        if row is None:
            return None
        return Deployment().set_deployment_id(deployment_id)


class PortalMessageLaunch(FlaskMessageLaunch):
    """pylti1p3's launch with the id_token checks it leaves out: the authorized party (``azp``),
    the length of ``sub``, and that ``exp`` and ``iat`` are there.

    OpenID Connect Core 3.1.3.7 and LTI 1.3 (5.1.2): an id_token with several audiences must
    carry ``azp``, and an ``azp`` must be our client id. pylti1p3 takes the first audience as
    the client id and never looks at ``azp``, so a token issued to another client that merely
    also names ours was accepted.
    """

    def validate_registration(self) -> PortalMessageLaunch:
        super().validate_registration()
        assert self._registration is not None  # set by pylti1p3, which refuses a launch without one
        body = self._get_jwt_body()
        aud, azp = body.get("aud"), body.get("azp")
        if azp is None and isinstance(aud, list) and len(aud) > 1:
            raise LtiMessageValidationException("the id_token has several audiences and no azp")
        if azp is not None and azp != self._registration.get_client_id():
            raise LtiMessageValidationException("azp does not match the client id")
        return self

    def validate_message(self) -> PortalMessageLaunch:
        body = self._get_jwt_body()
        sub = body.get("sub")
        if sub is not None and len(str(sub)) > MAX_SUB:
            raise LtiMessageValidationException(f"sub is longer than {MAX_SUB} characters")
        # OpenID Connect Core 2: exp and iat are required (probe finding: a token without exp was accepted,
        # so it would never expire; PyJWT checks exp only when it is there).
        for claim in ("exp", "iat"):
            if isinstance(body.get(claim), bool) or not isinstance(body.get(claim), int | float):
                raise LtiMessageValidationException(f"the id_token has no {claim} claim")
        super().validate_message()
        return self

    def unverified_claims(self) -> dict[str, t.Any]:
        """The id_token's body as sent, once decoded (before or without its signature being checked)."""
        body = self._jwt.get("body")
        return t.cast(dict[str, t.Any], body) if isinstance(body, dict) else {}


#: pylti1p3's words for a refused launch, in the school's terms (for the log; the page says less).
_REASONS = {
    "Registration not found.": "issuer and client id not registered",
    "State not found": "state does not match the login's (the browser did not send back the login cookie, "
                       "or the launch was sent again from another browser)",
    "Missing state param": "no state sent with the launch",
    "Unable to find public key": "no key in the LMS's key set has the token's key id (kid)",
    "Client id not registered for this issuer": "client id not registered for this issuer",
}


def loggable(value: t.Any, limit: int = 200) -> str:
    """*value* as one short line (LMS text can hold anything, line breaks included)."""
    return UNSAFE_CHARS.sub("?", str(value))[:limit]


def refusal_reason(exc: BaseException, launch: PortalMessageLaunch | None) -> str:
    """Why a launch was refused, for the school's log: what the LMS sent that did not match, with the
    issuer, client id and deployment id it named. Never the token itself nor anything about the person."""
    cause = exc.__cause__
    message = str(exc)
    if isinstance(cause, jwt.ExpiredSignatureError):
        reason = "token expired (its exp has passed: the launch page was left open, or a clock is wrong)"
    elif isinstance(cause, jwt.ImmatureSignatureError):
        reason = "token not valid yet (its iat or nbf is in the future: a clock is wrong)"
    elif isinstance(cause, jwt.InvalidSignatureError):
        reason = "token signature does not match the LMS's public key"
    elif isinstance(exc, LtiInvalidNonceException):
        reason = "nonce not issued by this tool's login (a token sent again, or the login has expired)"
    elif message.startswith("The deployment ID"):
        reason = "deployment id not registered for this issuer and client id"
    elif message.startswith("Missing cookie"):
        reason = "the browser did not send back the login cookie (are third-party cookies blocked?)"
    else:
        reason = _REASONS.get(message) or loggable(message or type(exc).__name__, 300)
    claims = launch.unverified_claims() if launch is not None else {}
    aud = claims.get("aud")
    named = {
        "issuer": claims.get("iss"),
        "client id": aud[0] if isinstance(aud, list) and aud else aud,
        "deployment id": claims.get("https://purl.imsglobal.org/spec/lti/claim/deployment_id"),
    }
    context = ", ".join(f"{k} {loggable(v)!r}" for k, v in named.items() if v)
    return f"{reason} ({context})" if context else reason


class DbLaunchDataStorage(LaunchDataStorage[t.Any]):
    """pylti1p3 launch data in the portal database (flushes; the view commits)."""

    _session_cookie_name = "session-id"

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> t.Any:
        row = session.get(LtiLaunchData, self._prepare_key(key)[:255])
        if row is None or row.expires_at < utcnow():
            return None
        return row.value

    def set_value(self, key: str, value: t.Any, exp: int | None = None) -> None:
        k = self._prepare_key(key)[:255]
        expires = utcnow() + dt.timedelta(seconds=exp or 86400)
        row = session.get(LtiLaunchData, k)
        if row is None:
            session.add(LtiLaunchData(key=k, value=value, expires_at=expires))
        else:
            row.value, row.expires_at = value, expires
        session.flush()

    def check_value(self, key: str) -> bool:
        return self.get_value(key) is not None

    def remove_value(self, key: str) -> None:
        session.execute(delete(LtiLaunchData).where(LtiLaunchData.key == self._prepare_key(key)[:255]))


#: Used nonces are kept this long; id_tokens expire within minutes (pylti1p3 checks ``exp``),
#: so an older nonce can no longer be replayed.
NONCE_KEEP = dt.timedelta(days=2)


def purge_expired() -> None:
    """Drop expired launch data and old spent nonces (called on each OIDC login)."""
    from portal.lti.models import LtiNonce

    session.execute(delete(LtiLaunchData).where(LtiLaunchData.expires_at < utcnow()))
    session.execute(delete(LtiNonce).where(LtiNonce.used_at < utcnow() - NONCE_KEEP))


def http_session() -> requests.Session:
    """The session for every call to an LMS: it times out (no hung worker on a slow LMS) and calls only
    the addresses :mod:`portal.lti.outbound` allows, redirects included."""
    s = GuardedSession()
    s.headers["User-Agent"] = "Countersign-LTI"
    return s


class PortalServiceConnector(ServiceConnector):
    """Access tokens cached per process (they last about an hour)."""

    _tokens: t.ClassVar[dict[str, tuple[str, dt.datetime]]] = {}

    def _token_key(self, scope_key: str) -> str:
        # Our registrations always have a token URL (LtiRegistration.auth_token_url is NOT NULL).
        return t.cast(str, self._registration.get_auth_token_url()) + scope_key

    def _get_cached_access_token(self, scope_key: str) -> str | None:
        cached = self._tokens.get(self._token_key(scope_key))
        if cached and cached[1] > utcnow():
            return cached[0]
        return None

    def _cache_access_token(self, scope_key: str, access_token: str, expires_in: float) -> None:
        self._tokens[self._token_key(scope_key)] = (
            access_token,
            utcnow() + dt.timedelta(seconds=max(0.0, float(expires_in or 0) - 30)),
        )


def service_connector(row: LtiRegistration) -> PortalServiceConnector:
    return PortalServiceConnector(registration_for(row), http_session())
