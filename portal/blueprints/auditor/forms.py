from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import Length, Optional

from portal.formbase import FlaskForm


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class RecordFilterForm(FlaskForm):
    """The filter on the records page (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    year = SelectField(_l("Academic year"), coerce=_int_or_none, validators=[Optional()])
    policy = SelectField(_l("Policy"), coerce=_int_or_none, validators=[Optional()])
    audience = SelectField(_l("Audience"), validators=[Optional()])
    school_class = SelectField(_l("Class"), coerce=_int_or_none, validators=[Optional()])
    person = StringField(_l("Name or roster id"), validators=[Optional(), Length(max=100)])
    submit = SubmitField(_l("Show records"))


class VerifyForm(FlaskForm):
    file = FileField(_l("PDF file"), validators=[FileRequired(_l("Choose a PDF file to check."))])
    submit = SubmitField(_l("Check this PDF"))
