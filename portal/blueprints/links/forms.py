from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.links.models import RELATIONSHIPS
from portal.validators import add_error, choice_values

_strip = [lambda s: s.strip() if isinstance(s, str) else s]


def _note_needed_for_other(form, field) -> None:
    if form.relationship.data == "other" and not (field.data or "").strip():
        raise ValidationError("Say what the relationship is.")


class _LinkFields(FlaskForm):
    relationship = SelectField("Relationship", choices={"": "Choose…", **RELATIONSHIPS},
                               validators=[InputRequired("Choose the relationship.")])
    note = TextAreaField("Note (optional)", filters=_strip,
                         validators=[Length(max=500, message="Keep the note under 500 characters."),
                                     _note_needed_for_other])

    def validate_relationship(self, field) -> None:
        if field.data not in RELATIONSHIPS:
            raise ValidationError("Choose the relationship.")


class SearchDeclareForm(_LinkFields):
    """For school staff: the pupil is chosen from a search (name and class only)."""

    q = HiddenField()
    pupil_id = RadioField("Pupil", coerce=int, validate_choice=False,
                          validators=[InputRequired("Search for the pupil and choose them.")])
    submit = SubmitField("Declare this link")

    def validate_pupil_id(self, field) -> None:
        if field.data not in {value for value, _label in field.choices}:
            raise ValidationError("Search for the pupil and choose them.")


class TypedDeclareForm(_LinkFields):
    """For governors, volunteers and contractors: they type the name and class."""

    pupil_name = StringField("Pupil's full name", filters=_strip, validators=[
        DataRequired("Enter the pupil's name."), Length(min=2, max=200, message="Enter between 2 and 200 characters.")])
    pupil_class = StringField("Pupil's class or year group", filters=_strip, validators=[
        DataRequired("Enter the pupil's class or year group."),
        Length(max=100, message="Keep it under 100 characters.")])
    submit = SubmitField("Declare this link")


class ConfirmForm(FlaskForm):
    submit = SubmitField("Confirm")


class RelativeForm(FlaskForm):
    """A parent: is an adult who works at the school your (or your child's) relative?"""

    answer = RadioField("Is an adult who works at or for the school related to you or your child?",
                        choices={"no": "No", "yes": "Yes"},
                        validators=[InputRequired("Choose yes or no.")])
    pupil_id = SelectField("Which child", coerce=int, default=0, validate_choice=False)
    adult_id = SelectField("The adult", coerce=int, default=0, validate_choice=False)
    adult_name = StringField("Or type their name if they are not in the list", filters=_strip,
                             validators=[Length(max=200, message="Keep the name under 200 characters.")])
    relationship = SelectField("Relationship to your child", choices={"": "Choose…", **RELATIONSHIPS},
                               validators=[Optional()])
    note = TextAreaField("Note (optional)", filters=_strip,
                         validators=[Length(max=500, message="Keep the note under 500 characters.")])
    submit = SubmitField("Send my answer")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok or self.answer.data != "yes":
            return ok
        if self.pupil_id.data not in choice_values(self.pupil_id):
            add_error(self.pupil_id, "Choose which child.")
            ok = False
        if not self.adult_id.data and not self.adult_name.data:
            add_error(self.adult_id, "Choose the adult, or type their name below.")
            ok = False
        if self.adult_id.data and self.adult_id.data not in choice_values(self.adult_id):
            add_error(self.adult_id, "Choose the adult from the list.")
            ok = False
        if self.adult_id.data and self.adult_name.data:
            add_error(self.adult_name, "Either choose the adult or type a name, not both.")
            ok = False
        if self.adult_name.data and len(self.adult_name.data) < 2:
            add_error(self.adult_name, "Enter at least 2 characters.")
            ok = False
        if self.relationship.data not in RELATIONSHIPS:
            add_error(self.relationship, "Choose the relationship.")
            ok = False
        elif self.relationship.data == "other" and not self.note.data:
            add_error(self.note, "Say what the relationship is.")
            ok = False
        return ok


class DecisionForm(FlaskForm):
    decision = RadioField("Decision", choices={"approve": "Approve", "decline": "Decline"},
                          validators=[InputRequired("Choose approve or decline.")])
    pupil_id = SelectField("Match the pupil", coerce=int, default=0, validate_choice=False)
    adult_id = SelectField("Match the adult", coerce=int, default=0, validate_choice=False)
    reason = TextAreaField("Reason (shown to the person who declared it)", filters=_strip, validators=[
        Length(max=500, message="Keep the reason under 500 characters.")])
    submit = SubmitField("Record decision")

    def validate_reason(self, field) -> None:
        if self.decision.data == "decline" and not field.data:
            raise ValidationError("Give a reason when you decline.")
