"""Finding signed records for the auditor portal and the export."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import aliased

from portal.people.folding import fold
from portal.people.models import Person, PupilProfile, SchoolClass
from portal.policies.models import Policy, PolicyVersion
from portal.records.models import SignedRecord
from portal.signatures.models import Signature


@dataclass
class RecordFilter:
    """What an auditor narrowed the records to (every field optional)."""

    academic_year: int | None = None
    policy_id: int | None = None
    audience: str | None = None
    class_id: int | None = None
    #: Part of the signer's or the pupil's name, or their roster id.
    person: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


Signer = aliased(Person, name="signer")
Pupil = aliased(Person, name="pupil")
Witness = aliased(Person, name="witness")


def records_query(f: RecordFilter) -> Select:
    """One row per signature (with its record, if any) matching *f*, newest first.

    The class is the pupil's current class: the pupil signed for, or the signer when a pupil
    signed for themself.
    """
    pupil_id = func.coalesce(Signature.on_behalf_of_id, Signature.signer_id)
    stmt = (
        select(
            Signature.id.label("signature_id"),
            Signature.academic_year,
            Signature.signed_at,
            Signature.decision,
            Signature.method,
            Signature.signer_role,
            (Signer.given_name + " " + Signer.family_name).label("signer_name"),
            (Pupil.given_name + " " + Pupil.family_name).label("pupil_name"),
            (Witness.given_name + " " + Witness.family_name).label("witness_name"),
            Policy.id.label("policy_id"),
            Policy.audience,
            PolicyVersion.title.label("policy_title"),
            PolicyVersion.number.label("version_number"),
            SchoolClass.name.label("class_name"),
            SignedRecord.id.label("record_id"),
            SignedRecord.status,
            SignedRecord.pdf_sha256,
            SignedRecord.size,
            SignedRecord.seal_mode,
            SignedRecord.sealed_at,
            SignedRecord.timestamped_at,
        )
        .join(PolicyVersion, PolicyVersion.id == Signature.version_id)
        .join(Policy, Policy.id == PolicyVersion.policy_id)
        .join(Signer, Signer.id == Signature.signer_id)
        .outerjoin(Pupil, Pupil.id == Signature.on_behalf_of_id)
        .outerjoin(Witness, Witness.id == Signature.witness_id)
        .outerjoin(PupilProfile, PupilProfile.person_id == pupil_id)
        .outerjoin(SchoolClass, SchoolClass.id == PupilProfile.class_id)
        .outerjoin(SignedRecord, SignedRecord.signature_id == Signature.id)
    )
    if f.academic_year is not None:
        stmt = stmt.where(Signature.academic_year == f.academic_year)
    if f.policy_id is not None:
        stmt = stmt.where(Policy.id == f.policy_id)
    if f.audience:
        stmt = stmt.where(Policy.audience == f.audience)
    if f.class_id is not None:
        stmt = stmt.where(PupilProfile.class_id == f.class_id)
    if f.person:
        stmt = stmt.where(_person_clause(f.person))
    return stmt.order_by(Signature.id.desc())


def _person_clause(person: str):
    """The signer's or the pupil's name contains *person* (folded, :mod:`portal.people.folding`), or their
    roster id is it."""
    needle, folded = person.strip().lower(), fold(person)
    conds = []
    for who in (Signer, Pupil):
        if folded:  # an accent alone is no name: only the roster id is compared
            conds.append(who.name_key.contains(folded, autoescape=True))
            # A person stored without a key (see portal.people.search.words_match): the names as before.
            conds.append(and_(who.name_key == "", func.lower(who.given_name + " " + who.family_name)
                              .contains(needle, autoescape=True)))
        conds.append(func.lower(who.external_id) == needle)
    return or_(*conds)


def page_ids(f: RecordFilter, limit: int, offset: int = 0) -> Select:
    """The ids of one page of :func:`records_query` (newest first), joining only the tables the
    filter needs, so the database walks the school's signatures from the newest and stops after
    *limit* rows instead of building every row first and sorting it."""
    stmt = select(Signature.id)
    if f.policy_id is not None or f.audience:
        stmt = stmt.join(PolicyVersion, PolicyVersion.id == Signature.version_id)
        if f.policy_id is not None:
            stmt = stmt.where(PolicyVersion.policy_id == f.policy_id)
        if f.audience:
            stmt = stmt.join(Policy, Policy.id == PolicyVersion.policy_id).where(Policy.audience == f.audience)
    if f.academic_year is not None:
        stmt = stmt.where(Signature.academic_year == f.academic_year)
    if f.class_id is not None:
        pupil_id = func.coalesce(Signature.on_behalf_of_id, Signature.signer_id)
        stmt = stmt.join(PupilProfile, PupilProfile.person_id == pupil_id).where(PupilProfile.class_id == f.class_id)
    if f.person:
        stmt = (stmt.join(Signer, Signer.id == Signature.signer_id)
                .outerjoin(Pupil, Pupil.id == Signature.on_behalf_of_id).where(_person_clause(f.person)))
    return stmt.order_by(Signature.id.desc()).limit(limit).offset(offset)


def records_page(session, f: RecordFilter, limit: int, offset: int = 0) -> list:
    """One page of :func:`records_query` in two statements: the page's signature ids
    (:func:`page_ids`), then their rows by primary key, newest first."""
    ids = list(session.scalars(page_ids(f, limit, offset)))
    if not ids:
        return []
    return session.execute(records_query(RecordFilter()).where(Signature.id.in_(ids))).all()


def filter_choices(session) -> dict[str, list[tuple[Any, str]]]:
    """Values offered in the filter form."""
    from portal.people.models import academic_year_label
    from portal.policies.models import AUDIENCE_LABELS

    years = session.scalars(select(Signature.academic_year).distinct().order_by(Signature.academic_year.desc()))
    policies = session.execute(select(Policy.id, Policy.title).order_by(Policy.title)).all()
    classes = session.execute(select(SchoolClass.id, SchoolClass.name)
                              .order_by(SchoolClass.year_group, SchoolClass.name)).all()
    return {
        "years": [(y, academic_year_label(y)) for y in years],
        "policies": [(p.id, p.title) for p in policies],
        "audiences": [(a.value, label) for a, label in AUDIENCE_LABELS.items()],
        "classes": [(c.id, c.name) for c in classes],
    }
