"""A small but real LTI 1.3 platform ("fake LMS") for the tests, built on the independent
lti1p3platform package and served over HTTP on 127.0.0.1 by werkzeug in a thread.

It initiates logins, signs id_tokens, publishes its JWKS, issues OAuth2 access tokens (checking
the tool's signed client assertion against the tool's live JWKS), receives AGS scores and serves
NRPS member lists (both only with a valid bearer token), and checks deep-linking responses.
The launch form is our own (lti1p3platform's template imports pkg_resources).
"""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, redirect, request
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request as PlatformRequest

from tests.http_server import ThreadedServer

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LEARNER = LIS + "membership#Learner"
INSTRUCTOR = LIS + "membership#Instructor"
MENTOR = LIS + "membership#Mentor"
ADMINISTRATOR = LIS + "institution/person#Administrator"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

LAUNCH_FORM = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Launch</title></head>
<body><form method="POST" action="{action}" id="form">
<input type="hidden" name="id_token" value="{id_token}"><input type="hidden" name="state" value="{state}">
</form></body></html>"""


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


#: Each platform PEM key loaded once: (the key, its kid).
_LOADED_KEYS: dict[str, tuple[Any, str | None]] = {}


def _loaded(pem: str) -> tuple[Any, str | None]:
    hit = _LOADED_KEYS.get(pem)
    if hit is None:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        hit = _LOADED_KEYS[pem] = (key, Registration.get_jwk(pem).get("kid"))
    return hit


class _Registration(Registration):
    """lti1p3platform keeps the platform's private key as PEM text and loads it twice for every token it
    signs (jwcrypto for the key id, PyJWT to sign). This registration hands out the key loaded once, and
    its key id: the tokens are the same, signed by the same key with the same kid."""

    def get_platform_private_key(self) -> Any:
        pem = super().get_platform_private_key()
        return _loaded(pem)[0] if pem else pem

    def get_kid(self) -> str | None:
        pem = super().get_platform_private_key()
        return _loaded(pem)[1] if pem else None


class _Req(PlatformRequest):
    def build_metadata(self, r: Any) -> dict:
        return {
            "method": r.method,
            "form_data": r.form.to_dict(),
            "get_data": r.args.to_dict(),
            "headers": r.headers,
            "content_type": r.content_type,
            "path": r.path,
            "json": None,
        }


class FakeLms:
    """``FakeLms(tool_url, keys)``; ``start()``/``stop()``; set ``next_launch`` via :meth:`launch`."""

    client_id = "countersign-test-client"

    def __init__(self, tool_url: str, keys: tuple[str, str]):
        self.tool_url = tool_url.rstrip("/")
        self.private, self.public = keys
        self.deployment_id = "dep-1"
        self.launches: dict[str, dict] = {}
        self.scores: list[dict] = []
        self.refused_bearer = 0
        self.tokens_issued = 0
        self.fail_scores = False
        self.members: list[dict] = []
        self.deep_link_items: list[dict] = []
        self.app = self._make_app()
        self.http = ThreadedServer(self.app)
        self.url = self.http.url
        self.issuer = self.url

    def start(self) -> None:
        self.http.start()

    def stop(self) -> None:
        self.http.stop()

    # ------------------------------------------------------------ configuration

    def registration(self, deployment_id: str | None = None) -> Registration:
        return (
            _Registration()
            .set_iss(self.issuer)
            .set_client_id(self.client_id)
            .set_deployment_id(deployment_id or self.deployment_id)
            .set_oidc_login_url(self.tool_url + "/portal/lti/login")
            .set_launch_url(self.tool_url + "/portal/lti/launch")
            .set_deeplink_launch_url(self.tool_url + "/portal/lti/launch")
            .set_platform_private_key(self.private)
            .set_platform_public_key(self.public)
            .set_tool_key_set_url(self.tool_url + "/portal/lti/jwks")
        )

    def conf(self, deployment_id: str | None = None) -> LTI1P3PlatformConfAbstract:
        lms = self

        class Conf(LTI1P3PlatformConfAbstract):
            def init_platform_config(self, **kw: Any) -> None:
                pass

            def get_registration_by_params(self, **kw: Any) -> Registration:
                return lms.registration(deployment_id)

        return Conf()

    def tool_registration_values(self) -> dict:
        """What an administrator types into Countersign for this LMS."""
        return {
            "name": "Fake Moodle",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_login_url": self.url + "/auth",
            "auth_token_url": self.url + "/token",
            "key_set_url": self.url + "/jwks",
            "deployment_ids": [self.deployment_id],
        }

    # ------------------------------------------------------------ driving a launch

    def moodle_launch(self, http: requests.Session, *, sub: str, role: str = "Learner",
                      **spec: Any) -> tuple[requests.Response, dict]:
        """A launch shaped like Moodle's (mod/lti): only Instructor or Learner as a course role,
        the platform claim naming Moodle, ``lis.person_sourcedid`` always present (the user's ID
        number, often empty) and custom parameter keys lower-cased."""
        custom = {k.lower(): v for k, v in (spec.pop("custom", None) or {}).items()}
        return self.launch(http, sub=sub, roles=[LIS + "membership#" + role], platform="moodle",
                           sourcedid=spec.pop("sourcedid", ""), custom=custom, **spec)

    def launch(
        self, http: requests.Session, *, sub: str, roles: list[str], tamper=None, **spec: Any
    ) -> tuple[requests.Response, dict]:
        """Run login + auth through real HTTP and POST the id_token to the tool.

        Returns the tool's response to the launch POST (not followed) and the form fields.
        """
        hint = uuid.uuid4().hex
        self.launches[hint] = {"sub": sub, "roles": roles, **spec}
        page = http.get(f"{self.url}/start/{hint}", timeout=10)
        assert page.status_code == 200, page.text[:500]
        fields = parse_form(page.text)
        if tamper:
            fields = tamper(fields)
        resp = http.post(
            fields["action"],
            data={"id_token": fields["id_token"], "state": fields["state"]},
            allow_redirects=False,
            timeout=10,
        )
        return resp, fields

    # ------------------------------------------------------------ the platform app

    def _make_app(self) -> Flask:
        app = Flask("fake_lms")
        lms = self

        class Login(OIDCLoginAbstract):
            def set_lti_message_hint(self, **kw: Any) -> None:
                self._lti_message_hint = kw["hint"]

            def get_redirect(self, url: str) -> Any:
                return redirect(url)

        class Launch(LTIAdvantageMessageLaunchAbstract):
            def render_launch_form(self, data: dict, **kw: Any) -> Any:
                return Response(
                    LAUNCH_FORM.format(
                        **{
                            k: html.escape(str(v))
                            for k, v in {
                                "action": data["launch_url"],
                                "id_token": data["id_token"],
                                "state": data["state"],
                            }.items()
                        }
                    )
                )

        @app.get("/start/<hint>")
        def start(hint: str) -> Any:
            spec = lms.launches[hint]
            login = Login(_Req(request), lms.conf(spec.get("deployment_id")))
            login.set_lti_message_hint(hint=hint)
            return login.initiate_login(spec["sub"])

        @app.get("/auth")
        def auth() -> Any:
            spec = lms.launches[request.args["lti_message_hint"]]
            ml = Launch(_Req(request), lms.conf(spec.get("deployment_id")))
            ml.set_user_data(spec["sub"], spec["roles"], full_name=spec.get("name"))
            # given=None / family=None: the claim is left out (an LMS set not to share names).
            names = {"given_name": spec.get("given", "Lou"), "family_name": spec.get("family", "Learner")}
            extra = {k: v for k, v in names.items() if v is not None}
            if "sourcedid" in spec:  # Moodle sends it even when the ID number is empty
                extra["https://purl.imsglobal.org/spec/lti/claim/lis"] = {
                    "person_sourcedid": spec["sourcedid"]
                }
            if spec.get("platform"):
                extra["https://purl.imsglobal.org/spec/lti/claim/tool_platform"] = {
                    "guid": lms.url, "product_family_code": spec["platform"], "name": "Fictional LMS"
                }
            if spec.get("mentees") is not None:
                extra["https://purl.imsglobal.org/spec/lti/claim/role_scope_mentor"] = spec["mentees"]
            ml.set_extra_claims(extra)
            ml.set_resource_link_claim(spec.get("resource_link", "rl-1"))
            ml.set_launch_context_claim(
                spec.get("context", "course-1"), context_title=spec.get("context_title", "Computing 7B")
            )
            if spec.get("custom"):
                ml.set_custom_parameters_claim(spec["custom"])
            if spec.get("ags"):
                ml.set_ags(
                    lineitems_url=lms.url + "/lineitems",
                    lineitem_url=lms.url + "/lineitems/" + spec["ags"],
                    allow_creating_lineitems=False,
                )
            if spec.get("nrps"):
                ml.set_nrps(lms.url + "/memberships/" + spec["nrps"])
            if spec.get("deep_link"):
                ml.set_dl(
                    lms.url + "/deep-link-return",
                    title="Add activity",
                    accept_types={"ltiResourceLink"},
                    extra_data={"opaque": "platform-data-42"},
                )
            return ml.lti_launch()

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify({"keys": lms.registration().get_jwks()})

        @app.post("/token")
        def token() -> Any:
            conf = lms.conf()
            conf.get_registration()
            try:
                body = conf.get_access_token(request.form.to_dict())
            except Exception as exc:  # noqa: BLE001
                return jsonify({"error": "invalid_client", "detail": type(exc).__name__}), 400
            lms.tokens_issued += 1
            return jsonify(body)

        def bearer_ok(scope: str) -> bool:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                return False
            conf = lms.conf()
            conf.get_registration()
            try:
                return conf.validate_token(auth[7:], allowed_scopes=[scope])
            except Exception:  # noqa: BLE001
                return False

        @app.post("/lineitems/<item>/scores")
        def scores(item: str) -> Any:
            if not bearer_ok(SCORE_SCOPE):
                lms.refused_bearer += 1
                return jsonify({"error": "unauthorized"}), 401
            if lms.fail_scores:
                return jsonify({"error": "unavailable"}), 503
            if request.content_type != "application/vnd.ims.lis.v1.score+json":
                return jsonify({"error": "content type"}), 415
            lms.scores.append({"lineitem": item, **json.loads(request.data)})
            return jsonify({})

        @app.get("/memberships/<ctx>")
        def memberships(ctx: str) -> Any:
            if not bearer_ok(NRPS_SCOPE):
                lms.refused_bearer += 1
                return jsonify({"error": "unauthorized"}), 401
            body = {"id": request.url, "context": {"id": ctx, "title": "Computing"}, "members": lms.members}
            return Response(
                json.dumps(body), content_type="application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
            )

        @app.post("/deep-link-return")
        def deep_link_return() -> Any:
            conf = lms.conf()
            conf.get_registration()
            try:
                items = conf.validate_deeplinking_resp(request.form.to_dict())
            except Exception as exc:  # noqa: BLE001
                return f"refused: {type(exc).__name__}", 400
            lms.deep_link_items.extend(items)
            return "Activity added"

        return app


def parse_form(page: str) -> dict[str, str]:
    """action and hidden inputs of the first form in *page*."""
    action = re.search(r'<form[^>]*action="([^"]*)"', page)
    out = {"action": html.unescape(action.group(1)) if action else ""}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        out[name] = html.unescape(value)
    return out
