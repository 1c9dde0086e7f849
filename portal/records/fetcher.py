"""A WeasyPrint URL fetcher that reaches nothing but the portal's own static files."""
from __future__ import annotations

import logging
import os
import urllib.parse

from weasyprint.urls import URLFetcher

log = logging.getLogger("portal.records")


class BlockedURL(ValueError):
    """WeasyPrint was asked for a URL outside the portal's static folder."""


class StaticOnlyFetcher(URLFetcher):
    """Serves ``data:`` URLs and ``file:`` URLs inside *static_dir*; refuses everything else.

    ``http``, ``https``, ``ftp`` and ``file:`` paths outside the folder (including ``..`` and
    symlinks leading out of it) raise :class:`BlockedURL`; WeasyPrint logs a warning and goes on
    without the resource, so hostile policy text can neither reach the network nor embed a file.
    WeasyPrint 70 needs a :class:`~weasyprint.urls.URLFetcher` subclass (not a function).
    """

    def __init__(self, static_dir: str | os.PathLike[str], **kwargs):
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False, **kwargs)
        self.static_dir = os.path.realpath(static_dir)
        #: URLs refused during this render (for tests and logs).
        self.blocked: list[str] = []

    def fetch(self, url: str, headers=None):
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file" and not parts.netloc:
            path = os.path.realpath(urllib.parse.unquote(parts.path))
            inside = os.path.commonpath([path, self.static_dir]) == self.static_dir
            if inside and os.path.isfile(path):
                return super().fetch(url, headers)
        self.blocked.append(url[:200])
        log.warning("PDF render: blocked URL %s", url[:80])
        raise BlockedURL(f"blocked URL: {url[:80]}")
