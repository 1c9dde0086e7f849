"""Form widgets shared by the portal's forms."""
from __future__ import annotations

from markupsafe import Markup, escape
from wtforms.widgets import Select


class LongSelect(Select):
    """WTForms' ``<select>`` with the same markup, each plain option built directly (WTForms
    builds every option's attributes through its general ``html_params``, which dominated pages
    with hundreds of people to choose from)."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or isinstance(choice.value, bool) or not isinstance(choice.value, str | int):
            return super().render_option(choice, **kwargs)
        selected = "selected " if choice.selected else ""
        label = escape(choice.label or choice.value)
        return Markup(f'<option {selected}value="{escape(choice.value)}">{label}</option>')
