"""The standalone application used by ``wsgi.py`` and ``make run``."""
from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from flask import Flask, redirect, url_for

from portal.extension import Portal


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build a Flask app with the portal mounted at ``/``-level prefix ``/portal``.

    Configuration comes from *config*, then ``PORTAL_*``/``SECRET_KEY`` environment variables.
    """
    instance_dir = Path(os.environ.get("PORTAL_INSTANCE_DIR", Path.cwd() / "instance"))
    app = Flask(__name__, instance_path=str(instance_dir.resolve()))
    for key, value in os.environ.items():
        if key.startswith("PORTAL_"):
            app.config[key] = _loads(value)
    # SECRET_KEY, and the host name and scheme of links in emails that jobs send (no request there).
    for key in ("SECRET_KEY", "SERVER_NAME", "PREFERRED_URL_SCHEME"):
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    # Cookies are Secure unless PORTAL_SECURE_COOKIES is false (plain http on 127.0.0.1 only).
    secure = bool(app.config.get("PORTAL_SECURE_COOKIES", True))
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        if key not in (config or {}):
            app.config[key] = secure
    Portal(app)
    if app.config.get("PORTAL_MAIL_BACKEND") == "log":
        _show_mail_lines()

    @app.get("/")
    def index() -> Any:
        return redirect(url_for("portal.home"))

    return app


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a line is written (as :data:`logging.lastResort` does),
    unless logging has been set up (the job worker, a test, a host): the line then goes there instead."""

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger().handlers:
            super().emit(record)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _show_mail_lines() -> None:
    """With the log mail backend (``make run``), print the line each message leaves (recipient count and
    subject) in the terminal and in the job worker's log: nothing else sets up logging in the standalone
    app, so INFO lines were dropped. (A host application that mounts the portal sets up its own logging.)"""
    mail_log = logging.getLogger("portal.mail")
    if any(isinstance(h, _Stderr) for h in mail_log.handlers):
        return
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    mail_log.addHandler(handler)
    mail_log.setLevel(logging.INFO)


def _loads(value: str) -> Any:
    import json

    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        return json.loads(value) if value[:1] in "0123456789[{-" else value
    except ValueError:
        return value


def _instance_secret(instance: Path) -> str:
    """A per-installation secret kept in the instance folder (made once)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
