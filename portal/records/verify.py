"""Check a PDF: is it one of our sealed records, unchanged, and which record is it?

The rules are :mod:`portal.records.rules` (the same file ships in ``countersign-verify``); the
portal adds what it knows: every sealing certificate it has used (current and retired, every
school), the current CRLs, and the archive. A record is identified by the SHA-256 of the PDF
(the archive is content-addressed, and every version of a record is listed in
:class:`~portal.records.models.RecordFile`); the signature id written inside the PDF is only a
hint, since ids change when a school moves to another installation.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509 as asn1_x509
from sqlalchemy import select

from portal.db import session
from portal.records import rules
from portal.records.keys import (
    SealingKeyMissing,
    installation_crls,
    installation_roots,
    load_cert,
    school_keys_dir,
    seal_identity,
)
from portal.records.models import RecordFile, SignedRecord
from portal.records.rules import (
    N_,
    NotAPdf,  # noqa: F401  (re-exported for callers)
)
from portal.schools.isolation import all_schools

log = logging.getLogger("portal.records")


@dataclass
class Verdict:
    """A rules check plus what the portal knows about the file."""

    check: rules.Check
    #: The archived record whose PDF (any version) has exactly these bytes.
    record: SignedRecord | None = None
    #: The record's school (public page: any school of this installation).
    school: Any = None
    #: This file is an earlier version of the record (a time stamp was added since).
    earlier_version: bool = False
    #: Checked on one record's page, but it is another record of the school (genuine, yet not the
    #: record the page is about: never shown in green there).
    other_record: bool = False

    def __getattr__(self, name: str) -> Any:  # the check's fields read through
        return getattr(self.__dict__["check"], name)

    @property
    def genuine(self) -> bool:
        return self.check.outcome == rules.GENUINE or (
            self.check.outcome == rules.UNCONFIRMED and self.record is not None)

    @property
    def outcome(self) -> str:
        if self.other_record and self.genuine:
            return "other_record"
        return rules.GENUINE if self.genuine else self.check.outcome

    @property
    def summary(self) -> str:
        """In the reader's language on a page (English outside a request: the CLI, logs)."""
        from flask_babel import gettext as _

        if self.other_record and self.genuine:
            text = _("This file is a genuine record of the school, but not the record this page is about.")
        elif self.check.outcome == rules.UNCONFIRMED and self.record is not None:
            text = _("Genuine: this file is identical to the record in the school's archive.")
        else:
            text = _(self.check.summary)
        if self.genuine and self.record is not None:
            text += " " + _("It records signature %(number)s.", number=self.record.signature_id)
        return text

    @property
    def findings(self) -> list[str]:
        """The problems, in the reader's language on a page (English outside a request)."""
        from portal.messages import shown

        return [shown(p) for p in self.check.problems]

    @property
    def signature(self) -> Any:
        """The signature of the archived record (for the school's own staff pages)."""
        return self.record.signature if self.record is not None else None

    @property
    def signature_id(self) -> int | None:
        """The signature the record is about, in this installation (from the archive, not the file)."""
        return self.record.signature_id if self.record is not None else None


def _school_certs(school: Any) -> tuple[list[asn1_x509.Certificate], set[str]]:
    """(roots, known fingerprints) of one school's sealing certificates."""
    try:
        identity = seal_identity(school)
        return identity.all_roots, set(identity.known_fingerprints)
    except SealingKeyMissing:
        folder = school_keys_dir(school) / "retired"
        retired = [load_cert(p) for p in sorted(folder.glob("*.cert.pem"))] if folder.is_dir() else []
        return [c for c in retired if c.self_signed in ("maybe", "yes")], {rules.fingerprint(c) for c in retired}


def trust_material(schools: list[Any]) -> tuple[list[asn1_x509.Certificate], set[str]]:
    """Trust roots and known sealing-certificate fingerprints for *schools*."""
    roots = {c.dump(): c for c in installation_roots()}
    known: set[str] = set()
    for school in schools:
        r, k = _school_certs(school)
        roots.update({c.dump(): c for c in r})
        known |= k
    return list(roots.values()), known


def verify_pdf(data: bytes, *, schools: list[Any] | None = None, at: dt.datetime | None = None) -> Verdict:
    """Verify *data* for the current school (the auditor's page, the CLI), or for *schools* (the
    public page passes every school of the installation).

    :raises NotAPdf: for files that are not readable PDFs.
    """
    from portal.schools.models import School

    if schools is None:
        current = School.get()
        schools = [current] if current is not None else []
    roots, known = trust_material(schools)
    check = rules.check_pdf(data, trust_roots=roots, known_certs=known, crls=installation_crls(), at=at)
    verdict = Verdict(check=check)
    if not check.ours:
        if check.sealed and not roots:
            check.problems.append(N_("This portal has no sealing certificate set up, so it cannot check seals."))
        return verdict
    ids = [s.id for s in schools]
    with all_schools(session):  # the file may belong to any of *schools*: looked up by its SHA-256 only
        row = session.scalar(select(RecordFile).where(RecordFile.sha256 == check.sha256,
                                                      RecordFile.school_id.in_(ids)).limit(1))
        if row is None:  # records sealed before record versions were kept
            record = session.scalar(select(SignedRecord).where(SignedRecord.pdf_sha256 == check.sha256,
                                                               SignedRecord.school_id.in_(ids)).limit(1))
        else:
            record = row.record
        if record is not None:
            verdict.record = record
            verdict.school = session.get(School, record.school_id)
            verdict.earlier_version = record.pdf_sha256 != check.sha256
    if verdict.record is not None and verdict.earlier_version and check.genuine:
        check.problems.append(N_("This is an earlier copy of the record: the school has added a time stamp "
                                 "since. Both are genuine."))
    return verdict
