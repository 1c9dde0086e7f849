from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, SelectMultipleField, StringField, SubmitField, widgets
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal.schools.models import Phase


class NewSchoolForm(FlaskForm):
    name = StringField("School name", validators=[DataRequired(), Length(max=200)])
    slug = StringField("Short name for the address bar and exports",
                       validators=[DataRequired(), Length(max=60),
                                   Regexp(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
                                          message="Use lower-case letters, digits and hyphens, e.g. oak-lane.")])
    urn = StringField("URN (DfE number, six digits)", validators=[Optional(), Regexp(r"^\d{6}$",
                                                                                  message="A URN is six digits.")])
    phases = SelectMultipleField("Phases", choices=[(p.value, p.label) for p in Phase],
                                 option_widget=widgets.CheckboxInput(), widget=widgets.ListWidget(prefix_label=False))
    submit = SubmitField("Add the school")


class TrustRosterForm(FlaskForm):
    file = FileField("Roster CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
    submit = SubmitField("Import")


class TrustRecordsForm(FlaskForm):
    """Filter of the trust auditor's list (GET)."""

    class Meta:
        csrf = False

    school = SelectField("School", coerce=str, validators=[Optional()])
    audience = SelectField("Audience", coerce=str, validators=[Optional()])
