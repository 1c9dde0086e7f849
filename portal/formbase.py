"""The base of every portal form: Flask-WTF's form, with its CSRF token rendered without an ``id``.

A page with several forms (the Security page has six) rendered ``id="csrf_token"`` once per form: walk
finding. A repeated id is invalid HTML, and a label or hint tied to it names the wrong control. The hidden
token needs no id: nothing refers to it by one (``passkeys.js`` finds it by its name).
"""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm as _FlaskForm


class FlaskForm(_FlaskForm):
    class Meta(_FlaskForm.Meta):
        def render_field(self, field: Any, render_kw: dict[str, Any]) -> Any:
            if field.type == "CSRFTokenField":
                render_kw = {"id": False, **render_kw}
            return super().render_field(field, render_kw)


__all__ = ["FlaskForm"]
