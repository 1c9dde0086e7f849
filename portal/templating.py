"""Jinja helpers available in every portal template."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from portal.people.bands import BAND_LABELS, year_label
from portal.people.models import Role
from portal.policies.compliance import percent
from portal.schools.models import School
from portal.signatures.models import method_label


def register_template_helpers(app: Flask) -> None:
    from portal import security

    @app.context_processor
    def _portal_context() -> dict[str, Any]:
        return {"portal_nav": portal_nav, "portal_school_name": _school_name, "portal_can_switch": _can_switch,
                "portal_from_lms": _from_lms}

    app.jinja_env.globals.update(
        has_capability=lambda cap: security.has_capability(current_user, cap),
        has_role=lambda role: security.has_role(current_user, role),
        is_staff=lambda: security.is_staff(current_user),
        year_label=translated_year_label,
        band_label=lambda band: _(BAND_LABELS[band]) if band in BAND_LABELS else band,
        method_label=lambda value: _(method_label(value)),
        css_counter=css_counter,
        css_content=css_content,
        percent=percent,
    )
    # The "date" and "datetime" filters are portal.i18n's (Babel, in the page's language).


#: Wraps a CSS counter's name inside a translated sentence (see :func:`css_content`).
_COUNTER_MARK = "\x00"


def css_counter(name: str) -> str:
    """A placeholder value for a CSS counter (``page``, ``pages``) in a whole translated sentence."""
    return f"{_COUNTER_MARK}{name}{_COUNTER_MARK}"


def css_content(sentence: str) -> Markup:
    """A CSS ``content`` value from a whole translated sentence whose placeholders are made by :func:`css_counter`::

        content: {{ css_content(_("Page %(page)s of %(pages)s", page=css_counter("page"),
                                  pages=css_counter("pages"))) }};

    The translator sees one sentence (and may put the numbers in any order); the words become CSS
    strings (escaped, so a quote or ``</style>`` in a translation cannot break the style sheet) and the
    placeholders become ``counter(page)`` and ``counter(pages)``.
    """
    parts = str(sentence).split(_COUNTER_MARK)
    out: list[str] = []
    for index, part in enumerate(parts):
        if index % 2:
            if not re.fullmatch(r"[a-z][a-z-]*", part):
                raise ValueError(f"not a CSS counter name: {part!r}")
            out.append(f"counter({part})")
        elif part:
            escaped = "".join(f"\\{ord(ch):x} " if ch in '"\\<>&\n\r' else ch for ch in part)
            out.append(f'"{escaped}"')
    return Markup(" ".join(out) or '""')


def N_(text: str) -> str:
    """Marks a string for the catalogues (``make translations``) without translating it here."""
    return text


#: Words that Python modules keep in English (exports, audit) and pages show in the reader's language.
_PAGE_WORDS = (
    N_("Online"), N_("Countersigned online"), N_("In class"), N_("In the learning platform"),
    N_("On paper, recorded by the office"), N_("Verbally, recorded by the office"),
    N_("EYFS and Key Stage 1 (Reception to Year 2)"), N_("Key Stage 2 (Years 3 to 6)"),
    N_("Key Stages 3 and 4 (Years 7 to 11)"), N_("Key Stage 5 (Years 12 and 13)"),
    N_("Nursery"), N_("Reception"),
    # portal.policies.models.AUDIENCE_LABELS
    N_("Pupils in Reception to Year 2"), N_("Pupils in Years 3 to 6"), N_("Pupils in Years 7 to 11"),
    N_("Pupils in Years 12 and 13"), N_("Parents and carers"), N_("Staff"), N_("Governors"), N_("Volunteers"),
    N_("Contractors"), N_("Visitors"),
)


def translated_year_label(year_group: int) -> str:
    """``year_label`` in the page's language (portal.people.bands.year_label stays English for exports)."""
    if year_group in (-1, 0):
        return str(_(year_label(year_group)))
    return str(_("Year %(number)s", number=year_group))


def _school_name() -> str:
    """The school the page is about (the product name outside any school)."""
    from flask import current_app

    try:
        school = School.get()
    except Exception:  # noqa: BLE001 - before migrations the page still renders
        school = None
    return school.name if school else current_app.config["PORTAL_PRODUCT_NAME"]


def _can_switch() -> bool:
    """Whether the signed-in account has somewhere else to go (another school, or a trust)."""
    from flask import g

    from portal.schools.signin import can_switch
    from portal.security import account_of

    if "_portal_can_switch" not in g:
        g._portal_can_switch = can_switch(account_of(current_user))
    return bool(g._portal_can_switch)


def _from_lms() -> bool:
    """Whether this session was opened from the LMS (held to its school: no Security page)."""
    from portal.auth.sessions import confined_to

    return confined_to() is not None


def portal_nav() -> list[tuple[str, str]]:
    """(label, endpoint) pairs for the portals the signed-in person can open."""
    from portal import security

    if not current_user.is_authenticated:
        return []
    items: list[tuple[str, str]] = []
    if getattr(current_user, "is_account", False):
        return [(_("Trust"), "portal.trust.index")] if security.trust_roles(current_user) else []
    if security.has_role(current_user, Role.PARENT):
        items.append((_("Parent"), "portal.parent.home"))
    if security.has_role(current_user, Role.PUPIL):
        items.append((_("My page"), "portal.pupil.home"))
    if security.is_staff(current_user) or current_user.role_set & {Role.GOVERNOR, Role.VOLUNTEER, Role.CONTRACTOR,
                                                                  Role.VISITOR}:
        items.append((_("Staff") if security.is_staff(current_user) else _("My policies"), "portal.staff.home"))
    if security.has_role(current_user, Role.AUDITOR) or security.has_capability(current_user, "records.view"):
        items.append((_("Records"), "portal.auditor.home"))
    if security.has_role(current_user, Role.ADMIN) or security.has_capability(current_user, "roster.manage"):
        items.append((_("Admin"), "portal.admin.home"))
    if security.trust_roles(current_user):
        items.append((_("Trust"), "portal.trust.index"))
    return items
