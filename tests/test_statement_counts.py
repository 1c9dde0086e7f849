"""Every main page runs the same number of SQL statements for a small and a larger school.

Nothing here is timed: the number of statements a request sends to the database is counted with
a ``before_cursor_execute`` listener on the engine. A page that loads related rows one by one
(an "N+1") sends more statements when the school has more people, concerns or signatures, and
fails here. Each test builds a school (and a trust) at one size, counts one request per page,
grows the same school (more classes, pupils, parents, staff, signatures, concerns with messages,
family links, incidents and trust schools, including more children, concerns and classes for the
people signed in), counts again and compares.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from portal.concerns.models import Concern, ConcernEvent, ConcernMessage, Route, Stage, Status
from portal.incidents.models import ContactIncident, IncidentAction, SocialMediaIncident
from portal.links.models import FamilyLinkDeclaration, LinkConfirmation
from portal.people.models import CapabilityGrant, ClassTeacher, GuardianLink, Role
from portal.policies.models import Audience, Policy, PolicyVersion
from portal.policies.queries import current_academic_year
from portal.records.models import SignedRecord
from portal.schools.models import TrustRole
from portal.signatures.models import Signature
from tests.schools import as_school

_n = itertools.count(1)
NOW = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)


@contextlib.contextmanager
def counting(app):
    """Count the SQL statements sent while the block runs."""
    engine = app.extensions["portal"].engine
    seen: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def _version(db, audience: Audience) -> PolicyVersion:
    return db.scalar(select(PolicyVersion).join(Policy).where(
        Policy.audience == audience.value, Policy.send_variant.is_(False), PolicyVersion.status == "published"))


def _sig(db, version, signer, *, pupil=None, decision="signed", year):
    sig = Signature(version_id=version.id, signer_id=signer.id, on_behalf_of_id=pupil.id if pupil else None,
                    signer_role="parent" if pupil else "pupil" if version.policy.audience.startswith("pupil_")
                    else version.policy.audience, decision=decision,
                    decline_reason="We prefer paper." if decision == "declined" else None,
                    signed_name=signer.full_name, text_sha256="0" * 64, signed_at=NOW, ip="192.0.2.1",
                    user_agent="test", method="countersign" if pupil else "online", academic_year=year)
    db.add(sig)
    return sig


@pytest.fixture
def world(app, db, school, make_person, make_class, make_pupil, make_parent, make_account, make_school):
    """A school with the default policies, its staff, a parent, a pupil, an auditor, and a trust."""
    from portal.policies.pack import load_default_pack
    from portal.schools.operations import get_or_create_trust, grant_trust_role

    load_default_pack()
    db.commit()
    w = SimpleNamespace(school=school, head=school.head, dsl=school.dsl_person, db=db, make_person=make_person,
                        make_class=make_class, make_pupil=make_pupil, make_parent=make_parent,
                        make_school=make_school, units=0, schools=[])
    w.year = current_academic_year()
    w.teacher = make_person(Role.TEACHER, given="Tamsin", family="Teague")
    w.reviewer = make_person(Role.TEACHER, given="Rhea", family="Reeves")
    db.add(CapabilityGrant(person_id=w.reviewer.id, capability="concerns.review", granted_by_id=w.head.id))
    w.auditor = make_person(Role.AUDITOR, given="Audra", family="Checkley")
    w.admin = make_person(Role.ADMIN, Role.SUPPORT_STAFF, given="Adair", family="Office")
    w.first_class = make_class(8, teacher=w.teacher, name="Form 8T")
    w.pupil = make_pupil(8, w.first_class, given="Piper", email="piper@test.example", password="pupil password")
    w.parent = make_parent(given="Parveen")
    w.trust = get_or_create_trust("statement-trust", "Statement Count Trust (fictional)")
    school.trust_id = w.trust.id
    w.trust_account = make_account("trust-lead@trust.example", name="Trust lead")
    for role in TrustRole:
        grant_trust_role(w.trust_account, w.trust, role)
    db.commit()
    w.grow = lambda k: _grow(w, k)
    w.grow(1)
    return w


def _grow(w, k: int) -> None:
    """Add *k* units of everything to the school, one more trust school per unit."""
    db = w.db
    parent_aup = _version(db, Audience.PARENT)
    ks2_aup = _version(db, Audience.PUPIL_KS2)
    ks3_aup = _version(db, Audience.PUPIL_KS3_4)
    staff_aup = _version(db, Audience.STAFF)
    for _ in range(k):
        n = next(_n)
        w.units += 1
        cls = w.make_class(4, teacher=w.teacher, name=f"Year 4 Group {n}")
        older = w.make_class(9, name=f"Form 9-{n}")
        kids = [w.make_pupil(4, cls, given=f"Kid{n}a"), w.make_pupil(4, cls, given=f"Kid{n}b")]
        teen = w.make_pupil(9, older, given=f"Teen{n}")
        other_parent = w.make_parent(*kids, given=f"Other{n}")
        mine = w.make_pupil(4, cls, given=f"Mine{n}")
        db.add(GuardianLink(parent_id=w.parent.id, pupil_id=mine.id))
        staff = w.make_person(Role.TEACHER, given=f"Staff{n}")
        governor = w.make_person(Role.GOVERNOR, given=f"Gov{n}")
        db.add(ClassTeacher(class_id=older.id, teacher_id=staff.id))
        # Signatures: countersigned, declined, own, and one from the signed-in parent each unit.
        signed = _sig(db, ks2_aup, other_parent, pupil=kids[0], year=w.year)
        _sig(db, ks2_aup, other_parent, pupil=kids[1], decision="declined", year=w.year)
        _sig(db, ks3_aup, teen, year=w.year)
        _sig(db, staff_aup, staff, year=w.year)
        _sig(db, ks2_aup, w.parent, pupil=mine, year=w.year)
        _sig(db, parent_aup, other_parent, year=w.year - 1)
        db.flush()
        db.add(SignedRecord(signature_id=signed.id, status="pending"))
        # Concerns: open and closed, general and safeguarding, with a thread and history.
        for status, route, child, raiser in ((Status.NEW, Route.GENERAL, kids[0], other_parent),
                                             (Status.IN_PROGRESS, Route.GENERAL, mine, w.parent),
                                             (Status.CLOSED, Route.GENERAL, kids[1], other_parent),
                                             (Status.ACKNOWLEDGED, Route.SAFEGUARDING, kids[1], other_parent)):
            c = Concern(raised_by_id=raiser.id, child_id=child.id, category="teaching", about="nobody",
                        at_risk=route == Route.SAFEGUARDING, route=route.value, subject=f"Subject {n}",
                        description="Fictional words.", status=status.value, stage=Stage.INFORMAL.value,
                        assignee_id=w.reviewer.id if status != Status.NEW else None, created_at=NOW,
                        stage_started_at=NOW, ack_due=dt.date(2026, 10, 12), response_due=dt.date(2026, 10, 26),
                        shared_with_trust_at=NOW if route == Route.SAFEGUARDING else None)
            db.add(c)
            db.flush()
            db.add(ConcernMessage(concern_id=c.id, author_id=w.reviewer.id, body="A reply.", created_at=NOW))
            db.add(ConcernEvent(concern_id=c.id, actor_id=w.reviewer.id, kind="assignee", old_value=None,
                                new_value=str(w.reviewer.id)))
            if raiser is w.parent and not hasattr(w, "concern"):
                w.concern = c
                continue
        if w.units > 1:  # the concern the tests open grows a longer thread and history
            db.add(ConcernMessage(concern_id=w.concern.id, author_id=staff.id, body="More.", internal=True))
            db.add(ConcernEvent(concern_id=w.concern.id, actor_id=staff.id, kind="status", old_value="new",
                                new_value="acknowledged"))
        # Family links (approved, pending), confirmations, incidents.
        db.add(FamilyLinkDeclaration(source="adult", declared_by_id=staff.id, adult_id=staff.id, pupil_id=teen.id,
                                     relationship_kind="aunt_uncle", academic_year=w.year, status="approved",
                                     decided_by_id=w.head.id, decided_at=NOW))
        db.add(FamilyLinkDeclaration(source="adult", declared_by_id=governor.id, typed_pupil_name=f"Kid{n}a",
                                     typed_pupil_class="Year 4", relationship_kind="cousin", academic_year=w.year))
        db.add(LinkConfirmation(person_id=staff.id, context="adult", academic_year=w.year, has_links=True))
        contact = ContactIncident(kind="message", direction="from_pupil", pupil_id=teen.id, adult_id=staff.id,
                                  occurred_on=dt.date(2026, 10, 1), summary="Fictional.", routed_to="dsl",
                                  recorded_by_id=w.teacher.id)
        social = SocialMediaIncident(author_type="community", author_description="A parent", platform="Chatter",
                                     seen_on=dt.date(2026, 10, 2), summary="Fictional.", routed_to="head",
                                     recorded_by_id=w.teacher.id)
        db.add_all([contact, social])
        db.flush()
        db.add(IncidentAction(contact_incident_id=contact.id, actor_id=w.teacher.id, text="Recorded."))
        db.add(IncidentAction(social_incident_id=social.id, actor_id=w.teacher.id, text="Recorded."))
        db.commit()
        # Data protection: a hold, a subject access request, a leaver and an allegation each unit.
        from portal.dataprotection import allegations, holds, sar
        from portal.dataprotection.operations import record_departure

        holds.place_hold("person", staff.id, "A fictional hold for counting.", actor=w.head)
        sar.create_request(kids[0], other_parent, received_on=dt.date(2026, 10, 1), actor=w.head)
        leaver = w.make_pupil(9, older, given=f"Leaver{n}")
        record_departure(leaver, dt.date(2026, 12, 18), actor=w.head, destination="Another fictional school")
        allegations.mark(contact, "low_level", actor=w.head, reported_on=dt.date(2026, 10, 1))
        db.commit()
        # One more school in the trust, with its default policies and a few people who signed.
        other = w.make_school(f"trust-school-{n}", trust=w.trust, with_policies=True)
        w.schools.append(other)
        with as_school(other.id):
            pupil = w.make_pupil(5, w.make_class(5), given=f"Far{n}")
            parent = w.make_parent(pupil, given=f"Farparent{n}")
            _sig(db, _version(db, Audience.PUPIL_KS2), parent, pupil=pupil, year=w.year)
            db.add(Concern(raised_by_id=parent.id, child_id=pupil.id, category="teaching", about="nobody",
                           route="safeguarding", at_risk=True, subject="Far", description="Fictional.",
                           status="new", stage="informal", created_at=NOW, stage_started_at=NOW,
                           ack_due=dt.date(2026, 10, 12), response_due=dt.date(2026, 10, 26),
                           shared_with_trust_at=NOW))
            db.commit()


def _pages(w) -> dict[str, tuple[object, str]]:
    """page name -> (who is signed in, path)."""
    ks2 = _version(w.db, Audience.PUPIL_KS2)
    parent_aup = _version(w.db, Audience.PARENT)
    child = w.db.scalar(select(GuardianLink.pupil_id).where(GuardianLink.parent_id == w.parent.id).limit(1))
    parent_aup_id, ks2_id = parent_aup.id, ks2.id
    t = w.trust.id
    return {
        "sign-in page": (None, "/portal/auth/login"),
        "parent home": (w.parent, "/portal/parent/"),
        "signing page": (w.parent, f"/portal/policies/versions/{parent_aup_id}/sign"),
        "countersigning page": (w.parent, f"/portal/policies/versions/{ks2_id}/sign?pupil_id={child}"),
        "signing history": (w.parent, "/portal/policies/history"),
        "parent's concerns": (w.parent, "/portal/concerns/"),
        "pupil home": (w.pupil, "/portal/pupil/"),
        "staff home": (w.teacher, "/portal/staff/"),
        "Head home": (w.head, "/portal/staff/"),
        "concerns inbox": (w.head, "/portal/concerns/inbox"),
        "concerns inbox, any status": (w.head, "/portal/concerns/inbox?status=closed"),
        "concerns inbox, by a child's name": (w.head, "/portal/concerns/inbox?child=kid"),
        "a concern": (w.head, f"/portal/concerns/inbox/{w.concern.id}"),
        "compliance dashboard": (w.head, "/portal/policies/compliance/"),
        "compliance of one policy": (w.head, f"/portal/policies/compliance/policies/{ks2.policy_id}"),
        "links register": (w.head, "/portal/links/register"),
        "people and invitations": (w.admin, "/portal/admin/people"),
        "people, found by name, not signed in yet": (w.admin, "/portal/admin/people?q=other&show=waiting"),
        "incidents list": (w.head, "/portal/incidents/"),
        "auditor list": (w.auditor, "/portal/auditor/"),
        "auditor list, filtered": (w.auditor, f"/portal/auditor/?audience=pupil_ks2&year={w.year}&person=kid"),
        "classroom teacher view": (w.teacher, "/portal/classroom/"),
        "policy translations": (w.head, f"/portal/policies/manage/versions/{parent_aup_id}/translations"),
        "data protection home": (w.head, "/portal/data-protection/"),
        "retention schedule": (w.head, "/portal/data-protection/retention"),
        "retention reviews": (w.head, "/portal/data-protection/reviews"),
        "legal holds": (w.head, "/portal/data-protection/holds"),
        "leavers": (w.head, "/portal/data-protection/leavers"),
        "leavers, a person found by name": (w.head, "/portal/data-protection/leavers?q=kid"),
        "subject access requests": (w.head, "/portal/data-protection/requests"),
        "subject access requests, a child found by name": (w.head, "/portal/data-protection/requests?q=kid"),
        "allegations log": (w.head, "/portal/data-protection/allegations"),
        "transfer packs": (w.dsl, "/portal/data-protection/transfers"),
        "privacy notice": (w.parent, "/portal/data-protection/privacy"),
        "trust holds": ("trust", f"/portal/data-protection/trust/{t}/holds"),
        "trust compliance": ("trust", f"/portal/trust/{t}/compliance"),
        "trust safeguarding": ("trust", f"/portal/trust/{t}/safeguarding"),
        "trust records": ("trust", f"/portal/trust/{t}/records"),
    }


def _count_all(app, w, login_as) -> dict[str, int]:
    out = {}
    for name, (who, path) in _pages(w).items():
        client = app.test_client() if who is None else login_as(w.trust_account if who == "trust" else who)
        first = client.get(path)  # warm caches that live longer than a request (none should matter)
        assert first.status_code == 200, (name, first.status_code)
        with counting(app) as seen:
            resp = client.get(path)
        assert resp.status_code == 200, (name, resp.status_code)
        out[name] = len(seen)
        if os.environ.get("PORTAL_SHOW_SQL") == name:  # a debugging aid: print one page's statements
            print(f"\n--- {name}", *(" ".join(st.split())[:300] for st in seen), sep="\n  ")
    return out


def test_every_main_page_runs_the_same_statements_at_two_sizes(app, world, login_as):
    small = _count_all(app, world, login_as)
    world.grow(3)
    large = _count_all(app, world, login_as)
    grew = {name: (small[name], large[name]) for name in small if small[name] != large[name]}
    assert grew == {}, f"pages whose statement count grows with the data (small, larger): {grew}"


def test_lists_longer_than_a_page_cost_the_same_on_every_page(app, world, login_as):
    """The inbox, the links register and the incidents lists a page at a time: no more statements with
    many full pages than with one short one, on the first, a middle and the last page."""
    pages = {"concerns inbox": "/portal/concerns/inbox?page={n}",
             "links register": "/portal/links/register?page={n}",
             "incidents lists": "/portal/incidents/?contact_page={n}&social_page={n}"}
    head = login_as(world.head)

    def count(path: str) -> int:
        assert head.get(path).status_code == 200, path
        with counting(app) as seen:
            assert head.get(path).status_code == 200, path
        return len(seen)

    short = {name: count(path.format(n=1)) for name, path in pages.items()}
    db, staff = world.db, world.make_person(Role.TEACHER, given="Longlist")
    pupil = world.make_pupil(9, world.first_class, given="Longlist")
    for n in range(130):  # three pages of concerns and links, six of each kind of incident
        db.add(Concern(raised_by_id=world.parent.id, child_id=pupil.id, category="teaching", about="nobody",
                       route="general", subject=f"Long {n}", description="Fictional words.", status="new",
                       stage="informal", created_at=NOW, stage_started_at=NOW, ack_due=dt.date(2026, 10, 12),
                       response_due=dt.date(2026, 10, 26)))
        adult = world.make_person(Role.TEACHER, given=f"Linked{n}")
        db.add(FamilyLinkDeclaration(source="adult", declared_by_id=adult.id, adult_id=adult.id, pupil_id=pupil.id,
                                     relationship_kind="cousin", academic_year=world.year, status="approved",
                                     decided_by_id=world.head.id, decided_at=NOW))
        db.add(ContactIncident(kind="message", direction="from_pupil", pupil_id=pupil.id, adult_id=staff.id,
                               occurred_on=dt.date(2026, 10, 1), summary="Fictional.", routed_to="dsl",
                               recorded_by_id=world.teacher.id, closed_at=NOW if n % 2 else None))
        db.add(SocialMediaIncident(author_type="third_party", author_description="An account", platform="Chatter",
                                   seen_on=dt.date(2026, 10, 2), summary="Fictional.", routed_to="head",
                                   recorded_by_id=world.teacher.id))
    db.commit()
    for name, path in pages.items():
        counted = {n: count(path.format(n=n)) for n in (1, 2, 3)}
        # (A page whose rows have no handler at all skips loading handlers: one statement fewer, never more.)
        assert counted[1] == short[name] and max(counted.values()) <= short[name], (name, short[name], counted)
        assert "Next page" in head.get(path.format(n=2)).get_data(as_text=True), name  # there is more


def test_the_counter_sees_rows_loaded_one_by_one(app, world):
    """The listener counts lazy loads: reading each concern's parent one by one grows with the
    data, so the comparison above would catch a page that did it."""
    from portal.db import session
    from tests.schools import in_school

    def touch_each_raiser() -> int:
        with in_school(app, world.school.id), counting(app) as seen:
            for c in session.scalars(select(Concern)).all():
                _ = c.raised_by.full_name
        return len(seen)

    before = touch_each_raiser()
    world.grow(1)
    assert touch_each_raiser() > before


def test_the_parent_home_loads_the_familys_signatures_once(app, db, school, make_class, make_pupil, make_parent,
                                                           login_as):
    """The to-do list and each child's status read the same signatures: one statement loads them, and
    both answer as they would from loads of their own (a countersigned child, a child who signs their
    own, a parent's own policy not signed yet)."""
    from portal.policies.pack import load_default_pack

    load_default_pack()
    year = current_academic_year()
    young = make_pupil(year_group=4, school_class=make_class(year_group=4), given="Wren")
    older = make_pupil(year_group=8, school_class=make_class(year_group=8), given="Rowan")
    parent = make_parent(young, older, given="Hazel")
    ks2, ks3, own = (_version(db, Audience.PUPIL_KS2), _version(db, Audience.PUPIL_KS3_4),
                     _version(db, Audience.PARENT))
    _sig(db, ks2, parent, pupil=young, year=year)
    _sig(db, ks3, older, year=year)
    db.commit()
    client = login_as(parent)
    assert client.get("/portal/parent/").status_code == 200
    with counting(app) as seen:
        page = client.get("/portal/parent/").get_data(as_text=True)
    loads = [st for st in seen if " ".join(st.split()).startswith("SELECT portal_signatures.id")]
    assert len(loads) == 1, loads
    assert f"/portal/policies/versions/{own.id}/sign" in page  # the parent's own policy is still to do
    assert f"versions/{ks2.id}/sign?pupil_id={young.id}" not in page  # countersigned: no task, no link
    assert page.count("badge text-bg-success") == 2 and "Rowan themselves" in page
