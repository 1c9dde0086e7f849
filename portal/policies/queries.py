"""Who must sign what, and what counts as signed.

The rules, in one place:

* A person's audiences come from their roles (parent, staff = teacher or support staff,
  governor, volunteer, contractor) and, for a pupil, from the age band of their year group.
* Every published policy of an audience applies. A pupil with ``PupilProfile.send`` gets the
  SEND variant(s) of their band when one is published, instead of the ordinary policy.
* Pupils in EYFS/KS1 and KS2 do not sign for themselves: a parent countersigns
  (``Method.COUNTERSIGN``, ``on_behalf_of`` = the pupil); one parent's signature is enough.
  Pupils in KS3 and above sign their own (online, in class or through the LMS).
* Everyone signs again each academic year (``Signature.academic_year``).
* A signature (or a parent's decline) of an earlier version still counts if every version
  published after it was a minor change (``requires_resign`` False).
* Any counting signature beats a decline; otherwise the newest counting decline is the answer.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from flask import g, has_request_context
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.db import session, utcnow
from portal.people.bands import EYFS_KS1, KS2
from portal.people.models import GuardianLink, Person, PersonRole, PupilProfile, Role
from portal.policies.models import BAND_AUDIENCE, Audience, Policy, PolicyVersion, VersionStatus
from portal.schools.isolation import get_scope
from portal.schools.models import School
from portal.signatures.models import ConsentAnswer, Decision, Method, Signature

#: Bands whose pupil AUP is countersigned by a parent.
COUNTERSIGN_BANDS = frozenset({EYFS_KS1, KS2})

#: The audience each adult role signs for.
ROLE_AUDIENCE: dict[Role, Audience] = {
    Role.PARENT: Audience.PARENT,
    Role.TEACHER: Audience.STAFF,
    Role.SUPPORT_STAFF: Audience.STAFF,
    Role.GOVERNOR: Audience.GOVERNOR,
    Role.VOLUNTEER: Audience.VOLUNTEER,
    Role.CONTRACTOR: Audience.CONTRACTOR,
    Role.VISITOR: Audience.VISITOR,
}

SIGNED, DECLINED, OUTSTANDING = "signed", "declined", "outstanding"


def current_academic_year(today: dt.date | None = None) -> int:
    """Starting year of the academic year containing *today* (school settings, else 1 September)."""
    today = today or utcnow().date()
    settings = School.get()
    if settings is None:
        return today.year if today >= dt.date(today.year, 9, 1) else today.year - 1
    return settings.academic_year_of(today)


def adult_audiences(person: Person) -> list[Audience]:
    """Audiences from *person*'s roles, in a stable order, without repeats."""
    out: list[Audience] = []
    for role in Role:
        aud = ROLE_AUDIENCE.get(role)
        if aud is not None and person.has_role(role) and aud not in out:
            out.append(aud)
    return out


def signer_role_for(person: Person, audience: Audience, countersign: bool = False) -> str:
    """The ``Signature.signer_role`` for *person* signing a policy of *audience*."""
    if countersign or audience is Audience.PARENT:
        return Role.PARENT.value
    if audience.is_pupil:
        return Role.PUPIL.value
    if audience is Audience.STAFF:
        return Role.TEACHER.value if person.has_role(Role.TEACHER) else Role.SUPPORT_STAFF.value
    return audience.value


class Catalogue:
    """The published policies and their version history, loaded once (one statement; a version's
    consent questions load when that version is shown). Use :func:`catalogue` for the request's."""

    def __init__(self) -> None:
        versions = session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.status.in_([VersionStatus.PUBLISHED.value, VersionStatus.SUPERSEDED.value]))
            .options(joinedload(PolicyVersion.policy))
            .order_by(PolicyVersion.policy_id, PolicyVersion.number)
        ).all()
        #: policy id -> versions ever published, oldest first.
        self.history: dict[int, list[PolicyVersion]] = defaultdict(list)
        #: policy id -> its published version.
        self.current: dict[int, PolicyVersion] = {}
        for v in versions:
            self.history[v.policy_id].append(v)
            if v.status == VersionStatus.PUBLISHED.value:
                self.current[v.policy_id] = v
        by_aud: dict[tuple[str, bool], list[PolicyVersion]] = defaultdict(list)
        for v in sorted(self.current.values(), key=lambda v: v.policy_id):
            by_aud[(v.policy.audience, bool(v.policy.send_variant))].append(v)
        self.by_audience = by_aud

    def for_audience(self, audience: Audience) -> list[PolicyVersion]:
        """Current versions of the ordinary (non-SEND) policies of *audience*."""
        return list(self.by_audience.get((audience.value, False), []))

    def for_pupil(self, profile: PupilProfile) -> list[PolicyVersion]:
        """Current versions that apply to a pupil (SEND variant when due and published)."""
        audience = BAND_AUDIENCE[profile.age_band]
        if profile.send:
            send = self.by_audience.get((audience.value, True))
            if send:
                return list(send)
        return self.for_audience(audience)

    def counts(self, sig: Signature, current: PolicyVersion, year: int) -> bool:
        """Does *sig* count towards *current* in academic *year*?"""
        return sig.academic_year == year and self.counts_version(sig.version, current)

    def counts_version(self, version: PolicyVersion, current: PolicyVersion) -> bool:
        """Does a signature of *version* count towards *current* (same policy, not newer, and
        every version published after it was a minor change)?"""
        if version.policy_id != current.policy_id or version.number > current.number:
            return False
        return all(
            not v.requires_resign
            for v in self.history.get(current.policy_id, [])
            if version.number < v.number <= current.number
        )


_CATALOGUE_KEY = "_portal_catalogue"


def catalogue() -> Catalogue:
    """The catalogue of the school (or schools) in scope, built once per request: the home page's
    tasks, the signing page and the history all ask for it. Outside a request, a new one each
    time. :func:`forget_catalogue` drops it when a policy or version changes."""
    if not has_request_context():
        return Catalogue()
    scope = get_scope(session)
    cached = g.get(_CATALOGUE_KEY)
    if cached is not None and cached[0] == scope:
        return cached[1]
    cat = Catalogue()
    setattr(g, _CATALOGUE_KEY, (scope, cat))
    return cat


def forget_catalogue() -> None:
    """Called by the operations that create, publish or change versions."""
    if has_request_context():
        g.pop(_CATALOGUE_KEY, None)


@dataclass
class Requirement:
    """One thing to be signed this academic year."""

    version: PolicyVersion
    #: Whose agreement it is: the signer themselves, or the pupil a parent countersigns for.
    subject: Person
    #: True when a parent signs for *subject* (EYFS/KS1 and KS2 pupils).
    countersign: bool
    academic_year: int
    #: The signature (or decline) that answers it, if any.
    signature: Signature | None = None
    #: Every counting signature or decline (several parents may answer for one child).
    answers: list[Signature] = field(default_factory=list)

    @property
    def policy(self) -> Policy:
        return self.version.policy

    @property
    def status(self) -> str:
        if self.signature is None:
            return OUTSTANDING
        return SIGNED if self.signature.decision == Decision.SIGNED.value else DECLINED

    @property
    def method(self) -> Method:
        return Method.COUNTERSIGN if self.countersign else Method.ONLINE

    @property
    def school_class(self):
        profile = self.subject.pupil
        return profile.school_class if profile is not None else None

    def sign_url(self) -> str:
        from flask import url_for

        if self.countersign:
            return url_for("portal.policies.sign", version_id=self.version.id, pupil_id=self.subject.id)
        return url_for("portal.policies.sign", version_id=self.version.id)


class CountsSignatures(Protocol):
    """What :func:`_resolve` asks of the policies it resolves against: a :class:`Catalogue`, or the
    compliance counts' plan of version ids (:mod:`portal.policies.compliance`)."""

    def counts(self, sig: Signature, current: PolicyVersion, year: int) -> bool: ...


def _resolve(req: Requirement, candidates: Iterable[Signature], cat: CountsSignatures) -> Requirement:
    counting = [s for s in candidates if cat.counts(s, req.version, req.academic_year)]
    counting.sort(key=lambda s: (s.signed_at, s.id))
    req.answers = counting
    signed = [s for s in counting if s.decision == Decision.SIGNED.value]
    if signed:
        req.signature = signed[-1]
    elif counting:
        req.signature = counting[-1]
    return req


def _load_signatures(year: int, *, signer_ids=None, subject_ids=None) -> list[Signature]:
    # Each signature's version is one of the catalogue's (loaded first by every caller), so
    # ``sig.version`` is an identity-map hit; the signers (named on per-child status) load in one statement.
    q = select(Signature).where(Signature.academic_year == year).options(selectinload(Signature.signer))
    if signer_ids is not None or subject_ids is not None:
        conds = []
        if signer_ids:
            conds.append(Signature.signer_id.in_(list(signer_ids)))
        if subject_ids:
            conds.append(Signature.on_behalf_of_id.in_(list(subject_ids)))
        if not conds:
            return []
        q = q.where(or_(*conds))
    return list(session.scalars(q))


class _Index:
    """Signatures grouped by who they answer for."""

    def __init__(self, signatures: Iterable[Signature]) -> None:
        self.own: dict[int, list[Signature]] = defaultdict(list)
        self.for_pupil: dict[int, list[Signature]] = defaultdict(list)
        for s in signatures:
            if s.on_behalf_of_id is None:
                self.own[s.signer_id].append(s)
            else:
                self.for_pupil[s.on_behalf_of_id].append(s)


_SHARED_KEY = "_portal_shared_signatures"


@contextmanager
def one_signature_load(people: Iterable[Person], today: dt.date | None = None) -> Iterator[None]:
    """Inside the block, the requirements and statuses of *people* this academic year come from one
    load of every signature they gave or that was given for them, instead of one load per question.

    For a page that reads and writes nothing in between: the parent home asks for the parent's
    to-do list and for each child's status, which would load the family's countersignatures twice.
    Only whole groups are kept per person (everything a person signed, everything given for a pupil),
    so an answer from the shared load is the answer a load of its own would give."""
    if not has_request_context():
        yield
        return
    year = current_academic_year(today)
    ids = frozenset(p.id for p in people)
    setattr(g, _SHARED_KEY, (year, ids, _Index(_load_signatures(year, signer_ids=ids, subject_ids=ids))))
    try:
        yield
    finally:
        g.pop(_SHARED_KEY, None)


def _index(year: int, *, signer_ids: Iterable[int], subject_ids: Iterable[int]) -> _Index:
    """The signatures of *year* by *signer_ids* or for *subject_ids*, grouped (from the shared load
    of :func:`one_signature_load` when it covers them)."""
    signer_ids, subject_ids = list(signer_ids), list(subject_ids)
    shared = g.get(_SHARED_KEY) if has_request_context() else None
    if shared is not None and shared[0] == year and shared[1].issuperset(signer_ids) \
            and shared[1].issuperset(subject_ids):
        return shared[2]
    return _Index(_load_signatures(year, signer_ids=signer_ids, subject_ids=subject_ids))


def _own_requirements(person: Person, cat: Catalogue, year: int, idx: _Index) -> list[Requirement]:
    reqs: list[Requirement] = []
    if not person.active:
        return reqs
    versions: list[PolicyVersion] = []
    for aud in adult_audiences(person):
        versions.extend(cat.for_audience(aud))
    profile = person.pupil if person.has_role(Role.PUPIL) else None
    if profile is not None and profile.age_band not in COUNTERSIGN_BANDS:
        versions.extend(cat.for_pupil(profile))
    for v in versions:
        reqs.append(_resolve(Requirement(v, person, False, year), idx.own.get(person.id, []), cat))
    return reqs


def _countersign_requirements(pupil: Person, cat: Catalogue, year: int, idx: _Index) -> list[Requirement]:
    profile = pupil.pupil
    if profile is None or not pupil.active or profile.age_band not in COUNTERSIGN_BANDS:
        return []
    return [_resolve(Requirement(v, pupil, True, year), idx.for_pupil.get(pupil.id, []), cat)
            for v in cat.for_pupil(profile)]


def children_of(parent: Person) -> list[Person]:
    """*parent*'s children (pupils), by name (see :func:`portal.security.children_of`)."""
    from portal.security import children_of as _children_of

    return _children_of(parent)


def parents_of(pupil: Person) -> list[Person]:
    """Active parents and carers of *pupil*."""
    return list(session.scalars(
        select(Person).join(GuardianLink, GuardianLink.parent_id == Person.id)
        .where(GuardianLink.pupil_id == pupil.id, Person.active).order_by(Person.id)
    ))


def requirements_for(person: Person, today: dt.date | None = None) -> list[Requirement]:
    """Everything *person* is asked to sign this academic year: their own policies, then a
    countersignature for each EYFS/KS1 or KS2 child (parents). Each has a status."""
    from portal.security import unproxied

    person = unproxied(person)  # the requirements keep the person: not Flask-Login's current_user proxy
    year = current_academic_year(today)
    cat = catalogue()
    kids = children_of(person) if person.has_role(Role.PARENT) else []
    idx = _index(year, signer_ids=[person.id], subject_ids=[k.id for k in kids])
    reqs = _own_requirements(person, cat, year, idx)
    for kid in kids:
        reqs.extend(_countersign_requirements(kid, cat, year, idx))
    return reqs


def outstanding_for(person: Person, today: dt.date | None = None) -> list[Requirement]:
    """The requirements of *person* with no answer yet (declines are answers)."""
    return [r for r in requirements_for(person, today) if r.status == OUTSTANDING]


def requirement_for(person: Person, version: PolicyVersion, pupil: Person | None = None,
                    today: dt.date | None = None) -> Requirement | None:
    """The requirement that lets *person* sign *version*'s policy (for *pupil* when
    countersigning), or None when they have no business signing it."""
    for r in requirements_for(person, today):
        if r.version.policy_id != version.policy_id:
            continue
        if pupil is None and not r.countersign:
            return r
        if pupil is not None and r.countersign and r.subject.id == pupil.id:
            return r
    return None


def refresh(req: Requirement) -> Requirement:
    """*req* re-answered from the signatures committed now (used under a lock before writing)."""
    cat = catalogue()
    if req.countersign:
        idx = _Index(_load_signatures(req.academic_year, subject_ids=[req.subject.id]))
        candidates = idx.for_pupil.get(req.subject.id, [])
    else:
        idx = _Index(_load_signatures(req.academic_year, signer_ids=[req.subject.id]))
        candidates = idx.own.get(req.subject.id, [])
    return _resolve(Requirement(req.version, req.subject, req.countersign, req.academic_year), candidates, cat)


def versions_for_pupil(pupil: Person) -> list[PolicyVersion]:
    """The published versions that apply to *pupil* now (band, SEND variant)."""
    if pupil.pupil is None:
        return []
    return catalogue().for_pupil(pupil.pupil)


def version_for_pupil(pupil: Person) -> PolicyVersion | None:
    """The pupil's acceptable-use policy version (the first, when several apply)."""
    versions = versions_for_pupil(pupil)
    return versions[0] if versions else None


def pupil_requirements(pupil: Person, today: dt.date | None = None) -> list[Requirement]:
    """The pupil's own AUP requirement(s) with status: countersign for EYFS/KS1 and KS2,
    the pupil's own signature otherwise."""
    year = current_academic_year(today)
    cat = catalogue()
    idx = _Index(_load_signatures(year, signer_ids=[pupil.id], subject_ids=[pupil.id]))
    profile = pupil.pupil
    if profile is None:
        return []
    if profile.age_band in COUNTERSIGN_BANDS:
        return _countersign_requirements(pupil, cat, year, idx)
    return [r for r in _own_requirements(pupil, cat, year, idx) if r.version.policy.audience.startswith("pupil_")]


def pupil_acknowledgements(pupil: Person, today: dt.date | None = None) -> list[Requirement]:
    """The pupil's *own* acknowledgement of their AUP(s), in any band (in class, online or
    through the LMS). For EYFS/KS1 and KS2 pupils this is extra to the parent's
    countersignature, which is what :func:`pupil_requirements` and the dashboard count."""
    profile = pupil.pupil
    if profile is None:
        return []
    year = current_academic_year(today)
    cat = catalogue()
    idx = _Index(_load_signatures(year, signer_ids=[pupil.id]))
    return [_resolve(Requirement(v, pupil, False, year), idx.own.get(pupil.id, []), cat)
            for v in cat.for_pupil(profile)]


@dataclass
class ChildStatus:
    """Where one child stands this school year: what is signed, declined or outstanding, and by whom."""

    pupil: Person
    #: What counts for the child: a parent's countersignature (EYFS/KS1, KS2) or, for older
    #: pupils, their own agreement.
    requirements: list[Requirement]
    #: Young pupils only: their own agreement in class (extra to the countersignature).
    own_acknowledgements: list[Requirement] = field(default_factory=list)

    @property
    def signs_own(self) -> bool:
        """True when the child agrees for themselves (Years 7 and up)."""
        return bool(self.requirements) and not self.requirements[0].countersign

    def count(self, status: str) -> int:
        return sum(1 for r in self.requirements if r.status == status)


def family_status(parent: Person, today: dt.date | None = None,
                  children: list[Person] | None = None) -> list[ChildStatus]:
    """For each of *parent*'s children (or the *children* given, who must be theirs): every
    policy that applies to the child this school year, its status and who answered it,
    including older children who sign their own."""
    return pupils_status(children if children is not None else children_of(parent), today)


def pupils_status(kids: list[Person], today: dt.date | None = None) -> list[ChildStatus]:
    """:class:`ChildStatus` of each pupil in *kids* (a family, or a class), with one catalogue and
    one signature query."""
    year = current_academic_year(today)
    cat = catalogue()
    ids = [k.id for k in kids]
    idx = _index(year, signer_ids=ids, subject_ids=ids) if ids else _Index([])
    out: list[ChildStatus] = []
    for kid in kids:
        profile = kid.pupil
        if profile is None or not kid.active:
            out.append(ChildStatus(kid, []))
            continue
        if profile.age_band in COUNTERSIGN_BANDS:
            own = [_resolve(Requirement(v, kid, False, year), idx.own.get(kid.id, []), cat)
                   for v in cat.for_pupil(profile)]
            out.append(ChildStatus(kid, _countersign_requirements(kid, cat, year, idx), own))
        else:
            reqs = [_resolve(Requirement(v, kid, False, year), idx.own.get(kid.id, []), cat)
                    for v in cat.for_pupil(profile)]
            out.append(ChildStatus(kid, reqs))
    return out


def family_requirements(parent: Person, version: PolicyVersion, today: dt.date | None = None) -> list[Requirement]:
    """The countersignatures *parent* may give for *version*'s policy, one per child, that are not
    signed yet (outstanding or declined): what one-step family signing offers."""
    return [r for r in requirements_for(parent, today)
            if r.countersign and r.version.policy_id == version.policy_id and r.status != SIGNED]


def school_requirements(today: dt.date | None = None) -> list[Requirement]:
    """Every requirement in the school this academic year (the compliance dashboard)."""
    year = current_academic_year(today)
    cat = catalogue()
    idx = _Index(_load_signatures(year))
    people = session.scalars(
        select(Person).where(Person.active, Person.id.in_(select(PersonRole.person_id)))
        .options(selectinload(Person.pupil).selectinload(PupilProfile.school_class))
        .order_by(Person.family_name, Person.given_name, Person.id)
    ).all()
    reqs: list[Requirement] = []
    for person in people:
        reqs.extend(_own_requirements(person, cat, year, idx))
        if person.has_role(Role.PUPIL):
            reqs.extend(_countersign_requirements(person, cat, year, idx))
    return reqs


def audience_summary(today: dt.date | None = None) -> dict[str, dict[str, int]]:
    """{audience: {"signed", "declined", "outstanding", "total"}} for this school year in the
    current school (counted by the database: see :mod:`portal.policies.compliance`)."""
    from portal.policies.compliance import tallies

    return {audience: counts.as_dict() for (audience,), counts in tallies(("audience",), today).items()}


def history_for(person: Person) -> list[Signature]:
    """Signatures and declines by *person*, and for or by their children, newest first."""
    kid_ids = [k.id for k in children_of(person)] if person.has_role(Role.PARENT) else []
    conds = [Signature.signer_id == person.id]
    if kid_ids:
        conds += [Signature.on_behalf_of_id.in_(kid_ids), Signature.signer_id.in_(kid_ids)]
    return list(session.scalars(
        select(Signature).where(or_(*conds))
        .options(selectinload(Signature.version).selectinload(PolicyVersion.policy),
                 selectinload(Signature.consent_answers))
        .order_by(Signature.signed_at.desc(), Signature.id.desc())
    ))


def signed_text(signature: Signature):
    """The :class:`~portal.policies.models.SignedText` a signature's hash refers to (or None
    for signatures recorded elsewhere without storing their text)."""
    from portal.policies.models import SignedText

    return session.scalar(select(SignedText).where(SignedText.sha256 == signature.text_sha256))


# ---------------------------------------------------------------- consents


def latest_answers(person: Person) -> dict[tuple[str, int | None], ConsentAnswer]:
    """(consent key, pupil id or None) -> *person*'s newest answer."""
    rows = session.scalars(
        select(ConsentAnswer).where(ConsentAnswer.person_id == person.id)
        .options(selectinload(ConsentAnswer.consent_item))
        .order_by(ConsentAnswer.answered_at, ConsentAnswer.id)
    ).all()
    out: dict[tuple[str, int | None], ConsentAnswer] = {}
    for row in rows:
        out[(row.consent_item.key, row.pupil_id)] = row
    return out


def consent_history(person: Person) -> list[ConsentAnswer]:
    """Every answer *person* has given, newest first."""
    return list(session.scalars(
        select(ConsentAnswer).where(ConsentAnswer.person_id == person.id)
        .options(selectinload(ConsentAnswer.consent_item))
        .order_by(ConsentAnswer.answered_at.desc(), ConsentAnswer.id.desc())
    ))


def consent_for_pupil(pupil: Person, key: str) -> bool | None:
    """May the school do *key* (e.g. ``photos_website``) for *pupil*?

    Looks at each parent's newest answer (given in their own AUP, or about this pupil):
    False if any parent says no, True if at least one says yes and none says no, None if
    no parent has answered.
    """
    answers: list[bool] = []
    for parent in parents_of(pupil):
        latest = latest_answers(parent)
        rows = [r for r in (latest.get((key, pupil.id)), latest.get((key, None))) if r is not None]
        if rows:
            row = max(rows, key=lambda r: (r.answered_at, r.id))
            answers.append(row.answer)
    if not answers:
        return None
    return all(answers)
