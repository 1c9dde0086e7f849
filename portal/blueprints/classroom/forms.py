from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from portal.classroom.operations import CODE_ALPHABET, CODE_LENGTH, code_is_well_formed


class StartForm(FlaskForm):
    class_id = SelectField("Class", coerce=int, validators=[InputRequired("Choose one of your classes.")])
    submit = SubmitField("Start a session")


class JoinForm(FlaskForm):
    code = StringField("Class code", validators=[DataRequired("Type the code from the board.")],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                  "maxlength": 12})
    submit = SubmitField("Join")

    @staticmethod
    def format_message() -> str:
        return f"The code has {CODE_LENGTH} letters and numbers, like {CODE_ALPHABET[:3]}{CODE_ALPHABET[-3:]}."

    def validate_code(self, field) -> None:
        # Only the format is checked here; a well-formed code that opens nothing is told so by the view.
        if not code_is_well_formed(field.data):
            raise ValidationError(self.format_message())


class AgreeForm(FlaskForm):
    submit = SubmitField("I agree")


class ButtonForm(FlaskForm):
    """A form that is only a button (close, kiosk, remove, leave): CSRF is all it carries."""

    submit = SubmitField("Go")


class OwnAgreeForm(FlaskForm):
    agree = BooleanField("I have read these rules and I agree to follow them",
                         validators=[DataRequired("Tick the box to show that you agree.")])
    submit = SubmitField("I agree")


class KioskForm(FlaskForm):
    """Hand this device round: the PIN the teacher will type to come back (optional)."""

    pin = PasswordField("Choose a PIN to get back to this screen (optional)", validators=[
        Optional(), Regexp(r"^[0-9]{4,8}$", message="Use 4 to 8 digits, or leave it empty to use your password.")],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 8})


class KioskExitForm(FlaskForm):
    secret = PasswordField("Teacher's PIN or password", validators=[
        DataRequired("Type the PIN chosen when the device was handed round, or the teacher's password."),
        Length(max=200)], render_kw={"autocomplete": "off"})
