from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.formbase import FlaskForm

try:  # WTForms 3.3+ (tuples are deprecated there); older versions take (value, label) tuples.
    from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks it
except ImportError:  # pragma: no cover - WTForms < 3.3
    def SelectChoice(value, label):
        return (value, label)


from portal.policies.models import Audience
from portal.policies.operations import (
    MAX_CHANGE_NOTE,
    MAX_QUESTION,
    MAX_REASON,
    MAX_TITLE,
    NAME_AS_ON_ACCOUNT,
    names_match,
)
from portal.policies.rendering import MAX_BODY_BYTES
from portal.validators import at_most

if TYPE_CHECKING:
    from portal.people.models import Person

YES_NO = [SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))]


class SignForm(FlaskForm):
    """Read and sign: every missing or wrong answer is reported at once. The sign operation checks
    the same things again (and the text), so a caller that skips the form cannot sign less."""

    text_hash = HiddenField()
    agree = BooleanField(_l("I have read this policy and I agree to it"), validators=[
        DataRequired(_l("Tick the box to say you have read and agree to the policy."))])
    typed_name = StringField(_l("Type your full name"), validators=[DataRequired(NAME_AS_ON_ACCOUNT), at_most(200)])
    signer: Person | None = None  # the person signing: the typed name must be theirs

    def validate_typed_name(self, field):
        if not field.errors and self.signer is not None and not names_match(field.data or "", self.signer):
            raise ValidationError(str(NAME_AS_ON_ACCOUNT))


def sign_form_for(items, signer=None, formdata=None) -> SignForm:
    """A :class:`SignForm` for *signer* with one required yes/no question per consent item."""

    class _Form(SignForm):
        pass

    _Form.signer = signer

    for item in items:
        setattr(_Form, f"consent_{item.id}", RadioField(item.question, choices=YES_NO,
                                                        validators=[InputRequired(_l("Choose yes or no."))]))
    return _Form(formdata=formdata) if formdata is not None else _Form()


class DeclineForm(FlaskForm):
    text_hash = HiddenField()
    reason = TextAreaField(_l("Why are you not signing?"), validators=[
        DataRequired(_l("Tell us why you are not signing.")), at_most(MAX_REASON)])


class PolicyForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=MAX_TITLE)])
    slug = StringField(_l("Short name"), validators=[DataRequired(), Length(min=2, max=80)])
    audience = SelectField(_l("Who it is for"), choices=[SelectChoice(a.value, a.label) for a in Audience])
    send_variant = BooleanField(_l("This is the SEND (easy-read) variant of a pupil policy"))


class VersionForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=MAX_TITLE)])
    body_md = TextAreaField(_l("Policy text"), validators=[DataRequired()], render_kw={"rows": 16})
    change_note = StringField(_l("What changed (shown to people asked to sign again)"),
                              validators=[Optional(), Length(max=MAX_CHANGE_NOTE)])

    def validate_body_md(self, field):
        if len((field.data or "").encode("utf-8")) > MAX_BODY_BYTES:
            raise ValidationError(gettext("The text is larger than %(size)s KB.", size=MAX_BODY_BYTES // 1024))


class PublishForm(FlaskForm):
    change = RadioField(_l("What kind of change is this?"), choices=[
        SelectChoice("resign", _l("Everyone must read and sign again")),
        SelectChoice("minor", _l("Minor change: signatures of the previous version still count")),
    ], validators=[InputRequired(_l("Choose the kind of change."))])
    change_note = StringField(_l("What changed"), validators=[Optional(), Length(max=MAX_CHANGE_NOTE)])


class ConsentItemForm(FlaskForm):
    key = StringField(_l("Short name for reports (the same in every version, e.g. photos_website)"),
                      validators=[DataRequired(), Length(max=60)])
    question = StringField(_l("Question (answered yes or no)"), validators=[DataRequired(), Length(max=MAX_QUESTION)])


class NewDraftForm(FlaskForm):
    submit = SubmitField(_l("Start a new version"))


class RemindForm(FlaskForm):
    policy_id = HiddenField()
    class_id = HiddenField(id="remind-class-id")  # the page's class filter is "class_id"


class OfflineSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search

    q = StringField(_l("Parent's name"), validators=[Optional(), Length(max=100)])


def offline_form_for(items, formdata=None):
    """The office's form to record a paper or verbal agreement (with the version's questions)."""
    from portal.policies.operations import MAX_OFFLINE_NOTE

    class _Form(FlaskForm):
        how = RadioField(_l("How did the parent agree?"), choices=[
            SelectChoice("paper", _l("They signed the paper slip")),
            SelectChoice("verbal", _l("They agreed verbally (in person or by telephone)")),
        ], validators=[InputRequired(_l("Choose how the parent agreed."))])
        agreed_on = DateField(_l("Date the parent agreed"),
                              validators=[InputRequired(_l("Give the date the parent agreed."))])
        note = StringField(_l("How it reached the office (optional)"),
                           validators=[Optional(), Length(max=MAX_OFFLINE_NOTE)])
        scan = FileField(_l("Scan or photo of the signed slip (needed for paper)"))

    for item in items:
        setattr(_Form, f"consent_{item.id}", RadioField(item.question, choices=YES_NO,
                                                        validators=[InputRequired(_l("Give the parent's answer."))]))
    return _Form(formdata=formdata) if formdata is not None else _Form()


class TranslationForm(FlaskForm):
    """A school's translation of a policy version (staff page: English labels are fine but marked)."""

    language = SelectField(_l("Language"), validators=[DataRequired()])
    title = StringField(_l("Title in that language"), validators=[DataRequired(), Length(max=MAX_TITLE)])
    body_md = TextAreaField(_l("Translated text (Markdown)"), validators=[DataRequired()], render_kw={"rows": 16})
    authoritative = BooleanField(_l("This translation is the authoritative text (otherwise the English is)"))
    questions = TextAreaField(_l("The yes/no questions in that language (one per line, in the same order)"),
                              validators=[Optional(), Length(max=10_000)])
    change_note = StringField(_l("What you corrected (for a later revision)"),
                              validators=[Optional(), Length(max=MAX_CHANGE_NOTE)])

    def __init__(self, *args, **kwargs) -> None:
        from portal.policies.translations import translation_languages

        super().__init__(*args, **kwargs)
        self.language.choices = [SelectChoice(code, label) for code, label in translation_languages()]

    def validate_body_md(self, field):
        if len((field.data or "").encode("utf-8")) > MAX_BODY_BYTES:
            raise ValidationError(gettext("The text is larger than %(size)s KB.", size=MAX_BODY_BYTES // 1024))


class PublishTranslationForm(FlaskForm):
    change = RadioField(_l("What kind of change is this?"), choices=[
        SelectChoice("first", _l("The first translation into this language, or a small correction")),
        SelectChoice("resign", _l("A change to the meaning: people must read and sign again")),
    ], default="first", validators=[InputRequired()])
    change_note = StringField(_l("What you corrected"), validators=[Optional(), Length(max=MAX_CHANGE_NOTE)])
