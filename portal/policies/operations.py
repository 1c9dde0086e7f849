"""Writing policies, versions, signatures, consent answers and reminders.

Every function here flushes and audits; the caller (a view or a CLI command) commits once
and, for signatures, then sends :data:`portal.signals.signature_committed`.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import audit
from portal.db import lock_person, session, utcnow
from portal.people.models import Person, SchoolClass
from portal.policies import queries
from portal.policies.models import (
    Audience,
    ConsentItem,
    Policy,
    PolicyReminder,
    PolicyVersion,
    SignedText,
    VersionStatus,
)
from portal.policies.queries import (
    OUTSTANDING,
    Requirement,
    current_academic_year,
    forget_catalogue,
    latest_answers,
    parents_of,
    signer_role_for,
)
from portal.policies.rendering import MAX_BODY_BYTES, render_version
from portal.schools.models import School
from portal.signatures.models import ConsentAnswer, Decision, Method, Signature
from portal.urls import mail_link

if TYPE_CHECKING:
    from portal.concerns.storage import CheckedFile, UploadBatch


class ShownText(Protocol):
    """The text a signer was shown: a :class:`~portal.policies.rendering.RenderedVersion`, or the
    classroom's screen text."""

    @property
    def html(self) -> str: ...
    @property
    def questions(self) -> tuple[str, ...]: ...
    @property
    def sha256(self) -> str: ...

#: Nobody gets a second reminder sooner than this.
REMINDER_INTERVAL = dt.timedelta(days=7)

MAX_TITLE = 200
MAX_CHANGE_NOTE = 500
MAX_QUESTION = 300
MAX_REASON = 2000
_KEY = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")


class PolicyError(ValueError):
    """A policy operation was refused; the message is shown to the user."""


class SigningError(ValueError):
    """A signature was refused; ``field`` names the form field at fault (or None)."""

    def __init__(self, message: str, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


# ---------------------------------------------------------------- policies and versions


def create_policy(*, slug: str, title: str, audience: Audience, send_variant: bool = False,
                  actor: Person | None = None) -> Policy:
    slug = slug.strip().lower()
    title = title.strip()
    if not _SLUG.match(slug):
        raise PolicyError(_("Use 2 to 80 lower-case letters, digits and hyphens for the short name."))
    if not title or len(title) > MAX_TITLE:
        raise PolicyError(_("Give the policy a title of at most %(max)s characters.", max=MAX_TITLE))
    if send_variant and not audience.is_pupil:
        raise PolicyError(_("Only pupil policies have a SEND variant."))
    if session.scalar(select(Policy.id).where(Policy.slug == slug)):
        raise PolicyError(_("A policy with that short name already exists."))
    policy = Policy(slug=slug, title=title, audience=audience.value, send_variant=send_variant)
    session.add(policy)
    session.flush()
    audit.record("policy.created", actor=actor, target=policy, slug=slug, audience=audience.value)
    forget_catalogue()
    return policy


def draft_of(policy: Policy) -> PolicyVersion | None:
    return next((v for v in policy.versions if v.status == VersionStatus.DRAFT.value), None)


def published_of(policy: Policy) -> PolicyVersion | None:
    return next((v for v in policy.versions if v.status == VersionStatus.PUBLISHED.value), None)


def _check_text(title: str, body_md: str, change_note: str) -> None:
    if not title.strip() or len(title.strip()) > MAX_TITLE:
        raise PolicyError(_("The title must be 1 to %(max)s characters.", max=MAX_TITLE))
    if not body_md.strip():
        raise PolicyError(_("The policy text is empty."))
    if len(body_md.encode("utf-8")) > MAX_BODY_BYTES:
        raise PolicyError(_("The policy text is larger than %(size)s KB.", size=MAX_BODY_BYTES // 1024))
    if len(change_note) > MAX_CHANGE_NOTE:
        raise PolicyError(_("The change note must be at most %(max)s characters.", max=MAX_CHANGE_NOTE))


def create_draft(policy: Policy, *, actor: Person | None = None, title: str | None = None,
                 body_md: str | None = None, change_note: str = "") -> PolicyVersion:
    """Start the next version as a draft, copying the newest version's text and questions."""
    if draft_of(policy) is not None:
        raise PolicyError(_("This policy already has a draft. Edit or publish it first."))
    latest = policy.versions[-1] if policy.versions else None
    title = title if title is not None else (latest.title if latest else policy.title)
    body_md = body_md if body_md is not None else (latest.body_md if latest else "")
    if body_md:
        _check_text(title, body_md, change_note)
    number = (session.scalar(select(func.max(PolicyVersion.number)).where(PolicyVersion.policy_id == policy.id))
              or 0) + 1
    copied = list(latest.consent_items) if latest is not None else []
    with session.no_autoflush:
        version = PolicyVersion(policy=policy, number=number, status=VersionStatus.DRAFT.value,
                                title=title.strip(), body_md=body_md, change_note=change_note.strip(),
                                requires_resign=True)
        session.add(version)
        for item in copied:
            version.consent_items.append(ConsentItem(key=item.key, question=item.question, position=item.position))
    session.flush()
    if latest is not None:
        from portal.policies.translations import copy_translations

        copy_translations(latest, version)
    audit.record("policy.draft_created", actor=actor, target=version, policy_id=policy.id, number=number)
    forget_catalogue()
    return version


def update_draft(version: PolicyVersion, *, title: str, body_md: str, change_note: str = "",
                 actor: Person | None = None) -> PolicyVersion:
    if version.status != VersionStatus.DRAFT.value:
        raise PolicyError(_("Only a draft can be changed; start a new version instead."))
    _check_text(title, body_md, change_note)
    version.title = title.strip()
    version.body_md = body_md
    version.change_note = change_note.strip()
    session.flush()
    audit.record("policy.draft_updated", actor=actor, target=version, policy_id=version.policy_id,
                 number=version.number, bytes=len(body_md.encode("utf-8")))
    return version


def add_consent_item(version: PolicyVersion, *, key: str, question: str,
                     actor: Person | None = None) -> ConsentItem:
    if version.status != VersionStatus.DRAFT.value:
        raise PolicyError(_("Questions can only be added to a draft."))
    key = key.strip().lower()
    question = question.strip()
    if not _KEY.match(key):
        raise PolicyError(_("The key must be 2 to 60 characters: lower-case letters, digits and underscores, "
                            "starting with a letter."))
    if not question or len(question) > MAX_QUESTION:
        raise PolicyError(_("The question must be 1 to %(max)s characters.", max=MAX_QUESTION))
    if any(i.key == key for i in version.consent_items):
        raise PolicyError(_("This version already has a question with that key."))
    item = ConsentItem(key=key, question=question, position=len(version.consent_items))
    version.consent_items.append(item)
    session.flush()
    audit.record("policy.consent_item_added", actor=actor, target=item, version_id=version.id, key=key)
    return item


def publish_version(version: PolicyVersion, *, requires_resign: bool, change_note: str = "",
                    actor: Person | None = None, now: dt.datetime | None = None) -> PolicyVersion:
    """Publish a draft; the previously published version of the policy becomes superseded.

    :param requires_resign: False for a minor change: signatures of earlier versions still count.
    :raises PolicyError: if *version* is not a draft, is empty, or is the first version and
        marked minor (there is nothing earlier to keep counting).
    """
    if version.status != VersionStatus.DRAFT.value:
        raise PolicyError(_("This version is not a draft."))
    change_note = (change_note or version.change_note or "").strip()
    _check_text(version.title, version.body_md, change_note)
    previous = published_of(version.policy)
    if previous is None and not requires_resign:
        raise PolicyError(_("The first published version must be signed by everyone; it cannot be a minor "
                            "change."))
    if previous is not None:
        previous.status = VersionStatus.SUPERSEDED.value
        session.flush()
    version.status = VersionStatus.PUBLISHED.value
    version.requires_resign = requires_resign
    version.change_note = change_note
    version.published_at = now or utcnow()
    version.published_by_id = getattr(actor, "id", None)
    session.flush()
    audit.record("policy.published", actor=actor, target=version, policy_id=version.policy_id,
                 number=version.number, requires_resign=requires_resign,
                 superseded_version_id=previous.id if previous else None)
    forget_catalogue()
    return version


# ---------------------------------------------------------------- signing


def normalise_name(name: str) -> str:
    """Compare names ignoring case, accents' composition and runs of spaces."""
    return " ".join(unicodedata.normalize("NFKC", name or "").casefold().split())


def names_match(typed: str, person: Person) -> bool:
    return bool(normalise_name(typed)) and normalise_name(typed) == normalise_name(person.full_name)


@dataclass
class SignRequest:
    """What the signing form sent, plus where it came from."""

    shown_sha256: str
    ip: str
    user_agent: str
    typed_name: str = ""
    agreed: bool = False
    #: consent item id -> yes/no.
    answers: dict[int, bool] = field(default_factory=dict)
    decline_reason: str = ""
    #: The language of the translation shown beside the English text (None: English only).
    language: str | None = None


def _lock(req: Requirement) -> Requirement:
    """Serialise signing for one person (or one child) so a double submission cannot record
    two signatures: PostgreSQL takes a transaction-level advisory lock; SQLite takes its
    database write lock with a no-op update. Then the status is read again."""
    lock_person(_SIGN_LOCK, req.subject.id)
    return queries.refresh(req)


_SIGN_LOCK = 727275


#: What a typed name that is not the signer's is told (the signing form says the same).
NAME_AS_ON_ACCOUNT = _l("Type your full name as it appears on your account.")


def already_signed() -> SigningError:
    """The answer to a form for something signed meanwhile (in another tab, by the other parent)."""
    return SigningError(_("This has already been signed for this school year."), code="already")


def no_child_chosen() -> SigningError:
    """The answer to a family signing with no child ticked."""
    return SigningError(_("Choose at least one child to sign for."), field="pupil_ids")


def text_changed() -> SigningError:
    """The answer to a form sent from a page whose text is no longer the policy's text."""
    return SigningError(_("The policy text has changed since the page was opened. Please read it again "
                          "before signing."), code="changed")


def _check_common(req: Requirement, signer: Person, form: SignRequest) -> str:
    req = _lock(req)
    if req.status == "signed":
        raise already_signed()
    current = render_version(req.version, language=form.language)
    if not form.shown_sha256 or form.shown_sha256 != current.sha256:
        raise text_changed()
    keep_text(req.version, current)
    # What was really shown: a translation withdrawn meanwhile would have changed the hash above.
    form.language = current.language
    return current.sha256


def keep_text(version: PolicyVersion, rendered: ShownText) -> SignedText:
    """Store the rendered text under its SHA-256 (once) and return it."""
    from sqlalchemy.dialects import postgresql, sqlite

    row = session.scalar(select(SignedText).where(SignedText.sha256 == rendered.sha256))
    if row is not None:
        return row
    # Two people may sign the same new text at once: insert-or-ignore, then read.
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(SignedText).values(
        school_id=version.school_id, sha256=rendered.sha256, version_id=version.id, title=version.title,
        body_html=str(rendered.html), questions="\n".join(rendered.questions), first_shown_at=utcnow(),
        language=getattr(rendered, "language", None),
    ).on_conflict_do_nothing(index_elements=["school_id", "sha256"]))
    return session.scalars(select(SignedText).where(SignedText.sha256 == rendered.sha256)).one()


def sign(req: Requirement, signer: Person, form: SignRequest, *, method: Method | None = None,
         witness: Person | None = None, today: dt.date | None = None) -> Signature:
    """Record *signer*'s signature for *req* (flushes, audits; the caller commits and signals).

    :param method: defaults to ``COUNTERSIGN`` for a parent signing for a child, else ``ONLINE``;
        other areas pass ``Method.IN_CLASS`` (with *witness*) or ``Method.LTI``.

    :raises SigningError: the text changed, the name does not match, a consent question is
        unanswered, the box is not ticked, or it is already signed.
    """
    digest = _check_common(req, signer, form)
    if not form.agreed:
        raise SigningError(_("Tick the box to say you have read and agree to the policy."), field="agree")
    if not names_match(form.typed_name, signer):
        raise SigningError(str(NAME_AS_ON_ACCOUNT), field="typed_name")
    items = list(req.version.consent_items)
    missing = [i for i in items if i.id not in form.answers]
    if missing:
        raise SigningError(_("Answer yes or no to each question."), field=f"consent_{missing[0].id}")
    sig = Signature(
        version=req.version,
        signer_id=signer.id,
        signer_role=signer_role_for(signer, Audience(req.version.policy.audience), req.countersign),
        on_behalf_of_id=req.subject.id if req.countersign else None,
        decision=Decision.SIGNED.value,
        signed_name=form.typed_name.strip()[:200],
        text_sha256=digest,
        language=form.language,
        signed_at=utcnow(),
        ip=(form.ip or "unknown")[:64],
        user_agent=(form.user_agent or "")[:400],
        method=(method or req.method).value,
        witness_id=getattr(witness, "id", None),
        academic_year=current_academic_year(today),
    )
    session.add(sig)
    session.flush()
    for item in items:
        session.add(ConsentAnswer(consent_item_id=item.id, signature_id=sig.id, person_id=signer.id,
                                  pupil_id=req.subject.id if req.countersign else None,
                                  answer=form.answers[item.id], answered_at=sig.signed_at))
    session.flush()
    audit.record("signature.created", actor=signer, target=sig, version_id=req.version.id,
                 on_behalf_of_id=sig.on_behalf_of_id, method=sig.method, academic_year=sig.academic_year,
                 text_sha256=digest, language=form.language, consents={i.key: form.answers[i.id] for i in items})
    return sig


def sign_for_children(reqs: list[Requirement], signer: Person, form: SignRequest, *,
                      today: dt.date | None = None) -> list[Signature]:
    """One-step family signing: countersign the same policy for several children. Each child
    gets a separate :class:`Signature` (so a separate sealed record), with the same typed name,
    tick and answers; the caller commits once and signals each.

    :raises SigningError: no child chosen, a requirement that is not a countersignature, or
        anything :func:`sign` refuses for any one child (then nothing is kept: the caller rolls back).
    """
    if not reqs:
        raise no_child_chosen()
    if any(not r.countersign for r in reqs) or len({r.version.policy_id for r in reqs}) != 1:
        raise SigningError(_("Only one policy, countersigned for your own children, can be signed this way."),
                           code="forbidden")
    # Lock the children in a fixed order so two tabs signing overlapping sets cannot deadlock.
    return [sign(r, signer, form, today=today) for r in sorted(reqs, key=lambda r: r.subject.id)]


MAX_OFFLINE_NOTE = 300


def offline_requirements(parent: Person, today: dt.date | None = None) -> list[Requirement]:
    """What the office may record for *parent*: their own parent AUP and a countersignature for
    each young child, that are not signed yet."""
    return [r for r in queries.requirements_for(parent, today)
            if r.status != queries.SIGNED and (r.countersign or r.version.policy.audience == Audience.PARENT.value)]


def record_offline(req: Requirement, parent: Person, *, recorded_by: Person, method: Method, agreed_on: dt.date,
                   note: str, answers: dict[int, bool], scan: CheckedFile | None = None,
                   batch: UploadBatch | None = None, ip: str = "",
                   user_agent: str = "", today: dt.date | None = None) -> Signature:
    """The office records *parent*'s agreement given on paper or verbally (flushes, audits; the
    caller commits and signals). The signature is the parent's (their name on file), with method
    ``paper`` or ``verbal`` and an :class:`~portal.signatures.models.OfflineAgreement` saying who
    recorded it, when the parent agreed, how, and the scan of the slip. It is never an e-signature.

    :param scan: a checked upload (:class:`portal.concerns.storage.CheckedFile`); required on paper.
    :param batch: the :class:`~portal.concerns.storage.UploadBatch` (kind ``agreements``) that writes it.
    :raises SigningError: with the form field at fault.
    """
    from portal.signatures.models import OfflineAgreement

    today = today or utcnow().date()
    if method not in (Method.PAPER, Method.VERBAL):
        raise SigningError(_("Choose how the parent agreed: on a paper slip or verbally."), field="how")
    if not (req.countersign or req.version.policy.audience == Audience.PARENT.value):
        raise SigningError(_("Only a parent's own policy or a young child's countersignature can be recorded."),
                           code="forbidden")
    if req.subject.id != parent.id and not req.countersign:
        raise SigningError(_("That is not this parent's policy."), code="forbidden")
    if agreed_on > today:
        raise SigningError(_("The date the parent agreed cannot be in the future."), field="agreed_on")
    year = current_academic_year(today)
    if current_academic_year(agreed_on) != year:
        raise SigningError(_("The date must be in this school year: agreements from earlier years do not count "
                             "now."), field="agreed_on")
    published = req.version.published_at.date() if req.version.published_at else None
    if published is not None and agreed_on < published:
        from portal.i18n import format_date

        raise SigningError(_("This version was published on %(date)s; the parent cannot have agreed to it before "
                             "then.", date=format_date(published, "long")), field="agreed_on")
    note = (note or "").strip()
    if len(note) > MAX_OFFLINE_NOTE:
        raise SigningError(_("Keep the note to %(max)s characters or fewer.", max=MAX_OFFLINE_NOTE), field="note")
    if method is Method.PAPER and scan is None:
        raise SigningError(_("Attach the scan (or a photo) of the signed slip."), field="scan")
    items = list(req.version.consent_items)
    missing = [i for i in items if i.id not in answers]
    if missing:
        raise SigningError(_("Give the parent's yes or no to each question."), field=f"consent_{missing[0].id}")
    req = _lock(req)
    if req.status == "signed":
        raise already_signed()
    rendered = render_version(req.version)
    keep_text(req.version, rendered)
    sig = Signature(
        version=req.version, signer_id=parent.id,
        signer_role=signer_role_for(parent, Audience(req.version.policy.audience), req.countersign),
        on_behalf_of_id=req.subject.id if req.countersign else None, decision=Decision.SIGNED.value,
        signed_name=parent.full_name[:200], text_sha256=rendered.sha256, signed_at=utcnow(),
        ip=(ip or "unknown")[:64], user_agent=(user_agent or "")[:400], method=method.value,
        witness_id=None, academic_year=year,
    )
    session.add(sig)
    session.flush()
    offline = OfflineAgreement(signature_id=sig.id, recorded_by_id=recorded_by.id, agreed_on=agreed_on, note=note)
    if scan is not None:
        if batch is None:
            raise TypeError("record_offline: a scan needs the UploadBatch that writes it")
        offline.scan_stored_name = batch.write(scan.data)
        offline.scan_original_name = scan.filename
        offline.scan_content_type = scan.content_type
        offline.scan_size = len(scan.data)
        offline.scan_sha256 = scan.sha256
    session.add(offline)
    for item in items:
        session.add(ConsentAnswer(consent_item_id=item.id, signature_id=sig.id, person_id=parent.id,
                                  pupil_id=req.subject.id if req.countersign else None,
                                  answer=answers[item.id], answered_at=sig.signed_at))
    session.flush()
    audit.record("signature.recorded_offline", actor=recorded_by, target=sig, version_id=req.version.id,
                 signer_id=parent.id, on_behalf_of_id=sig.on_behalf_of_id, method=sig.method,
                 agreed_on=agreed_on.isoformat(), academic_year=year, text_sha256=rendered.sha256,
                 scan_sha256=offline.scan_sha256, consents={i.key: answers[i.id] for i in items})
    return sig


def can_decline(req: Requirement) -> bool:
    """Parents may decline their own AUP or a child's countersignature; others may not."""
    return req.countersign or req.version.policy.audience == Audience.PARENT.value


def decline(req: Requirement, signer: Person, form: SignRequest, *, today: dt.date | None = None) -> Signature:
    """Record a parent's decision not to sign, with their reason."""
    if not can_decline(req):
        raise SigningError(_("This policy cannot be declined."), code="forbidden")
    digest = _check_common(req, signer, form)
    reason = (form.decline_reason or "").strip()
    if not reason:
        raise SigningError(_("Tell us why you are not signing."), field="reason")
    if len(reason) > MAX_REASON:
        raise SigningError(_("Keep the reason to %(max)s characters or fewer.", max=MAX_REASON), field="reason")
    sig = Signature(
        version=req.version,
        signer_id=signer.id,
        signer_role=signer_role_for(signer, Audience(req.version.policy.audience), req.countersign),
        on_behalf_of_id=req.subject.id if req.countersign else None,
        decision=Decision.DECLINED.value,
        decline_reason=reason,
        signed_name=signer.full_name[:200],
        text_sha256=digest,
        language=form.language,
        signed_at=utcnow(),
        ip=(form.ip or "unknown")[:64],
        user_agent=(form.user_agent or "")[:400],
        method=req.method.value,
        academic_year=current_academic_year(today),
    )
    session.add(sig)
    session.flush()
    # The reason is the parent's own words: it stays on the signature, not in the audit log.
    audit.record("signature.declined", actor=signer, target=sig, version_id=req.version.id,
                 on_behalf_of_id=sig.on_behalf_of_id, academic_year=sig.academic_year, text_sha256=digest)
    return sig


# ---------------------------------------------------------------- consent answers


def change_consent(person: Person, item: ConsentItem, answer: bool, *, pupil: Person | None = None,
                   actor: Person | None = None) -> ConsentAnswer | None:
    """Record a new answer (never overwrite). Returns None when the answer is unchanged."""
    previous = latest_answers(person).get((item.key, pupil.id if pupil else None))
    if previous is not None and previous.answer == answer:
        return None
    row = ConsentAnswer(consent_item_id=item.id, person_id=person.id, pupil_id=pupil.id if pupil else None,
                        answer=answer, answered_at=utcnow())
    session.add(row)
    session.flush()
    withdrawn = previous is not None and previous.answer and not answer
    audit.record("consent.withdrawn" if withdrawn else "consent.changed", actor=actor or person, target=row,
                 key=item.key, answer=answer, previous=previous.answer if previous else None,
                 pupil_id=row.pupil_id)
    return row


# ---------------------------------------------------------------- reminders


@dataclass
class ReminderResult:
    sent: list[Person] = field(default_factory=list)
    #: Reminded within the last 7 days: not sent again.
    recent: list[Person] = field(default_factory=list)
    #: Nobody to write to (no email address, and for a pupil no parent with one).
    unreachable: list[Person] = field(default_factory=list)
    failed: list[Person] = field(default_factory=list)


def reminder_recipients(req: Requirement) -> list[Person]:
    """Who is emailed about *req*: the signer; for countersignatures and for pupils without
    an email address, their parents."""
    if not req.countersign and req.subject.email:
        return [req.subject]
    return [p for p in parents_of(req.subject) if p.email]


def send_reminders(reqs: list[Requirement], *, actor: Person | None = None,
                   now: dt.datetime | None = None, interval: dt.timedelta = REMINDER_INTERVAL) -> ReminderResult:
    """Email one reminder per person listing their outstanding items, skipping anyone
    reminded within *interval* (:data:`REMINDER_INTERVAL` for reminders sent by hand; the
    school-day schedule passes a shorter one). Each sent message is logged (flushes)."""
    from portal.mail import MailError, send_mail

    now = now or utcnow()
    result = ReminderResult()
    by_recipient: dict[int, tuple[Person, list[Requirement]]] = {}
    for req in reqs:
        if req.status != OUTSTANDING:
            continue
        recipients = reminder_recipients(req)
        if not recipients:
            if req.subject not in result.unreachable:
                result.unreachable.append(req.subject)
            continue
        for person in recipients:
            by_recipient.setdefault(person.id, (person, []))[1].append(req)
    since = now - interval
    recent_ids = set(session.scalars(
        select(PolicyReminder.recipient_id).where(PolicyReminder.recipient_id.in_(list(by_recipient)),
                                                  PolicyReminder.sent_at > since)
    ))
    link = mail_link("portal.home")
    for pid, (person, items) in by_recipient.items():
        if pid in recent_ids:
            result.recent.append(person)
            continue
        subject, body = _reminder_text(person, items, link)
        try:
            # reminder_recipients() keeps only people with an email address.
            send_mail(cast(str, person.email), subject, body)
        except MailError:
            result.failed.append(person)
            continue
        session.add(PolicyReminder(recipient_id=person.id, sent_at=now, sent_by_id=getattr(actor, "id", None),
                                   items=len(items)))
        result.sent.append(person)
    session.flush()
    audit.record("policy.reminders_sent", actor=actor, sent=len(result.sent), recent=len(result.recent),
                 unreachable=len(result.unreachable), failed=len(result.failed))
    return result


def _reminder_text(person: Person, items: list[Requirement], link: str) -> tuple[str, str]:
    """The reminder's subject and body in *person*'s language (a policy's title in that language
    too, when the school has published a translation)."""
    from flask_babel import gettext as _

    from portal.i18n import in_language, language_of
    from portal.policies.translations import published_translation

    code = language_of(person)
    with in_language(code):
        lines = []
        for r in items:
            translated = published_translation(r.version, code)
            title = translated.title if translated is not None else r.version.title
            if r.subject.id != person.id:
                lines.append("- " + _("%(title)s (for %(name)s)", title=title, name=r.subject.given_name))
            else:
                lines.append(f"- {title}")
        body = (_("Dear %(name)s,", name=person.full_name) + "\n\n"
                + _("Please read and sign the following for this school year:") + "\n\n"
                + "\n".join(lines) + "\n\n"
                + _("Sign in to the school portal to do this: %(link)s", link=link) + "\n\n"
                + _("Thank you.") + "\n")
        return _("Please sign the school's policies"), body


# ---------------------------------------------------------------- scheduled reminders and summaries


def _due_since(req: Requirement, year_start: dt.date) -> dt.date:
    """The first day *req* could be signed this school year (publication or the year's start)."""
    from portal.concerns.schooldays import uk_today

    published = req.version.published_at
    return max(year_start, uk_today(published)) if published is not None else year_start


def reminders_due(today: dt.date, *, first: int, every: int, most: int) -> list[Requirement]:
    """The outstanding requirements whose recipients are due an automatic reminder today.

    Counted in school days (weekends, bank holidays and the school's closures do not count, and
    nothing is due on a day the school is closed): the first reminder *first* school days after
    the item became due, then every *every* school days, at most *most* reminders in all
    (reminders sent by hand from the compliance page count too).
    """
    from portal.concerns.schooldays import add_school_days, closed_days, is_school_day, uk_today
    from portal.policies.queries import school_requirements

    if most <= 0 or not is_school_day(today, closed_days(today, today)):
        return []
    school = School.get()
    year = school.academic_year_of(today) if school else (today.year if today.month >= 9 else today.year - 1)
    year_start = dt.date(year, school.academic_year_start_month if school else 9,
                         school.academic_year_start_day if school else 1)
    by_recipient: dict[int, list[Requirement]] = {}
    for req in school_requirements(today):
        if req.status != OUTSTANDING:
            continue
        for person in reminder_recipients(req):
            by_recipient.setdefault(person.id, []).append(req)
    if not by_recipient:
        return []
    horizon = today + dt.timedelta(days=1)
    closures = closed_days(year_start - dt.timedelta(days=1), horizon + dt.timedelta(days=400))
    sent: dict[int, list[dt.datetime]] = {}
    for rem in session.scalars(select(PolicyReminder).where(PolicyReminder.recipient_id.in_(list(by_recipient)))
                               .order_by(PolicyReminder.sent_at)):
        sent.setdefault(rem.recipient_id, []).append(rem.sent_at)
    due: list[Requirement] = []
    for pid, items in by_recipient.items():
        start = min(_due_since(r, year_start) for r in items)
        earlier = [uk_today(t) for t in sent.get(pid, []) if uk_today(t) >= start]
        if len(earlier) >= most:
            continue
        base, gap = (earlier[-1], every) if earlier else (start, first)
        if add_school_days(base, gap, closures) <= today:
            due.extend(r for r in items if r not in due)
    return due


def class_summaries(today: dt.date) -> list[tuple[Person, SchoolClass, list[tuple[Person, list[tuple[str, bool]]]]]]:
    """For each class teacher: (teacher, class, [(pupil, [(policy title, a parent signs?), ...])]) for
    the classes with something outstanding this school year (own signatures and parents' countersignatures)."""
    from portal.policies.queries import school_requirements

    per_class: dict[int, dict[int, tuple[Person, list[tuple[str, bool]]]]] = {}
    classes: dict[int, SchoolClass] = {}
    for req in school_requirements(today):
        cls = req.school_class
        if req.status != OUTSTANDING or cls is None:
            continue
        classes[cls.id] = cls
        what = (req.version.title, bool(req.countersign))
        per_class.setdefault(cls.id, {}).setdefault(req.subject.id, (req.subject, []))[1].append(what)
    out = []
    for class_id, pupils in per_class.items():
        cls = classes[class_id]
        rows = sorted(pupils.values(), key=lambda p: (p[0].family_name, p[0].given_name))
        for teacher in cls.teacher_people:
            if teacher.active and teacher.email:
                out.append((teacher, cls, rows))
    return out
