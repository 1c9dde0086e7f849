"""Acceptable-use policies: versions, who must sign, signing, declining, consents, reminders, dashboard."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from portal import signals
from portal.audit.models import AuditEntry
from portal.people.models import Role
from portal.policies import operations, queries
from portal.policies.models import Audience, PolicyReminder, PolicyVersion, VersionStatus
from portal.policies.pack import PACK, load_default_pack
from portal.policies.rendering import render_version
from portal.signatures.models import ConsentAnswer, Method, Signature
from tests.schools import in_school

TODAY = dt.date(2026, 11, 2)


@pytest.fixture
def pack(db, school):
    created = load_default_pack()
    db.commit()
    return {p.slug: p for p in created}


def current(policy):
    return operations.published_of(policy)


def sign_req(req, person, *, today=TODAY, answers=True, name=None):
    form = operations.SignRequest(shown_sha256=render_version(req.version).sha256, ip="127.0.0.1",
                                  user_agent="pytest", typed_name=name or person.full_name, agreed=True,
                                  answers={i.id: answers for i in req.version.consent_items})
    return operations.sign(req, person, form, today=today)


def only(reqs, slug):
    found = [r for r in reqs if r.version.policy.slug == slug]
    assert len(found) == 1, [r.version.policy.slug for r in reqs]
    return found[0]


def slugs(reqs):
    return sorted((r.version.policy.slug, r.subject.given_name, r.countersign) for r in reqs)


def audit_actions(db):
    return [a for a in db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))]


# ---------------------------------------------------------------- pack and lifecycle


def test_pack_has_every_audience_and_loads_once(db, school):
    created = load_default_pack()
    db.commit()
    assert {p.audience for p in created} == {a.value for a in Audience}
    assert any(p.send_variant and p.audience == Audience.PUPIL_KS2.value for p in created)
    assert len(created) == len(PACK)
    assert load_default_pack() == []
    db.commit()
    assert db.scalar(select(func.count(PolicyVersion.id))) == len(PACK)
    parent = next(p for p in created if p.slug == "aup-parent")
    assert [i.key for i in current(parent).consent_items] == ["photos_website", "photos_social"]


def test_pack_texts_cover_the_rules_and_name_the_official_channel(db, school):
    school.official_channel = "the office at 01632 960 123"
    db.commit()
    load_default_pack()
    db.commit()
    versions = {v.policy.slug: v for v in db.scalars(select(PolicyVersion))}
    parent = str(render_version(versions["aup-parent"]).html)
    assert "the office at 01632 960 123" in parent and "{{" not in parent
    assert "WhatsApp" in parent and "13" in parent and "private parent groups" in parent
    staff = str(render_version(versions["aup-staff"]).html)
    assert "privacy settings" in staff and "extremist" in staff
    ks1 = str(render_version(versions["aup-ks1"]).html)
    assert ks1.count('aria-hidden="true"') == ks1.count("<li>") == 8


def test_cli_loads_defaults_idempotently(app, db, school):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["portal", "policies", "load-defaults"])
    assert first.exit_code == 0 and f"Published {len(PACK)}" in first.output
    again = runner.invoke(args=["portal", "policies", "load-defaults"])
    assert again.exit_code == 0 and "nothing changed" in again.output


def test_version_lifecycle(db, school):
    head = school.head
    policy = operations.create_policy(slug="test-policy", title="Test", audience=Audience.STAFF, actor=head)
    v1 = operations.create_draft(policy, actor=head, body_md="Version one.")
    with pytest.raises(operations.PolicyError, match="already has a draft"):
        operations.create_draft(policy, actor=head)
    with pytest.raises(operations.PolicyError, match="first published version"):
        operations.publish_version(v1, requires_resign=False, actor=head)
    operations.publish_version(v1, requires_resign=True, actor=head)
    assert v1.status == VersionStatus.PUBLISHED.value and v1.published_by_id == head.id
    with pytest.raises(operations.PolicyError):
        operations.publish_version(v1, requires_resign=True, actor=head)
    with pytest.raises(operations.PolicyError, match="Only a draft"):
        operations.update_draft(v1, title="T", body_md="changed", actor=head)
    v2 = operations.create_draft(policy, actor=head)
    assert v2.number == 2 and v2.body_md == "Version one." and v2.status == VersionStatus.DRAFT.value
    operations.update_draft(v2, title="Test", body_md="Version two.", change_note="Typo", actor=head)
    operations.publish_version(v2, requires_resign=False, actor=head)
    db.commit()
    assert (v1.status, v2.status) == (VersionStatus.SUPERSEDED.value, VersionStatus.PUBLISHED.value)
    assert not v2.requires_resign and v2.change_note == "Typo"
    assert audit_actions(db).count("policy.published") == 2


@pytest.mark.parametrize("title, body, message", [
    ("", "text", "title"),
    ("x" * 201, "text", "title"),
    ("Title", "   ", "empty"),
    ("Title", "a" * (100 * 1024 + 1), "100 KB"),
])
def test_draft_text_is_validated(db, school, title, body, message):
    policy = operations.create_policy(slug="v-policy", title="V", audience=Audience.STAFF)
    draft = operations.create_draft(policy, body_md="ok")
    with pytest.raises(operations.PolicyError, match=message):
        operations.update_draft(draft, title=title, body_md=body)


def test_consent_items_only_on_drafts_with_valid_keys(db, school):
    policy = operations.create_policy(slug="c-policy", title="C", audience=Audience.PARENT)
    draft = operations.create_draft(policy, body_md="ok")
    operations.add_consent_item(draft, key="photos_print", question="Photos in the newsletter?")
    with pytest.raises(operations.PolicyError, match="already"):
        operations.add_consent_item(draft, key="photos_print", question="Again?")
    with pytest.raises(operations.PolicyError, match="key"):
        operations.add_consent_item(draft, key="Bad Key!", question="Q?")
    operations.publish_version(draft, requires_resign=True)
    with pytest.raises(operations.PolicyError, match="draft"):
        operations.add_consent_item(draft, key="later", question="Q?")
    nxt = operations.create_draft(policy)
    assert [i.key for i in nxt.consent_items] == ["photos_print"]


# ---------------------------------------------------------------- who must sign


@pytest.mark.parametrize("year, slug, countersign", [
    (-1, "aup-ks1", True), (0, "aup-ks1", True), (2, "aup-ks1", True), (3, "aup-ks2", True),
    (6, "aup-ks2", True), (7, "aup-ks3-4", False), (11, "aup-ks3-4", False), (12, "aup-ks5", False),
    (13, "aup-ks5", False),
])
def test_pupil_policy_follows_the_age_band(pack, make_pupil, make_parent, year, slug, countersign):
    pupil = make_pupil(year_group=year, given="Bandy")
    parent = make_parent(pupil)
    assert queries.version_for_pupil(pupil).policy.slug == slug
    parent_reqs = [r for r in queries.requirements_for(parent, TODAY) if r.countersign]
    own = [r for r in queries.requirements_for(pupil, TODAY)]
    if countersign:
        assert slugs(parent_reqs) == [(slug, "Bandy", True)] and own == []
    else:
        assert parent_reqs == [] and slugs(own) == [(slug, "Bandy", False)]
    assert [r.version.policy.slug for r in queries.pupil_requirements(pupil, TODAY)] == [slug]


def test_send_variant_is_used_only_when_published(pack, make_pupil, make_parent):
    ks2 = make_pupil(year_group=4, given="Sendy", send=True)
    ks3 = make_pupil(year_group=8, given="Older", send=True)
    make_parent(ks2)
    assert queries.version_for_pupil(ks2).policy.slug == "aup-ks2-send"
    assert queries.version_for_pupil(ks3).policy.slug == "aup-ks3-4"  # no KS3 SEND variant in the pack
    plain = make_pupil(year_group=4, given="Plain")
    assert queries.version_for_pupil(plain).policy.slug == "aup-ks2"


def test_adults_get_their_audiences(pack, make_person, make_pupil, make_parent):
    teacher = make_person(Role.TEACHER, given="Tia")
    support = make_person(Role.SUPPORT_STAFF, given="Sue")
    gov = make_person(Role.GOVERNOR, given="Gil")
    vol = make_person(Role.VOLUNTEER, given="Viv")
    con = make_person(Role.CONTRACTOR, given="Con")
    kid = make_pupil(year_group=1, given="Kid")
    both = make_parent(kid, given="Both", extra_roles=(Role.TEACHER,))
    assert [r.version.policy.slug for r in queries.requirements_for(teacher, TODAY)] == ["aup-staff"]
    assert [r.version.policy.slug for r in queries.requirements_for(support, TODAY)] == ["aup-staff"]
    assert [r.version.policy.slug for r in queries.requirements_for(gov, TODAY)] == ["aup-governor"]
    assert [r.version.policy.slug for r in queries.requirements_for(vol, TODAY)] == ["aup-volunteer"]
    assert [r.version.policy.slug for r in queries.requirements_for(con, TODAY)] == ["aup-contractor"]
    assert slugs(queries.requirements_for(both, TODAY)) == [
        ("aup-ks1", "Kid", True), ("aup-parent", "Both", False), ("aup-staff", "Both", False)]
    teacher.active = False
    assert queries.requirements_for(teacher, TODAY) == []


def _republish(policy, *, requires_resign, body):
    draft = operations.create_draft(policy)
    operations.update_draft(draft, title=draft.title, body_md=body)
    return operations.publish_version(draft, requires_resign=requires_resign)


def test_minor_change_keeps_signatures_and_resign_does_not(db, pack, make_person):
    teacher = make_person(Role.TEACHER, given="Mina")
    staff = pack["aup-staff"]
    sign_req(only(queries.requirements_for(teacher, TODAY), "aup-staff"), teacher)
    db.commit()
    _republish(staff, requires_resign=False, body="Minor wording change.")
    db.commit()
    req = only(queries.requirements_for(teacher, TODAY), "aup-staff")
    assert req.status == queries.SIGNED and req.version.number == 2 and req.signature.version.number == 1
    _republish(staff, requires_resign=True, body="A real change.")
    _republish(staff, requires_resign=False, body="Then a typo fix.")
    db.commit()
    req = only(queries.requirements_for(teacher, TODAY), "aup-staff")
    assert req.status == queries.OUTSTANDING and req.version.number == 4
    sign_req(req, teacher)
    db.commit()
    assert only(queries.requirements_for(teacher, TODAY), "aup-staff").status == queries.SIGNED


def test_everyone_signs_again_in_a_new_academic_year(db, pack, make_person):
    teacher = make_person(Role.TEACHER, given="Yara")
    sig = sign_req(only(queries.requirements_for(teacher, TODAY), "aup-staff"), teacher)
    db.commit()
    assert sig.academic_year == 2026
    assert only(queries.requirements_for(teacher, dt.date(2027, 8, 31)), "aup-staff").status == queries.SIGNED
    assert only(queries.requirements_for(teacher, dt.date(2027, 9, 1)), "aup-staff").status == queries.OUTSTANDING


def test_one_parent_countersign_answers_for_the_child(db, pack, make_pupil, make_parent):
    kid = make_pupil(year_group=1, given="Twin")
    mum = make_parent(kid, given="Mum")
    dad = make_parent(kid, given="Dad")
    req = only([r for r in queries.requirements_for(mum, TODAY) if r.countersign], "aup-ks1")
    sig = sign_req(req, mum)
    db.commit()
    assert sig.method == "countersign" and sig.on_behalf_of_id == kid.id and sig.signer_role == "parent"
    dad_reqs = [r for r in queries.requirements_for(dad, TODAY) if r.countersign]
    assert [r.status for r in dad_reqs] == [queries.SIGNED]
    assert [r.version.policy.slug for r in queries.outstanding_for(dad, TODAY)] == ["aup-parent"]


# ---------------------------------------------------------------- signing through the page


def _hash(page: bytes, name="text_hash") -> str:
    return re.search(rf'name="{name}" type="hidden" value="([0-9a-f]{{64}})"', page.decode()).group(1)


@pytest.fixture
def family(db, pack, make_pupil, make_parent, make_class):
    ks1 = make_pupil(year_group=1, school_class=make_class(year_group=1, name="Year 1 Owls"), given="Ada")
    ks3 = make_pupil(year_group=8, given="Ben")
    parent = make_parent(ks1, ks3, given="Paula")
    return parent, ks1, ks3


def test_parent_signs_own_aup_with_consents(app, db, family, login_as):
    parent, _ks1, _ks3 = family
    received = []

    def receiver(sender, signature):
        received.append((sender, signature.id))

    signals.signature_committed.connect(receiver)
    try:
        version = current(_policy(db, "aup-parent"))
        client = login_as(parent)
        page = client.get(f"/portal/policies/versions/{version.id}/sign")
        assert page.status_code == 200 and b"Social media agreement for parents" in page.data
        items = version.consent_items
        resp = client.post(f"/portal/policies/versions/{version.id}/sign", data={
            "action": "sign", "text_hash": _hash(page.data), "agree": "y",
            "typed_name": f"  {parent.full_name.upper()} ",
            f"consent_{items[0].id}": "yes", f"consent_{items[1].id}": "no",
        })
        assert resp.status_code == 302 and "/portal/policies/signatures/" in resp.headers["Location"]
        # Walk finding: the signed page led only to the history while a child's policy was waiting. It says what
        # is next (Ada's countersignature), and leads there.
        done = client.get(resp.headers["Location"]).get_data(as_text=True)
        ada_policy = next(r for r in queries.requirements_for(parent) if r.countersign and r.subject.id == _ks1.id)
        assert "What next" in done and "There is 1 more thing for you to sign." in done
        assert (f'href="/portal/policies/versions/{ada_policy.version.id}/sign?pupil_id={_ks1.id}">'
                f"Next: {ada_policy.version.title}, for Ada</a>") in done
        # Opened again later (from the history), the page does not say it.
        later = client.get(resp.headers["Location"].split("?")[0]).get_data(as_text=True)
        assert "What next" not in later
    finally:
        signals.signature_committed.disconnect(receiver)
    db.expire_all()
    sig = db.scalar(select(Signature))
    assert (sig.signer_id, sig.signer_role, sig.method, sig.decision) == (parent.id, "parent", "online", "signed")
    assert sig.on_behalf_of_id is None and sig.academic_year == queries.current_academic_year()
    # The test client's address and user agent (Flask-Login's strong session protection ties the
    # session to them, so they cannot be changed mid-test).
    assert sig.ip == "127.0.0.1" and sig.user_agent.startswith("Werkzeug/")
    assert sig.text_sha256 == render_version(version).sha256
    kept = queries.signed_text(sig)
    assert kept.body_html == str(render_version(version).html) and kept.version_id == version.id
    assert kept.questions.splitlines() == [i.question for i in version.consent_items]
    assert sorted((a.consent_item.key, a.answer) for a in sig.consent_answers) == [
        ("photos_social", False), ("photos_website", True)]
    assert received == [(app, sig.id)]
    assert "signature.created" in audit_actions(db)
    assert queries.consent_for_pupil(_ks1, "photos_website") is True
    assert queries.consent_for_pupil(_ks1, "photos_social") is False
    # Signed: the form is gone and a second post is refused.
    again = client.get(f"/portal/policies/versions/{version.id}/sign")
    assert b"Nothing more to do" in again.data and b'name="typed_name"' not in again.data
    assert client.post(f"/portal/policies/versions/{version.id}/sign", data={
        "action": "sign", "text_hash": _hash(page.data), "agree": "y", "typed_name": parent.full_name,
        f"consent_{items[0].id}": "yes", f"consent_{items[1].id}": "no"}).status_code == 409
    assert db.scalar(select(func.count(Signature.id))) == 1


def _policy(db, slug):
    from portal.policies.models import Policy

    return db.scalar(select(Policy).where(Policy.slug == slug))


def test_parent_countersigns_only_own_child_of_the_right_band(db, family, login_as, make_pupil, make_parent):
    parent, ks1, ks3 = family
    ks1_version = current(_policy(db, "aup-ks1"))
    ks3_version = current(_policy(db, "aup-ks3-4"))
    stranger = make_pupil(year_group=1, given="Zed")
    make_parent(stranger, given="Other")
    client = login_as(parent)
    url = f"/portal/policies/versions/{ks1_version.id}/sign"
    assert client.get(f"{url}?pupil_id={stranger.id}").status_code == 404
    assert client.get(f"{url}?pupil_id=abc").status_code == 404
    assert client.get(url).status_code == 404  # a parent does not sign the KS1 AUP for themselves
    assert client.get(f"/portal/policies/versions/{ks3_version.id}/sign?pupil_id={ks3.id}").status_code == 404
    page = client.get(f"{url}?pupil_id={ks1.id}")
    assert page.status_code == 200 and b"Ada" in page.data and b'id="read-aloud"' in page.data
    resp = client.post(f"{url}?pupil_id={ks1.id}", data={"action": "sign", "text_hash": _hash(page.data), "agree": "y",
                                                          "typed_name": parent.full_name})
    assert resp.status_code == 302
    sig = db.scalar(select(Signature))
    assert (sig.method, sig.on_behalf_of_id, sig.signer_id) == ("countersign", ks1.id, parent.id)


@pytest.mark.parametrize("typed, ok", [
    ("{given} {family}", True), ("  {given}   {family}  ", True), ("{GIVEN} {FAMILY}", True),
    ("{given}", False), ("{given} {family}x", False), ("", False), ("Someone Else", False),
])
def test_typed_name_must_match_the_account(db, family, login_as, typed, ok):
    parent, _, _ = family
    version = current(_policy(db, "aup-parent"))
    client = login_as(parent)
    url = f"/portal/policies/versions/{version.id}/sign"
    page = client.get(url)
    name = typed.format(given=parent.given_name, family=parent.family_name, GIVEN=parent.given_name.upper(),
                        FAMILY=parent.family_name.lower())
    data = {"action": "sign", "text_hash": _hash(page.data), "agree": "y", "typed_name": name}
    data.update({f"consent_{i.id}": "yes" for i in version.consent_items})
    resp = client.post(url, data=data)
    assert (resp.status_code == 302) is ok
    assert db.scalar(select(func.count(Signature.id))) == (1 if ok else 0)
    if not ok:
        assert resp.status_code == 400 and b"Type your full name as it appears on your account" in resp.data
        assert db.scalar(select(func.count(ConsentAnswer.id))) == 0


@pytest.mark.parametrize("drop, message", [
    ("agree", b"Tick the box"),
    ("consent", b"Choose yes or no"),
])
def test_incomplete_signing_form_writes_nothing(db, family, login_as, drop, message):
    parent, _, _ = family
    version = current(_policy(db, "aup-parent"))
    client = login_as(parent)
    url = f"/portal/policies/versions/{version.id}/sign"
    page = client.get(url)
    data = {"action": "sign", "text_hash": _hash(page.data), "agree": "y", "typed_name": parent.full_name}
    data.update({f"consent_{i.id}": "yes" for i in version.consent_items})
    if drop == "agree":
        del data["agree"]
    else:
        del data[f"consent_{version.consent_items[0].id}"]
    resp = client.post(url, data=data)
    assert resp.status_code == 400 and message in resp.data
    assert db.scalar(select(func.count(Signature.id))) == 0
    # Only the control with the error is marked invalid for screen readers: the checkbox itself, or the
    # radiogroup of the unanswered question (a radio button may not carry aria-invalid).
    text = resp.get_data(as_text=True)
    agree = re.search(r'<input\b[^>]*\bid="agree"[^>]*>', text).group(0)
    assert ('aria-invalid="true"' in agree) is (drop == "agree")
    assert "aria-invalid" not in re.search(r'<input\b[^>]*\bid="typed_name"[^>]*>', text).group(0)
    first = re.search(rf'<fieldset\b[^>]*>\s*<legend[^>]*>{re.escape(version.consent_items[0].question)}<', text)
    assert 'role="radiogroup"' in first.group(0)
    assert ('aria-invalid="true"' in first.group(0)) is (drop == "consent")
    # The errors summary takes the focus when the page opens (form-errors.js): the form is below the policy.
    assert '<div class="alert alert-danger portal-form-errors" role="alert" tabindex="-1">' in text
    assert "/static/form-errors.js" in text and "/static/form-errors.js" not in page.get_data(as_text=True)


def test_every_missing_answer_on_the_signing_form_is_reported_at_once(db, family, login_as):
    """A parent who presses "Sign" with nothing done hears everything that is missing in one go, and a
    wrong name is reported beside a missing box: they do not find the next error only on the next try."""
    parent, _, _ = family
    version = current(_policy(db, "aup-parent"))
    assert len(version.consent_items) >= 2
    client = login_as(parent)
    url = f"/portal/policies/versions/{version.id}/sign"
    page = client.get(url)
    resp = client.post(url, data={"action": "sign", "text_hash": _hash(page.data)})
    assert resp.status_code == 400
    summary = resp.get_data(as_text=True).split("portal-form-errors")[1].split("</div>")[0]
    assert "Tick the box to say you have read and agree to the policy." in summary
    # A message that starts with its field's name is not prefixed with the name again.
    assert ">Type your full name as it appears on your account.</li>" in summary
    assert summary.count("Choose yes or no.") == len(version.consent_items)
    # Each error names its control (a question's first choice; form-errors.js links it): the page has each.
    targets = re.findall(r'data-portal-control="([^"]+)"', summary)
    assert all(f'id="{t}"' in resp.get_data(as_text=True) for t in targets)
    assert sorted(targets) == sorted(["agree", "typed_name"] + [f"consent_{i.id}-0" for i in version.consent_items])
    wrong = client.post(url, data={"action": "sign", "text_hash": _hash(page.data), "typed_name": "Someone Else",
                                   **{f"consent_{i.id}": "yes" for i in version.consent_items}})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 400
    assert "Tick the box" in text and "Type your full name as it appears on your account." in text
    assert 'aria-invalid="true"' in re.search(r'<input\b[^>]*\bid="typed_name"[^>]*>', text).group(0)
    assert db.scalar(select(func.count(Signature.id))) == 0


def test_a_form_for_something_signed_meanwhile_says_so_whatever_it_carries(db, family, login_as, school):
    """Signed in another tab (or by the other parent): a form from the first tab, incomplete or from an older
    text, is told it is already signed (409), not asked for a box the page no longer shows."""
    parent, _, _ = family
    version = current(_policy(db, "aup-parent"))
    client = login_as(parent)
    url = f"/portal/policies/versions/{version.id}/sign"
    page = client.get(url)
    data = {"action": "sign", "text_hash": _hash(page.data), "agree": "y", "typed_name": parent.full_name,
            **{f"consent_{i.id}": "yes" for i in version.consent_items}}
    assert client.post(url, data=data).status_code == 302
    unticked = {k: v for k, v in data.items() if k != "agree"}
    school.official_channel = "a new phone number, 01632 960 997"
    db.commit()
    for late in (unticked, data):
        resp = client.post(url, data=late)
        assert resp.status_code == 409 and b"already been signed for this school year" in resp.data
        assert b"changed since the page was opened" not in resp.data
    assert db.scalar(select(func.count(Signature.id))) == 1


def test_a_changed_text_is_reported_even_when_the_form_is_incomplete(db, family, login_as, school):
    """The text changed and the box is not ticked: the parent is told first that the text changed (and
    sees the new text), not only that the box is missing."""
    parent, _, _ = family
    version = current(_policy(db, "aup-parent"))
    client = login_as(parent)
    url = f"/portal/policies/versions/{version.id}/sign"
    page = client.get(url)
    school.official_channel = "a new phone number, 01632 960 998"
    db.commit()
    resp = client.post(url, data={"action": "sign", "text_hash": _hash(page.data), "typed_name": parent.full_name})
    assert resp.status_code == 409 and b"changed since the page was opened" in resp.data
    assert b"01632 960 998" in resp.data and _hash(resp.data) != _hash(page.data)
    assert db.scalar(select(func.count(Signature.id))) == 0


def test_text_changed_since_the_page_was_shown_is_refused(db, family, login_as, school):
    parent, _, _ = family
    version = current(_policy(db, "aup-parent"))
    client = login_as(parent)
    url = f"/portal/policies/versions/{version.id}/sign"
    page = client.get(url)
    old = _hash(page.data)
    school.official_channel = "a new phone number, 01632 960 999"
    db.commit()
    data = {"action": "sign", "text_hash": old, "agree": "y", "typed_name": parent.full_name}
    data.update({f"consent_{i.id}": "yes" for i in version.consent_items})
    resp = client.post(url, data=data)
    assert resp.status_code == 409 and b"changed since the page was opened" in resp.data
    assert b"01632 960 999" in resp.data and _hash(resp.data) != old
    assert db.scalar(select(func.count(Signature.id))) == 0
    data["text_hash"] = _hash(resp.data)
    assert client.post(url, data=data).status_code == 302


def test_superseded_version_link_goes_to_the_current_one_and_drafts_are_hidden(db, family, login_as):
    parent, ks1, _ = family
    policy = _policy(db, "aup-ks1")
    old = current(policy)
    new = _republish(policy, requires_resign=True, body="New rules.")
    draft = operations.create_draft(policy)
    db.commit()
    client = login_as(parent)
    resp = client.get(f"/portal/policies/versions/{old.id}/sign?pupil_id={ks1.id}")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/portal/policies/versions/{new.id}/sign?pupil_id={ks1.id}")
    assert client.get(f"/portal/policies/versions/{draft.id}/sign?pupil_id={ks1.id}").status_code == 404
    assert client.get("/portal/policies/versions/999999/sign").status_code == 404


def test_parent_declines_with_a_reason(db, family, login_as):
    parent, ks1, _ = family
    version = current(_policy(db, "aup-ks1"))
    client = login_as(parent)
    url = f"/portal/policies/versions/{version.id}/sign?pupil_id={ks1.id}"
    page = client.get(url)
    h = _hash(page.data, "decline-text_hash")
    empty = client.post(url, data={"action": "decline", "decline-text_hash": h, "decline-reason": "  "})
    assert empty.status_code == 400 and b"Tell us why" in empty.data
    assert db.scalar(select(func.count(Signature.id))) == 0
    resp = client.post(url, data={"action": "decline", "decline-text_hash": h,
                                  "decline-reason": "We would like to talk about this first."})
    assert resp.status_code == 302
    sig = db.scalar(select(Signature))
    assert sig.decision == "declined" and sig.decline_reason == "We would like to talk about this first."
    assert sig.on_behalf_of_id == ks1.id
    req = only([r for r in queries.requirements_for(parent) if r.countersign], "aup-ks1")
    assert req.status == queries.DECLINED
    assert "aup-ks1" not in [r.version.policy.slug for r in queries.outstanding_for(parent)]
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "signature.declined"))
    assert "talk about" not in str(entry.data)
    # Changing one's mind: signing afterwards wins over the decline.
    page = client.get(url)
    assert b"You chose not to sign" in page.data
    client.post(url, data={"action": "sign", "text_hash": _hash(page.data), "agree": "y",
                           "typed_name": parent.full_name})
    assert only([r for r in queries.requirements_for(parent) if r.countersign], "aup-ks1").status == queries.SIGNED


def test_staff_and_pupils_cannot_decline(db, pack, make_person, make_pupil, login_as):
    teacher = make_person(Role.TEACHER, given="Ted")
    version = current(_policy(db, "aup-staff"))
    client = login_as(teacher)
    page = client.get(f"/portal/policies/versions/{version.id}/sign")
    assert page.status_code == 200 and b"Decline to sign" not in page.data
    resp = client.post(f"/portal/policies/versions/{version.id}/sign",
                       data={"action": "decline", "decline-text_hash": _hash(page.data), "decline-reason": "No"})
    assert resp.status_code == 400
    pupil = make_pupil(year_group=9, given="Pam", email="pam@test.example", password="pupil password 1")
    v = current(_policy(db, "aup-ks3-4"))
    page = login_as(pupil).get(f"/portal/policies/versions/{v.id}/sign")
    assert page.status_code == 200 and b"Decline to sign" not in page.data
    assert db.scalar(select(func.count(Signature.id))) == 0


def test_home_page_lists_outstanding_items_as_tasks(db, family, login_as):
    parent, ks1, _ = family
    home = login_as(parent).get("/portal/parent/").get_data(as_text=True)
    assert "Read and sign: Social media agreement for parents and carers" in home
    assert f"for {ks1.given_name} (Year 1)" in home
    todo = home.split('id="tasks-heading"')[1].split("</section>")[0]
    assert "Years 7 to 11" not in todo  # the KS3 child signs for themselves: no task for the parent...
    assert "agrees to this themselves" in home  # ...but the parent sees where that child stands


# ---------------------------------------------------------------- consents


def test_consent_changes_add_rows_and_withdrawal_is_audited(db, family, login_as):
    parent, ks1, _ = family
    req = only(queries.requirements_for(parent), "aup-parent")
    sign_req(req, parent, today=None, answers=True)
    db.commit()
    client = login_as(parent)
    page = client.get("/portal/policies/consents")
    assert page.status_code == 200
    rows = sorted(queries.latest_answers(parent).values(), key=lambda a: a.consent_item.position)
    website, social = rows
    resp = client.post("/portal/policies/consents", data={f"answer_{website.id}": "no", f"answer_{social.id}": "yes"})
    assert resp.status_code == 302
    assert db.scalar(select(func.count(ConsentAnswer.id))) == 3  # two at signing, one change
    assert queries.consent_for_pupil(ks1, "photos_website") is False
    assert queries.consent_for_pupil(ks1, "photos_social") is True
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "consent.withdrawn"))
    assert entry.data["key"] == "photos_website" and entry.data["previous"] is True
    # History keeps every answer.
    history = [(a.consent_item.key, a.answer) for a in queries.consent_history(parent)]
    assert history.count(("photos_website", True)) == 1 and history.count(("photos_website", False)) == 1
    bad = client.post("/portal/policies/consents", data={f"answer_{website.id}": "maybe"})
    assert bad.status_code == 400
    assert db.scalar(select(func.count(ConsentAnswer.id))) == 3


def test_consent_for_pupil_without_answers_is_unknown(db, family):
    _, ks1, _ = family
    assert queries.consent_for_pupil(ks1, "photos_website") is None


# ---------------------------------------------------------------- history


def test_history_shows_own_and_childrens_signatures_only(db, family, login_as, make_pupil, make_parent):
    parent, ks1, ks3 = family
    sign_req(only([r for r in queries.requirements_for(parent) if r.countersign], "aup-ks1"), parent, today=None)
    sign_req(only(queries.requirements_for(ks3), "aup-ks3-4"), ks3, today=None)
    other = make_pupil(year_group=9, given="Quill")
    sign_req(only(queries.requirements_for(other), "aup-ks3-4"), other, today=None)
    db.commit()
    client = login_as(parent)
    page = client.get("/portal/policies/history").get_data(as_text=True)
    assert ks1.full_name in page and ks3.full_name in page and "Quill" not in page
    own = db.scalar(select(Signature).where(Signature.on_behalf_of_id == ks1.id))
    detail = client.get(f"/portal/policies/signatures/{own.id}").get_data(as_text=True)
    assert own.text_sha256 in detail and "I am kind online" in detail
    # Walk finding: the fingerprint sat among the plain facts as jargon; it is behind a summary that says what it is.
    fingerprint = detail.split("<details")[1].split("</details>")[0]
    assert "For checking: the text's fingerprint" in fingerprint and own.text_sha256 in fingerprint
    assert "Text fingerprint" not in detail
    others = db.scalar(select(Signature).where(Signature.signer_id == other.id))
    assert client.get(f"/portal/policies/signatures/{others.id}").status_code == 404


# ---------------------------------------------------------------- reminders and dashboard


def test_reminders_respect_the_seven_day_rule(app, db, pack, make_person, make_pupil, make_parent, mailbox):
    teacher = make_person(Role.TEACHER, given="Rem", email="rem@test.example")
    no_account = make_pupil(year_group=8, given="Noemail")
    mum = make_parent(no_account, given="Mum")
    reqs = queries.school_requirements()
    now = dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)
    result = operations.send_reminders(reqs, now=now)
    db.commit()
    sent_to = {p.id for p in result.sent}
    assert {teacher.id, mum.id} <= sent_to and no_account.id not in sent_to
    assert len(mailbox.to("rem@test.example")) == 1
    mum_mail = mailbox.to(mum.email)
    assert len(mum_mail) == 1 and "for Noemail" in mum_mail[0].get_content()
    assert "Social media agreement for parents and carers" in mum_mail[0].get_content()
    again = operations.send_reminders(queries.school_requirements(), now=now + dt.timedelta(days=6, hours=23))
    db.commit()
    assert again.sent == [] and teacher in again.recent
    assert len(mailbox.to("rem@test.example")) == 1
    later = operations.send_reminders(queries.school_requirements(), now=now + dt.timedelta(days=7, minutes=1))
    db.commit()
    assert teacher in later.sent and len(mailbox.to("rem@test.example")) == 2
    assert db.scalar(select(func.count(PolicyReminder.id))) == len(sent_to) * 2


def test_signed_people_are_not_reminded(app, db, pack, make_person, mailbox):
    teacher = make_person(Role.TEACHER, given="Done", email="done@test.example")
    sign_req(only(queries.requirements_for(teacher), "aup-staff"), teacher, today=None)
    db.commit()
    operations.send_reminders(queries.school_requirements())
    db.commit()
    assert mailbox.to("done@test.example") == []


def test_remind_button_sends_mail_once(app, db, family, school, login_as, mailbox):
    parent, _, _ = family
    client = login_as(school.head)
    policy = _policy(db, "aup-parent")
    resp = client.post("/portal/policies/compliance/remind", data={"policy_id": str(policy.id), "class_id": ""})
    assert resp.status_code == 302
    assert len(mailbox.to(parent.email)) == 1
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Reminders sent to 1 person." in page
    client.post("/portal/policies/compliance/remind", data={"policy_id": str(policy.id)})
    assert len(mailbox.to(parent.email)) == 1
    assert "policy.reminders_sent" in audit_actions(db)


def test_the_overview_reminds_for_every_policy_at_once_and_links_each_class(
        app, db, family, school, login_as, mailbox):
    """Walk finding: "Reminders due (51)" opened an overview with no send button, so a Head opened up to 11 policy
    pages to send them; a class's row led nowhere."""
    parent, ks1, _ks3 = family
    client = login_as(school.head)
    page = client.get("/portal/policies/compliance/").get_data(as_text=True)
    start = page.index('action="/portal/policies/compliance/remind"')
    form = page[start:page.index("</form>", start)]
    assert "Send email reminders for every policy" in form
    assert re.search(r'name="policy_id" type="hidden" value=""', form) and "signatures are still to come" in form
    class_id = ks1.pupil.class_id
    assert f'<a href="/portal/staff/classes/{class_id}">Year 1 Owls</a>' in page
    assert client.get(f"/portal/staff/classes/{class_id}").status_code == 200
    resp = client.post("/portal/policies/compliance/remind", data={"policy_id": "", "class_id": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/portal/policies/compliance/")
    # One email for the parent, though they are asked for their own policy and for a child's.
    assert len(mailbox.to(parent.email)) == 1
    assert "Reminders sent to" in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_a_remind_post_naming_no_policy_that_can_exist_sends_nothing(app, db, family, school, login_as, mailbox):
    """Empty means every policy; a number no row can have (or "²", or not a number) means none, never every."""
    parent, _, _ = family
    client = login_as(school.head)
    for odd in ("2147483648", "99999999999999999999", "0", "abc"):
        assert client.post("/portal/policies/compliance/remind", data={"policy_id": odd}).status_code == 404
    policy = _policy(db, "aup-parent")
    resp = client.post("/portal/policies/compliance/remind", data={"policy_id": str(policy.id), "class_id": "²"})
    assert resp.status_code == 302
    assert mailbox.to(parent.email) == []  # no class has that id: nobody in it to remind
    resp = client.post("/portal/policies/compliance/remind", data={"policy_id": str(policy.id), "class_id": "x"})
    assert resp.status_code == 302 and mailbox.to(parent.email) == []


def _row(page: str, label: str) -> str:
    m = re.search(rf"<th scope=\"row\">(?:<a [^>]*>)?{re.escape(label)}(?:</a>)?</th>(.*?)</tr>", page, re.DOTALL)
    assert m, label
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1))).strip()


def test_dashboard_counts_signed_declined_and_outstanding(db, family, school, login_as, make_parent):
    parent, ks1, _ks3 = family
    second = make_parent(ks1, given="Second")
    head = login_as(school.head)
    before = head.get("/portal/policies/compliance/").get_data(as_text=True)
    assert _row(before, "Social media agreement for parents and carers").startswith("0 of 2 (0%)")
    sign_req(only(queries.requirements_for(parent), "aup-parent"), parent, today=None)
    form = operations.SignRequest(shown_sha256=render_version(current(_policy(db, "aup-parent"))).sha256, ip="x",
                                  user_agent="y", decline_reason="Not now")
    operations.decline(only(queries.requirements_for(second), "aup-parent"), second, form)
    db.commit()
    after = head.get("/portal/policies/compliance/").get_data(as_text=True)
    assert _row(after, "Social media agreement for parents and carers") == "1 of 2 (50%) 1 (50%) 0 (0%)"
    assert _row(after, "Year 1 Owls").startswith("0 of 1 (0%)")
    detail = head.get(f"/portal/policies/compliance/policies/{_policy(db, 'aup-parent').id}").get_data(as_text=True)
    assert "Not now" in detail and "Everyone has responded" in detail
    staff = head.get(f"/portal/policies/compliance/policies/{_policy(db, 'aup-staff').id}").get_data(as_text=True)
    assert school.head.full_name in staff and "No response yet" in staff


# ---------------------------------------------------------------- management pages


def test_manage_pages_create_preview_and_publish(db, pack, school, login_as):
    client = login_as(school.head)
    assert client.get("/portal/policies/manage/").status_code == 200
    bad = client.post("/portal/policies/manage/new", data={"title": "", "slug": "x", "audience": "staff"})
    assert bad.status_code == 400
    dup = client.post("/portal/policies/manage/new", data={"title": "Dup", "slug": "aup-staff", "audience": "staff"})
    assert dup.status_code == 400 and b"already exists" in dup.data
    resp = client.post("/portal/policies/manage/new", data={"title": "Phones in school", "slug": "phones",
                                                            "audience": "staff"})
    assert resp.status_code == 302
    version = db.scalar(select(PolicyVersion).where(PolicyVersion.title == "Phones in school"))
    url = f"/portal/policies/manage/versions/{version.id}"
    preview = client.post(url, data={"title": "Phones in school", "body_md": "## Rule\n\n<script>x</script>",
                                     "action": "preview"})
    assert preview.status_code == 200 and b"<h2>Rule</h2>" in preview.data and b"<script>x" not in preview.data
    db.expire_all()
    assert db.get(PolicyVersion, version.id).body_md == ""
    too_big = client.post(url, data={"title": "Phones in school", "body_md": "a" * (100 * 1024 + 5), "action": "save"})
    assert too_big.status_code == 400 and b"100 KB" in too_big.data
    saved = client.post(url, data={"title": "Phones in school", "body_md": "Keep phones away.", "action": "save"})
    assert saved.status_code == 302
    client.post(f"{url}/consent-items", data={"key": "phone_ok", "question": "May we call you?"})
    resp = client.post(f"{url}/publish", data={"change": "resign", "change_note": "First"})
    assert resp.status_code == 302
    db.expire_all()
    v = db.get(PolicyVersion, version.id)
    assert v.status == "published" and [i.key for i in v.consent_items] == ["phone_ok"]
    assert client.post(url, data={"title": "x", "body_md": "y", "action": "save"}).status_code == 409
    # A second version, published as a minor change.
    client.post(f"/portal/policies/manage/{v.policy_id}/drafts")
    db.expire_all()
    draft = db.scalar(select(PolicyVersion).where(PolicyVersion.policy_id == v.policy_id, PolicyVersion.number == 2))
    client.post(f"/portal/policies/manage/versions/{draft.id}",
                data={"title": "Phones in school", "body_md": "Keep phones away, please.", "action": "save"})
    client.post(f"/portal/policies/manage/versions/{draft.id}/publish", data={"change": "minor"})
    db.expire_all()
    assert db.get(PolicyVersion, draft.id).status == "published"
    assert db.get(PolicyVersion, draft.id).requires_resign is False
    assert db.get(PolicyVersion, version.id).status == "superseded"


def test_pupil_in_ks3_signs_their_own_online(db, family, login_as):
    _, _, ks3 = family
    ks3.email = "ben@test.example"
    from portal.auth.passwords import hash_password

    ks3.password_hash = hash_password("pupil password 1")
    db.commit()
    version = current(_policy(db, "aup-ks3-4"))
    client = login_as(ks3)
    home = client.get("/portal/pupil/").get_data(as_text=True)
    # Our task, or the classroom area's own one for older pupils when that area is installed.
    assert ("Read and sign: Social media agreement (Years 7 to 11)" in home
            or "Read and agree to the online-safety rules" in home)
    page = client.get(f"/portal/policies/versions/{version.id}/sign")
    resp = client.post(f"/portal/policies/versions/{version.id}/sign",
                       data={"action": "sign", "text_hash": _hash(page.data), "agree": "y",
                             "typed_name": ks3.full_name})
    assert resp.status_code == 302
    sig = db.scalar(select(Signature))
    assert (sig.signer_id, sig.signer_role, sig.method, sig.on_behalf_of_id) == (ks3.id, "pupil", "online", None)
    home = client.get("/portal/pupil/").get_data(as_text=True)
    assert "Read and sign" not in home and "Read and agree" not in home


def test_forged_hash_is_refused_and_pages_carry_no_inline_script(db, family, login_as):
    parent, ks1, _ = family
    version = current(_policy(db, "aup-ks1"))
    client = login_as(parent)
    url = f"/portal/policies/versions/{version.id}/sign?pupil_id={ks1.id}"
    page = client.get(url).get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all("src=" in s for s in scripts)
    assert "read-aloud.js" in page
    resp = client.post(url, data={"action": "sign", "text_hash": "0" * 64, "agree": "y",
                                  "typed_name": parent.full_name})
    assert resp.status_code == 409
    assert db.scalar(select(func.count(Signature.id))) == 0


def test_bad_consent_question_and_publish_choice_are_refused(db, pack, school, login_as):
    client = login_as(school.head)
    draft = operations.create_draft(pack["aup-parent"])
    db.commit()
    url = f"/portal/policies/manage/versions/{draft.id}"
    client.post(f"{url}/consent-items", data={"key": "long_q", "question": "x" * 301})
    client.post(f"{url}/consent-items", data={"key": "Bad Key", "question": "Fine?"})
    client.post(f"{url}/publish", data={"change": "sideways"})
    db.expire_all()
    d = db.get(PolicyVersion, draft.id)
    assert [i.key for i in d.consent_items] == ["photos_website", "photos_social"]
    assert d.status == "draft"


def test_signing_form_needs_a_csrf_token(app_config, db, family):
    from portal.app import create_app

    parent, _, _ = family
    version = current(_policy(db, "aup-parent"))
    strict = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    from tests.conftest import LoginClient

    strict.test_client_class = LoginClient
    with in_school(strict):
        client = strict.test_client(user=parent)
        resp = client.post(f"/portal/policies/versions/{version.id}/sign",
                           data={"action": "sign", "agree": "y", "typed_name": parent.full_name})
        assert resp.status_code == 400
    strict.extensions["portal"].engine.dispose()
    assert db.scalar(select(func.count(Signature.id))) == 0


def test_dashboard_lists_policies_nobody_signs_in_the_portal(db, pack, school, login_as):
    head = login_as(school.head)
    page = head.get("/portal/policies/compliance/").get_data(as_text=True)
    assert "Visitors&#39; phones and social media agreement" in page
    assert "No one with a portal account is asked to sign this." in page
    visitor = head.get(f"/portal/policies/compliance/policies/{pack['aup-visitor'].id}").get_data(as_text=True)
    assert "No one with a portal account is asked to sign this." in visitor


def test_a_double_submission_records_one_signature(app, db, pack, make_person):
    """Two requests sign at once: the second, which read the status before the first
    committed, is refused instead of writing a second signature."""
    import threading

    from portal.db import session as portal_session
    from portal.people.models import Person

    teacher_id = make_person(Role.TEACHER, given="Twice").id
    t1_flushed, t2_ready, t1_commit = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first():
        with in_school(app):
            person = portal_session.get(Person, teacher_id)
            sign_req(only(queries.requirements_for(person), "aup-staff"), person, today=None)
            t1_flushed.set()
            t1_commit.wait(30)
            portal_session.commit()
            outcome["first"] = "signed"

    def second():
        with in_school(app):
            t1_flushed.wait(30)
            person = portal_session.get(Person, teacher_id)
            req = only(queries.requirements_for(person), "aup-staff")
            outcome["stale_status"] = req.status
            t2_ready.set()
            try:
                sign_req(req, person, today=None)
                portal_session.commit()
                outcome["second"] = "signed"
            except operations.SigningError as exc:
                portal_session.rollback()
                outcome["second"] = exc.code

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    t2_ready.wait(30)
    t1_commit.set()
    for t in threads:
        t.join(60)
    assert outcome == {"first": "signed", "stale_status": queries.OUTSTANDING, "second": "already"}
    assert db.scalar(select(func.count(Signature.id))) == 1


def test_in_class_acknowledgement_of_a_young_pupil_is_extra_to_the_countersign(db, family, school):
    _parent, ks1, _ = family
    teacher = school.head
    version = current(_policy(db, "aup-ks1"))
    [ack] = queries.pupil_acknowledgements(ks1)
    assert ack.status == queries.OUTSTANDING and ack.version.id == version.id
    operations.sign(ack, ks1, operations.SignRequest(
        shown_sha256=render_version(version).sha256, ip="127.0.0.1", user_agent="classroom",
        typed_name=ks1.full_name, agreed=True), method=Method.IN_CLASS, witness=teacher)
    db.commit()
    [ack] = queries.pupil_acknowledgements(ks1)
    assert ack.status == queries.SIGNED and ack.signature.witness_id == teacher.id
    assert ack.signature.method == "in_class" and ack.signature.signer_role == "pupil"
    # The parent's countersignature is still due.
    assert [r.status for r in queries.pupil_requirements(ks1)] == [queries.OUTSTANDING]


def test_publishing_publishes_the_text_on_the_screen_even_if_not_saved(db, pack, school, login_as):
    """Finding: the Head typed a new rule and pressed "Publish" without "Save draft": version 2 was
    published word for word as version 1, and the page said it was published."""
    client = login_as(school.head)
    draft = operations.create_draft(pack["aup-parent"])
    db.commit()
    url = f"/portal/policies/manage/versions/{draft.id}"
    page = client.get(url).get_data(as_text=True)
    # One form: the text, the questions and "Publish" are sent together; one "What changed" box.
    start = page.index(f'<form method="post" action="{url}"')
    draft_form = page[start:page.index("</form>", start)]
    for control in ('name="body_md"', 'name="key"', f'formaction="{url}/consent-items"', f'formaction="{url}/publish"'):
        assert control in draft_form, control
    assert page.count('id="change_note"') == 1
    typed = {"title": draft.title, "body_md": draft.body_md + "\n\n- Ask before you post a photo of a child.",
             "change_note": "A rule about photos.", "change": "minor", "key": "", "question": ""}
    resp = client.post(f"{url}/publish", data=typed)
    assert resp.status_code == 302
    db.expire_all()
    v = db.get(PolicyVersion, draft.id)
    assert v.status == "published" and "Ask before you post a photo" in v.body_md
    assert v.change_note == "A rule about photos." and v.requires_resign is False


def test_a_page_sent_back_keeps_the_typed_text_and_saves_nothing(db, pack, school, login_as):
    client = login_as(school.head)
    draft = operations.create_draft(pack["aup-parent"])
    db.commit()
    before = draft.body_md
    url = f"/portal/policies/manage/versions/{draft.id}"
    typed = {"title": draft.title, "body_md": before + "\n\n- A typed rule.", "change_note": "", "key": "Bad Key",
             "question": "Fine?"}
    # A question the form refuses: the page comes back with the typed rule in the box and the error.
    resp = client.post(f"{url}/consent-items", data=typed)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "A typed rule." in page and "portal-form-errors" in page
    assert 'data-portal-control="key"' in page
    # Publishing with no kind of change chosen, and no text: every error at once, nothing published.
    resp = client.post(f"{url}/publish", data={**typed, "body_md": "", "key": "", "question": ""})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Choose the kind of change." in page and "This field is required" in page
    db.expire_all()
    d = db.get(PolicyVersion, draft.id)
    assert d.status == "draft" and d.body_md == before
    assert [i.key for i in d.consent_items] == ["photos_website", "photos_social"]
    # A good question saves the typed text with it.
    resp = client.post(f"{url}/consent-items", data={**typed, "key": "phone_ok", "question": "May we call you?"})
    assert resp.status_code == 302
    db.expire_all()
    d = db.get(PolicyVersion, draft.id)
    assert "A typed rule." in d.body_md and [i.key for i in d.consent_items][-1] == "phone_ok"


def test_the_heads_rates_say_when_a_new_version_must_be_signed_again(app, db, pack, school, make_parent, login_as):
    """Finding: after a version everyone must sign again, a rate fell from 57% to 0% and the Head's home said
    "no change" (the week-ago figure counts signatures of the new version only)."""
    parent = make_parent()
    sign_req(next(r for r in queries.requirements_for(parent) if r.version.policy.audience == "parent"), parent,
             today=dt.date.today())
    db.commit()
    head = login_as(school.head)

    def parents_row() -> str:
        page = head.get("/portal/staff/").get_data(as_text=True)
        row = re.search(r'<th scope="row">Parents and carers</th>(.*?)</tr>', page, re.S)
        assert row, "the parents' row"
        return re.sub(r"<[^>]+>|\s+", " ", row.group(1))

    assert "new version" not in parents_row() and "100%" in parents_row()
    draft = operations.create_draft(pack["aup-parent"])
    operations.publish_version(draft, requires_resign=True, change_note="New rules.")
    db.commit()
    row = parents_row()
    from portal.i18n import format_date

    with app.test_request_context():
        today = format_date(dt.date.today())
    assert "0%" in row and f"new version to sign since {today}" in row
    assert "no change" not in row


def test_publishing_says_how_many_people_have_still_to_sign(app, db, pack, school, make_parent, login_as):
    """Walk finding: after "Everyone must read and sign again" the Head was told only "Version 2 is published."
    and learnt from the home page that 32 of 33 parents were asked again."""
    signer, _other = make_parent(given="Signe"), make_parent(given="Otto")
    sign_req(next(r for r in queries.requirements_for(signer) if r.version.policy.audience == "parent"), signer,
             today=dt.date.today())
    db.commit()
    head = login_as(school.head)
    draft = operations.create_draft(pack["aup-parent"])
    db.commit()
    resp = head.post(f"/portal/policies/manage/versions/{draft.id}/publish",
                     data={"change": "resign", "change_note": "New rules."}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "Version 2 is published." in page and "2 people have still to sign it this school year." in page


def test_a_version_everyone_signs_again_needs_a_note_and_parents_are_shown_it(
        app, db, pack, school, make_parent, make_pupil, make_class, login_as):
    """Walk finding: a Head published "Everyone must read and sign again" with "What changed" empty (a published
    version cannot be changed), and nothing was asked first; parents then saw "Not signed yet" again, the change
    only in small grey text on the signing page, and no sign that the policy had changed."""
    parent = make_parent(given="Nell")
    sign_req(next(r for r in queries.requirements_for(parent) if r.version.policy.audience == "parent"), parent,
             today=dt.date.today())
    make_parent(given="Otto")
    db.commit()
    head = login_as(school.head)
    draft = operations.create_draft(pack["aup-parent"])
    db.commit()
    url = f"/portal/policies/manage/versions/{draft.id}"
    page = head.get(url).get_data(as_text=True)
    assert "This policy asks 2 people for a signature this school year." in page
    typed = {"title": draft.title, "body_md": draft.body_md + "\n\n- Be kind in class chats.", "change_note": "",
             "change": "resign", "key": "", "question": ""}
    refused = head.post(f"{url}/publish", data=typed)
    assert refused.status_code == 400
    assert "Say what changed: everyone asked to sign again is shown this note." in refused.get_data(as_text=True)
    db.expire_all()
    assert db.get(PolicyVersion, draft.id).status == "draft"
    # A minor change needs no note; signing again does, and then parents are told.
    ok = head.post(f"{url}/publish", data={**typed, "change_note": "A new rule about class chats."})
    assert ok.status_code == 302
    nell = login_as(parent)
    home = nell.get("/portal/parent/").get_data(as_text=True)
    assert "Read and sign the new version: " + draft.title in home
    version = db.get(PolicyVersion, draft.id)
    sign = nell.get(f"/portal/policies/versions/{version.id}/sign").get_data(as_text=True)
    assert "This policy has changed, so the school asks everyone to read it and sign again." in sign
    assert "What changed: A new rule about class chats." in sign
    # A young child's rules, countersigned by the parent: the child's card says it was updated.
    child = make_pupil(1, make_class(1), given="Wren")
    carer = make_parent(child, given="Cara")
    operations.publish_version(operations.create_draft(pack["aup-ks1"]), requires_resign=True,
                               change_note="Tablets at home.")
    db.commit()
    card = login_as(carer).get("/portal/parent/").get_data(as_text=True)
    from portal.concerns.schooldays import uk_today
    from portal.i18n import format_date

    with app.test_request_context():
        today = format_date(uk_today())  # the page's dates are the UK's
    assert f"Updated on {today}: please read it again." in card


def test_a_new_version_is_dated_by_the_uk_calendar(app, db, pack, school, make_parent):
    """Review finding: "new version to sign since" took the UTC date, so a version published at 00:30 on a
    summer morning in the UK was shown as published the day before."""
    from portal.dashboard.queries import audience_rates
    from portal.db import clock_at

    make_parent()
    with clock_at(dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC)):  # 00:30 on 2 July in the UK (BST)
        operations.publish_version(operations.create_draft(pack["aup-parent"]), requires_resign=True,
                                   change_note="New rules.")
        db.commit()
    with clock_at(dt.datetime(2026, 7, 3, 9, 0, tzinfo=dt.UTC)), app.test_request_context():
        rates = {r.label: r for r in audience_rates()}
    assert rates["Parents and carers"].new_version_on == dt.date(2026, 7, 2)


def test_a_question_typed_but_not_added_stops_save_and_publish(db, pack, school, login_as):
    """Review finding: "Publish" with a question typed but not added published the version without it, and a
    published version cannot be changed."""
    client = login_as(school.head)
    draft = operations.create_draft(pack["aup-parent"])
    db.commit()
    url = f"/portal/policies/manage/versions/{draft.id}"
    typed = {"title": draft.title, "body_md": draft.body_md, "change_note": "", "change": "minor",
             "key": "extra_q", "question": "May we phone you?"}
    for action in (f"{url}/publish", url):
        resp = client.post(action, data={**typed, "action": "save"})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400, action
        assert "Press “Add question” to add this question first, or clear both boxes." in page
        assert 'value="extra_q"' in page and 'value="May we phone you?"' in page
    db.expire_all()
    assert db.get(PolicyVersion, draft.id).status == "draft"
    # Cleared, it publishes.
    assert client.post(f"{url}/publish", data={**typed, "key": "", "question": ""}).status_code == 302


def test_a_draft_page_left_open_after_publishing_says_so(db, pack, school, login_as):
    """Review finding: a second tab's "Publish" or "Add question" on a version published meanwhile got a bare
    400 showing the published version, with no word of what happened."""
    client = login_as(school.head)
    draft = operations.create_draft(pack["aup-parent"])
    db.commit()
    url = f"/portal/policies/manage/versions/{draft.id}"
    typed = {"title": draft.title, "body_md": draft.body_md, "change_note": "", "change": "minor", "key": "",
             "question": ""}
    assert client.post(f"{url}/publish", data=typed).status_code == 302
    for action, data in ((f"{url}/publish", typed), (f"{url}/consent-items", {**typed, "key": "late_q",
                                                                            "question": "Too late?"})):
        resp = client.post(action, data=data)
        assert resp.status_code == 302, action
        page = client.get(resp.headers["Location"]).get_data(as_text=True)
        assert "version 2 (published)" in page and "alert-danger" in page, action
    db.expire_all()
    assert [i.key for i in db.get(PolicyVersion, draft.id).consent_items] == ["photos_website", "photos_social"]


def test_the_compliance_page_says_when_everyone_signs_again(app, db, school, login_as, make_person):
    """Walk finding: a Head looked for a way to start the new school year's signing and found none, with no word that
    it starts by itself. The page now gives the date (from School settings), and the settings say what it does."""
    from portal.policies.queries import current_academic_year

    school.academic_year_start_month, school.academic_year_start_day = 9, 4
    db.commit()
    head = login_as(school.head)
    page = head.get("/portal/policies/compliance/").get_data(as_text=True)
    start = current_academic_year() + 1
    assert f"The next school year starts on 4 September {start}." in page
    assert "From that day everyone is asked to sign again: there is nothing to start." in page
    assert 'href="/portal/admin/settings">Change the date in School settings</a>' in page
    settings = head.get("/portal/admin/settings").get_data(as_text=True)
    assert "On this day each year everyone is asked to sign their policies again" in settings
    # Someone who may see the counts but not change settings is told the date, without the link.
    viewer = make_person(Role.TEACHER, given="Vera")
    from portal.people.models import CapabilityGrant

    db.add(CapabilityGrant(person_id=viewer.id, capability="compliance.view", granted_by_id=school.head.id))
    db.commit()
    page = login_as(viewer).get("/portal/policies/compliance/").get_data(as_text=True)
    assert f"starts on 4 September {start}" in page and "Change the date in School settings" not in page


def test_the_last_signature_says_there_is_nothing_else(db, family, login_as):
    parent, ks1, _ks3 = family
    client = login_as(parent)
    for req in [r for r in queries.requirements_for(parent) if r.status == queries.OUTSTANDING]:
        url = f"/portal/policies/versions/{req.version.id}/sign" + (f"?pupil_id={ks1.id}" if req.countersign else "")
        page = client.get(url)
        resp = client.post(url, data={"action": "sign", "text_hash": _hash(page.data), "agree": "y",
                                      "typed_name": parent.full_name,
                                      **{f"consent_{i.id}": "yes" for i in req.version.consent_items}})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    done = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "You have nothing else to sign." in done and 'href="/portal/">Back to your home page</a>' in done
