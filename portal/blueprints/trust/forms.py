from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, SelectMultipleField, StringField, SubmitField, widgets
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal.formbase import FlaskForm
from portal.schools.models import Phase


class NewSchoolForm(FlaskForm):
    name = StringField(_l("School name"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(_l("Short name for the address bar and exports"),
                       validators=[DataRequired(), Length(max=60),
                                   Regexp(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
                                          message=_l("Use lower-case letters, digits and hyphens, e.g. oak-lane."))])
    urn = StringField(_l("URN (DfE number, six digits)"), validators=[Optional(), Regexp(r"^\d{6}$",
                                                                                  message=_l("A URN is six digits."))])
    phases = SelectMultipleField(_l("Phases"), choices=[(p.value, p.label) for p in Phase],
                                 option_widget=widgets.CheckboxInput(), widget=widgets.ListWidget(prefix_label=False))
    submit = SubmitField(_l("Add the school"))


class TrustRosterForm(FlaskForm):
    file = FileField(_l("Roster CSV file"), validators=[FileRequired(_l("Choose a CSV file to upload."))])
    submit = SubmitField(_l("Import"))


class TrustRecordsForm(FlaskForm):
    """Filter of the trust auditor's list (GET)."""

    class Meta:
        csrf = False

    school = SelectField(_l("School"), coerce=str, validators=[Optional()])
    audience = SelectField(_l("Audience"), coerce=str, validators=[Optional()])
