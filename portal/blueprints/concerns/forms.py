from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
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
from portal.formbase import FlaskForm
from portal.ids import form_id
from portal.validators import at_most
from portal.widgets import LongSelect

REQUIRED = _l("Please fill this in.")


def options(pairs) -> list[SelectChoice]:
    """``[(value, label), ...]`` as WTForms 3.3 choices (tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


class RaiseForm(FlaskForm):
    category = RadioField(_l("What is it about?"),
                          choices=options((c.value, _l(label)) for c, label in CATEGORY_LABELS.items()),
                          validators=[InputRequired(_l("Choose what the concern is about."))])
    child_id = SelectField(_l("Which child is it about?"), coerce=form_id, validate_choice=True)
    about = RadioField(
        _l("Who is it about?"),
        choices=options([(About.NOBODY.value, _l("Not about a particular person")),
                         (About.HEAD_TEACHER.value, _l("The Head Teacher")),
                         (About.STAFF.value, _l("Another member of staff"))]),
        default=About.NOBODY.value,
        validators=[InputRequired(_l("Choose who the concern is about."))],
    )
    about_person_id = SelectField(_l("Which member of staff?"), coerce=form_id, validate_choice=True)
    subject = StringField(_l("Subject"), validators=[DataRequired(REQUIRED), at_most(200)])
    description = TextAreaField(_l("Tell us what happened"), validators=[DataRequired(REQUIRED), at_most(10000)])
    attachments = MultipleFileField(_l("Photos or PDFs (optional)"))
    at_risk = RadioField(_l("Is a child at risk of harm?"), choices=options([("yes", _l("Yes")), ("no", _l("No"))]),
                         validators=[InputRequired(_l("Tell us whether a child is at risk of harm."))])
    submit = SubmitField(_l("Send privately to the school"))

    def validate_about_person_id(self, field) -> None:
        if self.about.data == About.STAFF.value and not field.data:
            raise ValidationError(_("Choose the member of staff the concern is about."))


class MessageForm(FlaskForm):
    body = TextAreaField(_l("Your message"), validators=[DataRequired(_l("Write a message first.")), at_most(10000)])
    submit = SubmitField(_l("Send"))


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Internal note (the parent never sees this)"),
                         validators=[DataRequired(_l("Write the note first.")), at_most(10000)])
    submit = SubmitField(_l("Add note"))


class EscalateForm(FlaskForm):
    body = TextAreaField(_l("Why are you not happy with the outcome? (optional)"), validators=[at_most(10000)])
    # A formal complaint is a step of the school's complaints procedure: a tap on the button alone is not enough.
    confirm = BooleanField(_l("I want the school to treat this as a formal complaint."),
                           validators=[DataRequired(_l("Tick the box to say you want to take this further."))])
    submit = SubmitField(_l("Make a formal complaint"))


class StatusForm(FlaskForm):
    status = SelectField(_l("New status"), validate_choice=True)
    submit = SubmitField(_l("Change status"))


class AssignForm(FlaskForm):
    assignee_id = SelectField(_l("Looked after by"), coerce=form_id, validate_choice=True)
    submit = SubmitField(_l("Assign"))


class TargetForm(FlaskForm):
    new_date = DateField(_l("New target date for a full response"), validators=[InputRequired(_l("Choose a date."))])
    reason = TextAreaField(_l("Reason (staff only)"), validators=[DataRequired(_l("Give a reason.")), Length(max=2000)])
    submit = SubmitField(_l("Change target date"))


class ClosureForm(FlaskForm):
    label = StringField(_l("What is it? (for example: Autumn half term)"), validators=[DataRequired(REQUIRED),
                                                                                   Length(max=100)])
    first_day = DateField(_l("First day closed"), validators=[InputRequired(_l("Choose a date."))])
    last_day = DateField(_l("Last day closed"), validators=[InputRequired(_l("Choose a date."))])
    submit = SubmitField(_l("Add closure"))

    def validate_last_day(self, field) -> None:
        if self.first_day.data and field.data and field.data < self.first_day.data:
            raise ValidationError(_("The last day must be on or after the first day."))
        if self.first_day.data and field.data and (field.data - self.first_day.data).days > 366:
            raise ValidationError(_("A closure can be at most a year long."))


class DeleteForm(FlaskForm):
    submit = SubmitField(_l("Remove"))


class ShareForm(FlaskForm):
    """Share a concern with the trust's safeguarding lead (``yes``) or stop sharing (``no``)."""

    share = HiddenField(validators=[DataRequired(), AnyOf(["yes", "no"])])


#: The longest child's name the inbox filter takes (a search box, not a stored field).
CHILD_SEARCH_MAX = 100


class InboxFilter(Form):
    """GET filters of the inbox (no CSRF: it changes nothing)."""

    status = SelectField(_l("Status"), validators=[Optional()], validate_choice=False, widget=LongSelect())
    category = SelectField(_l("Category"), validators=[Optional()], validate_choice=False, widget=LongSelect())
    child = StringField(_l("Child's name"), validators=[Optional(), at_most(CHILD_SEARCH_MAX)])
    school_class = SelectField(_l("Class"), validators=[Optional()], validate_choice=False, widget=LongSelect())
    assignee = SelectField(_l("Looked after by"), validators=[Optional()], validate_choice=False,
                           widget=LongSelect())
    overdue = BooleanField(_l("Overdue only"))
    at_risk = BooleanField(_l("Child at risk only"))
