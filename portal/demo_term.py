"""A month of term in the demo school, played through the app's own operations.

Each event (a parent signing, a class session, a concern moving on, an incident) runs at its
own moment of the last month with :func:`portal.db.clock_at`, in time order, so every row and
every audit entry carries the time it happened in the story and ``flask portal audit verify``
passes. Nothing here writes rows by hand. Everything is invented.
"""
from __future__ import annotations

import datetime as dt
import heapq
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import select

from portal.db import clock_at, session, utcnow
from portal.people.models import Person, SchoolClass
from portal.progress import Progress, no_progress

#: How many days of term the demo plays.
TERM_DAYS = 32
#: How many records the demo seals itself (``flask portal records repair`` seals the rest).
SEAL_NOW = 24

#: Share of each class signed by the end of the month (countersigned by a parent in EYFS-KS2,
#: agreed by the pupils themselves from Year 7). They differ on purpose.
CLASS_RATES = {"R-ROB": 0.86, "Y2-WRE": 0.72, "Y4-KES": 0.58, "Y6-FAL": 0.43, "7A": 0.86, "10B": 0.57,
               "12S": 0.75, "13T": 0.5, "R-HED": 0.8, "Y2-OTT": 0.6, "Y5-BAD": 0.5, "7K": 0.7, "9R": 0.45,
               "12C": 0.62}
#: Share of parents who sign their own agreement.
PARENT_RATE = 0.62
#: Classes where one parent declines to countersign (with a reason).
DECLINING_CLASSES = ("Y4-KES", "Y6-FAL", "R-HED")
#: Adults still to sign at the end of the month (the dashboard shows them).
ADULTS_NOT_YET = {"teacher4", "ta2", "contractor", "governor3", "volunteer2", "visitor2"}
#: Classes that hold a class session (the pupils agree on class devices), in term order.
SESSION_CLASSES = ("Y2-WRE", "7A", "12S")

DECLINE_REASONS = [
    "We would like to talk to the class teacher about the photo rules before we sign.",
    "My son has a medical app on his phone and the rules do not say what happens to it.",
    "I do not agree with the rule about group chats; we manage this at home.",
]
PARENT_DECLINE = "I disagree with asking parents not to post about the school at all; I will sign once we have talked."


@dataclass(order=True)
class _Event:
    at: dt.datetime
    order: int
    run: Callable[[], object] = field(compare=False)
    label: str = field(compare=False, default="")


class Term:
    """Collects the month's events, then plays them in time order."""

    def __init__(self, school, made: dict, rng: random.Random, now: dt.datetime) -> None:
        self.school = school
        self.adults: dict[str, Person] = made["adults"]
        self.pupils: list[Person] = made["pupils"]
        self.parents: dict[str, Person] = made["parents"]
        self.rng = rng
        self.now = now
        self.start = term_start(now)
        self.events: list[_Event] = []
        self._n = 0
        self._playing: dt.datetime | None = None
        #: Pupils whose policy gets signed this month (exactly the class's rate), and one or two
        #: whose parent declines.
        self.will_sign: set[int] = set()
        self.will_decline: set[int] = set()
        by_class: dict[str, list[Person]] = {}
        for p in sorted(self.pupils, key=lambda p: p.id):
            cls = self.class_of(p)
            by_class.setdefault(cls.code if cls else "", []).append(p)
        # The demo parent's home shows one child signed (Reception) and one still to do (Year 6).
        demo = self.parents.get("parent")
        demo_kids = {k.id: k for k in _kids(demo)} if demo is not None else {}
        #: Pupils whose countersignature the office records from a parent's paper slip, or by telephone.
        self.by_office: dict[str, Person] = {}
        for code, kids in by_class.items():
            order = kids[:]
            rng.shuffle(order)
            order.sort(key=lambda p: 0 if self._demo_signs(p, demo_kids) else 2 if self._demo_waits(p, demo_kids)
                       else 1)
            k = round(CLASS_RATES.get(code, 0.6) * len(order))
            self.will_sign |= {p.id for p in order[:k]}
            if code in DECLINING_CLASSES and k < len(order):
                self.will_decline.add(order[k].id)
            for how, where in (("paper", "Y4-KES"), ("verbal", "R-ROB")):
                if code == where:
                    self.by_office[how] = next(p for p in order[:k] if p.id not in demo_kids)

    @staticmethod
    def _demo_signs(pupil: Person, demo_kids: dict) -> bool:
        return pupil.id in demo_kids and pupil.pupil is not None and pupil.pupil.year_group == 0

    @staticmethod
    def _demo_waits(pupil: Person, demo_kids: dict) -> bool:
        return pupil.id in demo_kids and pupil.pupil is not None and 1 <= pupil.pupil.year_group <= 6

    # ------------------------------------------------------------ time

    def day(self, n: float, hour: float = 9.0) -> dt.datetime:
        """A moment *n* days into the month (clamped to before now), at *hour* UTC."""
        moment = self.start + dt.timedelta(days=n, hours=hour - self.start.hour)
        return min(moment, self.now - dt.timedelta(minutes=30))

    def ago(self, days: float, hour: float = 10.0) -> dt.datetime:
        """*days* before now, at *hour* UTC (never before the month began)."""
        moment = (self.now - dt.timedelta(days=days)).replace(hour=int(hour), minute=int(hour % 1 * 60))
        return min(max(moment, self.start + dt.timedelta(minutes=5)), self.now - dt.timedelta(minutes=30))

    def at(self, moment: dt.datetime, run: Callable[[], object], label: str = "") -> None:
        """Schedule *run* at *moment* (an event may schedule later ones: never before itself)."""
        if self._playing is not None:
            moment = max(moment, self._playing)
        self._n += 1
        heapq.heappush(self.events, _Event(moment, self._n, run, label))

    def play(self, progress: Progress = no_progress) -> int:
        played = 0
        with progress("A month of term", len(self.events)) as bar:
            while self.events:
                event = heapq.heappop(self.events)
                self._playing = event.at
                with clock_at(event.at):
                    event.run()
                    session.flush()
                played += 1
                bar.update(1)
        self._playing = None
        return played

    # ------------------------------------------------------------ who is who

    def class_of(self, pupil: Person) -> SchoolClass | None:
        return pupil.pupil.school_class if pupil.pupil else None

    def parents_of(self, pupil: Person) -> list[Person]:
        from portal.policies.queries import parents_of

        return parents_of(pupil)


def term_start(now: dt.datetime) -> dt.datetime:
    """The first moment the demo plays: a month ago, but never before the school year began."""
    from portal.policies.queries import current_academic_year

    year = current_academic_year(now.date())
    first = dt.datetime(year, 9, 2, 7, 30, tzinfo=dt.UTC)
    return max(first, (now - dt.timedelta(days=TERM_DAYS)).replace(hour=7, minute=30, second=0, microsecond=0))


# ---------------------------------------------------------------- the story


def play_month(school, made: dict, rng: random.Random, *, now: dt.datetime | None = None,
               progress: Progress = no_progress) -> dict[str, int]:
    """Play a month of term in *school* (the session is scoped to it); flushes, the caller commits."""
    term = Term(school, made, rng, now or utcnow())
    _staff_sign(term)
    _families(term)
    _classroom(term)
    _office(term)
    _links(term)
    _concerns(term)
    _incidents(term)
    played = term.play(progress)
    return {"events": played}


def _request(person: Person, version, *, answers: dict[int, bool] | None = None, typed: str | None = None,
             reason: str = ""):
    from portal.policies.operations import SignRequest
    from portal.policies.rendering import render_version

    return SignRequest(shown_sha256=render_version(version).sha256, ip="192.0.2.10",
                       user_agent="Mozilla/5.0 (demo; fictional)", typed_name=typed or person.full_name,
                       agreed=True, answers=answers or {}, decline_reason=reason)


def _answers(term: Term, version, yes_share: float = 0.8) -> dict[int, bool]:
    return {item.id: term.rng.random() < yes_share for item in version.consent_items}


def _typed(term: Term, person: Person) -> str:
    """What a parent types: their name, sometimes in lower case or with extra spaces."""
    return term.rng.choice([person.full_name, person.full_name.lower(), f"  {person.full_name}  ",
                            person.full_name.upper()])


def _sign_own(term: Term, person: Person, audience_filter: Callable[[str], bool], *, typed: str | None = None,
              answers: dict[int, bool] | None = None) -> None:
    from portal.policies import operations, queries

    for req in queries.requirements_for(person):
        if req.countersign or not audience_filter(req.version.policy.audience) or req.status != queries.OUTSTANDING:
            continue
        operations.sign(req, person, _request(person, req.version, typed=typed or person.full_name,
                                              answers=answers if answers is not None else _answers(term, req.version)))


def _staff_sign(term: Term) -> None:
    """Most staff, governors, volunteers and visitors sign their own policy in the first days."""
    for i, (key, person) in enumerate(sorted(term.adults.items())):
        if key in ADULTS_NOT_YET:
            continue
        term.at(term.day(0.5 + i * 1.1, 8 + (i % 5)), partial(
            _sign_own, term, person, lambda aud: not aud.startswith("pupil_") and aud != "parent"), "staff sign")


def _families(term: Term) -> None:
    """Parents sign their own agreement and countersign their young children's, some for several
    children in one step; a few decline with a reason; a few later withdraw a photo consent."""
    from portal.policies import queries

    parents = sorted(term.parents.items())
    for i, (key, parent) in enumerate(parents):
        is_demo_parent = key == "parent"
        day = 1 + (i * 2.9) % (TERM_DAYS - 3)
        # Their own agreement.
        if is_demo_parent or term.rng.random() < PARENT_RATE:
            term.at(term.day(day, 19.5), partial(_parent_signs_own, term, parent), "parent signs")
        elif term.rng.random() < 0.25:
            term.at(term.day(day + 0.1, 20), partial(_parent_declines_own, term, parent), "parent declines")
        # Their young children's agreements, grouped by policy (one step for several children).
        by_policy: dict[int, list] = {}
        for req in queries.requirements_for(parent):
            if req.countersign:
                by_policy.setdefault(req.version.policy_id, []).append(req.subject)
        for kids in by_policy.values():
            chosen, declined = [], []
            office = {p.id for p in term.by_office.values()}
            for kid in kids:
                if kid.id in office:
                    continue  # their parent has no computer: the office records it
                if kid.id in term.will_sign:
                    chosen.append(kid)
                elif kid.id in term.will_decline:
                    declined.append(kid)
            if chosen:
                term.at(term.day(day + 0.2, 20), partial(_countersign, term, parent, tuple(chosen)),
                        "countersign")
            for kid in declined:
                term.at(term.day(day + 2, 21), partial(_decline_for, term, parent, kid), "decline")
        if i % 7 == 3 or is_demo_parent:  # a photo consent withdrawn later in the month
            term.at(term.day(min(day + 9, TERM_DAYS - 2), 18), partial(_withdraw, term, parent), "withdraw")


def _parent_signs_own(term: Term, parent: Person) -> None:
    _sign_own(term, parent, lambda aud: aud == "parent", typed=_typed(term, parent))


def _parent_declines_own(term: Term, parent: Person) -> None:
    from portal.policies import operations, queries

    for req in queries.requirements_for(parent):
        if not req.countersign and req.version.policy.audience == "parent" and req.status == queries.OUTSTANDING:
            operations.decline(req, parent, _request(parent, req.version, reason=PARENT_DECLINE))


def _countersign(term: Term, parent: Person, kids: tuple[Person, ...]) -> None:
    from portal.policies import operations, queries

    ids = {k.id for k in kids}
    reqs = [r for r in queries.requirements_for(parent)
            if r.countersign and r.subject.id in ids and r.status != queries.SIGNED]
    if not reqs:
        return  # another carer signed first
    request = _request(parent, reqs[0].version, typed=_typed(term, parent), answers=_answers(term, reqs[0].version))
    if len(reqs) > 1:
        operations.sign_for_children(reqs, parent, request)
    else:
        operations.sign(reqs[0], parent, request)


def _decline_for(term: Term, parent: Person, kid: Person) -> None:
    from portal.policies import operations, queries

    for req in queries.requirements_for(parent):
        if req.countersign and req.subject.id == kid.id and req.status == queries.OUTSTANDING:
            operations.decline(req, parent, _request(parent, req.version, reason=term.rng.choice(DECLINE_REASONS)))


def _withdraw(term: Term, parent: Person) -> None:
    from portal.policies import operations, queries

    for (key, pupil_id), row in queries.latest_answers(parent).items():
        if key.startswith("photos") and row.answer:
            operations.change_consent(parent, row.consent_item, False,
                                      pupil=session.get(Person, pupil_id) if pupil_id else None)
            return


def _classroom(term: Term) -> None:
    """Three class sessions (pupils agree on class devices, witnessed by the teacher); older
    pupils in other forms agree from their own accounts."""
    classes = {c.code: c for c in session.scalars(select(SchoolClass))}
    for n, code in enumerate(SESSION_CLASSES):
        cls = classes.get(code)
        if cls is None:
            continue
        start = term.day(8 + n * 10, 9.25)
        term.at(start, partial(_run_session, term, cls, start), f"session {code}")
    for code in ("10B", "13T", "9R", "12C"):
        cls = classes.get(code)
        if cls is None:
            continue
        for j, pupil in enumerate(sorted((p.person for p in cls.pupils), key=lambda p: p.id)):
            if pupil.id in term.will_sign:
                term.at(term.day(2 + (j * 2.7) % (TERM_DAYS - 3), 16 + j % 4), partial(_own_online, pupil),
                        "pupil online")


def _run_session(term: Term, cls: SchoolClass, start: dt.datetime) -> None:
    from portal.classroom import operations as ops

    teacher = cls.teachers[0].teacher
    cs = ops.start_session(teacher, cls, now=start)
    pupils = ops.class_pupils(cls)
    moment = start
    for pupil in pupils:
        moment += dt.timedelta(seconds=term.rng.randint(40, 110))
        if pupil.id in term.will_sign or cls.year_group < 7 and term.rng.random() < 0.7:
            with clock_at(moment):
                ops.acknowledge(cs, pupil, ip="192.0.2.40", user_agent="ClassTablet/2.1 (demo; fictional)", now=moment)
    with clock_at(moment + dt.timedelta(minutes=3)):
        ops.close_session(cs, teacher)


def _own_online(pupil: Person) -> None:
    from portal.classroom import operations as ops
    from portal.classroom.versions import academic_year, acknowledged_ids, version_for_pupil

    version = version_for_pupil(pupil)
    if version is not None and pupil.id not in acknowledged_ids([pupil.id], version, academic_year()):
        ops.sign_online(pupil, version, ip="192.0.2.77", user_agent="Mozilla/5.0 (demo pupil; fictional)")


def _office(term: Term) -> None:
    """The office records two agreements for parents without a computer: a paper slip (scanned)
    and one given by telephone."""
    office = term.adults.get("office")
    if office is None:
        return
    term.at(term.day(12, 11), lambda: _record_offline(term, office, "paper"), "paper slip")
    term.at(term.day(19, 14.5), lambda: _record_offline(term, office, "verbal"), "verbal")


def _record_offline(term: Term, office: Person, how: str) -> None:
    import hashlib

    from portal.concerns.storage import CheckedFile, UploadBatch
    from portal.policies import operations
    from portal.signatures.models import Method

    pupil = term.by_office.get(how)
    if pupil is None:
        return
    family = {p.id for p in term.parents.values()}
    for parent in [p for p in term.parents_of(pupil) if p.id in family][:1]:
        reqs = operations.offline_requirements(parent)
        target = next((r for r in reqs if r.countersign and r.subject.id == pupil.id), None)
        if target is None:
            continue
        scan = None
        if how == "paper":
            data = slip_png()
            scan = CheckedFile(data, "image/png", "signed-slip.png", hashlib.sha256(data).hexdigest())
        with UploadBatch("agreements") as batch:
            operations.record_offline(
                target, parent, recorded_by=office, method=Method(how),
                agreed_on=(utcnow() - dt.timedelta(days=2 if how == "paper" else 0)).date(),
                note="Slip returned in the book bag" if how == "paper" else "By telephone to the office",
                answers={i.id: True for i in target.version.consent_items}, scan=scan, batch=batch,
                ip="192.0.2.5", user_agent="Office PC (demo; fictional)")
            batch.keep()  # the caller commits the demo in one go; a failure stops the whole demo
        return


def _links(term: Term) -> None:
    """Family links: two approved, three waiting (one typed by a volunteer, one from a parent);
    most adults confirm they have none."""
    from portal.links import operations as links
    from portal.links.models import LinkSource

    a = term.adults
    head = a["head"]
    pupils = sorted(term.pupils, key=lambda p: p.id)

    def declare_approved(adult_key: str, pupil: Person, rel: str, day: float, note: str = "") -> None:
        def run() -> None:
            decl = links.declare(declared_by=a[adult_key], source=LinkSource.ADULT, relationship=rel, note=note,
                                 adult=a[adult_key], pupil=pupil)
            term.at(term.day(day + 1.5, 13), lambda: links.decide(decl, by=head, approve=True, reason=""), "approve")
        term.at(term.day(day, 8.5), run, "declare")

    # A teacher whose own child is in the school, and a teaching assistant who is an aunt.
    teacher_child = next((p for p in term.pupils if any(
        g.parent_id == a["teacher1"].id for g in _guardian_links(p))), None) if "teacher1" in a else None
    if teacher_child is not None:
        declare_approved("teacher1", teacher_child, "parent", 1, "My son is in Year 4.")
    if "support" in a:
        declare_approved("support", pupils[len(pupils) // 3], "aunt_uncle", 2)
    if "volunteer" in a:
        # Volunteers type the pupil's name and class (they never see the pupil list), as on the page.
        term.at(term.day(15, 10), lambda: links.declare(
            declared_by=a["volunteer"], source=LinkSource.ADULT, relationship="grandparent", note="",
            adult=a["volunteer"], typed_pupil_name="Milo (my grandson)", typed_pupil_class="Year 2"), "typed link")
    if "contractor" in a:
        # A family friend is not a family link: declined, with the reason the contractor is given.
        def declined() -> None:
            decl = links.declare(declared_by=a["contractor"], source=LinkSource.ADULT, relationship="other",
                                 note="A family friend. I have known him since he was born.",
                                 adult=a["contractor"], pupil=pupils[-6])
            term.at(term.day(8, 9), lambda: links.decide(
                decl, by=head, approve=False,
                reason="A family friend is not a family link, so the usual rules on contact apply."), "decline")
        term.at(term.day(6, 16), declined, "declined link")
        term.at(term.day(21, 15), lambda: links.declare(
            declared_by=a["contractor"], source=LinkSource.ADULT, relationship="cousin", note="Second cousin.",
            adult=a["contractor"], pupil=pupils[-5]), "pending link")
    parent = next(iter(sorted(term.parents.values(), key=lambda p: -p.id)), None)
    # A parent says which of their children the member of staff is related to, as on the page.
    their_child = next((p for p in term.pupils if any(g.parent_id == parent.id for g in _guardian_links(p))),
                       None) if parent is not None else None
    if parent is not None and their_child is not None and "teacher3" in a:
        term.at(term.day(24, 20), lambda: links.declare(
            declared_by=parent, source=LinkSource.PARENT, relationship="sibling", note="She is my sister.",
            adult=a["teacher3"], pupil=their_child), "parent link")
    for n, key in enumerate(("head", "dsl", "teacher2", "teacher3", "teacher4", "governor")):
        if key in a:
            term.at(term.day(0.8 + n * 0.6, 8), partial(links.confirm, a[key], context="adult", has_links=False),
                    "confirm none")


def _guardian_links(pupil: Person):
    from portal.people.models import GuardianLink

    return session.scalars(select(GuardianLink).where(GuardianLink.pupil_id == pupil.id)).all()


# ---------------------------------------------------------------- concerns


def _concerns(term: Term) -> None:
    """Concerns at every status and stage: new, acknowledged, in progress (one overdue),
    resolved, closed; a safeguarding one; one about the Head; one at formal stage 1 and one at
    stage 2; one about another member of staff."""
    from portal.concerns.models import About, Category, Status

    a = term.adults
    head, dsl, chair = a["head"], a["dsl"], a.get("governor")
    fams = [(p, kids) for p in sorted(term.parents.values(), key=lambda p: p.id)
            if (kids := _kids(p))]

    def parent(i: int):
        return fams[i % len(fams)]

    stories = [
        # (parent index, days in, category, subject, text, at_risk, about, steps)
        (0, TERM_DAYS - 1.2, Category.TEACHING, "Homework website will not let us log in",
         "Since Monday the homework site says the password is wrong, and the reset email never arrives.",
         False, About.NOBODY, []),
        (1, 3, Category.COMMUNICATION, "Letters about the trip are not reaching us",
         "We heard about the museum trip from another parent. The letter did not come home and there was no email.",
         False, About.NOBODY, []),  # never acknowledged: overdue
        (2, 14, Category.BEHAVIOUR, "Unkind messages in the class group chat",
         "Some children in the class group chat have been leaving my daughter out and posting unkind pictures.",
         False, About.NOBODY, [(1.5, head, Status.ACKNOWLEDGED, "Thank you for telling us. We are looking into it.")]),
        (3, 2, Category.SEND, "Support plan not followed in maths",
         "The support agreed in the plan has not happened in maths lessons for three weeks.",
         False, About.NOBODY, [(2, head, Status.ACKNOWLEDGED, None), (4, head, Status.IN_PROGRESS,
                                                                      "The SENCo will meet you on Thursday.")]),
        (4, 5, Category.ONLINE_SAFETY, "Photos of a school event on a public page",
         "Photos of the sports day, with children's faces, are on a public page that is not the school's.",
         False, About.NOBODY, [(1, head, Status.ACKNOWLEDGED, None), (3, head, Status.IN_PROGRESS, None),
                               (6, head, Status.RESOLVED, "The page owner removed the photos; we have checked.")]),
        (5, 1, Category.COMMUNICATION, "Reply to my email about uniform",
         "I emailed about the uniform supplier two weeks ago and have not had an answer.",
         False, About.NOBODY, [(0.5, head, Status.ACKNOWLEDGED, "Sorry for the wait: the answer is in this reply."),
                               (1, head, Status.RESOLVED, None), (9, head, Status.CLOSED, None)]),
        (6, 9, Category.ONLINE_SAFETY, "An older pupil is messaging my child late at night",
         "An older pupil has been sending my child messages after midnight and asked for photos.",
         True, About.NOBODY, [(0.2, dsl, Status.ACKNOWLEDGED, None), (0.4, dsl, Status.IN_PROGRESS, None)]),
        (7, 11, Category.COMMUNICATION, "How the Head Teacher handled my complaint",
         "I am not happy with how the Head Teacher answered my earlier complaint about the trip refund.",
         False, About.HEAD_TEACHER, [(2, chair, Status.ACKNOWLEDGED, "I will look into this as chair of governors.")]),
        (8, 4, Category.TEACHING, "Marking of my son's coursework",
         "My son's coursework was marked without the feedback the department promised.",
         False, About.NOBODY, [(1, head, Status.ACKNOWLEDGED, None), (3, head, Status.RESOLVED,
                                                                    "The department has re-marked it with feedback."),
                               (5, "escalate", None, "I would like this treated as a formal complaint."),
                               (6.5, head, Status.ACKNOWLEDGED, None)]),
        (9, 2.5, Category.BEHAVIOUR, "Bullying on the school bus",
         "My daughter is pushed and filmed on the bus home most days.",
         False, About.NOBODY, [(1, head, Status.ACKNOWLEDGED, None), (2, head, Status.RESOLVED, None),
                               (3, "escalate", None, None), (4, head, Status.ACKNOWLEDGED, None),
                               (7, head, Status.RESOLVED,
                                "The stage 1 investigation is complete; the letter is attached."),
                               (9, "escalate", None, "I ask for the governors' panel to hear this.")]),
        (11, 6, Category.OTHER, "Lost property not returned",
         "My son's coat was handed in to the office but we were told it was not there.",
         False, About.NOBODY, [(11, head, Status.ACKNOWLEDGED, "Sorry for the slow reply: the coat is in the office."),
                               (12, head, Status.RESOLVED, None)]),
        (10, 16, Category.TEACHING, "A teacher's comments in class",
         "A teacher made comments about my son's family in front of the class.",
         False, About.STAFF, [(1, head, Status.ACKNOWLEDGED, None)]),
    ]
    for n, (pi, day, category, subject, text, at_risk, about, steps) in enumerate(stories):
        p, kids = parent(pi)
        child = kids[n % len(kids)]
        about_person = a.get("teacher2") if about == About.STAFF else None
        start = term.day(day, 19 + (n % 3))
        term.at(start, partial(_raise, term, p, child, category, subject, text, at_risk, about, about_person, steps,
                               start), f"concern {n}")


def _kids(parent: Person) -> list[Person]:
    from portal.policies.queries import children_of

    return children_of(parent)


def _raise(term: Term, parent, child, category, subject, text, at_risk, about, about_person, steps, t0) -> None:
    from portal.concerns import operations as ops
    from portal.concerns.storage import UploadBatch

    with UploadBatch() as batch:
        concern = ops.raise_concern(parent, category=category, subject=subject, description=text, at_risk=at_risk,
                                    about=about, about_person=about_person, child=child, batch=batch)
    concern_id = concern.id
    for delay, actor, status, message in steps:
        # Steps happen on later days, in the school's working hours (never after now).
        when = min(t0 + dt.timedelta(days=delay), term.now - dt.timedelta(minutes=40))
        term.at(when, partial(_step, concern_id, parent, actor, status, message), "concern step")


def _step(concern_id: int, parent: Person, actor, status, message) -> None:
    from portal.concerns import operations as ops
    from portal.concerns.access import handlers_of
    from portal.concerns.models import Concern

    concern = session.get_one(Concern, concern_id)  # raised by _raise, which scheduled this step
    if actor == "escalate":
        ops.escalate(concern, parent)
        if message:
            ops.add_message(concern, parent, message)
        return
    allowed = handlers_of(concern)
    if concern.assignee_id is None and actor.id in {p.id for p in allowed}:
        ops.assign(concern, actor, actor, allowed)
    if status is not None and status.value != concern.status:
        ops.change_status(concern, actor, status)
    if message:
        ops.add_message(concern, actor, message)


# ---------------------------------------------------------------- incidents


def _incidents(term: Term) -> None:
    """Contact incidents (started by a pupil, by an adult, and one covered by a family link) and
    social-media incidents (a parent's post, a third party's, one flagged for Prevent)."""
    from portal.incidents import operations as inc

    a = term.adults
    older = [p for p in term.pupils if p.pupil and p.pupil.year_group >= 9]
    if not older or "teacher3" not in a:
        return

    def contact_from_pupil() -> None:
        i = inc.record_contact(by=a["teacher3"], pupil=older[0], adult=a["teacher3"], kind="friend_request",
                               direction="from_pupil", platform="Instagram", occurred_on=term.ago(6).date(),
                               summary="A Year 10 pupil sent me a follow request. I have not accepted it.")
        term.at(term.ago(5, 12), lambda: inc.add_action(i, by=a["dsl"], text="Spoke to the pupil about boundaries."),
                "incident action")

    def contact_from_adult() -> None:
        i = inc.record_contact(by=a["head"], pupil=older[1], adult=a.get("support") or a["office"],
                               kind="online_message", direction="from_adult", platform="WhatsApp",
                               occurred_on=term.ago(17).date(),
                               summary="A teaching assistant messaged a pupil about a lost PE kit from a phone.")
        term.at(term.ago(15, 11), lambda: inc.add_action(
            i, by=a["head"], text="Reminded the colleague to use school channels only. Closed.", close=True), "close")

    term.at(term.ago(6, 15), contact_from_pupil, "contact pupil")
    term.at(term.ago(17, 16), contact_from_adult, "contact adult")
    if "teacher1" in a:
        def covered() -> None:
            from portal.links.operations import approved_links

            link = next((d for d in approved_links() if d.adult_id == a["teacher1"].id), None)
            if link is None or link.pupil is None:  # (an approved link names its pupil)
                return
            i = inc.record_contact(by=a["teacher1"], pupil=link.pupil, adult=a["teacher1"], kind="phone",
                                   direction="from_adult", platform="", occurred_on=term.ago(9).date(),
                                   summary="I rang my own son about collecting him after the match.")
            inc.add_action(i, by=a["head"], text="Covered by the approved family link. No action.", close=True)
        term.at(term.ago(8, 9), covered, "covered contact")

    def social_community() -> None:
        i = inc.record_social(by=a["head"], prevent_flag=False, author_type="community",
                              author_description="a parent of a Year 6 pupil", platform="Facebook",
                              posted_on=term.ago(13).date(), seen_on=term.ago(12).date(),
                              summary="A public post criticising a named teacher over a detention.")
        term.at(term.ago(11, 10), lambda: inc.update_social(i, by=a["head"], deletion_requested_on=term.ago(11).date(),
                                                          deletion_outcome="pending"), "deletion asked")
        term.at(term.ago(7, 10), lambda: inc.update_social(i, by=a["head"], deletion_outcome="removed",
                                                         deletion_outcome_on=term.ago(7).date()), "removed")

    def social_third_party() -> None:
        i = inc.record_social(by=a["office"], prevent_flag=False, author_type="third_party",
                              author_description="an account pretending to be the school", platform="TikTok",
                              posted_on=term.ago(4).date(), seen_on=term.ago(3).date(),
                              summary="A fake school account is posting pupils' photos copied from the website.")
        term.at(term.ago(3, 14), lambda: inc.update_social(
            i, by=a["head"], reported_to_platform_on=term.ago(3).date(), helpline_contacted_on=term.ago(2).date()),
            "reported")

    def social_prevent() -> None:
        inc.record_social(by=a["dsl"], prevent_flag=True, author_type="community",
                          author_description="a sixth-form pupil", platform="a group chat",
                          posted_on=term.ago(2).date(), seen_on=term.ago(2).date(),
                          summary="Extremist videos shared in a sixth-form group chat.")

    term.at(term.ago(12, 17), social_community, "social community")
    if "office" in a:
        term.at(term.ago(3, 13), social_third_party, "social third party")
    term.at(term.ago(2, 16), social_prevent, "social prevent")


# ---------------------------------------------------------------- sealed records


def seal_some(school, limit: int = SEAL_NOW, progress: Progress = no_progress) -> tuple[int, int]:
    """Make the school's sealing key if it has none, then seal the newest *limit* records (the rest
    wait for ``flask portal records repair``). Returns (sealed, still waiting)."""
    from sqlalchemy import func

    from portal.records.keys import CERT_FILE, init_keys, school_keys_dir
    from portal.records.operations import make_record
    from portal.signatures.models import Signature

    folder = school_keys_dir(school)
    if not (folder / CERT_FILE).exists():
        init_keys(folder, school.name)
    ids = list(session.scalars(select(Signature.id).order_by(Signature.signed_at.desc()).limit(limit)))
    total = session.scalar(select(func.count(Signature.id))) or 0
    sealed = 0
    with progress("Sealing records", len(ids)) as bar:
        for sid in ids:
            record = make_record(sid)
            sealed += bool(record is not None and record.is_sealed)
            bar.update(1)
    return sealed, total - sealed


def slip_png(width: int = 240, height: int = 150) -> bytes:
    """A small greyscale PNG standing in for a scanned paper slip (a frame and signature lines)."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            edge = x < 3 or y < 3 or x >= width - 3 or y >= height - 3
            line = y in (40, 41, 80, 81, 120, 121) and 20 <= x < width - 20
            scrawl = 100 <= y <= 116 and 30 <= x <= 140 and (x + 2 * y) % 17 < 3
            row.append(0 if (edge or line or scrawl) else 250)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
