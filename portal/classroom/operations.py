"""State changes for classroom sessions. Operations flush; the views commit once.

Every function that depends on the time takes ``now`` (default: :func:`portal.db.utcnow`) so
tests can move the clock without patching.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import contains_eager

from portal import audit
from portal.classroom.models import ClassroomEntry, ClassroomSession
from portal.classroom.rendering import is_young, sha256_of_shown, shown_text
from portal.classroom.versions import academic_year, acknowledged_ids, versions_for_year
from portal.db import rowcount, session, utcnow
from portal.people.models import LoginAttempt, Person, PupilProfile, Role, SchoolClass
from portal.policies.models import PolicyVersion
from portal.schools.isolation import all_schools
from portal.signatures.models import Decision, Method, Signature

#: Join-code letters: no 0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G so codes are easy to read off a board.
CODE_ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"
CODE_LENGTH = 6


class ClassroomError(Exception):
    """A request that cannot be carried out; the message is shown to the person."""


def _cfg(key: str, default: int) -> int:
    return int(current_app.config.get(key, default))


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(raw: str) -> str:
    """Upper-case and drop spaces and dashes, so "abc 123" and "ABC-123" both work."""
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def teacher_classes(teacher: Person) -> list[SchoolClass]:
    from portal.people.models import ClassTeacher

    return list(session.scalars(
        select(SchoolClass).join(ClassTeacher).where(ClassTeacher.teacher_id == teacher.id)
        .order_by(SchoolClass.year_group, SchoolClass.code)
    ))


def open_session_for(school_class: SchoolClass) -> ClassroomSession | None:
    """The class's session that has not been closed yet (even if its code has expired)."""
    return session.scalar(
        select(ClassroomSession).where(ClassroomSession.class_id == school_class.id,
                                       ClassroomSession.closed_at.is_(None))
        .order_by(ClassroomSession.id.desc()).limit(1)
    )


def start_session(teacher: Person, school_class: SchoolClass, *, now: dt.datetime | None = None) -> ClassroomSession:
    """Open a session for one of *teacher*'s classes with the class's published rules.

    :raises ClassroomError: when no rules are published for the class's age band, or the class
        already has a session that has not been closed.
    """
    now = now or utcnow()
    if teacher.id not in {t.teacher_id for t in school_class.teachers}:
        raise ClassroomError(_("You can only start a session for a class you teach."))
    # Take the class's row lock (PostgreSQL; SQLite locks the database on write) before looking
    # for an open session, so two starts at the same moment cannot both open one.
    session.execute(update(SchoolClass).where(SchoolClass.id == school_class.id).values(code=SchoolClass.code)
                    .execution_options(synchronize_session=False))
    if open_session_for(school_class) is not None:
        raise ClassroomError(_("%(name)s already has a session open. Close it before starting another.",
                                 name=school_class.name))
    version, send_version = versions_for_year(school_class.year_group)
    if version is None:
        raise ClassroomError(_("There are no published online-safety rules for %(name)s's age group yet.",
                                 name=school_class.name))
    code = new_code()
    while session.scalar(select(ClassroomSession.id).where(ClassroomSession.code == code)) is not None:
        code = new_code()
    minutes = _cfg("PORTAL_CLASSROOM_CODE_MINUTES", 60)
    cs = ClassroomSession(class_id=school_class.id, teacher_id=teacher.id, version_id=version.id,
                          send_version_id=send_version.id if send_version else None, code=code,
                          created_at=now, expires_at=now + dt.timedelta(minutes=minutes))
    session.add(cs)
    session.flush()
    audit.record("classroom.session_started", actor=teacher, target=cs, class_id=school_class.id,
                 version_id=version.id)
    return cs


def find_by_code(code: str, *, now: dt.datetime | None = None) -> ClassroomSession | None:
    """The session whose code is *code* and still accepts pupils, else None."""
    code = normalise_code(code)
    if not code:
        return None
    with all_schools(session):  # a pupil's device knows only the code; the session names the school
        cs = session.scalar(select(ClassroomSession).where(ClassroomSession.code == code))
        if cs is None or not cs.accepts_pupils(now):
            return None
    return cs


# ------------------------------------------------------------------ join-code guessing


def _join_keys(ip: str, device_id: str, known_device: bool) -> tuple[str, str]:
    address = "ip-known" if known_device else "ip"
    return f"classjoin:dev:{device_id}", f"classjoin:{address}:{ip}"


def join_limited(ip: str, device_id: str, *, known_device: bool = False,
                 now: dt.datetime | None = None) -> Literal["device", "address"] | None:
    """``"device"`` when this device has entered too many wrong codes within the window, ``"address"``
    when its address has used up its (larger) budget, else None; kept in the database, so it holds
    across worker processes.

    An address has two budgets of the same size: one for devices that have joined a session before,
    one for the rest. So one device guessing behind a school's single address (with its cookie thrown
    away each time) cannot lock the class devices out, and many devices that each joined once with a
    code they knew cannot make unlimited guesses either.
    """
    now = now or utcnow()
    since = now - dt.timedelta(seconds=_cfg("PORTAL_CLASSROOM_JOIN_WINDOW_SECONDS", 600))
    device_key, ip_key = _join_keys(ip, device_id, known_device)

    def n(key: str) -> int:
        return session.scalar(select(func.count(LoginAttempt.id)).where(
            LoginAttempt.key == key[:300], LoginAttempt.at >= since)) or 0

    if n(device_key) >= _cfg("PORTAL_CLASSROOM_JOIN_MAX_ATTEMPTS", 5):
        return "device"
    if n(ip_key) >= _cfg("PORTAL_CLASSROOM_JOIN_ADDRESS_MAX_ATTEMPTS", 100):
        return "address"
    return None


def note_wrong_code(ip: str, device_id: str, *, known_device: bool = False, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    for key in _join_keys(ip, device_id, known_device):
        session.add(LoginAttempt(key=key[:300], at=now))
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - dt.timedelta(days=1)))
    session.flush()


# ------------------------------------------------------------------ pupils


def class_pupils(school_class: SchoolClass) -> list[Person]:
    """Active pupils of the class, by first name."""
    return list(session.scalars(
        select(Person).join(PupilProfile, PupilProfile.person_id == Person.id)
        .options(contains_eager(Person.pupil))
        .where(PupilProfile.class_id == school_class.id, Person.active)
        .order_by(Person.given_name, Person.family_name, Person.id)
    ))


def class_pupil_or_none(cs: ClassroomSession, pupil_id: int) -> Person | None:
    """The pupil *pupil_id* if they are in the session's class (else None: the view answers 404)."""
    pupil = session.get(Person, pupil_id)
    if pupil is None or not pupil.active or pupil.pupil is None or pupil.pupil.class_id != cs.class_id:
        return None
    return pupil


def acknowledged_in_class(pupils: list[Person], main: PolicyVersion | None, send: PolicyVersion | None,
                          year: int) -> set[int]:
    """Ids of *pupils* who agreed in academic *year* to the version meant for them (*send* for
    SEND pupils when it exists, else *main*)."""
    def wanted(p: Person) -> PolicyVersion | None:
        return send if (send is not None and p.pupil is not None and p.pupil.send) else main

    done: set[int] = set()
    for version in {v for v in (main, send) if v is not None}:
        done |= acknowledged_ids([p.id for p in pupils if wanted(p) is version], version, year)
    return done


def class_summaries(classes: list[SchoolClass], year: int) -> dict[int, tuple[PolicyVersion | None, int, int]]:
    """class id -> (the rules for its age group or None, pupils who agreed in *year*, pupils):
    for all *classes* in a fixed number of queries (the teacher's classroom page)."""
    from portal.classroom.versions import audience_for_year, covered_versions, published_versions

    if not classes:
        return {}
    published = published_versions()
    wanted = {c.id: (published.get((audience_for_year(c.year_group), False)),
                     published.get((audience_for_year(c.year_group), True))) for c in classes}
    pupils = session.scalars(
        select(Person).join(PupilProfile, PupilProfile.person_id == Person.id)
        .options(contains_eager(Person.pupil))
        .where(PupilProfile.class_id.in_([c.id for c in classes]), Person.active)).all()
    covered = covered_versions({v for pair in wanted.values() for v in pair if v is not None})
    # pupil id -> (class id, SEND) from the profile the join loaded: every pupil here has one, in one
    # of *classes* (the conditions only narrow the types).
    placed = {p.id: (p.pupil.class_id, p.pupil.send) for p in pupils
              if p.pupil is not None and p.pupil.class_id is not None}
    version_of: dict[int, int] = {}
    for p in pupils:
        class_id, is_send = placed[p.id]
        main, send = wanted[class_id]
        version = send if (send is not None and is_send) else main
        if version is not None:
            version_of[p.id] = version.id
    agreed: set[int] = set()
    if version_of:
        counting = {vid for ids in covered.values() for vid in ids}
        for signer_id, version_id in session.execute(
                select(Signature.signer_id, Signature.version_id).where(
                    Signature.signer_id.in_(list(version_of)), Signature.version_id.in_(counting),
                    Signature.academic_year == year, Signature.decision == Decision.SIGNED.value)):
            if version_id in covered.get(version_of[signer_id], ()):
                agreed.add(signer_id)
    out = {}
    for c in classes:
        members = [p for p in pupils if placed[p.id][0] == c.id]
        out[c.id] = (wanted[c.id][0], sum(1 for p in members if p.id in agreed), len(members))
    return out


def open_sessions_for(classes: list[SchoolClass]) -> dict[int, ClassroomSession]:
    """class id -> its session that has not been closed yet (the newest), in one query."""
    if not classes:
        return {}
    out: dict[int, ClassroomSession] = {}
    for cs in session.scalars(select(ClassroomSession).where(
            ClassroomSession.class_id.in_([c.id for c in classes]), ClassroomSession.closed_at.is_(None))
            .order_by(ClassroomSession.id.desc())):
        out.setdefault(cs.class_id, cs)
    return out


class Progress:
    """Who in the class has agreed (before or in this session) and who is still missing."""

    def __init__(self, cs: ClassroomSession, *, now: dt.datetime | None = None):
        self.session = cs
        self.year = academic_year(now)
        self.pupils = class_pupils(cs.school_class)
        ids = [p.id for p in self.pupils]
        already = acknowledged_in_class(self.pupils, cs.version, cs.send_version, self.year)
        self.before = already
        self.entries = {e.pupil_id: e for e in cs.entries}
        self.in_session = [p for p in self.pupils if p.id in self.entries]
        self.done_ids = already | set(self.entries)
        self.missing = [p for p in self.pupils if p.id not in self.done_ids]
        self.total = len(ids)
        self.done = len(self.done_ids & set(ids))

    def as_json(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "total": self.total,
            "in_session": len(self.in_session),
            "missing": [p.short_name for p in self.missing],
            "accepts_pupils": self.session.accepts_pupils(),
            "closed": self.session.is_closed,
        }


def _lock_if_open(cs: ClassroomSession, now: dt.datetime, *, accepting: bool) -> bool:
    """Take the session's row lock (PostgreSQL; SQLite locks the database on write) if it is
    still open, so that an "I agree", a removal and closing never interleave."""
    cond = [ClassroomSession.id == cs.id, ClassroomSession.closed_at.is_(None)]
    if accepting:
        cond.append(ClassroomSession.expires_at > now)
    res = session.execute(update(ClassroomSession).where(*cond).values(code=ClassroomSession.code)
                          .execution_options(synchronize_session=False))
    return rowcount(res) == 1


def acknowledge(cs: ClassroomSession, pupil: Person, *, ip: str, user_agent: str,
                now: dt.datetime | None = None) -> ClassroomEntry:
    """Record *pupil*'s "I agree" as a pending entry of the session.

    :raises ClassroomError: when the code has expired or the session is closed, or the pupil
        has already agreed (in this session or earlier this year).
    """
    now = now or utcnow()
    if not cs.accepts_pupils(now) or not _lock_if_open(cs, now, accepting=True):
        raise ClassroomError(_("This session has ended. Ask your teacher for a new code."))
    if session.scalar(select(ClassroomEntry.id).where(ClassroomEntry.session_id == cs.id,
                                                      ClassroomEntry.pupil_id == pupil.id)):
        raise ClassroomError(_("%(name)s has already agreed in this session.", name=pupil.short_name))
    version = cs.version_for(pupil)
    if pupil.id in acknowledged_ids([pupil.id], version, academic_year(now)):
        raise ClassroomError(_("%(name)s has already agreed to these rules this year.", name=pupil.short_name))
    entry = ClassroomEntry(session_id=cs.id, pupil_id=pupil.id, version_id=version.id,
                           text_sha256=_keep_shown(version, young=is_young(cs.school_class.year_group)),
                           acknowledged_at=now, ip=ip[:64], user_agent=(user_agent or "")[:400])
    session.add(entry)
    session.flush()
    audit.record("classroom.acknowledged", actor=pupil, target=entry, session_id=cs.id)
    return entry


def remove_entry(cs: ClassroomSession, entry: ClassroomEntry, *, teacher: Person) -> None:
    """Take back a pending entry (a pupil tapped the wrong name). Not possible after closing."""
    if cs.is_closed or not _lock_if_open(cs, utcnow(), accepting=False):
        raise ClassroomError(_("This session is closed; its acknowledgements are already recorded."))
    audit.record("classroom.entry_removed", actor=teacher, target=cs, pupil_id=entry.pupil_id)
    session.delete(entry)
    session.flush()


def close_session(cs: ClassroomSession, teacher: Person, *, now: dt.datetime | None = None) -> list[Signature]:
    """Close the session: each pending entry becomes a signature witnessed by *teacher*.

    Everything is flushed in the caller's transaction, so the view's single commit writes all
    of the signatures or none of them. The caller sends ``signature_committed`` after committing.

    :raises ClassroomError: when the session is already closed or *teacher* did not open it.
    """
    now = now or utcnow()
    if teacher.id != cs.teacher_id:
        raise ClassroomError(_("Only the teacher who opened the session can close it."))
    # Claim the close atomically: a second click (or a second tab) finds nothing to close.
    claimed = rowcount(session.execute(
        update(ClassroomSession).where(ClassroomSession.id == cs.id, ClassroomSession.closed_at.is_(None))
        .values(closed_at=now).execution_options(synchronize_session=False)
    )) == 1
    if not claimed:
        raise ClassroomError(_("This session is already closed."))
    session.expire(cs, ["closed_at", "entries"])  # entries committed before the lock was taken
    years: dict[dt.date, int] = {}
    signatures: list[Signature] = []
    entries = list(cs.entries)
    for entry in entries:
        day = entry.acknowledged_at.date()
        year = years.setdefault(day, academic_year(entry.acknowledged_at))
        sig = Signature(
            version_id=entry.version_id, signer_id=entry.pupil_id, signer_role=Role.PUPIL.value,
            on_behalf_of_id=None, decision=Decision.SIGNED.value, signed_name=entry.pupil.short_name,
            text_sha256=entry.text_sha256, signed_at=entry.acknowledged_at, ip=entry.ip,
            user_agent=entry.user_agent, method=Method.IN_CLASS.value, witness_id=teacher.id,
            academic_year=year,
        )
        session.add(sig)
        signatures.append(sig)
    # One batched INSERT of the signatures, then their audit entries in one append.
    session.flush()
    for entry, sig in zip(entries, signatures, strict=True):
        entry.signature_id = sig.id
    audit.record_each("signature.created", [
        (sig, {"version_id": sig.version_id, "method": sig.method, "signer_id": entry.pupil_id,
               "witness_id": teacher.id}) for entry, sig in zip(entries, signatures, strict=True)], actor=teacher)
    session.flush()
    audit.record("classroom.session_closed", actor=teacher, target=cs, signatures=len(signatures))
    return signatures


def sign_online(pupil: Person, version: PolicyVersion, *, ip: str, user_agent: str,
                now: dt.datetime | None = None) -> Signature:
    """An older pupil agrees on their own from the pupil portal (no witness).

    :raises ClassroomError: when the pupil has already agreed this academic year.
    """
    now = now or utcnow()
    year = academic_year(now)
    if pupil.id in acknowledged_ids([pupil.id], version, year):
        raise ClassroomError(_("You have already agreed to these rules this year."))
    sig = Signature(
        version_id=version.id, signer_id=pupil.id, signer_role=Role.PUPIL.value, decision=Decision.SIGNED.value,
        signed_name=pupil.full_name, text_sha256=_keep_shown(version, young=False), signed_at=now,
        ip=ip[:64], user_agent=(user_agent or "")[:400], method=Method.ONLINE.value, witness_id=None,
        academic_year=year,
    )
    session.add(sig)
    session.flush()
    audit.record("signature.created", actor=pupil, target=sig, version_id=version.id, method=sig.method)
    return sig


@dataclass(frozen=True)
class _Shown:
    html: str
    sha256: str
    questions: tuple[str, ...] = ()


def _keep_shown(version: PolicyVersion, *, young: bool) -> str:
    """Keep the exact text a pupil was shown (once per SHA-256, as the signing page does), so the
    sealed record can show the words agreed to; return its SHA-256."""
    from portal.policies.operations import keep_text

    shown = _Shown(html=shown_text(version.body_md, young=young), sha256=sha256_of_shown(version.body_md, young=young))
    keep_text(version, shown)
    return shown.sha256


# ------------------------------------------------------------------ kiosk (the teacher's device handed round)

#: Wrong PINs or passwords allowed at the kiosk's way back before the teacher is signed out.
KIOSK_MAX_ATTEMPTS = 5


def start_kiosk(cs: ClassroomSession, teacher: Person, pin: str) -> None:
    """Remember the PIN (hashed) the teacher chose to come back from kiosk mode (or none:
    then only their password works). Audited without the PIN."""
    from portal.auth.passwords import hash_password

    cs.kiosk_pin_hash = hash_password(pin) if pin else None
    session.flush()
    audit.record("classroom.kiosk_started", actor=teacher, target=cs, with_pin=bool(pin))


def _kiosk_key(cs: ClassroomSession) -> str:
    return f"kiosk:{cs.id}"


def kiosk_unlock(cs: ClassroomSession, secret: str) -> bool:
    """True when *secret* is the session's kiosk PIN or its teacher's password (each wrong try is
    counted, in the database)."""
    from portal.auth import throttle
    from portal.auth.passwords import verify_password

    secret = (secret or "").strip()
    ok = bool(secret) and (
        (cs.kiosk_pin_hash is not None and secret.isdigit() and verify_password(cs.kiosk_pin_hash, secret))
        or verify_password(cs.teacher.password_hash, secret))
    if ok:
        throttle.clear(_kiosk_key(cs))
        audit.record("classroom.kiosk_ended", actor=cs.teacher, target=cs)
    else:
        throttle.note_failure(_kiosk_key(cs))
        audit.record("classroom.kiosk_unlock_failed", actor=None, target=cs)
    session.flush()
    return ok


def kiosk_tries_left(cs: ClassroomSession) -> int:
    """Wrong tries left at this session's kiosk before the device is signed out."""
    from flask import current_app

    from portal.auth import throttle

    used = throttle.count(_kiosk_key(cs), int(current_app.config["PORTAL_LOGIN_WINDOW_SECONDS"]))
    return max(0, KIOSK_MAX_ATTEMPTS - used)


def kiosk_locked_out(cs: ClassroomSession) -> bool:
    """Too many wrong tries at this session's kiosk: the device must be signed out."""
    from portal.auth import throttle

    return throttle.is_limited(_kiosk_key(cs), limit=KIOSK_MAX_ATTEMPTS)


def code_is_well_formed(raw: str) -> bool:
    """Six letters and digits once spaces and dashes are gone (the format on the board). A
    well-formed code that is wrong "does not match an open session"; only a malformed one gets
    the format message."""
    code = normalise_code(raw)
    return len(code) == CODE_LENGTH and code.isascii() and code.isalnum()
