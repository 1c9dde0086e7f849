"""A fictional demo school, and a fictional demo trust of three schools.

Every name here is invented; addresses use the reserved ``.example`` domain, so no mail can
reach a real person. ``flask portal demo`` loads one school (Larkspur Hollow); ``--trust`` loads
the Fernbrook Learning Trust: Larkspur Hollow (all-through), Oak Lane Primary and Kestrel Ridge
Academy (secondary), with people who span schools and the four trust roles.
"""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import func, select

from portal import audit
from portal.auth.passwords import hash_password
from portal.concerns.demo import add_demo_closures
from portal.db import session
from portal.people.models import (
    Account,
    ClassTeacher,
    GuardianLink,
    Person,
    PupilProfile,
    Role,
    SchoolClass,
)
from portal.progress import Progress, no_progress
from portal.schools.isolation import all_schools, school_scope
from portal.schools.models import School, Trust, TrustRole

DEMO_PASSWORD = "countersign-demo"
DOMAIN = "larkspur.example"
SCHOOL_NAME = "Larkspur Hollow All-Through School"

GIVEN = ["Amara", "Bilal", "Cerys", "Dev", "Elif", "Finn", "Grace", "Hamza", "Isla", "Jonah", "Kiran", "Lena",
         "Milo", "Nia", "Oren", "Priya", "Quinn", "Rosa", "Sami", "Tess", "Umar", "Vera", "Wren", "Yusuf", "Zara",
         "Alfie", "Bea", "Caleb", "Daisy", "Ezra", "Freya", "Gus"]
FAMILY = ["Ashdown", "Brimble", "Corrow", "Dunmere", "Elsworth", "Fenwhistle", "Gorrie", "Hallowby", "Inchcape",
          "Juniper", "Kettleby", "Larchmont", "Mossop", "Netherby", "Oakhanger", "Pellow", "Quarrendon",
          "Rookwood", "Sallowfield", "Thistlecombe", "Umberleigh", "Vanstone", "Wetherden", "Yarrowby"]

# (code, name, year group, teacher key)
CLASSES = [
    ("R-ROB", "Reception Robins", 0, "teacher1"),
    ("Y2-WRE", "Year 2 Wrens", 2, "teacher1"),
    ("Y4-KES", "Year 4 Kestrels", 4, "teacher2"),
    ("Y6-FAL", "Year 6 Falcons", 6, "teacher2"),
    ("7A", "Form 7A", 7, "teacher3"),
    ("10B", "Form 10B", 10, "dsl"),
    ("12S", "Sixth Form 12S", 12, "teacher4"),
    ("13T", "Sixth Form 13T", 13, "teacher4"),
]

# key -> (given, family, roles, label)
ADULTS = {
    "head": ("Helen", "Marchbank", [Role.TEACHER], "Head Teacher"),
    "dsl": ("Darius", "Okonkwo-Lee", [Role.TEACHER], "DSL (also teaches 10B)"),
    "teacher1": ("Tamsin", "Rowe", [Role.TEACHER, Role.PARENT], "Teacher, also a parent"),
    "teacher2": ("Callum", "Fairweather", [Role.TEACHER], "Teacher (KS2)"),
    "teacher3": ("Ines", "Quartermaine", [Role.TEACHER], "Teacher (KS3)"),
    "teacher4": ("Owen", "Blackthorn", [Role.TEACHER], "Teacher (sixth form)"),
    "support": ("Poppy", "Haverstock", [Role.SUPPORT_STAFF], "Teaching assistant"),
    "office": ("Aled", "Penrose", [Role.SUPPORT_STAFF, Role.ADMIN], "Office manager (admin)"),
    "governor": ("Gwen", "Silverdale", [Role.GOVERNOR], "Chair of governors"),
    "volunteer": ("Victor", "Ambleside", [Role.VOLUNTEER], "Volunteer reader"),
    "contractor": ("Colm", "Brightwater", [Role.CONTRACTOR], "IT contractor"),
    "auditor": ("Ada", "Inspectorfield", [Role.AUDITOR], "Auditor (trust)"),
    "visitor": ("Vivian", "Storyteller", [Role.VISITOR], "Visiting author"),
}


#: More adults of Larkspur (not listed at sign-in), so that every audience has a rate to show.
MORE_ADULTS = {
    "teacher5": ("Priya", "Lindqvist", [Role.TEACHER], "Teacher (KS1)"),
    "ta2": ("Rory", "Castellane", [Role.SUPPORT_STAFF], "Teaching assistant"),
    "governor2": ("Hamid", "Oakenshaw", [Role.GOVERNOR], "Parent governor"),
    "governor3": ("Beatrix", "Vellacott", [Role.GOVERNOR], "Staff governor"),
    "volunteer2": ("Norah", "Pemberton", [Role.VOLUNTEER], "Volunteer (library)"),
    "contractor2": ("Felix", "Harrowgate", [Role.CONTRACTOR], "Catering contractor"),
    "visitor2": ("Ottoline", "Quayle", [Role.VISITOR], "Visiting poet"),
}


def people_exist() -> bool:
    with all_schools(session):
        return bool(session.scalar(select(func.count(Person.id))))


def _email(key: str, domain: str = DOMAIN) -> str:
    return f"{key}@{domain}"


def _account(email: str, pw: str, name: str) -> Account:
    """The account of *email*, made on first use (people in two schools share one)."""
    account = session.scalar(select(Account).where(Account.email == email))
    if account is None:
        account = Account(email=email, password_hash=pw, display_name=name)
        session.add(account)
        session.flush()
    return account


def _person(external_id: str, given: str, family: str, email: str | None, pw: str | None,
            roles: list[Role]) -> Person:
    person = Person(external_id=external_id, given_name=given, family_name=family, email=email)
    if email and pw:
        person.account = _account(email, pw, f"{given} {family}")
    for role in roles:
        person.add_role(role)
    session.add(person)
    return person


def load_demo(seed: int = 7, today: dt.date | None = None, *, lived_in: bool = False, seal: int | None = None,
              progress: Progress = no_progress) -> School:
    """Create the demo school (Larkspur Hollow) in the current database and commit.

    :param lived_in: also play a month of term through the app's operations (signatures,
        class sessions, concerns, family links, incidents; see :mod:`portal.demo_term`) and seal
        the newest records. ``flask portal demo`` does; the tests' bare demo school does not.
    :param seal: how many of the newest records to seal now (default
        :data:`portal.demo_term.SEAL_NOW`); the others wait for ``flask portal records repair``.
    """
    with _term_clock(lived_in):
        school, made = _larkspur(seed, today)
    if lived_in:
        _live(school, made, seed, progress, seal)
    session.commit()
    return school


def _larkspur(seed: int, today: dt.date | None) -> tuple[School, dict]:
    from portal.schools.operations import create_school

    school = create_school(slug="larkspur-hollow", name=SCHOOL_NAME, urn="100001",
                           phases=["nursery", "primary", "secondary", "sixth_form"], with_policies=False,
                           official_channel="office@larkspur.example, 01632 960 000",
                           helpline_contact="01632 960 123 (weekdays, 9am to 5pm)")
    with school_scope(session, school.id):
        made = _fill_school(school, {**ADULTS, **MORE_ADULTS}, CLASSES, DOMAIN, random.Random(seed),
                            today or dt.date.today(), hash_password(DEMO_PASSWORD))
    return school, made


def _term_clock(lived_in: bool):
    """For a lived-in demo, the school is set up just before the month of term it then plays."""
    from contextlib import nullcontext

    from portal.db import clock_at, utcnow
    from portal.demo_term import term_start

    if not lived_in:
        return nullcontext()
    return clock_at(term_start(utcnow()) - dt.timedelta(hours=1))


def _live(school: School, made: dict, seed: int, progress: Progress, seal: int | None = None) -> None:
    """Play the month of term in *school*, commit, then seal the newest records."""
    from portal.demo_term import SEAL_NOW, play_month, seal_some

    with school_scope(session, school.id):
        play_month(school, made, random.Random(seed * 31 + 1), progress=progress)
        session.commit()
        seal_some(school, SEAL_NOW if seal is None else seal, progress=progress)


def _fill_school(school: School, adults_spec: dict, classes_spec: list, domain: str, rng: random.Random,
                 today: dt.date, pw: str, *, prefix: str = "DEMO", shared: dict[str, str] | None = None) -> dict:
    """People, classes, pupils and families of one demo school (the session is scoped to it).

    *shared* maps an adult key to an email address used in another school too (one account).
    """
    shared = shared or {}
    adults: dict[str, Person] = {}
    for key, (given, family, roles, _label) in adults_spec.items():
        adults[key] = _person(f"{prefix}-{key.upper()}", given, family, shared.get(key, _email(key, domain)), pw,
                              list(roles))
    session.flush()
    school.head_teacher_id = adults["head"].id
    school.dsl_id = adults["dsl"].id
    school.chair_of_governors_id = adults["governor"].id if "governor" in adults else None
    from portal.policies.pack import load_default_pack

    load_default_pack()  # the social-media AUP for every audience, published

    classes: list[SchoolClass] = []
    for code, name, year, teacher_key in classes_spec:
        cls = SchoolClass(code=code, name=name, year_group=year)
        cls.teachers.append(ClassTeacher(teacher=adults[teacher_key]))
        session.add(cls)
        classes.append(cls)
    session.flush()

    used: set[tuple[str, str]] = set()
    pupils: list[Person] = []
    n = 0
    for cls in classes:
        for _ in range(7 if cls.year_group < 12 else 8):
            n += 1
            family = FAMILY[n % len(FAMILY)]
            given = rng.choice(GIVEN)
            while (given, family) in used:
                given = rng.choice(GIVEN)
            used.add((given, family))
            age = cls.year_group + 5
            dob = dt.date(today.year - age - (1 if today.month >= 9 else 0), rng.randint(1, 12), rng.randint(1, 28))
            if dob.month >= 9:
                dob = dob.replace(year=dob.year - 1)
            own = cls.year_group >= 7
            pupil = _person(f"{prefix}-P{n:03d}", given, family, _email(f"pupil{n:03d}", domain) if own else None,
                            pw if own else None, [Role.PUPIL])
            session.flush()
            session.add(PupilProfile(person_id=pupil.id, year_group=cls.year_group, date_of_birth=dob,
                                     class_id=cls.id, send=(n % 17 == 0)))
            pupils.append(pupil)
    session.flush()

    # Families: pupils sharing a family name share parents; one parent per family, a
    # second carer in every third family.
    families: dict[str, list[Person]] = {}
    for p in pupils:
        families.setdefault(p.family_name, []).append(p)
    parents: dict[str, Person] = {}
    for i, (family, kids) in enumerate(sorted(families.items()), start=1):
        # The family of pupil 1 (Reception, Year 6 and Year 12 children at Larkspur) is the demo parent.
        key = "parent" if family == FAMILY[1] else f"parent{i:02d}"
        email = shared.get(key, _email(key, domain))
        given, surname = SHARED_NAMES.get(email, (GIVEN[(i * 5) % len(GIVEN)], family))
        parent = _person(f"{prefix}-{key.upper()}", given, surname, email, pw, [Role.PARENT])
        parents[key] = parent
        session.flush()
        for kid in kids[:3]:
            session.add(GuardianLink(parent_id=parent.id, pupil_id=kid.id))
        if i % 3 == 2:
            carer = _person(f"{prefix}-{key.upper()}B", GIVEN[(i * 7 + 3) % len(GIVEN)], family,
                            _email(f"{key}b", domain), pw, [Role.PARENT])
            session.flush()
            for kid in kids[:3]:
                session.add(GuardianLink(parent_id=carer.id, pupil_id=kid.id, relationship_label="carer"))
    # A teacher who is also a parent has a child in the school.
    if "teacher1" in adults and Role.PARENT in adults_spec["teacher1"][2]:
        child = next((p for p in pupils if p.pupil and p.pupil.year_group == 4), pupils[len(pupils) // 2])
        session.add(GuardianLink(parent_id=adults["teacher1"].id, pupil_id=child.id))
    session.flush()
    add_demo_closures()
    audit.record("demo.loaded", pupils=len(pupils), classes=len(classes))
    return {"adults": adults, "pupils": pupils, "parents": parents}


# ---------------------------------------------------------------- the demo trust

TRUST_NAME = "Fernbrook Learning Trust"
TRUST_DOMAIN = "fernbrook.example"

OAK_LANE = ("oak-lane-primary", "Oak Lane Primary School", "100002", ["primary"], "oaklane.example")
OAK_CLASSES = [
    ("R-HED", "Reception Hedgehogs", 0, "teacher1"),
    ("Y2-OTT", "Year 2 Otters", 2, "teacher1"),
    ("Y5-BAD", "Year 5 Badgers", 5, "teacher2"),
]
OAK_ADULTS = {
    "head": ("Rhiannon", "Featherstone", [Role.TEACHER], "Head Teacher"),
    "dsl": ("Marcus", "Wilderspin", [Role.TEACHER], "DSL"),
    "teacher1": ("Saoirse", "Pennington", [Role.TEACHER], "Teacher (KS1)"),
    "teacher2": ("Luca", "Brackenridge", [Role.TEACHER], "Teacher in two schools (also Kestrel Ridge)"),
    "office": ("Nell", "Whitlock", [Role.SUPPORT_STAFF, Role.ADMIN], "Office manager (admin)"),
    "governor": ("Imogen", "Calderwood", [Role.GOVERNOR], "Chair of governors"),
}

KESTREL = ("kestrel-ridge", "Kestrel Ridge Academy", "100003", ["secondary", "sixth_form"], "kestrelridge.example")
KESTREL_CLASSES = [
    ("7K", "Form 7K", 7, "teacher1"),
    ("9R", "Form 9R", 9, "teacher2"),
    ("12C", "Sixth Form 12C", 12, "teacher1"),
]
KESTREL_ADULTS = {
    "head": ("Anselm", "Tregarthen", [Role.TEACHER], "Head Teacher"),
    "dsl": ("Josephine", "Merriweather", [Role.TEACHER], "DSL"),
    "teacher1": ("Farida", "Ashcombe", [Role.TEACHER], "Teacher"),
    "teacher2": ("Luca", "Brackenridge", [Role.TEACHER], "Teacher in two schools (also Oak Lane)"),
    "office": ("Bram", "Holloway", [Role.SUPPORT_STAFF, Role.ADMIN], "Office manager (admin)"),
    "governor": ("Tobias", "Greenhalgh", [Role.GOVERNOR], "Chair of governors"),
}

#: (key, given, family, role, label) of the trust's own people (no school).
TRUST_PEOPLE = [
    ("trust-admin", "Ottilie", "Barraclough", TrustRole.ADMIN, "Trust administrator"),
    ("trust-auditor", "Percival", "Ledgerwood", TrustRole.AUDITOR, "Trust auditor"),
    ("trust-dsl", "Wilhelmina", "Safeguard-Hart", TrustRole.SAFEGUARDING, "Trust safeguarding lead"),
    ("trust-compliance", "Cosmo", "Tallyforth", TrustRole.COMPLIANCE, "Trust compliance"),
]

#: Shared accounts: the same person in two schools.
SPANNING_TEACHER = f"luca.brackenridge@{TRUST_DOMAIN}"
SPANNING_PARENT = "hollis.family@families.example"
GOVERNOR_PARENT = "governor@larkspur.example"
#: Names of the shared accounts' people (the same person in each school).
SHARED_NAMES = {SPANNING_PARENT: ("Hollis", "Brimble"), GOVERNOR_PARENT: ("Gwen", "Silverdale")}


def load_trust_demo(seed: int = 7, today: dt.date | None = None, *, lived_in: bool = False,
                    seal: int | None = None, progress: Progress = no_progress) -> Trust:
    """Create the demo trust with three schools and commit (with *lived_in*, Larkspur Hollow
    has a month of term behind it, as in :func:`load_demo`)."""
    with _term_clock(lived_in):
        trust, larkspur, made = _trust(seed, today)
    if lived_in:
        _live(larkspur, made, seed, progress, seal)
    session.commit()
    return trust


def _trust(seed: int, today: dt.date | None) -> tuple[Trust, School, dict]:
    from portal.schools.operations import create_school, get_or_create_trust, grant_trust_role

    today = today or dt.date.today()
    pw = hash_password(DEMO_PASSWORD)
    trust = get_or_create_trust("fernbrook", TRUST_NAME)
    larkspur, larkspur_made = _larkspur(seed, today)
    larkspur.trust = trust
    made: dict[str, Any] = {}
    for spec, classes, adults in ((OAK_LANE, OAK_CLASSES, OAK_ADULTS), (KESTREL, KESTREL_CLASSES, KESTREL_ADULTS)):
        slug, name, urn, phases, domain = spec
        school = create_school(slug=slug, name=name, urn=urn, phases=phases, trust=trust, with_policies=False,
                               official_channel=f"office@{domain}")
        shared = {"teacher2": SPANNING_TEACHER}
        if slug == OAK_LANE[0]:
            shared["parent"] = SPANNING_PARENT
            shared["parent03"] = GOVERNOR_PARENT  # Larkspur's chair of governors is a parent here
        else:
            shared["parent"] = SPANNING_PARENT
        with school_scope(session, school.id):
            made[slug] = _fill_school(school, adults, classes, domain, random.Random(seed + len(made) + 1), today,
                                      pw, prefix=slug.split("-")[0].upper(), shared=shared)
    for key, given, family, role, _label in TRUST_PEOPLE:
        account = _account(_email(key, TRUST_DOMAIN), pw, f"{given} {family}")
        grant_trust_role(account, trust, role)
    session.flush()
    return trust, larkspur, larkspur_made


def demo_logins() -> list[tuple[str, str]]:
    """(description, email) for the printed list of demo sign-ins."""
    with all_schools(session):
        schools = session.scalars(select(School).order_by(School.id)).all()
        if not schools:
            return []
        multi = len(schools) > 1
        out: list[tuple[str, str]] = []
        for school in schools:
            specs = {"larkspur-hollow": (ADULTS, DOMAIN), OAK_LANE[0]: (OAK_ADULTS, OAK_LANE[4]),
                     KESTREL[0]: (KESTREL_ADULTS, KESTREL[4])}
            if school.slug not in specs:
                continue
            adults, domain = specs[school.slug]
            tag = f"{school.name}: " if multi else ""
            for key, (_g, _f, _r, label) in adults.items():
                email = SPANNING_TEACHER if (multi and key == "teacher2" and school.slug != "larkspur-hollow") \
                    else _email(key, domain)
                if multi and key == "teacher2" and school.slug == KESTREL[0]:
                    continue  # listed once, under Oak Lane
                out.append((f"{tag}{label}", email))
            with school_scope(session, school.id):
                parent = session.scalar(select(Person.email).join(GuardianLink, GuardianLink.parent_id == Person.id)
                                        .where(Person.email.in_([_email("parent", domain), SPANNING_PARENT]))
                                        .limit(1))
                if parent and school.slug == "larkspur-hollow":
                    out.append((f"{tag}Parent of three (Reception, Y6, Y12)", parent))
                first_pupil = session.scalar(
                    select(Person.email).join(PupilProfile, PupilProfile.person_id == Person.id)
                    .where(Person.email.is_not(None)).order_by(Person.id).limit(1))
                if first_pupil and school.slug != OAK_LANE[0]:
                    out.append((f"{tag}Pupil (own account)", first_pupil))
        if multi:
            out.append(("Parent with children at Oak Lane and Kestrel Ridge", SPANNING_PARENT))
            out.append(("Larkspur's chair of governors, also a parent at Oak Lane", GOVERNOR_PARENT))
            for key, _g, _f, _role, label in TRUST_PEOPLE:
                if session.scalar(select(Account.id).where(Account.email == _email(key, TRUST_DOMAIN))):
                    out.append((label, _email(key, TRUST_DOMAIN)))
    return out
