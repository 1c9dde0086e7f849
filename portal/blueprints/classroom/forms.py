from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from portal.classroom.operations import CODE_ALPHABET, CODE_LENGTH, code_is_well_formed
from portal.formbase import FlaskForm
from portal.ids import form_id


class StartForm(FlaskForm):
    class_id = SelectField(_l("Class"), coerce=form_id, validators=[InputRequired(_l("Choose one of your classes."))])
    submit = SubmitField(_l("Start a session"))


class JoinForm(FlaskForm):
    code = StringField(_l("Class code"), validators=[DataRequired(_l("Type the code from the board."))],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                  "maxlength": 12})
    submit = SubmitField(_l("Join"))

    @staticmethod
    def format_message() -> str:
        example = CODE_ALPHABET[:3] + CODE_ALPHABET[-3:]
        return _("The code has %(length)d letters and numbers, like %(example)s.", length=CODE_LENGTH, example=example)

    def validate_code(self, field) -> None:
        # Only the format is checked here; a well-formed code that opens nothing is told so by the view.
        if not code_is_well_formed(field.data):
            raise ValidationError(self.format_message())


class AgreeForm(FlaskForm):
    submit = SubmitField(_l("I agree"))


class ButtonForm(FlaskForm):
    """A form that is only a button (close, kiosk, remove, leave): CSRF is all it carries."""

    submit = SubmitField(_l("Go"))


class OwnAgreeForm(FlaskForm):
    agree = BooleanField(_l("I have read these rules and I agree to follow them"),
                         validators=[DataRequired(_l("Tick the box to show that you agree."))])
    submit = SubmitField(_l("I agree"))


class KioskForm(FlaskForm):
    """Hand this device round: the PIN the teacher will type to come back (optional)."""

    pin = PasswordField(_l("Choose a PIN to get back to this screen (optional)"), validators=[
        Optional(), Regexp(r"^[0-9]{4,8}$", message=_l("Use 4 to 8 digits, or leave it empty to use your password."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 8})


class KioskExitForm(FlaskForm):
    secret = PasswordField(_l("Teacher's PIN or password"), validators=[
        DataRequired(_l("Type the PIN chosen when the device was handed round, or the teacher's password.")),
        Length(max=200)], render_kw={"autocomplete": "off"})
