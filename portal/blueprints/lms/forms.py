from __future__ import annotations

from typing import cast

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import URL, DataRequired, Length, Optional, Regexp

from portal.formbase import FlaskForm
from portal.ids import form_id
from portal.templating import N_


def _url(label: str, required: bool = True):
    checks = [DataRequired(_l("%(label)s is required.", label=_l(label)))] if required else [Optional()]
    return StringField(
        _l(label),
        validators=[
            *checks,
            URL(require_tld=False, message=_l("Enter a full https:// address.")),
            Length(max=500),
        ],
    )


class RegistrationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the LMS a name.")), Length(max=100)])
    issuer = StringField(
        "Platform ID (issuer)", validators=[DataRequired(_l("The platform ID is required.")), Length(max=255)]
    )
    client_id = StringField(
        "Client ID", validators=[DataRequired(_l("The client ID is required.")), Length(max=255)]
    )
    deployment_ids = TextAreaField(
        "Deployment IDs", validators=[DataRequired(_l("Give at least one deployment ID.")), Length(max=2000)]
    )
    auth_login_url = _url(N_("Authentication request URL"))
    auth_token_url = _url(N_("Access token URL"))
    key_set_url = _url(N_("Public keyset URL"))
    submit = SubmitField(_l("Add the LMS"))

    def deployment_list(self) -> list[str]:
        text = cast(str, self.deployment_ids.data)  # called once the form is validated (DataRequired)
        return [d.strip() for d in text.replace(",", "\n").splitlines() if d.strip()]


class RemoveForm(FlaskForm):
    submit = SubmitField(_l("Remove"))


class OneRosterForm(FlaskForm):
    file = FileField(_l("OneRoster zip file"), validators=[FileRequired(_l("Choose a zip file to upload."))])
    submit = SubmitField(_l("Import"))


class CourseForm(FlaskForm):
    class_id = SelectField(_l("Class for this course"), coerce=form_id)
    submit = SubmitField(_l("Save and sync the class list"))


class RegistrationSettingsForm(FlaskForm):
    approve_mentor_links = BooleanField(_l("Parent links from this LMS wait for the school's approval"))
    role_parameter = StringField(
        _l("Role parameter name"),
        validators=[Optional(), Length(max=50),
                    Regexp(r"^[a-z0-9_]+$", message=_l("Use lower-case letters, digits and _ only "
                                                    "(Moodle sends custom parameter names in lower case)."))],
    )
    role_map = TextAreaField(_l("What each value means"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Save settings"))


class DecisionForm(FlaskForm):
    approve = SubmitField(_l("Approve"))
    decline = SubmitField(_l("Decline"))


class MergeSettingForm(FlaskForm):
    roster_merge_same_email = BooleanField(
        "A member of staff and a parent with the same email become one person with both roles")
    submit = SubmitField(_l("Save"))
