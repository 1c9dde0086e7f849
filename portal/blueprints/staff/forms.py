from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, SubmitField
from wtforms.validators import DataRequired

from portal.formbase import FlaskForm
from portal.ids import form_id


class GrantForm(FlaskForm):
    person_id = SelectField(_l("Member of staff"), coerce=form_id, validators=[DataRequired()])
    capability = SelectField(_l("Capability"), validators=[DataRequired()])
    submit = SubmitField(_l("Delegate"))


class RevokeForm(FlaskForm):
    submit = SubmitField(_l("Withdraw"))
