from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, SubmitField
from wtforms.validators import DataRequired


class GrantForm(FlaskForm):
    person_id = SelectField("Member of staff", coerce=int, validators=[DataRequired()])
    capability = SelectField("Capability", validators=[DataRequired()])
    submit = SubmitField("Delegate")


class RevokeForm(FlaskForm):
    submit = SubmitField("Withdraw")
