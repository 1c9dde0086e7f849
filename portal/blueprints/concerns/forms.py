from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    Form,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks it
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, ValidationError

from portal.concerns.models import CATEGORY_LABELS, About

REQUIRED = "Please fill this in."


def options(pairs) -> list[SelectChoice]:
    """``[(value, label), ...]`` as WTForms 3.3 choices (tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


class RaiseForm(FlaskForm):
    category = RadioField("What is it about?",
                          choices=options((c.value, label) for c, label in CATEGORY_LABELS.items()),
                          validators=[InputRequired("Choose what the concern is about.")])
    child_id = SelectField("Which child is it about?", coerce=int, validate_choice=True)
    about = RadioField(
        "Who is it about?",
        choices=options([(About.NOBODY.value, "Not about a particular person"),
                         (About.HEAD_TEACHER.value, "The Head Teacher"),
                         (About.STAFF.value, "Another member of staff")]),
        default=About.NOBODY.value,
        validators=[InputRequired("Choose who the concern is about.")],
    )
    about_person_id = SelectField("Which member of staff?", coerce=int, validate_choice=True)
    subject = StringField("Subject", validators=[DataRequired(REQUIRED), Length(max=200)])
    description = TextAreaField("Tell us what happened", validators=[DataRequired(REQUIRED), Length(max=10000)])
    attachments = MultipleFileField("Photos or PDFs (optional)")
    at_risk = RadioField("Is a child at risk of harm?", choices=options([("yes", "Yes"), ("no", "No")]),
                         validators=[InputRequired("Tell us whether a child is at risk of harm.")])
    submit = SubmitField("Send privately to the school")

    def validate_about_person_id(self, field) -> None:
        if self.about.data == About.STAFF.value and not field.data:
            raise ValidationError("Choose the member of staff the concern is about.")


class MessageForm(FlaskForm):
    body = TextAreaField("Your message", validators=[DataRequired("Write a message first."), Length(max=10000)])
    submit = SubmitField("Send")


class NoteForm(FlaskForm):
    body = TextAreaField("Internal note (the parent never sees this)",
                         validators=[DataRequired("Write the note first."), Length(max=10000)])
    submit = SubmitField("Add note")


class EscalateForm(FlaskForm):
    body = TextAreaField("Why are you not happy with the outcome? (optional)", validators=[Length(max=10000)])
    submit = SubmitField("Make a formal complaint")


class StatusForm(FlaskForm):
    status = SelectField("New status", validate_choice=True)
    submit = SubmitField("Change status")


class AssignForm(FlaskForm):
    assignee_id = SelectField("Looked after by", coerce=int, validate_choice=True)
    submit = SubmitField("Assign")


class TargetForm(FlaskForm):
    new_date = DateField("New target date for a full response", validators=[InputRequired("Choose a date.")])
    reason = TextAreaField("Reason (staff only)", validators=[DataRequired("Give a reason."), Length(max=2000)])
    submit = SubmitField("Change target date")


class ClosureForm(FlaskForm):
    label = StringField("What is it? (for example: Autumn half term)", validators=[DataRequired(REQUIRED),
                                                                                   Length(max=100)])
    first_day = DateField("First day closed", validators=[InputRequired("Choose a date.")])
    last_day = DateField("Last day closed", validators=[InputRequired("Choose a date.")])
    submit = SubmitField("Add closure")

    def validate_last_day(self, field) -> None:
        if self.first_day.data and field.data and field.data < self.first_day.data:
            raise ValidationError("The last day must be on or after the first day.")
        if self.first_day.data and field.data and (field.data - self.first_day.data).days > 366:
            raise ValidationError("A closure can be at most a year long.")


class DeleteForm(FlaskForm):
    submit = SubmitField("Remove")


class ShareForm(FlaskForm):
    """Share a concern with the trust's safeguarding lead (``yes``) or stop sharing (``no``)."""

    share = HiddenField(validators=[DataRequired(), AnyOf(["yes", "no"])])


class InboxFilter(Form):
    """GET filters of the inbox (no CSRF: it changes nothing)."""

    status = SelectField("Status", validators=[Optional()], validate_choice=False)
    category = SelectField("Category", validators=[Optional()], validate_choice=False)
    child = SelectField("Child", validators=[Optional()], validate_choice=False)
    school_class = SelectField("Class", validators=[Optional()], validate_choice=False)
    assignee = SelectField("Looked after by", validators=[Optional()], validate_choice=False)
    overdue = BooleanField("Overdue only")
