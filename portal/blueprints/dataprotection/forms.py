from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import InputRequired, Length, Optional

from portal.dataprotection.dates import UNITS
from portal.dataprotection.models import ALLEGATION_KINDS, HOLD_KINDS, OUTCOMES
from portal.dataprotection.schedule import N_, REVIEW_ROLES
from portal.formbase import FlaskForm
from portal.ids import form_id
from portal.widgets import LongSelect

DATE_HINT = _l("For example 2027-07-21.")

#: The units as the rule form offers them.
UNIT_WORDS = {"years": N_("Years"), "months": N_("Months"), "days": N_("Days")}


def _translated(table: dict[str, str]) -> list[tuple[str, Any]]:
    """(key, label) choices from a label table, each label translated when the form is shown."""
    return [(key, _l(label)) for key, label in table.items()]


class RuleForm(FlaskForm):
    period = IntegerField(_l("Period"), validators=[InputRequired(_l("Give a period, such as 6."))])
    unit = SelectField(_l("Unit"), choices=[(u, _l(UNIT_WORDS[u])) for u in UNITS])
    action = SelectField(_l("When the period has passed"))
    review_role = SelectField(_l("Who reviews"), choices=_translated(REVIEW_ROLES))
    submit = SubmitField(_l("Save this rule"))


class ButtonForm(FlaskForm):
    """A form that is only a button (CSRF protected)."""

    submit = SubmitField(_l("Confirm"))


class ReviewDecisionForm(FlaskForm):
    decision = RadioField(_l("Decision"),
                          choices=[("keep", _l("Keep it longer")), ("dispose", _l("Dispose of it now"))],
                          validators=[InputRequired(_l("Choose to keep the record or to dispose of it."))])
    keep_until = DateField(_l("Keep until"), validators=[Optional()])
    reason = TextAreaField(_l("Why"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Save the decision"))


class HoldForm(FlaskForm):
    kind = SelectField(_l("What to hold"), choices=_translated(HOLD_KINDS))
    target = StringField(_l("Which one"),
                         validators=[InputRequired(_l("Say which person or record.")), Length(max=120)])
    reason = TextAreaField(_l("Reason for the hold"), validators=[Optional(), Length(max=2000)])
    review_on = DateField(_l("Look at it again on"), validators=[Optional()])
    submit = SubmitField(_l("Put the hold on"))


class HoldReviewForm(FlaskForm):
    next_review_on = DateField(_l("Next review"), validators=[Optional()])
    submit = SubmitField(_l("Still needed"))


class HoldReleaseForm(FlaskForm):
    release_reason = TextAreaField(_l("Why it is no longer needed"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Release the hold"))


class LeaverForm(FlaskForm):
    #: The list holds the people the page's search found; any person of the school is checked in the view.
    person_id = SelectField(_l("Person"), coerce=form_id, widget=LongSelect(), validate_choice=False)
    left_on = DateField(_l("Left (or leaves) on"), validators=[InputRequired(_l("Give the date they left."))])
    destination = StringField(_l("Next school (pupils, if known)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Record"))


class SarForm(FlaskForm):
    #: As LeaverForm.person_id (create_request checks who may ask: the person, or a parent of their child).
    subject_id = SelectField(_l("Whose information"), coerce=form_id, widget=LongSelect(), validate_choice=False)
    requester_id = SelectField(_l("Asked by"), coerce=form_id, widget=LongSelect(), validate_choice=False)
    received_on = DateField(_l("Request received on"), validators=[InputRequired(_l("Give the date it was received."))])
    submit = SubmitField(_l("Record the request"))


class SarSafeguardingForm(FlaskForm):
    include = RadioField(_l("Safeguarding records"),
                         choices=[("no", _l("Leave them out")), ("yes", _l("Include them"))],
                         validators=[InputRequired()])
    submit = SubmitField(_l("Save"))


class SarReviewedForm(FlaskForm):
    redact = SelectMultipleField(_l("Redact these names in the released copy"), choices=[], validate_choice=True,
                                 option_widget=widgets.CheckboxInput(), widget=widgets.ListWidget(prefix_label=False))
    confirm = BooleanField(_l("I have read the names flagged for redaction and chosen which to redact"))
    submit = SubmitField(_l("Mark as reviewed"))


class SarReleaseForm(FlaskForm):
    method = StringField(_l("How the copy is given"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Release and download"))


class MarkForm(FlaskForm):
    kind = RadioField(_l("This is"), choices=_translated(ALLEGATION_KINDS),
                      validators=[InputRequired(_l("Choose an allegation or a low-level concern."))])
    reported_on = DateField(_l("Date of the allegation or concern"), validators=[Optional()])
    notes = TextAreaField(_l("Notes (low-level concerns: what was done)"), validators=[Optional(), Length(max=5000)])
    submit = SubmitField(_l("Mark it"))


class LadoForm(FlaskForm):
    consulted_on = DateField(_l("LADO consulted on"), validators=[InputRequired(_l("Give the date."))])
    reference = StringField(_l("LADO reference"), validators=[Optional(), Length(max=100)])
    advice = TextAreaField(_l("The LADO's advice"), validators=[Optional(), Length(max=5000)])
    submit = SubmitField(_l("Save the consultation"))


class OutcomeForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=_translated(OUTCOMES))
    outcome_on = DateField(_l("Decided on"), validators=[InputRequired(_l("Give the date."))])
    normal_pension_on = DateField(_l("The adult reaches normal pension age on"), validators=[Optional()])
    submit = SubmitField(_l("Save the outcome"))


class NotesForm(FlaskForm):
    notes = TextAreaField(_l("What was done"), validators=[Optional(), Length(max=5000)])
    submit = SubmitField(_l("Save"))


class TransferForm(FlaskForm):
    #: As LeaverForm.person_id (the pack itself refuses someone who is not a pupil).
    pupil_id = SelectField(_l("Pupil"), coerce=form_id, widget=LongSelect(), validate_choice=False)
    destination = StringField(_l("The school they are moving to"), validators=[Optional(), Length(max=200)])
    moved_on = DateField(_l("Moved (or starts there) on"), validators=[InputRequired(_l("Give the date of the move."))])
    submit = SubmitField(_l("Make the sealed pack"))


class ReceiptForm(FlaskForm):
    received_on = DateField(_l("Received on"), validators=[InputRequired(_l("Give the date."))])
    received_by = StringField(_l("Who confirmed receipt (name and role)"), validators=[Optional(), Length(max=200)])
    reference = StringField(_l("Their reference, if any"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Record the receipt"))


class PrivacyForm(FlaskForm):
    body = TextAreaField(_l("Privacy notice (Markdown)"), validators=[Optional()])
    submit = SubmitField(_l("Save the notice"))


class TrustHoldForm(HoldForm):
    school_id = SelectField(_l("School"), coerce=form_id)
