from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SubmitField
from wtforms.validators import DataRequired


class GrantForm(FlaskForm):
    person_id = SelectField(_l("Member of staff"), coerce=int, validators=[DataRequired()])
    capability = SelectField(_l("Capability"), validators=[DataRequired()])
    submit = SubmitField(_l("Delegate"))


class RevokeForm(FlaskForm):
    submit = SubmitField(_l("Withdraw"))
