from __future__ import annotations

from flask_wtf import FlaskForm
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
from portal.dataprotection.schedule import REVIEW_ROLES

DATE_HINT = "For example 2027-07-21."


class RuleForm(FlaskForm):
    period = IntegerField("Period", validators=[InputRequired("Give a period, such as 6.")])
    unit = SelectField("Unit", choices=[(u, u.capitalize()) for u in UNITS])
    action = SelectField("When the period has passed")
    review_role = SelectField("Who reviews", choices=list(REVIEW_ROLES.items()))
    submit = SubmitField("Save this rule")


class ButtonForm(FlaskForm):
    """A form that is only a button (CSRF protected)."""

    submit = SubmitField("Confirm")


class ReviewDecisionForm(FlaskForm):
    decision = RadioField("Decision", choices=[("keep", "Keep it longer"), ("dispose", "Dispose of it now")],
                          validators=[InputRequired("Choose to keep the record or to dispose of it.")])
    keep_until = DateField("Keep until", validators=[Optional()])
    reason = TextAreaField("Why", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Save the decision")


class HoldForm(FlaskForm):
    kind = SelectField("What to hold", choices=list(HOLD_KINDS.items()))
    target = StringField("Which one", validators=[InputRequired("Say which person or record."), Length(max=120)])
    reason = TextAreaField("Reason for the hold", validators=[Optional(), Length(max=2000)])
    review_on = DateField("Look at it again on", validators=[Optional()])
    submit = SubmitField("Put the hold on")


class HoldReviewForm(FlaskForm):
    next_review_on = DateField("Next review", validators=[Optional()])
    submit = SubmitField("Still needed")


class HoldReleaseForm(FlaskForm):
    release_reason = TextAreaField("Why it is no longer needed", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Release the hold")


class LeaverForm(FlaskForm):
    person_id = SelectField("Person", coerce=int)
    left_on = DateField("Left (or leaves) on", validators=[InputRequired("Give the date they left.")])
    destination = StringField("Next school (pupils, if known)", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Record")


class SarForm(FlaskForm):
    subject_id = SelectField("Whose information", coerce=int)
    requester_id = SelectField("Asked by", coerce=int)
    received_on = DateField("Request received on", validators=[InputRequired("Give the date it was received.")])
    submit = SubmitField("Record the request")


class SarSafeguardingForm(FlaskForm):
    include = RadioField("Safeguarding records", choices=[("no", "Leave them out"), ("yes", "Include them")],
                         validators=[InputRequired()])
    submit = SubmitField("Save")


class SarReviewedForm(FlaskForm):
    redact = SelectMultipleField("Redact these names in the released copy", choices=[], validate_choice=True,
                                 option_widget=widgets.CheckboxInput(), widget=widgets.ListWidget(prefix_label=False))
    confirm = BooleanField("I have read the names flagged for redaction and chosen which to redact")
    submit = SubmitField("Mark as reviewed")


class SarReleaseForm(FlaskForm):
    method = StringField("How the copy is given", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Release and download")


class MarkForm(FlaskForm):
    kind = RadioField("This is", choices=list(ALLEGATION_KINDS.items()),
                      validators=[InputRequired("Choose an allegation or a low-level concern.")])
    reported_on = DateField("Date of the allegation or concern", validators=[Optional()])
    notes = TextAreaField("Notes (low-level concerns: what was done)", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Mark it")


class LadoForm(FlaskForm):
    consulted_on = DateField("LADO consulted on", validators=[InputRequired("Give the date.")])
    reference = StringField("LADO reference", validators=[Optional(), Length(max=100)])
    advice = TextAreaField("The LADO's advice", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save the consultation")


class OutcomeForm(FlaskForm):
    outcome = SelectField("Outcome", choices=list(OUTCOMES.items()))
    outcome_on = DateField("Decided on", validators=[InputRequired("Give the date.")])
    normal_pension_on = DateField("The adult reaches normal pension age on", validators=[Optional()])
    submit = SubmitField("Save the outcome")


class NotesForm(FlaskForm):
    notes = TextAreaField("What was done", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save")


class TransferForm(FlaskForm):
    pupil_id = SelectField("Pupil", coerce=int)
    destination = StringField("The school they are moving to", validators=[Optional(), Length(max=200)])
    moved_on = DateField("Moved (or starts there) on", validators=[InputRequired("Give the date of the move.")])
    submit = SubmitField("Make the sealed pack")


class ReceiptForm(FlaskForm):
    received_on = DateField("Received on", validators=[InputRequired("Give the date.")])
    received_by = StringField("Who confirmed receipt (name and role)", validators=[Optional(), Length(max=200)])
    reference = StringField("Their reference, if any", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Record the receipt")


class PrivacyForm(FlaskForm):
    body = TextAreaField("Privacy notice (Markdown)", validators=[Optional()])
    submit = SubmitField("Save the notice")


class TrustHoldForm(HoldForm):
    school_id = SelectField("School", coerce=int)
