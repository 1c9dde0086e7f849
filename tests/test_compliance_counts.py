"""The set-based compliance counts agree with the rules applied person by person.

``portal.policies.queries.school_requirements`` builds every requirement in Python and is the
reference; ``portal.policies.compliance`` counts the same thing in SQL. A school with every
awkward case (a SEND variant published for one band only, staff with two staff roles, a parent
who is also a teacher, inactive people, a pupil profile without the pupil role, minor and
re-sign versions, earlier years, declines beaten by signatures, a young pupil's own signature)
must give the same numbers both ways, on its own and in a trust view.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from sqlalchemy import select

from portal.people.models import GuardianLink, PupilProfile, Role
from portal.policies import operations, queries
from portal.policies.compliance import Counts, policy_requirements, tallies
from portal.policies.models import Audience, Policy, PolicyVersion
from portal.schools.isolation import schools_scope
from portal.signatures.models import Signature
from tests.schools import as_school

AT = dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC)


def _current(db, audience: Audience, send=False) -> PolicyVersion:
    return db.scalar(select(PolicyVersion).join(Policy).where(
        Policy.audience == audience.value, Policy.send_variant.is_(send), PolicyVersion.status == "published"))


def _sign(db, version, signer, pupil=None, decision="signed", year=None, method="online"):
    db.add(Signature(version_id=version.id, signer_id=signer.id, on_behalf_of_id=pupil.id if pupil else None,
                     signer_role="parent", decision=decision, signed_name=signer.full_name,
                     text_sha256="0" * 64, signed_at=AT, ip="192.0.2.9", user_agent="test", method=method,
                     academic_year=year or queries.current_academic_year()))


def _new_version(db, version: PolicyVersion, *, requires_resign: bool) -> PolicyVersion:
    draft = operations.create_draft(version.policy)
    operations.publish_version(draft, requires_resign=requires_resign, change_note="A change.")
    db.commit()
    return draft


def _reference(today=None) -> dict[tuple, Counts]:
    """(policy id, class id) -> counts, from the person-by-person reference."""
    out: dict[tuple, Counts] = defaultdict(Counts)
    for r in queries.school_requirements(today):
        cls = r.subject.pupil.class_id if r.subject.pupil is not None and r.version.policy.audience.startswith(
            "pupil_") else None
        setattr(out[(r.version.policy_id, cls)], r.status, getattr(out[(r.version.policy_id, cls)], r.status) + 1)
        if r.status == "signed" and r.signature.is_offline:
            out[(r.version.policy_id, cls)].offline += 1
    return dict(out)


def _populate(db, make_person, make_pupil, make_parent, make_class):
    """Every awkward case, in the session's school (which has the default policies)."""
    year = queries.current_academic_year()
    ks2_class, ks3_class, r_class = make_class(4), make_class(8), make_class(0)
    assert _current(db, Audience.PUPIL_KS2, send=True) is not None  # the pack's easy-read KS2 variant
    ks2, ks3, parent_aup, staff_aup = (_current(db, Audience.PUPIL_KS2), _current(db, Audience.PUPIL_KS3_4),
                                       _current(db, Audience.PARENT), _current(db, Audience.STAFF))
    kids = [make_pupil(4, ks2_class, given=f"Ks2-{i}") for i in range(4)]
    send_kid = make_pupil(5, ks2_class, given="SendKs2", send=True)
    send_teen = make_pupil(8, ks3_class, given="SendKs3", send=True)      # no KS3 SEND variant
    teens = [make_pupil(8, ks3_class, given=f"Ks3-{i}") for i in range(3)]
    infant = make_pupil(0, r_class, given="Reception")
    classless = make_pupil(10, None, given="Classless")
    sixth = make_pupil(12, None, given="Sixth")
    no_role = make_pupil(4, ks2_class, given="NoRole")
    no_role.roles.clear()
    make_person(Role.PUPIL, given="NoProfile")
    mum = make_parent(kids[0], kids[1], send_kid, given="Mum")
    dad = make_parent(kids[0], given="Dad")
    gran = make_parent(kids[2], infant, given="Gran")
    both = make_person(Role.TEACHER, Role.SUPPORT_STAFF, given="Both")
    teacher_parent = make_person(Role.TEACHER, Role.PARENT, given="TeachParent")
    db.add(GuardianLink(parent_id=teacher_parent.id, pupil_id=kids[3].id))
    make_person(Role.PARENT, given="Gone", active=False)
    make_person(Role.VISITOR, given="Visiting")
    make_person(Role.GOVERNOR, Role.VOLUNTEER, given="GovVol")
    make_person(Role.AUDITOR, given="OnlyAuditor")
    db.commit()
    # Answers.
    _sign(db, ks2, mum, kids[0], decision="declined")
    _sign(db, ks2, dad, kids[0])                                        # a signature beats a decline
    _sign(db, ks2, mum, kids[1], decision="declined")
    _sign(db, _current(db, Audience.PUPIL_KS2, send=True), mum, send_kid)
    _sign(db, ks2, kids[2], None)                                       # the pupil's own: not a countersign
    _sign(db, ks2, gran, kids[2], year=year - 1)                        # last year's
    _sign(db, ks3, send_teen, None)
    _sign(db, ks3, teens[0], None, decision="declined")
    _sign(db, parent_aup, mum, None)
    _sign(db, parent_aup, teacher_parent, None)
    _sign(db, parent_aup, dad, None, method="paper")                    # recorded by the office: counted apart
    _sign(db, staff_aup, both, None)
    _sign(db, parent_aup, mum, kids[0])                                 # on behalf of: not the parent's own
    db.commit()
    # A minor change keeps the KS3 answers; a re-sign version of the staff AUP drops Both's.
    _new_version(db, ks3, requires_resign=False)
    _new_version(db, staff_aup, requires_resign=True)
    _sign(db, _current(db, Audience.PUPIL_KS3_4), teens[1], None)
    _sign(db, infant_version := _current(db, Audience.PUPIL_EYFS_KS1), gran, infant)
    db.commit()
    assert infant_version is not None and classless and sixth


@pytest.fixture
def awkward_school(db, school, make_person, make_pupil, make_parent, make_class):
    from portal.policies.pack import load_default_pack

    load_default_pack()
    db.commit()
    _populate(db, make_person, make_pupil, make_parent, make_class)
    return school


def test_set_based_counts_equal_the_reference(db, awkward_school):
    expected = _reference()
    got = tallies(("policy", "class"))
    assert {k: v.as_dict() for k, v in got.items()} == {k: v.as_dict() for k, v in expected.items()}
    # The awkward cases really are there (a test that cannot fail is a defect).
    statuses = {(k, s) for k, c in expected.items() for s in ("signed", "declined", "outstanding", "offline")
                if getattr(c, s)}
    assert {s for _, s in statuses} == {"signed", "declined", "outstanding", "offline"}
    assert any(k[1] is not None for k in expected) and any(k[1] is None for k in expected)


def test_groupings_add_up(db, awkward_school):
    by_policy_class = tallies(("policy", "class"))
    by_audience = tallies(("audience",))
    policies = {p.id: p.audience for p in db.scalars(select(Policy))}
    summed: dict[tuple, Counts] = defaultdict(Counts)
    for (policy_id, _cls), counts in by_policy_class.items():
        summed[(policies[policy_id],)].add(counts)
    assert {k: v.as_dict() for k, v in summed.items()} == {k: v.as_dict() for k, v in by_audience.items()}
    assert sum(c.total for c in tallies(()).values()) == sum(c.total for c in by_audience.values())


def test_one_policys_requirements_equal_the_reference(db, awkward_school):
    for version in queries.Catalogue().current.values():
        expected = sorted((r.subject.id, r.countersign, r.status, r.signature.id if r.signature else None)
                          for r in queries.school_requirements() if r.version.policy_id == version.policy_id)
        got = sorted((r.subject.id, r.countersign, r.status, r.signature.id if r.signature else None)
                     for r in policy_requirements(version.policy_id))
        assert got == expected, version.policy.slug
    ks2 = _current(db, Audience.PUPIL_KS2)
    one_class = db.scalar(select(PupilProfile.class_id).where(PupilProfile.year_group == 4).limit(1))
    in_class = policy_requirements(ks2.policy_id, class_id=one_class)
    assert in_class and all(r.subject.pupil.class_id == one_class for r in in_class)


def test_a_trust_view_counts_each_school_as_it_would_alone(app, db, awkward_school, make_school, make_person,
                                                          make_pupil, make_parent, make_class):
    other = make_school("counting-academy", with_policies=True)
    with as_school(other.id):
        _populate(db, make_person, make_pupil, make_parent, make_class)
        alone_other = tallies(("audience",))
    alone_first = tallies(("audience",))
    with schools_scope(db, [awkward_school.id, other.id]):
        together = tallies(("school", "audience"))
    assert {(s, a): c.as_dict() for (s, a), c in together.items()} == {
        **{(awkward_school.id, a): c.as_dict() for (a,), c in alone_first.items()},
        **{(other.id, a): c.as_dict() for (a,), c in alone_other.items()}}


def test_an_unknown_grouping_is_refused(db, school):
    with pytest.raises(ValueError):
        tallies(("weather",))


# ---------------------------------------------------------------- stored counts


def _as_dicts(counts):
    return {k: v.as_dict() for k, v in counts.items()}


def test_stored_counts_equal_live_ones_and_follow_every_kind_of_change(app, db, awkward_school, make_person):
    from portal.people.roster import import_roster
    from portal.policies.compliance import cached_tallies
    from portal.policies.models import ComplianceChange, ComplianceSnapshot

    def check():
        got = cached_tallies(("policy", "class"))
        db.commit()
        assert _as_dicts(got) == _as_dicts(tallies(("policy", "class")))
        assert db.scalar(select(ComplianceChange.id).limit(1)) is None  # every change seen was used
        return got

    first = check()
    made = db.scalar(select(ComplianceSnapshot.computed_at))
    assert _as_dicts(cached_tallies(("policy", "class"))) == _as_dicts(first)
    assert db.scalar(select(ComplianceSnapshot.computed_at)) == made  # nothing changed: not counted again
    # A signature (through the session).
    parent = make_person(Role.PARENT, given="Late")
    _sign(db, _current(db, Audience.PARENT), parent)
    db.commit()
    assert db.scalar(select(ComplianceChange.id).limit(1)) is not None
    after_signature = check()
    assert after_signature != first
    # Someone leaves.
    parent.active = False
    db.commit()
    assert check() == first
    # A roster import (bulk statements that go around the session).
    roster = ("type,external_id,given_name,family_name,email,roles\n"
              "staff,NEW-1,Newly,Arrived,newly@test.example,teacher\n")
    import_roster(roster.encode(), "new.csv")
    db.commit()
    after_import = check()
    staff = _current(db, Audience.STAFF).policy_id
    assert after_import[(staff, None)].total == first[(staff, None)].total + 1
    # A new version everyone must sign again.
    _new_version(db, _current(db, Audience.PARENT), requires_resign=True)
    after_version = check()
    parents = _current(db, Audience.PARENT).policy_id
    assert after_version[(parents, None)].signed == 0


def test_a_change_committed_late_is_not_lost(db, awkward_school):
    """A change row the recount did not see (a slower transaction's) stays, so the school is
    counted again next time."""
    from portal.policies.compliance import cached_tallies
    from portal.policies.models import ComplianceChange, ComplianceSnapshot

    cached_tallies(("policy",))
    db.commit()
    made = db.scalar(select(ComplianceSnapshot.computed_at))
    db.add(ComplianceChange())
    db.commit()
    cached_tallies(("policy",))
    db.commit()
    assert db.scalar(select(ComplianceSnapshot.computed_at)) > made
    assert db.scalar(select(ComplianceChange.id).limit(1)) is None



def test_a_transaction_looks_for_changes_once_until_something_changes(app, db, awkward_school, make_person):
    """The Head's home reads three kinds of stored counts: the change rows are read once, not three
    times. A signature flushed in the same transaction still shows in the next counts."""
    from portal.policies.compliance import cached_tallies, cached_trend, people_to_remind
    from portal.policies.models import ComplianceChange
    from tests.test_statement_counts import counting

    cached_tallies(("policy",))
    db.commit()
    with counting(app) as seen:
        first = cached_tallies(("policy",))
        cached_trend(("class",))
        people_to_remind(AT)
    looks = [sql for sql in seen if "portal_compliance_changes" in sql]
    assert len(looks) == 1, looks
    parents = _current(db, Audience.PARENT)
    _sign(db, parents, make_person(Role.PARENT, given="Later"))
    db.flush()
    assert db.scalar(select(ComplianceChange.id).limit(1)) is not None  # noted, not yet counted
    after = cached_tallies(("policy",))
    assert after[(parents.policy_id,)].signed == first[(parents.policy_id,)].signed + 1
    assert _as_dicts(after) == _as_dicts(tallies(("policy",)))

def test_a_trust_view_from_stored_counts(app, db, awkward_school, make_school, make_person, make_pupil, make_parent,
                                        make_class):
    from portal.policies.compliance import cached_tallies

    other = make_school("stored-academy", with_policies=True)
    with as_school(other.id):
        _populate(db, make_person, make_pupil, make_parent, make_class)
    with schools_scope(db, [awkward_school.id, other.id]):
        live = tallies(("school", "audience"))
        stored = cached_tallies(("school", "audience"))
    db.commit()
    assert _as_dicts(stored) == _as_dicts(live)
    assert {s for s, _ in stored} == {awkward_school.id, other.id}


# ---------------------------------------------------------------- signing rates week by week


def _reference_rates(key, today) -> dict[object, tuple]:
    """key -> (signed, total, signed a week ago, weekly percentages), person by person: the
    first counting signature of each signed requirement, counted by its UTC day."""
    from portal.dashboard.queries import TREND_DAYS, _weeks, year_span

    start, _end = year_span(today)
    groups: dict[object, list] = defaultdict(list)
    for r in queries.school_requirements(today):
        k = key(r)
        if k is None:
            continue
        first = min((s.signed_at for s in r.answers if s.decision == "signed"), default=None) \
            if r.status == queries.SIGNED else None
        groups[k].append(first.astimezone(dt.UTC).date() if first else None)
    out = {}
    for k, days in groups.items():
        done = [d for d in days if d is not None]
        weekly = [(w, 100 * sum(d <= w for d in done) / len(days)) for w in _weeks(start, today)]
        out[k] = (len(done), len(days), sum(d <= today - dt.timedelta(days=TREND_DAYS) for d in done), weekly)
    return out


def _spread_over_days(db):
    """Move the answers onto different days (and times near midnight), and sign one requirement
    twice, so the trend has steps and the first signature is the one that counts."""
    sigs = db.scalars(select(Signature).order_by(Signature.id)).all()
    for i, sig in enumerate(sigs):
        sig.signed_at = AT + dt.timedelta(days=4 * i, hours=14, minutes=59 - i)
    mum_aup = next(s for s in sigs if s.on_behalf_of_id is None and s.version.policy.audience == "parent"
                   and s.decision == "signed")
    db.add(Signature(version_id=mum_aup.version_id, signer_id=mum_aup.signer_id, signer_role="parent",
                     decision="signed", signed_name="Again", text_sha256="0" * 64,
                     signed_at=mum_aup.signed_at + dt.timedelta(days=20), ip="192.0.2.9", user_agent="test",
                     method="online", academic_year=mum_aup.academic_year))
    db.commit()


def test_signing_rates_week_by_week_equal_the_reference(app, db, awkward_school):
    """The Head's dashboard and the charts draw each audience's and class's trend from the stored
    counts and first-signed days; the numbers equal those made requirement by requirement."""
    from portal.dashboard.queries import audience_rates, class_rates

    _spread_over_days(db)
    today = (AT + dt.timedelta(days=60)).date()
    labels = {a.value: a.label for a in Audience}
    expected_aud = _reference_rates(lambda r: labels[r.version.policy.audience], today)
    expected_cls = _reference_rates(
        lambda r: r.school_class.name if r.version.policy.audience.startswith("pupil_") and r.school_class else None,
        today)
    with app.test_request_context():
        aud = audience_rates(today)
        cls = class_rates(today)
    db.commit()
    assert {r.label: (r.signed, r.total, r.week_ago, r.weekly) for r in aud} == expected_aud
    assert {r.label: (r.signed, r.total, r.week_ago, r.weekly) for r in cls} == expected_cls
    # The trend really moves: some audience gained between its first and last week, some class has
    # signatures, and the week-ago figure differs from now for at least one line.
    assert any(r.weekly[0][1] < r.weekly[-1][1] for r in aud)
    assert any(r.signed for r in cls) and any(r.week_ago != r.signed for r in aud + cls)
    assert [r.label for r in aud] == [a.label for a in Audience if a.label in {r.label for r in aud}]


def test_signing_rates_follow_a_new_signature(app, db, awkward_school, make_person):
    from portal.dashboard.queries import audience_rates

    today = (AT + dt.timedelta(days=10)).date()
    with app.test_request_context():
        before = {r.label: r for r in audience_rates(today)}
    db.commit()
    newcomer = make_person(Role.PARENT, given="Newcomer")
    db.add(Signature(version_id=_current(db, Audience.PARENT).id, signer_id=newcomer.id, signer_role="parent",
                     decision="signed", signed_name="Newcomer", text_sha256="0" * 64,
                     signed_at=AT + dt.timedelta(days=8), ip="192.0.2.9", user_agent="test", method="online",
                     academic_year=queries.current_academic_year()))
    db.commit()
    with app.test_request_context():
        after = {r.label: r for r in audience_rates(today)}
    label = Audience.PARENT.label
    assert (after[label].signed, after[label].total) == (before[label].signed + 1, before[label].total + 1)
    assert after[label].weekly[-1][1] > before[label].weekly[-1][1] or before[label].signed == before[label].total


def test_reminders_due_equals_the_reference(app, db, awkward_school, make_parent):
    from portal.dashboard.queries import reminders_due
    from portal.people.models import Person
    from portal.policies.models import PolicyReminder

    def reference() -> int:
        people, via_parents = set(), set()
        for r in queries.school_requirements():
            if r.status != queries.OUTSTANDING:
                continue
            (people if not r.countersign and r.subject.email else via_parents).add(r.subject.id)
        for link in db.scalars(select(GuardianLink).where(GuardianLink.pupil_id.in_(via_parents))):
            parent = db.get(Person, link.parent_id)
            if parent.active and parent.email:
                people.add(parent.id)
        recent = {r.recipient_id for r in db.scalars(select(PolicyReminder))}
        return len(people - recent)

    due = reminders_due()
    assert due == reference() and due > 1
    someone = db.scalar(select(Person).where(Person.given_name == "Gran"))
    db.add(PolicyReminder(recipient_id=someone.id, sent_at=AT.replace(year=AT.year + 5)))
    db.commit()
    assert reminders_due(now=AT.replace(year=AT.year + 5)) == reference() == due - 1
    later = AT.replace(year=AT.year + 5)
    # Who could be reminded is stored with the counts: each kind of change that alters it is seen.
    # A new parent (active, with an address) of a pupil whose countersignature is outstanding.
    # She has signed the parent AUP herself, so only the link makes her someone to remind.
    kid = db.scalar(select(Person).where(Person.given_name == "Ks2-3"))
    aunt = make_parent(kid, given="Aunt")
    _sign(db, _current(db, Audience.PARENT), aunt)
    db.commit()
    assert reminders_due(now=later) == reference() == due
    # The parent's link is removed (only the link: she stays a parent of the school).
    db.delete(db.scalar(select(GuardianLink).where(GuardianLink.parent_id == aunt.id)))
    db.commit()
    assert reminders_due(now=later) == reference() == due - 1
    # A pupil who signs for themselves is given an address, then signs.
    teen = db.scalar(select(Person).where(Person.given_name == "Ks3-2"))
    teen.email = "ks3-2@test.example"
    db.commit()
    assert reminders_due(now=later) == reference() == due
    _sign(db, _current(db, Audience.PUPIL_KS3_4), teen)
    db.commit()
    assert reminders_due(now=later) == reference() == due - 1
    # A teacher who is also a parent, with things outstanding for both, leaves (no longer active).
    leaver = db.scalar(select(Person).where(Person.given_name == "TeachParent"))
    leaver.active = False
    db.commit()
    assert reminders_due(now=later) == reference() < due - 1
    fewer = reference()
    # A new version that must be signed again: the staff who had signed have something outstanding again.
    both = db.scalar(select(Person).where(Person.given_name == "Both"))
    _sign(db, _current(db, Audience.STAFF), both)
    db.commit()
    signed = reminders_due(now=later)
    assert signed == reference() == fewer - 1
    _new_version(db, _current(db, Audience.STAFF), requires_resign=True)
    assert reminders_due(now=later) == reference() == signed + 1


def test_reminders_due_counts_only_the_schools_in_scope(app, db, awkward_school, make_school, make_person,
                                                       make_pupil, make_parent, make_class):
    from portal.dashboard.queries import reminders_due

    alone = reminders_due()
    other = make_school("reminding-academy", with_policies=True)
    with as_school(other.id):
        _populate(db, make_person, make_pupil, make_parent, make_class)
        other_alone = reminders_due()
    assert alone > 1 and other_alone > 1
    assert reminders_due() == alone  # the other school's people are not this school's to remind
    with schools_scope(db, [awkward_school.id, other.id]):
        assert reminders_due() == alone + other_alone


@pytest.mark.postgres_only
def test_the_count_statements_planned_without_nested_loops_are_not_jit_compiled(app, db, school, make_class,
                                                                                make_pupil, login_as):
    """Without nested loops, a plan that still needs one costs PostgreSQL's ten billion for a disabled node, far
    above ``jit_above_cost``: such statements were compiled to machine code first (about 0.75 s each, three on
    the staff dashboard of a small school). Every statement the dashboard runs without nested loops runs with
    JIT off, and its plan (with the same parameters, on the same connection) has no JIT step."""
    from sqlalchemy import event

    from tests.test_scheduled_jobs import _publish

    _publish(db, "pupil_eyfs_ks1", "Our online rules")
    make_pupil(1, make_class(1, teacher=school.head, name="Year 1 Robins"), given="Pip")
    db.commit()
    engine = app.extensions["portal"].engine
    seen: list[tuple[str, str, bool]] = []  # (statement, jit, compiled) of the statements without nested loops
    order: list[tuple[str, str]] = []  # (enable_nestloop, jit) of every statement, in order

    def after(conn, cursor, statement, parameters, context, executemany):
        check = cursor.connection.cursor()
        nestloop, jit = check.execute("SELECT current_setting('enable_nestloop'), current_setting('jit')").fetchone()
        order.append((nestloop, jit))
        if nestloop == "off" and statement.lstrip().upper().startswith("SELECT"):
            [[plan]] = check.execute("EXPLAIN (FORMAT JSON) " + statement, parameters).fetchall()
            seen.append((statement[:80], jit, "JIT" in plan[0]))

    event.listen(engine, "after_cursor_execute", after)
    try:
        assert login_as(school.head).get("/portal/staff/").status_code == 200
    finally:
        event.remove(engine, "after_cursor_execute", after)
    assert seen, "the dashboard ran no statement without nested loops"
    assert all(jit == "off" and not compiled for _, jit, compiled in seen), seen
    # After the counts the request's later statements have both settings back.
    last_off = max(i for i, (nestloop, _) in enumerate(order) if nestloop == "off")
    assert order[last_off + 1:] and all(s == ("on", "on") for s in order[last_off + 1:]), order


def test_a_bulk_writer_outside_the_app_can_note_changes(app, db, school):
    """The benchmarks' world builder writes with its own connection and no app context: noting a change must not
    need one (forgetting the transaction's "fresh" mark did, and failed)."""
    import threading

    from portal.policies.compliance import note_changes
    from portal.policies.models import ComplianceChange

    engine, errors = app.extensions["portal"].engine, []

    def write():
        try:
            with engine.begin() as conn:
                note_changes([school.id], conn=conn)
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    worker = threading.Thread(target=write)  # a new thread has no Flask app context
    worker.start()
    worker.join()
    assert errors == []
    db.expire_all()
    assert db.scalar(select(ComplianceChange.id).where(ComplianceChange.school_id == school.id).limit(1)) is not None
