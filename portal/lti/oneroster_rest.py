"""Pull a roster from a OneRoster REST service (the Rostering service of OneRoster 1.2, or 1.1),
authenticated with OAuth 2 client credentials, into a :class:`~portal.lti.oneroster.Dataset`
that is imported exactly like a CSV export.

``GET {url}/orgs``, ``/users``, ``/classes``, ``/enrollments`` and ``/demographics`` are read
page by page (``limit`` and ``offset``; ``X-Total-Count`` when the service sends it), with a
bearer token from the token endpoint (HTTP Basic client authentication, ``grant_type=
client_credentials`` and the roster scopes). Demographics are optional: a service that refuses
them (HTTP 401, 403 or 404 on that collection only) is imported without birth dates. A pull is a
full (bulk) import: records ``tobedeleted`` are left out.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

import requests

from portal.lti.oneroster import Dataset, Rec, RoleRec
from portal.people.roster import RosterError

COLLECTIONS = ("orgs", "users", "classes", "enrollments", "demographics")
SCOPE_BASE = "https://purl.imsglobal.org/spec/or/{version}/scope/"
SCOPES = ("roster.readonly", "roster-demographics.readonly")
#: Most pages read from one collection (a runaway service cannot keep us here for ever).
MAX_PAGES = 2000
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def default_scopes(url: str) -> list[str]:
    version = "v1p1" if "/v1p1" in url else "v1p2"
    return [SCOPE_BASE.format(version=version) + s for s in SCOPES]


def default_token_url(url: str) -> str:
    """``https://sis.example/ims/oneroster/rostering/v1p2`` -> ``https://sis.example/token`` (the
    part of the path before ``/ims/``, then ``/token``); give ``--token-url`` when it differs."""
    parts = urlsplit(url)
    prefix = parts.path.split("/ims/", 1)[0].rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{prefix}/token"


def check_url(url: str, what: str) -> str:
    """*url*, refused unless it is https (plain http only to this machine, for tests)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RosterError([f"{what}: {url!r} is not a web address."])
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise RosterError([f"{what}: use https:// (the client secret and the roster must not travel unencrypted)."])
    return url.strip().rstrip("/")


class _Budget:
    """The bytes a pull may read in all (PORTAL_MAX_ONEROSTER_UNZIPPED_BYTES)."""

    def __init__(self, limit: int):
        self.left = limit
        self.limit = limit

    def read(self, resp: requests.Response) -> bytes:
        chunks, total = [], 0
        for chunk in resp.iter_content(65536):
            total += len(chunk)
            if total > self.left:
                raise RosterError([f"The rostering service sent more than {self.limit // 1048576} MB."])
            chunks.append(chunk)
        self.left -= total
        return b"".join(chunks)


def fetch_token(http: requests.Session, token_url: str, client_id: str, secret: str, scopes: list[str]) -> str:
    """An access token by OAuth 2 client credentials (RFC 6749, section 4.4).

    :raises RosterError: the service refused or answered something else.
    """
    try:
        resp = http.post(token_url, data={"grant_type": "client_credentials", "scope": " ".join(scopes)},
                         auth=(client_id, secret), headers={"Accept": "application/json"}, allow_redirects=False)
    except requests.RequestException as exc:
        raise RosterError([f"Could not reach the token URL {token_url}: {type(exc).__name__}."]) from None
    if resp.status_code in (400, 401, 403):
        raise RosterError([f"The rostering service refused the client id or secret (HTTP {resp.status_code} from "
                           f"{token_url}). Check them, and that the client may read the roster."])
    if resp.status_code != 200:
        raise RosterError([f"The token URL {token_url} answered HTTP {resp.status_code}."])
    try:
        body = resp.json()
    except ValueError:
        body = None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token or str(body.get("token_type", "bearer")).lower() != "bearer":
        raise RosterError([f"The token URL {token_url} did not send a bearer access token."])
    return token


def fetch_collection(http: requests.Session, url: str, name: str, token: str, *, page_size: int,
                     budget: _Budget, optional: bool = False) -> list[Any] | None:
    """Every record of one collection, page by page. ``None``: an optional collection was refused.

    :raises RosterError: the service failed, or sent something that is not a OneRoster collection.
    """
    out: list[Any] = []
    offset = 0
    for _ in range(MAX_PAGES):
        try:
            resp = http.get(f"{url}/{name}", params={"limit": page_size, "offset": offset}, stream=True,
                            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                            allow_redirects=False)
        except requests.RequestException as exc:
            raise RosterError([f"Could not read {name} from the rostering service: {type(exc).__name__}."]) from None
        with resp:
            if optional and resp.status_code in (401, 403, 404):
                return None
            if resp.status_code != 200:
                raise RosterError([f"The rostering service answered HTTP {resp.status_code} for {name}."])
            raw = budget.read(resp)
            total = resp.headers.get("X-Total-Count", "")
        try:
            page = json.loads(raw)[name]
        except (ValueError, KeyError, TypeError):
            raise RosterError([f"The rostering service's answer for {name} is not a OneRoster {name} list."]) from None
        if not isinstance(page, list):
            raise RosterError([f"The rostering service's answer for {name} is not a OneRoster {name} list."])
        out.extend(page)
        offset += len(page)
        if len(page) < page_size or not page or (total.isdecimal() and offset >= int(total)):
            return out
    raise RosterError([f"The rostering service kept sending pages of {name}; stopped after {MAX_PAGES}."])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


def _ref(value: Any) -> str:
    """The sourcedId of a GUIDRef (``{"href", "sourcedId", "type"}``)."""
    return _text(value.get("sourcedId")) if isinstance(value, dict) else ""


def _refs(value: Any) -> list[str]:
    return [r for r in (_ref(v) for v in value) if r] if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [_text(v) for v in value if _text(v)] if isinstance(value, list) else []


def to_dataset(collections: dict[str, list[Any] | None]) -> Dataset:
    """OneRoster REST records (1.1 or 1.2 JSON) -> a :class:`Dataset` (each record named by its
    collection, position and sourcedId in messages).

    :raises RosterError: records that are not objects.
    """
    errors: list[str] = []
    recs: dict[str, list[tuple[Rec, dict]]] = {}
    for name, items in collections.items():
        if items is None:
            continue
        recs[name] = []
        for i, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                errors.append(f"{name} record {i}: not a OneRoster object.")
                continue
            where = f"{name} record {i} (sourcedId {_text(item.get('sourcedId'))[:60] or 'missing'})"
            recs[name].append((Rec(where, {"sourcedId": _text(item.get("sourcedId")),
                                           "status": _text(item.get("status"))}), item))
    if errors:
        raise RosterError(errors)
    users = recs.get("users", [])
    version = "1.2" if any(isinstance(item.get("roles"), list) for _, item in users) else "1.1"
    ds = Dataset(version=version, source="rest")
    for rec, item in recs.get("orgs", []):
        rec.data.update(name=_text(item.get("name")), type=_text(item.get("type")),
                        identifier=_text(item.get("identifier")))
    today = dt.date.today()
    for rec, item in users:
        rec.data.update(enabledUser=_text(item.get("enabledUser", True)) or "true",
                        givenName=_text(item.get("givenName")), familyName=_text(item.get("familyName")),
                        email=_text(item.get("email")), grades=",".join(_strings(item.get("grades"))),
                        agentSourcedIds=",".join(_refs(item.get("agents"))))
        if version == "1.2":
            roles = []
            for role in item.get("roles") or []:
                if not isinstance(role, dict):
                    continue
                live = True
                try:
                    begin, end = _text(role.get("beginDate"))[:10], _text(role.get("endDate"))[:10]
                    live = (not begin or dt.date.fromisoformat(begin) <= today) and \
                        (not end or today < dt.date.fromisoformat(end))
                except ValueError:
                    pass
                roles.append(RoleRec(role=_text(role.get("role")), org=_ref(role.get("org")),
                                     primary=_text(role.get("roleType")) == "primary", where=rec.where,
                                     live=live, org_column="roles[].org"))
        else:
            orgs = _refs(item.get("orgs")) or [""]
            roles = [RoleRec(role=_text(item.get("role")), org=o, primary=True, where=rec.where,
                             org_column="orgs") for o in orgs]
        ds.roles[rec.sid] = roles
    for rec, item in recs.get("classes", []):
        rec.data.update(title=_text(item.get("title")), grades=",".join(_strings(item.get("grades"))),
                        classType=_text(item.get("classType")), schoolSourcedId=_ref(item.get("school")))
    for rec, item in recs.get("enrollments", []):
        rec.data.update(classSourcedId=_ref(item.get("class")), userSourcedId=_ref(item.get("user")),
                        role=_text(item.get("role")), schoolSourcedId=_ref(item.get("school")))
    for rec, item in recs.get("demographics", []):
        rec.data.update(birthDate=_text(item.get("birthDate")))
    ds.orgs = [r for r, _ in recs.get("orgs", [])]
    ds.users = [r for r, _ in users]
    ds.classes = [r for r, _ in recs.get("classes", [])]
    ds.enrollments = [r for r, _ in recs.get("enrollments", [])]
    ds.demographics = [r for r, _ in recs["demographics"]] if "demographics" in recs else None
    if ds.demographics is None:
        ds.warnings.append("The rostering service did not share demographics (birth dates), so pupils were "
                           "placed by their grade.")
    return ds


def pull(url: str, *, client_id: str, secret: str, token_url: str | None = None, scopes: list[str] | None = None,
         page_size: int = 500, max_bytes: int, http: requests.Session) -> Dataset:
    """Read the whole roster from the service at *url* (e.g. ``https://sis.example/ims/oneroster/rostering/v1p2``).

    :raises RosterError: a bad URL, refused credentials, a failing service or malformed records.
    """
    url = check_url(url, "--url")
    token_url = check_url(token_url or default_token_url(url), "--token-url")
    if not client_id.strip() or not secret:
        raise RosterError(["Give the client id and the client secret the rostering service issued."])
    token = fetch_token(http, token_url, client_id.strip(), secret, scopes or default_scopes(url))
    budget = _Budget(max_bytes)
    collections = {name: fetch_collection(http, url, name, token, page_size=page_size, budget=budget,
                                          optional=name == "demographics") for name in COLLECTIONS}
    return to_dataset(collections)
