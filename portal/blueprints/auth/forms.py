from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from portal.auth.passwords import check_password_rules
from portal.formbase import FlaskForm
from portal.validators import ENTER_EMAIL, ENTER_PASSWORD, ENTER_PASSWORD_AGAIN, at_most, email_address


class LoginForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(ENTER_EMAIL), email_address, at_most(254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(ENTER_PASSWORD), at_most(200)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class ForgotForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(ENTER_EMAIL), email_address, at_most(254)],
                       render_kw={"autocomplete": "email"})
    submit = SubmitField(_l("Send me a link"))


class SetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(ENTER_PASSWORD), at_most(200)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        _l("Type the new password again"),
        validators=[DataRequired(ENTER_PASSWORD_AGAIN), EqualTo("password", _l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Save password"))

    def validate_password(self, field) -> None:
        problem = check_password_rules(field.data or "")
        if problem:
            raise ValidationError(problem)


class ChooseSchoolForm(FlaskForm):
    school_id = IntegerField(validators=[DataRequired()])
    next = HiddenField()


class SecondStepForm(FlaskForm):
    """The second step of signing in: a code from the authenticator app, or a recovery code."""

    code = StringField(_l("Code"),
                       validators=[DataRequired(_l("Type the code.")), Length(max=40, message=_l("That is too long."))],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "off",
                                  "spellcheck": "false"})
    submit = SubmitField(_l("Continue"))


class TotpSetupForm(FlaskForm):
    code = StringField(_l("The 6-digit code your app shows now"), validators=[
        DataRequired(_l("Type the code your app shows.")), Length(max=12, message=_l("The code has 6 digits."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    submit = SubmitField(_l("Turn on"))

    def validate_code(self, field) -> None:
        digits = "".join(ch for ch in (field.data or "") if ch.isdigit())
        if len(digits) != 6 or not set(field.data or "") <= set("0123456789 -"):
            raise ValidationError(_("The code has 6 digits."))


class PasswordCheckForm(FlaskForm):
    """Turning a safeguard off needs the password again (a borrowed, signed-in browser is not enough)."""

    password = PasswordField(_l("Your password"), validators=[DataRequired(_l("Type your password.")), at_most(200)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Remove"))


class PasskeyNameForm(FlaskForm):
    name = StringField(_l("A name for this passkey"), filters=[lambda s: s.strip() if isinstance(s, str) else s],
                       validators=[DataRequired(_l("Give the passkey a name, like “Work laptop”.")),
                                   Length(max=60, message=_l("Keep the name under 60 characters."))])
    credential = HiddenField()
    submit = SubmitField(_l("Add a passkey"))

    def validate_name(self, field) -> None:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in field.data or ""):
            raise ValidationError(_("Use letters, digits and spaces."))


class ButtonForm(FlaskForm):
    """A button that changes something (CSRF only)."""

    submit = SubmitField(_l("Go"))


class LanguageForm(FlaskForm):
    """The language picker (header, and the Security page)."""

    language = SelectField(_l("Language"), validators=[DataRequired()])
    next = HiddenField()
    submit = SubmitField(_l("Change language"))

    def __init__(self, *args, **kwargs) -> None:
        from portal.i18n import choices

        super().__init__(*args, **kwargs)
        self.language.choices = choices()
