"""The record types the portal keeps, and the retention defaults it ships.

Each record type has one :class:`Default`: the event that starts the clock (its *trigger*), a
period, and what happens when the period has passed (its *action*: delete, anonymise, or a review
by a named role). Each default names where its period comes from. Two periods are confirmed for
every school (child-protection files: the child's date of birth + 25 years; allegations against
staff: until normal pension age or 10 years from the allegation, whichever is longer); every other
period is a starting point the school must confirm or change (``confirmed=False``).

Sources, as a school will find them:

* **IRMS toolkit**: the Information and Records Management Society's *Information Management
  Toolkit for Schools* (retention guidelines), which schools in England use as their schedule.
  Check the edition your school follows: periods have changed between editions.
* **KCSIE**: the Department for Education's statutory guidance *Keeping children safe in
  education*, Part four (allegations against staff, including supply staff, volunteers and
  contractors; low-level concerns).
* **Limitation Act 1980**: six years to bring most claims in contract or tort, which is why many
  schedules keep ordinary records six years.

Where neither the toolkit nor KCSIE has a line for something only a portal like this keeps
(acceptable-use agreements, classroom sessions, sign-in throttling), the default says it is the
portal's own choice.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


def N_(text: str) -> str:
    """Marks a label for the catalogues (``make translations``); pages translate it where they show it
    (``_(rule.default.label)``), while exports, the audit log and the CLI keep the English."""
    return text


class Trigger(enum.StrEnum):
    """What starts a record's retention clock."""

    CREATED = "created"
    CLOSED = "closed"
    LEAVES = "leaves"
    DATE_OF_BIRTH = "date_of_birth"
    SUPERSEDED = "superseded_or_leaves"
    ALLEGATION = "allegation"

    @property
    def label(self) -> str:
        return TRIGGER_LABELS[self]


TRIGGER_LABELS = {
    Trigger.CREATED: N_("it was made"),
    Trigger.CLOSED: N_("it was closed (or resolved, if it was never closed)"),
    Trigger.LEAVES: N_("the person leaves the school"),
    Trigger.DATE_OF_BIRTH: N_("the child's date of birth"),
    Trigger.SUPERSEDED: N_("a newer one replaces it, or the person leaves"),
    Trigger.ALLEGATION: N_("the date of the allegation (and never before the adult's normal pension age)"),
}


class Action(enum.StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"
    REVIEW = "review"

    @property
    def label(self) -> str:
        return {"delete": N_("Delete"), "anonymise": N_("Anonymise"), "review": N_("Review")}[self.value]


#: Who reviews a record when its period has passed (``chair``: when the Head may not, e.g. an
#: allegation about the Head Teacher).
REVIEW_ROLES = {"head": N_("Head Teacher"), "dsl": N_("Designated Safeguarding Lead")}

IRMS = "IRMS Information Management Toolkit for Schools"
KCSIE = "Keeping children safe in education (DfE), Part four"


@dataclass(frozen=True)
class Default:
    key: str
    label: str
    #: What the record type covers, in plain words: one whole sentence for translators, with named
    #: placeholders (``%(category)s``) filled from ``covers_params``. :attr:`covers` is the English text.
    covers_msg: str
    trigger: Trigger
    period: int
    unit: str
    action: Action
    review_role: str | None
    #: Where the period comes from (shown on the schedule page and in docs/data-protection.md); whole
    #: sentences with named placeholders (``%(irms)s``, ``%(kcsie)s``) filled from ``source_params``.
    source_msg: str
    #: True for the periods confirmed for every school; False: the school must confirm.
    confirmed: bool = False
    #: The actions a school may choose for this record type.
    actions: tuple[Action, ...] = (Action.DELETE, Action.REVIEW)
    #: Safeguarding records: reviewed by the DSL, left out of subject access unless the DSL includes them.
    safeguarding: bool = False
    #: Installation-wide (not one school's data): only the shipped default applies.
    installation: bool = False
    group: str = field(default="Other")
    covers_params: tuple[tuple[str, str], ...] = ()
    source_params: tuple[tuple[str, str], ...] = ()

    @property
    def covers(self) -> str:
        """What it covers, in English (exports, the CLI, docs)."""
        return self.covers_msg % dict(self.covers_params)

    @property
    def source(self) -> str:
        """Where the period comes from, in English."""
        return self.source_msg % dict(self.source_params)

    @property
    def covers_shown(self) -> str:
        """What it covers, in the reader's language (pages)."""
        return _translated(self.covers_msg, self.covers_params)

    @property
    def source_shown(self) -> str:
        """Where the period comes from, in the reader's language (pages)."""
        return _translated(self.source_msg, self.source_params)


def _translated(msg: str, params: tuple[tuple[str, str], ...]) -> str:
    """*msg* translated, its placeholders filled with their values translated too (a title such as the
    IRMS toolkit's is not in the catalogues, so it stays as published)."""
    from flask_babel import gettext

    return gettext(msg) % {name: gettext(value) for name, value in params}


#: The named sources, kept as published (titles of English documents).
_SOURCES = (("irms", IRMS), ("kcsie", KCSIE))


#: The signature record types' names, whole (so each is one sentence for translators).
_SIG_LABELS = {
    "pupil": N_("Signatures and sealed records: Pupils"),
    "parent": N_("Signatures and sealed records: Parents and carers"),
    "staff": N_("Signatures and sealed records: Staff"),
    "governor": N_("Signatures and sealed records: Governors"),
    "volunteer": N_("Signatures and sealed records: Volunteers"),
    "contractor": N_("Signatures and sealed records: Contractors"),
    "visitor": N_("Signatures and sealed records: Visitors"),
}

#: The informal-concern record types' names, whole.
_CONCERN_LABELS = {
    "teaching": N_("Concerns: Teaching and learning"),
    "behaviour": N_("Concerns: Behaviour or bullying"),
    "online_safety": N_("Concerns: Online safety"),
    "send": N_("Concerns: Special educational needs (SEND)"),
    "communication": N_("Concerns: Communication with the school"),
    "other": N_("Concerns: Something else"),
}


#: What each signature record type covers, whole (the people named differ in each language).
_SIG_COVERS = {
    "pupil": N_("Acceptable-use signatures (and declines) of pupils, their consent answers given when signing, "
                "and the sealed PDF of each in the write-once archive."),
    "parent": N_("Acceptable-use signatures (and declines) of parents and carers, their consent answers given "
                 "when signing, and the sealed PDF of each in the write-once archive."),
    "staff": N_("Acceptable-use signatures (and declines) of staff, their consent answers given when signing, "
                "and the sealed PDF of each in the write-once archive."),
    "governor": N_("Acceptable-use signatures (and declines) of governors, their consent answers given when "
                   "signing, and the sealed PDF of each in the write-once archive."),
    "volunteer": N_("Acceptable-use signatures (and declines) of volunteers, their consent answers given when "
                    "signing, and the sealed PDF of each in the write-once archive."),
    "contractor": N_("Acceptable-use signatures (and declines) of contractors, their consent answers given when "
                     "signing, and the sealed PDF of each in the write-once archive."),
    "visitor": N_("Acceptable-use signatures (and declines) of visitors, their consent answers given when "
                  "signing, and the sealed PDF of each in the write-once archive."),
}


def _sig(key: str, period: int, source: str) -> Default:
    return Default(
        key=f"signatures_{key}", label=_SIG_LABELS[key], covers_msg=_SIG_COVERS[key],
        trigger=Trigger.SUPERSEDED, period=period, unit="years", action=Action.DELETE, review_role="head",
        source_msg=source, source_params=_SOURCES, group=N_("Signatures and consents"))


_PERSONNEL = N_("%(irms)s: a member of staff's personnel file is kept until their employment ends + 6 years; "
                "the portal keeps the agreement for the same time after it is replaced or the person leaves.")

DEFAULTS: tuple[Default, ...] = (
    _sig("pupil", 1,
         N_("Portal default (the IRMS toolkit has no line for acceptable-use agreements): one year after the "
         "agreement is replaced or the pupil leaves, so a question about the last year can still be answered.")),
    _sig("parent", 1,
         N_("Portal default (no IRMS line for acceptable-use agreements): one year after the agreement is replaced "
            "or the parent's last child leaves.")),
    _sig("staff", 6, _PERSONNEL),
    _sig("governor", 6, N_("Portal default, following the staff personnel-file period in the IRMS "
         "toolkit (end of the appointment + 6 years).")),
    _sig("volunteer", 6, N_("Portal default, following the staff personnel-file period in the IRMS "
         "toolkit (end of the role + 6 years).")),
    _sig("contractor", 6, N_("Portal default: six years, the time to bring a claim in contract "
         "(Limitation Act 1980).")),
    _sig("visitor", 6, N_("%(irms)s: visitors' books and signing-in sheets are kept for the current year "
         "+ 6 years, then reviewed; the portal counts from the visit's agreement being replaced.")),
    Default(
        key="consent_answers", label=N_("Consent answers"),
        covers_msg=N_("Every yes or no to an optional consent (photos on the website, on social media), including "
               "answers changed later."),
        trigger=Trigger.SUPERSEDED, period=6, unit="years", action=Action.DELETE, review_role="head",
        source_msg=N_("Portal default: proof of what was agreed, and of when consent was withdrawn, is kept for the "
               "six-year limitation period (Limitation Act 1980) after the answer is replaced or the person leaves."),
        source_params=_SOURCES,
        group=N_("Signatures and consents")),
    *(Default(
        key=f"concerns_{cat}", label=_CONCERN_LABELS[cat],
        covers_msg=N_("Informal concerns raised by parents in the category “%(category)s” (not safeguarding "
                      "concerns, not formal complaints, not allegations): the concern, its thread, notes and "
                      "history."),
        covers_params=(("category", label),),
        trigger=Trigger.CLOSED, period=3, unit="years", action=Action.DELETE, review_role="head",
        source_msg=N_("Portal default (the IRMS toolkit has no line for informal concerns): shorter than formal "
                      "complaints, which the %(irms)s keeps until resolution + 6 years."),
        source_params=_SOURCES,
        actions=(Action.DELETE, Action.ANONYMISE, Action.REVIEW), group=N_("Concerns and complaints"))
      for cat, label in (("teaching", N_("Teaching and learning")), ("behaviour", N_("Behaviour or bullying")),
                         ("online_safety", N_("Online safety")),
                         ("send", N_("Special educational needs (SEND)")),
                         ("communication", N_("Communication with the school")),
                         ("other", N_("Something else")))),
    Default(
        key="complaints", label=N_("Formal complaints"),
        covers_msg=N_("Concerns that became formal complaints (stage 1 or the governors' panel at stage 2)."),
        trigger=Trigger.CLOSED, period=6, unit="years", action=Action.REVIEW, review_role="head",
        source_msg=N_("%(irms)s: complaints files, date of resolution + 6 years, then review for further retention "
               "in case of contentious disputes."),
        source_params=_SOURCES,
        actions=(Action.DELETE, Action.ANONYMISE, Action.REVIEW), group=N_("Concerns and complaints")),
    Default(
        key="attachments", label=N_("Files sent with concerns"),
        covers_msg=N_("Images and PDFs sent with informal concerns. Files of safeguarding concerns, complaints and "
               "allegations are kept with their concern."),
        trigger=Trigger.CLOSED, period=1, unit="years", action=Action.DELETE, review_role=None,
        source_msg=N_("Portal default: a year after an informal concern closes its files go; the concern's words are "
               "kept under the concern's own rule."),
        source_params=_SOURCES,
        actions=(Action.DELETE,), group=N_("Concerns and complaints")),
    Default(
        key="safeguarding_concerns", label=N_("Safeguarding concerns (a child may be at risk)"),
        covers_msg=N_("Concerns raised with “a child may be at risk”, with their thread and files: part of the "
               "child's child-protection file."),
        trigger=Trigger.DATE_OF_BIRTH, period=25, unit="years", action=Action.REVIEW, review_role="dsl",
        source_msg=N_("%(irms)s: child-protection files, the child's date of birth + 25 years, then review. "
               "Confirmed. (A concern naming no child counts from when it closed.)"),
        source_params=_SOURCES,
        confirmed=True, safeguarding=True, group=N_("Safeguarding")),
    Default(
        key="incidents_contact_safeguarding", label=N_("Contact incidents started by a pupil"),
        covers_msg=N_("Contact between a pupil and an adult of the school that the pupil started (routed to the DSL): "
               "part of the child's child-protection file."),
        trigger=Trigger.DATE_OF_BIRTH, period=25, unit="years", action=Action.REVIEW, review_role="dsl",
        source_msg=N_("%(irms)s: child-protection files, the child's date of birth + 25 years, then review. "
                      "Confirmed."),
        source_params=_SOURCES,
        confirmed=True, safeguarding=True, group=N_("Safeguarding")),
    Default(
        key="transfer_packs", label=N_("Safeguarding transfer packs"),
        covers_msg=N_("The sealed copy of a pupil's safeguarding records sent to their next school, and its proof of "
               "receipt."),
        trigger=Trigger.DATE_OF_BIRTH, period=25, unit="years", action=Action.REVIEW, review_role="dsl",
        source_msg=N_("A copy of the child-protection file (%(irms)s: date of birth + 25 years, then review). "
                      "Confirmed."),
        source_params=_SOURCES,
        confirmed=True, safeguarding=True, group=N_("Safeguarding")),
    Default(
        key="allegations", label=N_("Allegations against staff (harm threshold)"),
        covers_msg=N_("Allegations that an adult working in the school may have harmed a child, with the LADO "
               "consultation and outcome, and the concern or incident they came from."),
        trigger=Trigger.ALLEGATION, period=10, unit="years", action=Action.REVIEW, review_role="head",
        source_msg=N_("%(kcsie)s: keep until the adult reaches normal pension age or for 10 years from the date of the "
               "allegation, whichever is longer (the IRMS toolkit says the same). Confirmed. Allegations found "
               "malicious or false are removed from personnel records unless the adult agrees otherwise."),
        source_params=_SOURCES,
        confirmed=True, safeguarding=True, group=N_("Allegations against staff")),
    Default(
        key="low_level_concerns", label=N_("Low-level concerns about adults"),
        covers_msg=N_("Concerns about an adult that do not meet the harm threshold, in their own log."),
        trigger=Trigger.LEAVES, period=1, unit="years", action=Action.REVIEW, review_role="head",
        source_msg=N_("%(kcsie)s: the school decides how long; it is recommended they are kept at least until "
                      "the adult leaves their employment. Portal default: reviewed by the Head Teacher a year "
                      "after they leave."),
        source_params=_SOURCES,
        safeguarding=True, group=N_("Allegations against staff")),
    Default(
        key="incidents_contact_conduct", label=N_("Contact incidents started by an adult"),
        covers_msg=N_("Contact between a pupil and an adult of the school that the adult started (a conduct matter for "
               "the Head Teacher). Marked as an allegation or low-level concern, those rules apply instead."),
        trigger=Trigger.CLOSED, period=6, unit="years", action=Action.REVIEW, review_role="head",
        source_msg=N_("Portal default, following the staff personnel-file period in the %(irms)s "
               "(end of employment + 6 years)."),
        source_params=_SOURCES,
        actions=(Action.DELETE, Action.ANONYMISE, Action.REVIEW), group=N_("Incidents")),
    Default(
        key="incidents_social_media", label=N_("Social-media incidents"),
        covers_msg=N_("Posts about the school or people in it, with the follow-up (deletion requests, reports)."),
        trigger=Trigger.CLOSED, period=6, unit="years", action=Action.REVIEW, review_role="head",
        source_msg=N_("Portal default: six years after the incident is closed (Limitation Act 1980)."),
        source_params=_SOURCES,
        actions=(Action.DELETE, Action.ANONYMISE, Action.REVIEW), group=N_("Incidents")),
    Default(
        key="family_links", label=N_("Family-link declarations"),
        covers_msg=N_("Links declared between adults of the school and pupils, decisions on them, and yearly "
               "confirmations."),
        trigger=Trigger.LEAVES, period=6, unit="years", action=Action.DELETE, review_role="head",
        source_msg=N_("Portal default: a link explains contact between an adult and a pupil, so it is kept like the "
               "staff personnel file (%(irms)s: end of employment + 6 years) after the adult or the pupil leaves."),
        source_params=_SOURCES,
        group=N_("People")),
    Default(
        key="classroom_sessions", label=N_("Classroom sessions"),
        covers_msg=N_("Classroom acknowledgement sessions: join codes, device addresses and the pupils who pressed "
               "“I agree” (the witnessed signatures are kept under the pupils' signature rule)."),
        trigger=Trigger.CLOSED, period=1, unit="years", action=Action.DELETE, review_role=None,
        source_msg=N_("Portal default: the session is only needed for a short while after it closes."),
        source_params=_SOURCES,
        actions=(Action.DELETE,), group=N_("Signatures and consents")),
    Default(
        key="people", label=N_("People who have left"),
        covers_msg=N_("A person's name, email, MIS identifier and sign-in, once they have left and nothing else the "
               "school keeps refers to them."),
        trigger=Trigger.LEAVES, period=1, unit="years", action=Action.ANONYMISE, review_role="head",
        source_msg=N_("Portal default: a year after someone leaves, once every record about them has gone under its "
               "own rule, only an anonymous row is left (so counts and history still add up)."),
        source_params=_SOURCES,
        actions=(Action.ANONYMISE, Action.REVIEW), group=N_("People")),
    Default(
        key="audit_entries", label=N_("Audit log entries"),
        covers_msg=N_("The hash-chained audit log: who did what and when (never the words of a concern)."),
        trigger=Trigger.CREATED, period=6, unit="years", action=Action.REVIEW, review_role="head",
        source_msg=N_("Portal default: six years (Limitation Act 1980), then reviewed. The log is a hash chain, so the "
               "portal never deletes its entries; it only asks for a review."),
        source_params=_SOURCES,
        actions=(Action.REVIEW,), group=N_("The portal itself")),
    Default(
        key="login_records", label=N_("Sign-in records"),
        covers_msg=N_("Failed sign-ins (kept to slow down password guessing) and spent single-use link codes, for the "
               "whole installation."),
        trigger=Trigger.CREATED, period=30, unit="days", action=Action.DELETE, review_role=None,
        source_msg=N_("Portal default: only needed for the sign-in limits (minutes) and to stop a link being used "
               "twice (its link stops working within days)."),
        source_params=_SOURCES,
        actions=(Action.DELETE,), installation=True, group=N_("The portal itself")),
)

BY_KEY: dict[str, Default] = {d.key: d for d in DEFAULTS}

#: The order record types are applied in: records before the people they are about.
ORDER: tuple[str, ...] = tuple([d.key for d in DEFAULTS if d.key not in ("people", "login_records")]
                               + ["people"])

GROUPS: tuple[str, ...] = (N_("Signatures and consents"), N_("Concerns and complaints"), N_("Safeguarding"),
                           N_("Allegations against staff"), N_("Incidents"), N_("People"), N_("The portal itself"))


def default_for(key: str) -> Default:
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown record type {key!r}") from None
