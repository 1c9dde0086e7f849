"""The :class:`Portal` Flask extension."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from flask_babel import gettext as _
from flask_bootstrap import Bootstrap5
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import default_exceptions
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import DEFAULTS
from portal.db import make_engine, make_session_factory
from portal.jobs.queue import JobQueue

log = logging.getLogger("portal")


class Portal:
    """Mounts Countersign into a Flask application.

    ``Portal(app)`` or ``portal = Portal(); portal.init_app(app)``. State lives in
    ``app.extensions["portal"]``; configuration keys start with ``PORTAL_``.
    """

    def __init__(self, app: Flask | None = None) -> None:
        self.engine: Any = None
        self.session: Any = None
        self.jobs: Any = None
        #: The S3-compatible archive store built from PORTAL_ARCHIVE_STORE (made on first use).
        self.archive: Any = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if "portal" in app.extensions:
            raise RuntimeError("Portal is already registered on this app.")
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        if not app.secret_key:
            raise RuntimeError("Countersign needs app.secret_key (SECRET_KEY) to sign sessions and links.")
        # Flask's own defaults hold MAX_CONTENT_LENGTH = None (no limit), so setdefault would never set it.
        if app.config.get("MAX_CONTENT_LENGTH") is None:
            app.config["MAX_CONTENT_LENGTH"] = app.config["PORTAL_MAX_UPLOAD_BYTES"]
        app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
        if app.config.get("SESSION_COOKIE_SAMESITE") is None:
            app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
        app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
        app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
        # "Keep me signed in" is short (the server also ends the session then; see auth/sessions.py).
        app.config.setdefault("REMEMBER_COOKIE_DURATION",
                              dt.timedelta(seconds=int(app.config["PORTAL_REMEMBER_SECONDS"])))
        app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)

        self.engine = make_engine(app.config["PORTAL_DATABASE_URI"])
        self.session = make_session_factory(self.engine)
        self.jobs = JobQueue(app)
        app.extensions["portal"] = self
        hops = int(app.config["PORTAL_PROXY_FIX"] or 0)
        if hops > 0:
            # The client's address (sign-in limits, audit) and scheme come from the proxies' headers.
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            self.session.remove()

        @app.before_request
        def _scope_portal_request() -> None:
            # Portal routes only: a route miss needs no school (signing the person in chooses one).
            if (request.blueprint or "").startswith("portal"):
                from portal.schools.context import scope_request

                scope_request()

        if "csrf" not in app.extensions:
            CSRFProtect(app)
        if "bootstrap" not in app.extensions:
            Bootstrap5(app)
        if app.config["PORTAL_MANAGE_LOGIN"] and not hasattr(app, "login_manager"):
            self._init_login(app)

        from portal.blueprints import make_blueprint, register_converters
        from portal.cli import portal_cli
        from portal.policies import compliance
        from portal.templating import register_template_helpers

        compliance.register()  # keeps the stored compliance counts up to date

        register_template_helpers(app)
        from portal import i18n

        i18n.init_app(app)
        from portal.headers import security_headers

        app.after_request(security_headers)
        from portal.auth.sessions import touch
        from portal.devices import save_cookie

        app.after_request(save_cookie)
        app.after_request(touch)
        from portal.records import init_app as init_records

        init_records(app)
        register_converters(app)
        app.register_blueprint(make_blueprint(), url_prefix=app.config["PORTAL_URL_PREFIX"] or None)
        app.cli.add_command(portal_cli)
        self._register_error_pages(app)

    def _init_login(self, app: Flask) -> None:
        from portal.schools.signin import load_user

        manager = LoginManager()
        manager.login_view = "portal.auth.login"
        manager.login_message = "Please sign in to see this page."
        manager.login_message_category = "info"
        manager.session_protection = "strong"
        manager.user_loader(load_user)
        manager.init_app(app)

    @staticmethod
    def _register_error_pages(app: Flask) -> None:
        """The portal's error pages, for the portal's own addresses only: a host's pages keep the host's
        error handler (one it registered before the portal, which is kept) or Flask's plain page."""
        from portal.web import error_page as page
        from portal.web import is_portal_request, portal_prefix

        def ours() -> bool:
            # Mounted at the root, every error page is the portal's (a host's too).
            return not portal_prefix() or is_portal_request()

        def register(key: type[Exception] | int, make_page: Callable[[], Any]) -> None:
            exc_class = default_exceptions[key] if isinstance(key, int) else key
            previous = app.error_handler_spec[None][getattr(exc_class, "code", None)].get(exc_class)

            def handler(e: Exception) -> Any:
                if ours():
                    return make_page()
                return previous(e) if previous is not None else e

            app.register_error_handler(key, handler)

        # The words are looked up when the page is made, in the reader's language.
        register(CSRFError, lambda: page(400, _("Please try again"),
                                         _("This form had expired. Go back, refresh the page and send it again.")))
        register(403, lambda: page(403, _("Not allowed"), _("Your account cannot open this page.")))
        register(404, lambda: page(404, _("Page not found"), _("We could not find that page.")))
        register(413, lambda: page(413, _("File too large"), _(
            "What you sent is too large. The limit is %(mb)s MB in total.",
            mb=app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024))))

