from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.formbase import FlaskForm
from portal.ids import form_id
from portal.links.models import RELATIONSHIPS
from portal.validators import add_error, choice_values

#: Direction overrides and control characters (not line breaks or tabs): they would make a note or name show
#: differently from what it is, on the register and in its CSV.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_strip = [lambda s: _HIDDEN.sub("", s).strip() if isinstance(s, str) else s]


def _note_needed_for_other(form, field) -> None:
    if form.relationship.data == "other" and not (field.data or "").strip():
        raise ValidationError(_l("Say what the relationship is."))


def _relationship_choices() -> list:
    return [("", _l("Choose…"))] + [(k, _l(v)) for k, v in RELATIONSHIPS.items()]


class _LinkFields(FlaskForm):
    relationship = SelectField(_l("Relationship"), choices=_relationship_choices(),
                               validators=[InputRequired(_l("Choose the relationship."))])
    note = TextAreaField(_l("Note (if the relationship is not in the list, say what it is here)"), filters=_strip,
                         validators=[Length(max=500, message=_l("Keep the note under 500 characters.")),
                                     _note_needed_for_other])

    def validate_relationship(self, field) -> None:
        if field.data not in RELATIONSHIPS:
            raise ValidationError(_l("Choose the relationship."))


class SearchDeclareForm(_LinkFields):
    """For school staff: the pupil is chosen from a search (name and class only)."""

    q = HiddenField(id="declare-q")  # the search box above is "q"
    pupil_id = RadioField(_l("Pupil"), coerce=form_id, validate_choice=False,
                          validators=[InputRequired(_l("Search for the pupil and choose them."))])
    submit = SubmitField(_l("Declare this link"))

    def validate_pupil_id(self, field) -> None:
        if field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Search for the pupil and choose them."))


class TypedDeclareForm(_LinkFields):
    """For governors, volunteers and contractors: they type the name and class."""

    pupil_name = StringField(_l("Pupil's full name"), filters=_strip, validators=[
        DataRequired(_l("Enter the pupil's name.")),
        Length(min=2, max=200, message=_l("Enter between 2 and 200 characters."))])
    pupil_class = StringField(_l("Pupil's class or year group"), filters=_strip, validators=[
        DataRequired(_l("Enter the pupil's class or year group.")),
        Length(max=100, message=_l("Keep it under 100 characters."))])
    submit = SubmitField(_l("Declare this link"))


class ConfirmForm(FlaskForm):
    submit = SubmitField(_l("Confirm"))


class RelativeForm(FlaskForm):
    """A parent: is an adult who works at the school your (or your child's) relative?"""

    answer = RadioField(_l("Is an adult who works at or for the school related to you or your child?"),
                        choices=[("no", _l("No")), ("yes", _l("Yes"))],
                        validators=[InputRequired(_l("Choose yes or no."))])
    pupil_id = SelectField(_l("Which child"), coerce=form_id, default=0, validate_choice=False)
    adult_id = SelectField(_l("The adult"), coerce=form_id, default=0, validate_choice=False)
    adult_name = StringField(_l("Or type their name if they are not in the list"), filters=_strip,
                             validators=[Length(max=200, message=_l("Keep the name under 200 characters."))])
    relationship = SelectField(_l("Relationship to your child"), choices=_relationship_choices(),
                               validators=[Optional()])
    note = TextAreaField(_l("Note (if the relationship is not in the list, say what it is here)"), filters=_strip,
                         validators=[Length(max=500, message=_l("Keep the note under 500 characters."))])
    submit = SubmitField(_l("Send my answer"))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok or self.answer.data != "yes":
            return ok
        if self.pupil_id.data not in choice_values(self.pupil_id):
            add_error(self.pupil_id, _("Choose which child."))
            ok = False
        if not self.adult_id.data and not self.adult_name.data:
            add_error(self.adult_id, _("Choose the adult, or type their name below."))
            ok = False
        if self.adult_id.data and self.adult_id.data not in choice_values(self.adult_id):
            add_error(self.adult_id, _("Choose the adult from the list."))
            ok = False
        if self.adult_id.data and self.adult_name.data:
            add_error(self.adult_name, _("Either choose the adult or type a name, not both."))
            ok = False
        if self.adult_name.data and len(self.adult_name.data) < 2:
            add_error(self.adult_name, _("Enter at least 2 characters."))
            ok = False
        if self.relationship.data not in RELATIONSHIPS:
            add_error(self.relationship, _("Choose the relationship."))
            ok = False
        elif self.relationship.data == "other" and not self.note.data:
            add_error(self.note, _("Say what the relationship is."))
            ok = False
        return ok


class DecisionForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=[("approve", _l("Approve")), ("decline", _l("Decline"))],
                          validators=[InputRequired(_l("Choose approve or decline."))])
    pupil_id = SelectField(_l("Match the pupil"), coerce=form_id, default=0, validate_choice=False)
    adult_id = SelectField(_l("Match the adult"), coerce=form_id, default=0, validate_choice=False)
    reason = TextAreaField(_l("Reason (shown to the person who declared it)"), filters=_strip, validators=[
        Length(max=500, message=_l("Keep the reason under 500 characters."))])
    submit = SubmitField(_l("Record decision"))

    def validate_reason(self, field) -> None:
        if self.decision.data == "decline" and not field.data:
            raise ValidationError(_l("Give a reason when you decline."))
