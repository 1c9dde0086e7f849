"""A small OneRoster-shaped REST service for the tests, on 127.0.0.1 (werkzeug in a thread).

It follows the OneRoster 1.2 Rostering REST binding (``/ims/oneroster/rostering/v1p2/...``) and,
for 1.1, ``/ims/oneroster/v1p1/...``: OAuth 2 client credentials at ``/token`` (HTTP Basic client
authentication, scopes checked), bearer tokens on every collection, ``limit``/``offset`` paging
with ``X-Total-Count``, and JSON records shaped like the binding's (GUIDRefs with href, sourcedId
and type; ``roles`` with ``roleType`` and ``org`` in 1.2, ``role`` and ``orgs`` in 1.1).
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from flask import Flask, jsonify, request

from tests.http_server import ThreadedServer

V12 = "/ims/oneroster/rostering/v1p2"
V11 = "/ims/oneroster/v1p1"
SCOPE = "https://purl.imsglobal.org/spec/or/{v}/scope/"


def ref(kind: str, sid: str, base: str = V12) -> dict[str, str]:
    return {"href": f"{base}/{kind}s/{sid}", "sourcedId": sid, "type": kind}


def roster_12() -> dict[str, list[dict[str, Any]]]:
    """A small fictional school: one teacher who is also a parent, a guardian, two pupils, an aide,
    a proctor, two classes."""
    org = ref("org", "org-1")
    return {
        "orgs": [{"sourcedId": "org-1", "status": "active", "dateLastModified": "2026-11-01T08:00:00.000Z",
                  "name": "Fictional Primary", "type": "school", "identifier": "", "parent": None, "children": []}],
        "users": [
            {"sourcedId": "u-t1", "status": "active", "enabledUser": True, "username": "tt", "givenName": "Tamsin",
             "familyName": "Teachwell", "email": "tamsin@fictional.example", "agents": [], "grades": [],
             "roles": [{"roleType": "primary", "role": "teacher", "org": org},
                       {"roleType": "secondary", "role": "parent", "org": org}],
             "primaryOrg": org, "userProfiles": []},
            {"sourcedId": "u-s1", "status": "active", "enabledUser": True, "username": "s1", "givenName": "Sol",
             "familyName": "Pupilson", "agents": [ref("user", "u-g1"), ref("user", "u-t1")], "grades": ["04"],
             "roles": [{"roleType": "primary", "role": "student", "org": org}], "userProfiles": []},
            {"sourcedId": "u-s2", "status": "active", "enabledUser": True, "username": "s2", "givenName": "Rue",
             "familyName": "Pupilson", "agents": [], "grades": ["KG"],
             "roles": [{"roleType": "primary", "role": "student", "org": org}], "userProfiles": []},
            {"sourcedId": "u-g1", "status": "active", "enabledUser": True, "username": "g1", "givenName": "Gus",
             "familyName": "Carer", "email": "gus@fictional.example", "agents": [ref("user", "u-s2")], "grades": [],
             "roles": [{"roleType": "primary", "role": "guardian", "org": org}], "userProfiles": []},
            {"sourcedId": "u-a1", "status": "active", "enabledUser": True, "username": "a1", "givenName": "Ari",
             "familyName": "Aideson", "email": "ari@fictional.example", "agents": [], "grades": [],
             "roles": [{"roleType": "primary", "role": "aide", "org": org}], "userProfiles": []},
            {"sourcedId": "u-x1", "status": "active", "enabledUser": True, "username": "x1", "givenName": "Pax",
             "familyName": "Proctor", "email": "pax@fictional.example", "agents": [], "grades": [],
             "roles": [{"roleType": "primary", "role": "proctor", "org": org}], "userProfiles": []},
            {"sourcedId": "u-gone", "status": "tobedeleted", "enabledUser": True, "username": "gone",
             "givenName": "Gone", "familyName": "Away", "agents": [], "grades": ["05"],
             "roles": [{"roleType": "primary", "role": "student", "org": org}], "userProfiles": []},
        ],
        "classes": [
            {"sourcedId": "c-4", "status": "active", "title": "Year 4 Oak", "grades": ["04"], "classType": "homeroom",
             "course": ref("course", "co-4"), "school": org, "terms": [ref("academicSession", "t-1")]},
            {"sourcedId": "c-r", "status": "active", "title": "Reception Ash", "grades": ["KG"],
             "classType": "homeroom", "course": ref("course", "co-r"), "school": org,
             "terms": [ref("academicSession", "t-1")]},
        ],
        "enrollments": [
            {"sourcedId": "e1", "status": "active", "role": "student", "user": ref("user", "u-s1"),
             "class": ref("class", "c-4"), "school": org},
            {"sourcedId": "e2", "status": "active", "role": "student", "user": ref("user", "u-s2"),
             "class": ref("class", "c-r"), "school": org},
            {"sourcedId": "e3", "status": "active", "role": "teacher", "primary": True, "user": ref("user", "u-t1"),
             "class": ref("class", "c-4"), "school": org},
            {"sourcedId": "e4", "status": "active", "role": "proctor", "user": ref("user", "u-x1"),
             "class": ref("class", "c-4"), "school": org},
        ],
        "demographics": [
            {"sourcedId": "u-s1", "status": "active", "birthDate": "2017-03-04", "sex": "female"},
            {"sourcedId": "u-s2", "status": "active", "birthDate": "2021-10-11", "sex": "unspecified"},
        ],
    }


def as_11(data: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The same records shaped as OneRoster 1.1 (``role`` and ``orgs`` on a user, one role each)."""
    out = {k: [dict(r) for r in v] for k, v in data.items()}
    for user in out["users"]:
        roles = user.pop("roles")
        user.pop("primaryOrg", None)
        user.pop("userProfiles", None)
        user["role"] = roles[0]["role"]
        user["orgs"] = [ref("org", roles[0]["org"]["sourcedId"], V11)]
    return out


class OneRosterService:
    """``OneRosterService(data)``; ``start()``/``stop()``; ``base(version)`` is the URL to pull."""

    client_id = "countersign-rostering"

    def __init__(self, data: dict[str, list[dict[str, Any]]], version: str = "v1p2"):
        self.data = data
        self.version = version
        self.secret = secrets.token_urlsafe(16)
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.refused = 0
        self.pages: dict[str, int] = {}
        #: Collections the client may not read (HTTP 403), e.g. {"demographics"}.
        self.forbidden: set[str] = set()
        self.scopes_asked: list[str] = []
        self.app = self._make_app()
        self.http = ThreadedServer(self.app)
        self.url = self.http.url

    @property
    def base(self) -> str:
        return self.url + (V12 if self.version == "v1p2" else V11)

    def start(self) -> None:
        self.http.start()

    def stop(self) -> None:
        self.http.stop()

    def _make_app(self) -> Flask:
        app = Flask("oneroster_service")
        svc = self

        @app.post("/token")
        def token() -> Any:
            svc.token_requests += 1
            auth = request.headers.get("Authorization", "")
            try:
                client, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
            except ValueError:
                client = secret = ""
            if not auth.startswith("Basic ") or (client, secret) != (svc.client_id, svc.secret):
                return jsonify({"error": "invalid_client"}), 401
            if request.form.get("grant_type") != "client_credentials":
                return jsonify({"error": "unsupported_grant_type"}), 400
            asked = request.form.get("scope", "").split()
            svc.scopes_asked = asked
            if SCOPE.format(v=svc.version) + "roster.readonly" not in asked:
                return jsonify({"error": "invalid_scope"}), 400
            value = secrets.token_urlsafe(24)
            svc.tokens.add(value)
            return jsonify({"access_token": value, "token_type": "Bearer", "expires_in": 3600,
                            "scope": " ".join(asked)})

        @app.get(f"{V12 if svc.version == 'v1p2' else V11}/<collection>")
        def collection(collection: str) -> Any:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in svc.tokens:
                svc.refused += 1
                return jsonify({"imsx_codeMajor": "failure", "imsx_description": "unauthorized"}), 401
            if collection not in svc.data:
                return jsonify({"imsx_codeMajor": "failure"}), 404
            if collection in svc.forbidden:
                return jsonify({"imsx_codeMajor": "failure", "imsx_description": "forbidden"}), 403
            limit = int(request.args.get("limit", 100))
            offset = int(request.args.get("offset", 0))
            items = svc.data[collection]
            svc.pages[collection] = svc.pages.get(collection, 0) + 1
            resp = jsonify({collection: items[offset:offset + limit] if isinstance(items, list) else items})
            if isinstance(items, list):
                resp.headers["X-Total-Count"] = str(len(items))
            return resp

        return app
