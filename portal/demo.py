"""A fictional demo school. Every name here is invented; addresses use the reserved
``.example`` domain, so no mail can reach a real person."""
from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

from portal import audit
from portal.auth.passwords import hash_password
from portal.concerns.demo import add_demo_closures
from portal.db import session
from portal.people.models import (
    ClassTeacher,
    GuardianLink,
    Person,
    PupilProfile,
    Role,
    SchoolClass,
    SchoolSettings,
)

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


def people_exist() -> bool:
    return bool(session.scalar(select(func.count(Person.id))))


def _email(key: str) -> str:
    return f"{key}@{DOMAIN}"


def load_demo(seed: int = 7, today: dt.date | None = None) -> None:
    """Create the demo school in the current database and commit."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    pw = hash_password(DEMO_PASSWORD)
    adults: dict[str, Person] = {}
    for key, (given, family, roles, _label) in ADULTS.items():
        person = Person(external_id=f"DEMO-{key.upper()}", given_name=given, family_name=family,
                        email=_email(key), password_hash=pw)
        for role in roles:
            person.add_role(role)
        session.add(person)
        adults[key] = person
    session.flush()
    settings = SchoolSettings(
        name=SCHOOL_NAME,
        head_teacher_id=adults["head"].id,
        dsl_id=adults["dsl"].id,
        chair_of_governors_id=adults["governor"].id,
        official_channel="the school office: office@larkspur.example or 01632 960 000",
        helpline_contact="Professionals Online Safety Helpline (set the number in school settings)",
    )
    session.add(settings)
    from portal.policies.pack import load_default_pack

    load_default_pack()  # the social-media AUP for every audience, published

    classes: list[SchoolClass] = []
    for code, name, year, teacher_key in CLASSES:
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
            pupil = Person(external_id=f"DEMO-P{n:03d}", given_name=given, family_name=family,
                           email=_email(f"pupil{n:03d}") if cls.year_group >= 7 else None,
                           password_hash=pw if cls.year_group >= 7 else None)
            pupil.add_role(Role.PUPIL)
            session.add(pupil)
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
    for i, (family, kids) in enumerate(sorted(families.items()), start=1):
        # The family of pupil 1 (Reception, Year 6 and Year 12 children) is the demo parent.
        key = "parent" if family == FAMILY[1] else f"parent{i:02d}"
        parent = Person(external_id=f"DEMO-{key.upper()}", given_name=GIVEN[(i * 5) % len(GIVEN)],
                        family_name=family, email=_email(key), password_hash=pw)
        parent.add_role(Role.PARENT)
        session.add(parent)
        session.flush()
        for kid in kids[:3]:
            session.add(GuardianLink(parent_id=parent.id, pupil_id=kid.id))
        if i % 3 == 2:
            carer = Person(external_id=f"DEMO-{key.upper()}B", given_name=GIVEN[(i * 7 + 3) % len(GIVEN)],
                           family_name=family, email=_email(f"{key}b"), password_hash=pw)
            carer.add_role(Role.PARENT)
            session.add(carer)
            session.flush()
            for kid in kids[:3]:
                session.add(GuardianLink(parent_id=carer.id, pupil_id=kid.id, relationship_label="carer"))
    # The teacher who is also a parent has a child in Year 4.
    y4 = next(p for p in pupils if p.pupil and p.pupil.year_group == 4)
    session.add(GuardianLink(parent_id=adults["teacher1"].id, pupil_id=y4.id))
    session.flush()
    add_demo_closures()
    audit.record("demo.loaded", pupils=len(pupils), classes=len(classes))
    session.commit()


def demo_logins() -> list[tuple[str, str]]:
    """(description, email) for the printed list of demo sign-ins."""
    out = [(label, _email(key)) for key, (_g, _f, _r, label) in ADULTS.items()]
    if session.scalar(select(Person.id).where(Person.email == _email("parent"))) is None:
        return []
    out.append(("Parent of three (Reception, Y6, Y12)", _email("parent")))
    first_pupil = session.scalar(select(Person.email).join(PupilProfile, PupilProfile.person_id == Person.id)
                                 .where(Person.email.is_not(None)).order_by(Person.id).limit(1))
    if first_pupil:
        out.append(("Pupil (Year 7, own account)", first_pupil))
    return out
