"""Where the portal may send requests on an LMS's behalf.

A school's admin types the LMS's addresses (its keyset, token and login URLs), and the LMS's signed
launches name more (grade and member services). The portal fetches them from the server, so a school's
admin, trusted with their school but not with the server's network, could otherwise point the server at
itself, at another service beside it, or at a cloud's metadata address (169.254.169.254).

So every call through :func:`portal.lti.tool.http_session` (each redirect included) goes only to
addresses on the internet, or to a private network the installation's administrator names in
``PORTAL_LTI_PRIVATE_NETWORKS`` (an LMS on the school's own network). Plain http is accepted only for
those named networks. A registration whose address is refused at once (an IP address, ``localhost``) is
refused when it is saved; a host name is checked each time it is resolved, just before the call.
"""

from __future__ import annotations

import ipaddress
import socket
import typing as t
from urllib.parse import urlsplit

import requests
from flask import current_app

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RefusedAddress(requests.exceptions.ConnectionError):
    """A call to an address the portal does not call (pylti1p3 reports it as a failed fetch)."""


def allowed_networks() -> list[Network]:
    """``PORTAL_LTI_PRIVATE_NETWORKS``: a list (or a comma-separated string) of networks, e.g. ``10.0.0.0/8``."""
    value = current_app.config.get("PORTAL_LTI_PRIVATE_NETWORKS") or []
    if isinstance(value, str):
        value = value.split(",")
    return [ipaddress.ip_network(str(item).strip(), strict=False) for item in value if str(item).strip()]


def _literal(host: str) -> list[Address] | None:
    """The addresses *host* names without a lookup (an IP address, or ``localhost``), or None."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    if host.lower().rstrip(".") == "localhost" or host.lower().rstrip(".").endswith(".localhost"):
        return [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    return None


def _resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []  # the call itself then fails to connect, and says so
    out: list[Address] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # an IPv6 zone index
        out.append(ipaddress.ip_address(text))
    return out


def refusal(url: str, *, resolve: bool = True) -> str | None:
    """Why the portal will not call *url*, in words for the school's admin, or None if it may.

    With *resolve* false (when a registration is saved) a host name is not looked up: only IP addresses
    and ``localhost`` are judged then; the call checks the name's addresses each time.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        return f"{url!r} is not an https:// address"
    addresses = _literal(host)
    if addresses is None and (resolve or parts.scheme == "http"):  # plain http: only to a named network
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return f"{url!r} has a port that is not a number"
        addresses = _resolve(host, port)
    networks = allowed_networks()
    named_private = bool(addresses)
    for address in addresses or []:
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in networks):
            continue
        named_private = False
        if not address.is_global or address.is_multicast:
            return (f"{host} is on a private or local network ({address}); the portal only calls an LMS on "
                    "the internet, or on a network its administrator allows (PORTAL_LTI_PRIVATE_NETWORKS)")
    if parts.scheme == "http" and not named_private:
        return f"{url!r} is not an https:// address (plain http is only for a network the administrator allows)"
    return None


def check(url: str) -> None:
    """:raises RefusedAddress: the portal does not call *url* (with :func:`refusal`'s reason)."""
    reason = refusal(url)
    if reason is not None:
        raise RefusedAddress(reason)


class GuardedSession(requests.Session):
    """A requests session that checks each request's address, redirects included, and times out."""

    def request(self, *args: t.Any, **kwargs: t.Any) -> requests.Response:
        kwargs.setdefault("timeout", current_app.config["PORTAL_LTI_HTTP_TIMEOUT"])
        return super().request(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:  # type: ignore[override]
        check(str(request.url))
        return super().send(request, **kwargs)
