"""Languages: which one a page is in, and formatting dates and numbers in it (Flask-Babel).

The language of a request is, in order:

1. the language the signed-in person chose (``Account.language``: one choice across schools);
   (a session opened from the LMS uses a language picked in it first, and never changes the account's);
2. for someone not signed in, the language picked on this browser (kept in the session; picked less than
   an hour before signing in, it becomes the account's choice: :func:`adopt_visitors_pick`);
3. the school's default language (``School.default_language``);
4. the browser's ``Accept-Language`` header, among the shipped languages;
5. British English.

Catalogues live in ``portal/translations/<code>/LC_MESSAGES/messages.po`` (and the compiled
``.mo`` beside it); ``make translations`` extracts, updates and compiles them. A string missing
from a catalogue (or marked fuzzy) is shown in English, never blank.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request
from flask import session as flask_session
from flask_babel import Babel, force_locale, get_locale, gettext, lazy_gettext, to_user_timezone
from flask_babel import format_date as _format_date
from flask_babel import format_decimal as _format_decimal

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"

#: The session key of the language picked by someone not signed in.
SESSION_KEY = "portal_language"
#: When a visitor picked it (Unix seconds): a pick made on the sign-in page just before signing in is the
#: person's newest choice, so it is kept on their account (:func:`adopt_visitors_pick`).
PICKED_AT_KEY = "portal_language_picked_at"
#: How long such a pick counts as "just before signing in".
PICK_LIFETIME_SECONDS = 3600


@dataclass(frozen=True)
class Language:
    code: str           #: Babel locale code (``en_GB``, ``cy``...)
    name: str           #: The language's own name for itself (what the picker shows)
    english: str        #: Its English name (for staff pages and the README)
    rtl: bool = False

    @property
    def tag(self) -> str:
        """The BCP 47 tag for ``lang=`` attributes (``en-GB``)."""
        return self.code.replace("_", "-")

    @property
    def direction(self) -> str:
        return "rtl" if self.rtl else "ltr"


#: The shipped languages. English and Welsh are complete; the others cover the parent and pupil pages.
LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en_GB", "English", "English"),
        Language("cy", "Cymraeg", "Welsh"),
        Language("pl", "Polski", "Polish"),
        Language("ro", "Română", "Romanian"),
        Language("ur", "اردو", "Urdu", rtl=True),
        Language("ar", "العربية", "Arabic", rtl=True),
    )
}
DEFAULT = "en_GB"


def normalise(code: str | None) -> str | None:
    """A shipped language code for *code* (``en-GB``, ``en``, ``cy-GB``, ``pl``...), or None."""
    if not code:
        return None
    code = code.strip().replace("-", "_")
    if code in LANGUAGES:
        return code
    low = code.lower()
    for known in LANGUAGES:
        if known.lower() == low:
            return known
    base = low.split("_", 1)[0]
    if base == "en":
        return DEFAULT
    return base if base in LANGUAGES else None


def choices() -> list[tuple[str, str]]:
    """(code, own name) pairs for a language picker."""
    return [(lang.code, lang.name) for lang in LANGUAGES.values()]


def select_locale() -> str:
    """Flask-Babel's locale selector (see the module docstring for the order)."""
    if not has_request_context():
        return getattr(g, "portal_language", None) or DEFAULT
    from flask_login import current_user

    from portal.security import account_of

    try:
        account = account_of(current_user)
    except Exception:  # noqa: BLE001 - before the session is set up (error pages)
        account = None
    if account is not None:
        from portal.auth.sessions import confined_to

        if confined_to() is not None:  # a session opened from the LMS keeps its own pick (auth/views.language)
            picked = normalise(flask_session.get(SESSION_KEY))
            if picked:
                return picked
    chosen = normalise(getattr(account, "language", None))
    if chosen:
        return chosen
    if account is None:
        picked = normalise(flask_session.get(SESSION_KEY))
        if picked:
            return picked
    school_default = _school_default()
    if school_default:
        return school_default
    best = request.accept_languages.best_match([lang.tag for lang in LANGUAGES.values()]
                                               + [lang.code for lang in LANGUAGES.values()] + ["en"])
    return normalise(best) or DEFAULT


def _school_default() -> str | None:
    from portal.schools.models import School

    try:
        school = School.get()
    except Exception:  # noqa: BLE001 - no school scope on this page
        return None
    return normalise(getattr(school, "default_language", None)) if school is not None else None


def note_visitors_pick(code: str) -> None:
    """A visitor (not signed in) picked *code* on this browser."""
    flask_session[SESSION_KEY] = code
    flask_session[PICKED_AT_KEY] = int(time.time())


def adopt_visitors_pick(account: Any) -> tuple[str | None, str] | None:
    """At sign-in: a language this browser's visitor picked within the last hour becomes *account*'s choice.

    Returns (before, after) when the account's language changed, else None. A pick is used once: a
    second person signing in later on the same browser keeps their own choice, and so does anyone
    signing in after the person before them signed out in another language."""
    picked_at = flask_session.pop(PICKED_AT_KEY, None)
    code = normalise(flask_session.get(SESSION_KEY))
    if not isinstance(picked_at, int) or code is None or time.time() - picked_at > PICK_LIFETIME_SECONDS:
        return None
    before = getattr(account, "language", None)
    if before == code:
        return None
    account.language = code
    return before, code


def current() -> Language:
    """The :class:`Language` of the current page (English outside a request)."""
    try:
        code = str(get_locale() or DEFAULT)
    except Exception:  # noqa: BLE001
        code = DEFAULT
    return LANGUAGES.get(normalise(code) or DEFAULT, LANGUAGES[DEFAULT])


def language_of(person: Any) -> str:
    """The language to write to *person* in (emails): their choice, else their school's, else English."""
    account = getattr(person, "account", None)
    chosen = normalise(getattr(account, "language", None))
    if chosen:
        return chosen
    school = getattr(person, "school", None)
    return normalise(getattr(school, "default_language", None)) or DEFAULT


def in_language(code: str | None):
    """``with in_language("cy"):`` renders (emails, PDFs) in that language."""
    return force_locale(normalise(code) or DEFAULT)


# ---------------------------------------------------------------- formatting (template filters)


def format_date(value: dt.date | dt.datetime | None, form: str = "medium", rebase: bool = True) -> str:
    """A date in the page's language; a datetime's date in UK time (``rebase=False``: as given, e.g. UTC)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and not rebase:
        value = value.astimezone(dt.UTC) if value.tzinfo is not None else value
        return _format_date(value.date(), form)
    return _format_date(value, form)


def format_datetime(value: dt.datetime | None) -> str:
    """``26 Nov 2026, 14:03`` in UK time (``BABEL_DEFAULT_TIMEZONE``, Europe/London: GMT or BST), the date in
    the page's language. Times are kept in UTC; the evidence pages and sealed records show UTC and say so.

    Walk finding: pages said "21:32 UTC", an hour off the clocks in school for half the year."""
    if value is None:
        return ""
    local = to_user_timezone(value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC))
    return f"{_format_date(local, 'medium', rebase=False)}, {local:%H:%M}"


def format_number(value: Any) -> str:
    return _format_decimal(value) if value is not None else ""


def init_app(app: Flask) -> None:
    """Set up Flask-Babel (unless the host already did) and the template helpers."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    # Times are kept in UTC and shown in UK time (a datetime's date too); evidence says UTC where it shows it.
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/London")
    # WTForms' own messages ("Not a valid choice.") from its catalogues, in the page's language (cy, pl,
    # ro, ar ship with WTForms; it has no Urdu, so the parent and pupil forms give their own messages).
    app.config.setdefault("WTF_I18N_ENABLED", True)
    if "babel" not in app.extensions:
        app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
        Babel(app, locale_selector=select_locale)
    else:
        # A host with its own Babel: add the portal's catalogues to its directories.
        dirs = app.config.get("BABEL_TRANSLATION_DIRECTORIES", "translations")
        if str(TRANSLATIONS_DIR) not in dirs.split(";"):
            app.config["BABEL_TRANSLATION_DIRECTORIES"] = f"{dirs};{TRANSLATIONS_DIR}"
    app.jinja_env.globals.update(portal_language=current, portal_languages=choices,
                                 portal_language_name=lambda code: LANGUAGES[code].name if code in LANGUAGES else code)
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["number"] = format_number


__all__ = ["LANGUAGES", "gettext", "lazy_gettext", "current", "language_of", "in_language", "init_app",
           "select_locale", "normalise"]
