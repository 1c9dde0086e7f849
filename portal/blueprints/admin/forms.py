from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, SubmitField, widgets
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.formbase import FlaskForm
from portal.ids import form_id


class RosterForm(FlaskForm):
    file = FileField(_l("Roster CSV file"), validators=[FileRequired(_l("Choose a CSV file to upload."))])
    submit = SubmitField(_l("Import"))


class InviteForm(FlaskForm):
    submit = SubmitField(_l("Send invitation"))


class SettingsForm(FlaskForm):
    name = StringField(_l("School name"), validators=[DataRequired(), Length(max=200)])
    head_teacher_id = SelectField(_l("Head Teacher"), coerce=form_id, validators=[DataRequired()])
    dsl_id = SelectField(_l("Designated Safeguarding Lead (DSL)"), coerce=form_id, validators=[DataRequired()])
    chair_of_governors_id = SelectField(_l("Chair of governors"), coerce=form_id, validators=[Optional()])
    academic_year_start_month = IntegerField(_l("Academic year starts: month (1-12)"),
                                             validators=[InputRequired(), NumberRange(1, 12)])
    academic_year_start_day = IntegerField(_l("Academic year starts: day (1-28)"),
                                           validators=[InputRequired(), NumberRange(1, 28)])
    official_channel = StringField(_l("Official channel for messages about children"),
                                   validators=[DataRequired(), Length(max=300)])
    helpline_contact = StringField(_l("Professionals' online-safety helpline contact details"),
                                   validators=[Optional(), Length(max=300)])
    deputy_dsl_ids = SelectMultipleField(_l("Deputy DSLs"), coerce=form_id, validators=[Optional()],
                                         option_widget=widgets.CheckboxInput(),
                                         widget=widgets.ListWidget(prefix_label=False))
    reminder_first_days = IntegerField(_l("First reminder after (school days)"),
                                       validators=[Optional(), NumberRange(1, 60)])
    reminder_every_days = IntegerField(_l("Then every (school days)"), validators=[Optional(), NumberRange(1, 60)])
    reminder_max = IntegerField(_l("At most (reminders in all; 0 for none)"),
                                validators=[Optional(), NumberRange(0, 20)])
    default_language = SelectField(_l("Language of the portal for people who have not chosen one"),
                                   validators=[Optional()])
    submit = SubmitField(_l("Save settings"))

    def __init__(self, *args, **kwargs) -> None:
        from portal.i18n import LANGUAGES

        super().__init__(*args, **kwargs)
        self.default_language.choices = [("", _("The browser's language (English if none is shipped)"))] + [
            (code, f"{lang.english} ({lang.name})") for code, lang in LANGUAGES.items()]


class RetryJobForm(FlaskForm):
    """Queue a failed background job again (a button; CSRF only)."""

    submit = SubmitField(_l("Try again"))
