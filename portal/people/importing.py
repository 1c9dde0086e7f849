"""The shared shape of an all-or-nothing import from an uploaded file (roster CSV, OneRoster)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash

from portal.db import session
from portal.messages import shown
from portal.people.roster import RosterError


def run_upload_import(upload: Any, limit: int, too_large: str, importer: Callable[[bytes, str], Any],
                      default_name: str) -> list[str] | None:
    """Read *upload* (refusing more than *limit* bytes with *too_large*), run *importer*, and
    commit once; on any refusal roll back and return the error lines. ``None`` means imported."""
    data = upload.read(limit + 1)
    name = (upload.filename or default_name)[-100:]
    if len(data) > limit:
        return [too_large.format(name=name, mb=limit // (1024 * 1024))]
    try:
        summary = importer(data, name)
    except RosterError as exc:
        session.rollback()
        return [shown(e) for e in exc.errors]  # in the reader's language
    session.commit()
    flash(summary.shown(), "success")  # whole sentences, in the reader's language
    if kept := summary.kept_sentence():  # addresses not applied: a warning of its own
        flash(kept, "warning")
    for warning in getattr(summary, "warnings", None) or []:  # imported, but worth a look
        flash(shown(warning), "warning")
    return None
