from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, ValidationError

from portal.classroom.operations import CODE_ALPHABET, CODE_LENGTH, normalise_code


class StartForm(FlaskForm):
    class_id = SelectField("Class", coerce=int, validators=[InputRequired("Choose one of your classes.")])
    submit = SubmitField("Start a session")


class JoinForm(FlaskForm):
    code = StringField("Class code", validators=[DataRequired("Type the code from the board.")],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                  "maxlength": 12})
    submit = SubmitField("Join")

    def validate_code(self, field) -> None:
        code = normalise_code(field.data)
        if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
            raise ValidationError(f"The code has {CODE_LENGTH} letters and numbers, like {CODE_ALPHABET[:3]}{CODE_ALPHABET[-3:]}.")


class AgreeForm(FlaskForm):
    submit = SubmitField("I agree")


class ButtonForm(FlaskForm):
    """A form that is only a button (close, kiosk, remove, leave): CSRF is all it carries."""

    submit = SubmitField("Go")


class OwnAgreeForm(FlaskForm):
    agree = BooleanField("I have read these rules and I agree to follow them",
                         validators=[DataRequired("Tick the box to show that you agree.")])
    submit = SubmitField("I agree")
