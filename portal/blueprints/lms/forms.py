from __future__ import annotations

from typing import cast

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import URL, DataRequired, Length, Optional, Regexp


def _url(label: str, required: bool = True):
    checks = [DataRequired(f"{label} is required.")] if required else [Optional()]
    return StringField(
        label,
        validators=[
            *checks,
            URL(require_tld=False, message="Enter a full https:// address."),
            Length(max=500),
        ],
    )


class RegistrationForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the LMS a name."), Length(max=100)])
    issuer = StringField(
        "Platform ID (issuer)", validators=[DataRequired("The platform ID is required."), Length(max=255)]
    )
    client_id = StringField(
        "Client ID", validators=[DataRequired("The client ID is required."), Length(max=255)]
    )
    deployment_ids = TextAreaField(
        "Deployment IDs", validators=[DataRequired("Give at least one deployment ID."), Length(max=2000)]
    )
    auth_login_url = _url("Authentication request URL")
    auth_token_url = _url("Access token URL")
    key_set_url = _url("Public keyset URL")
    submit = SubmitField("Add the LMS")

    def deployment_list(self) -> list[str]:
        text = cast(str, self.deployment_ids.data)  # called once the form is validated (DataRequired)
        return [d.strip() for d in text.replace(",", "\n").splitlines() if d.strip()]


class RemoveForm(FlaskForm):
    submit = SubmitField("Remove")


class OneRosterForm(FlaskForm):
    file = FileField("OneRoster zip file", validators=[FileRequired("Choose a zip file to upload.")])
    submit = SubmitField("Import")


class CourseForm(FlaskForm):
    class_id = SelectField("Class for this course", coerce=int)
    submit = SubmitField("Save and sync the class list")


class RegistrationSettingsForm(FlaskForm):
    approve_mentor_links = BooleanField("Parent links from this LMS wait for the school's approval")
    role_parameter = StringField(
        "Role parameter name",
        validators=[Optional(), Length(max=50),
                    Regexp(r"^[a-z0-9_]+$", message="Use lower-case letters, digits and _ only "
                                                    "(Moodle sends custom parameter names in lower case).")],
    )
    role_map = TextAreaField("What each value means", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Save settings")


class DecisionForm(FlaskForm):
    approve = SubmitField("Approve")
    decline = SubmitField("Decline")


class MergeSettingForm(FlaskForm):
    roster_merge_same_email = BooleanField(
        "A member of staff and a parent with the same email become one person with both roles")
    submit = SubmitField("Save")
