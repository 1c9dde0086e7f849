from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, IntegerField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from portal.auth.passwords import check_password_rules
from portal.validators import email_address


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), email_address, Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()
    submit = SubmitField("Sign in")


class ForgotForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), email_address, Length(max=254)],
                       render_kw={"autocomplete": "email"})
    submit = SubmitField("Send me a link")


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        "Type the new password again", validators=[DataRequired(), EqualTo("password", "The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Save password")

    def validate_password(self, field) -> None:
        problem = check_password_rules(field.data or "")
        if problem:
            raise ValidationError(problem)


class ChooseSchoolForm(FlaskForm):
    school_id = IntegerField(validators=[DataRequired()])
    next = HiddenField()
