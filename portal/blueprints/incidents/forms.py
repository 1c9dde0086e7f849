from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.formbase import FlaskForm
from portal.ids import form_id
from portal.incidents.models import AUTHOR_TYPES, CONTACT_KINDS, DELETION_OUTCOMES, DIRECTIONS
from portal.validators import add_error, choice_values

_strip = [lambda s: s.strip() if isinstance(s, str) else s]
#: Oldest date accepted on an incident form.
EARLIEST = dt.date(2000, 1, 1)


def not_in_future(form, field) -> None:
    if field.data is None:
        return
    if field.data > dt.date.today():
        raise ValidationError(_("The date cannot be in the future."))
    if field.data < EARLIEST:
        raise ValidationError(_("Enter a date after 2000."))


def _date(label: str, required: bool = False) -> DateField:
    first = InputRequired(_l("Enter the date.")) if required else Optional()
    return DateField(label, validators=[first, not_in_future], format="%Y-%m-%d")


class ContactIncidentForm(FlaskForm):
    q = HiddenField(id="contact-q")  # the search box above is "q"
    pupil_id = RadioField(_l("Pupil"), coerce=form_id, validate_choice=False,
                          validators=[InputRequired(_l("Search for the pupil and choose them."))])
    adult_id = SelectField(_l("Adult of the school"), coerce=form_id, default=0, validate_choice=False)
    direction = RadioField(_l("Who started the contact?"), choices=[(k, _l(v)) for k, v in DIRECTIONS.items()],
                           validators=[InputRequired(_l("Choose who started the contact."))])
    kind = SelectField(_l("Kind of contact"),
                       choices=[("", _l("Choose…"))] + [(k, _l(v)) for k, v in CONTACT_KINDS.items()],
                       validators=[InputRequired(_l("Choose the kind of contact."))])
    platform = StringField(_l("Platform or app (if online)"), filters=_strip,
                           validators=[Length(max=100, message=_l("Keep it under 100 characters."))])
    occurred_on = _date(_l("Date it happened"), required=True)
    summary = TextAreaField(_l("What happened"), filters=_strip, validators=[
        DataRequired(_l("Say briefly what happened.")),
        Length(min=10, max=2000, message=_l("Write between 10 and 2,000 characters."))])
    submit = SubmitField(_l("Record incident"))

    def validate_pupil_id(self, field) -> None:
        if field.data not in {v for v, _l in field.choices}:
            raise ValidationError(_("Search for the pupil and choose them."))

    def validate_adult_id(self, field) -> None:
        if not field.data or field.data not in choice_values(field):
            raise ValidationError(_("Choose the adult."))

    def validate_kind(self, field) -> None:
        if field.data not in CONTACT_KINDS:
            raise ValidationError(_("Choose the kind of contact."))


class FollowUpFields(FlaskForm):
    """What was done about a post: deletion request (community) or reports (third party)."""

    # A member of the school community.
    deletion_requested_on = _date(_l("Date the Head Teacher asked for it to be deleted"))
    deletion_outcome = SelectField(_l("Outcome of the deletion request"),
                                   choices=[(k, _l(v)) for k, v in DELETION_OUTCOMES.items()],
                                   default="not_requested")
    deletion_outcome_on = _date(_l("Date of the outcome"))
    # A third party.
    reported_to_platform_on = _date(_l("Date reported to the platform"))
    helpline_contacted_on = _date(_l("Date the professionals' online-safety helpline was contacted"))
    police_involved = BooleanField(_l("The police are involved"))
    police_reference = StringField(_l("Police reference (if any)"), filters=_strip,
                                   validators=[Length(max=100, message=_l("Keep it under 100 characters."))])

    COMMUNITY_ONLY = ("deletion_requested_on", "deletion_outcome_on")
    THIRD_PARTY_ONLY = ("reported_to_platform_on", "helpline_contacted_on")
    NAMES = ("deletion_requested_on", "deletion_outcome", "deletion_outcome_on", "reported_to_platform_on",
             "helpline_contacted_on", "police_involved", "police_reference")

    def check_follow_up(self, author_type: str | None, posted_on: dt.date | None) -> bool:
        """Cross-field rules; adds errors to the fields and returns False when any fails."""
        ok = True

        def fail(name: str, message: str) -> None:
            nonlocal ok
            self[name].errors.append(message)
            ok = False

        if author_type == "third_party":
            for name in self.COMMUNITY_ONLY:
                if self[name].data:
                    fail(name, _("Only for a post by a member of the school community."))
            if self.deletion_outcome.data != "not_requested":
                fail("deletion_outcome", _("Only for a post by a member of the school community."))
        if author_type == "community":
            for name in self.THIRD_PARTY_ONLY:
                if self[name].data:
                    fail(name, _("Only for a post by someone outside the school community."))
            if self.deletion_outcome.data != "not_requested" and not self.deletion_requested_on.data:
                fail("deletion_requested_on", _("Give the date the deletion was asked for."))
        if self.deletion_outcome_on.data and self.deletion_outcome.data not in ("removed", "refused"):
            fail("deletion_outcome_on", _("Only when the post was removed or the author refused."))
        if (self.deletion_outcome_on.data and self.deletion_requested_on.data
                and self.deletion_outcome_on.data < self.deletion_requested_on.data):
            fail("deletion_outcome_on", _("The outcome cannot come before the request."))
        if posted_on:
            for name in ("deletion_requested_on", "reported_to_platform_on", "helpline_contacted_on"):
                if self[name].data and self[name].data < posted_on:
                    fail(name, _("This cannot be before the post was made."))
        if self.police_reference.data and not self.police_involved.data:
            fail("police_reference", _("Tick “The police are involved” to give a reference."))
        return ok

    def follow_up(self) -> dict:
        """The follow-up fields as model values."""
        values = {n: self[n].data for n in self.NAMES}
        values["police_reference"] = values["police_reference"] or ""
        values["police_involved"] = bool(values["police_involved"])
        return values


class SocialIncidentForm(FollowUpFields):
    author_type = RadioField(_l("Who posted it?"), choices=[(k, _l(v)) for k, v in AUTHOR_TYPES.items()],
                             validators=[InputRequired(_l("Choose who posted it."))])
    author_description = StringField(_l("Describe the author in a few words"), filters=_strip, validators=[
        DataRequired(_l("Describe who posted it.")), Length(max=200, message=_l("Keep it under 200 characters."))])
    platform = StringField(_l("Platform or site"), filters=_strip, validators=[
        DataRequired(_l("Enter the platform.")), Length(max=100, message=_l("Keep it under 100 characters."))])
    posted_on = _date(_l("Date it was posted (if known)"))
    seen_on = _date(_l("Date the school saw it"), required=True)
    summary = TextAreaField(_l("What the post says or shows, in brief"), filters=_strip, validators=[
        DataRequired(_l("Describe the post briefly.")),
        Length(min=10, max=2000, message=_l("Write between 10 and 2,000 characters."))])
    prevent_flag = BooleanField(_l("It may be extremist or radicalising content (Prevent): send it to the DSL"))
    submit = SubmitField(_l("Record incident"))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.posted_on.data and self.seen_on.data and self.posted_on.data > self.seen_on.data:
            add_error(self.posted_on, _("It cannot be posted after the school saw it."))
            ok = False
        return self.check_follow_up(self.author_type.data, self.posted_on.data) and ok


class SocialFollowUpForm(FollowUpFields):
    """Managers update the follow-up of a recorded post (the post itself is not rewritten)."""

    submit = SubmitField(_l("Save follow-up"))

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        self._incident = incident

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        return self.check_follow_up(self._incident.author_type, self._incident.posted_on) and ok


class ActionForm(FlaskForm):
    text = TextAreaField(_l("What was done"), filters=_strip, validators=[
        DataRequired(_l("Say what was done.")),
        Length(min=3, max=1000, message=_l("Write between 3 and 1,000 characters."))])
    close = BooleanField(_l("This closes the incident"))
    submit = SubmitField(_l("Add to the timeline"))
