"""Migration 0002 ("Trusts") upgrades an existing single-school database in place.

A database is built with the 0001 migration alone and given at least one fictional row in every
one of its tables (with plain SQL: the models are already at the 0002 shape). Upgrading it to
head must keep every row, give every school-owned row the new school, turn the settings row into
that school, give everyone with an email a sign-in account holding their old password, make the
unique constraints per school, and keep the audit log a valid chain. Going back down to 0001
must bring the settings row and the passwords back, and going up again must still work.

Runs on SQLite and PostgreSQL (``db_backend``).
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

import portal.models  # noqa: F401  (fills the metadata)
from portal.app import create_app
from portal.audit.models import GENESIS, AuditEntry
from portal.db import Base
from portal.migrate import downgrade, upgrade
from portal.schools.isolation import GLOBAL_TABLES

UTC = dt.UTC
PASSWORD = "fictional-horse-battery-7"
T0 = dt.datetime(2026, 3, 2, 9, 15, 30, 123456, tzinfo=UTC)

SCHOOL_NAME = "Larkspur Hollow Primary School"
SETTINGS = {
    "id": 1, "name": SCHOOL_NAME, "head_teacher_id": 1, "dsl_id": 2, "chair_of_governors_id": 3,
    "academic_year_start_month": 8, "academic_year_start_day": 28,
    "official_channel": "the Larkspur Hollow office, office@larkspur-hollow.example",
    "helpline_contact": "Fictional Online Safety Helpline, 0000 000 0000",
}
#: Tables of the 0001 schema that hold no school's data (everything else must get school_id).
GLOBAL_0001 = {"portal_login_attempts", "portal_used_tokens", "portal_lti_nonces", "portal_lti_launch_data"}
#: The unique constraints that became per school: table -> column sets that must exist now.
PER_SCHOOL_UNIQUES = {
    # (An address is unique per school too, whatever its case, since migration 0004: an index on
    # (school_id, lower(email)) that tests/test_email_indexes.py checks.)
    "portal_people": [{"school_id", "external_id"}, {"school_id", "account_id"}],
    "portal_classes": [{"school_id", "code"}],
    "portal_policies": [{"school_id", "slug"}],
    "portal_signed_texts": [{"school_id", "sha256"}],
    "portal_lti_registrations": [{"school_id", "issuer", "client_id"}],
    "portal_lti_identities": [{"school_id", "issuer", "sub"}],
}
#: ... and the installation-wide ones they replace, which must be gone.
OLD_GLOBAL_UNIQUES = {
    "portal_people": [{"external_id"}, {"email"}],
    "portal_classes": [{"code"}],
    "portal_policies": [{"slug"}],
    "portal_signed_texts": [{"sha256"}],
    "portal_lti_registrations": [{"issuer", "client_id"}],
    "portal_lti_identities": [{"issuer", "sub"}],
}


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes, microseconds=minutes * 7)


# ---------------------------------------------------------------- databases and the app


@pytest.fixture
def fresh_url(db_backend, request, tmp_path):
    """An empty database (a new one on the throwaway PostgreSQL server, or an SQLite file)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path}/upgrade.sqlite"
        return
    server = request.getfixturevalue("pg_server")
    if isinstance(server, str):
        from tests.deps import unavailable

        unavailable(f"PostgreSQL: {server}")
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    name = f"m0002_{uuid.uuid4().hex[:16]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.url(name)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_app(url, tmp_path):
    return create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret-not-for-production",
        "SERVER_NAME": "portal.test",
        "PORTAL_DATABASE_URI": url,
        "PORTAL_ARGON2_PROFILE": "cheapest",
        "PORTAL_MAIL_BACKEND": "log",
        "PORTAL_ARCHIVE_DIR": str(tmp_path / "archive"),
        "PORTAL_UPLOAD_DIR": str(tmp_path / "uploads"),
        "PORTAL_KEYS_DIR": str(tmp_path / "keys"),
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
    })


def dispose(app):
    app.extensions["portal"].session.remove()
    app.extensions["portal"].engine.dispose()


# ---------------------------------------------------------------- the 0001 data


@dataclass
class Seeded:
    url: str
    counts: dict[str, int]
    people: list[dict]
    audit: list[dict]
    schema: dict = field(default_factory=dict)


def _people(hashes: dict[int, str]) -> list[dict]:
    def person(pid, given, family, email, *, external_id=None, active=True):
        return {"id": pid, "external_id": external_id, "given_name": given, "family_name": family,
                "email": email, "password_hash": hashes.get(pid), "active": active, "created_at": at(pid)}

    return [
        # Mixed-case addresses: the accounts must hold them lower-cased.
        person(1, "Harriet", "Quill", "Harriet.Quill@Larkspur-Hollow.example", external_id="STAFF-001"),
        person(2, "Desmond", "Orr", "desmond.orr@larkspur-hollow.example", external_id="STAFF-002"),
        person(3, "Greta", "Vell", "greta.vell@governors.example"),  # no password yet
        person(4, "Tobias", "Fenn", "tobias.fenn@larkspur-hollow.example", external_id="STAFF-004"),
        person(5, "Priya", "Ashdown", "Priya.Ashdown@Home.example"),
        person(6, "Milo", "Ashdown", None, external_id="UPN-A0006"),  # a young pupil: no email
        person(7, "Ivy", "Fenn", "ivy.fenn@pupils.larkspur-hollow.example", external_id="UPN-A0007"),
        person(8, "Ada", "Brook", "ada.brook@auditors.example"),
        person(9, "Former", "Colleague", "former.colleague@larkspur-hollow.example", active=False),
    ]


def _audit_rows() -> list[dict]:
    """Three entries forming a valid chain, hashed exactly as 0001 did (id in the payload)."""
    specs = [
        (1, "policy.published", "PolicyVersion", "1", {"number": 1}),
        (4, "signature.created", "Signature", "1", {"decision": "agree", "policy": "staff-aup"}),
        (None, "records.sealed", "SignedRecord", "1", {}),
    ]
    rows, prev = [], GENESIS
    for i, (actor, action, ttype, tid, data) in enumerate(specs, start=1):
        entry = AuditEntry(seq=i, created_at=at(100 + i), actor_id=actor, action=action, target_type=ttype,
                           target_id=tid, data=data, prev_hash=prev)
        digest = entry.compute_hash()
        rows.append({"id": i, "created_at": entry.created_at, "actor_id": actor, "action": action,
                     "target_type": ttype, "target_id": tid, "data": data, "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


def _rows(people: list[dict], audit_rows: list[dict]) -> dict[str, list[dict]]:
    """Fictional rows for every 0001 table, in an order that satisfies the foreign keys."""
    def sha(c: str) -> str:
        return c * 64

    roles = [(1, "teacher"), (1, "admin"), (2, "teacher"), (3, "governor"), (4, "teacher"), (5, "parent"),
             (6, "pupil"), (7, "pupil"), (8, "auditor"), (9, "support_staff")]
    return {
        "portal_people": people,
        "portal_person_roles": [{"id": i, "person_id": p, "role": r} for i, (p, r) in enumerate(roles, start=1)],
        "portal_school_settings": [SETTINGS],
        "portal_classes": [{"id": 1, "code": "3B", "name": "Year 3 Beech", "year_group": 3},
                           {"id": 2, "code": "9W", "name": "Year 9 Willow", "year_group": 9}],
        "portal_class_teachers": [{"id": 1, "class_id": 1, "teacher_id": 4}],
        "portal_pupils": [
            {"person_id": 6, "year_group": 3, "date_of_birth": dt.date(2018, 5, 17), "class_id": 1, "send": False},
            {"person_id": 7, "year_group": 9, "date_of_birth": dt.date(2012, 11, 2), "class_id": 2, "send": True},
        ],
        "portal_guardian_links": [{"id": 1, "parent_id": 5, "pupil_id": 6, "relationship_label": "mother"}],
        "portal_capability_grants": [
            {"id": 1, "person_id": 4, "capability": "manage_roster", "granted_by_id": 1, "granted_at": at(20),
             "revoked_at": None, "revoked_by_id": None},
        ],
        "portal_policies": [
            {"id": 1, "slug": "staff-aup", "title": "Staff acceptable use policy", "audience": "staff",
             "send_variant": False, "created_at": at(21)},
            {"id": 2, "slug": "pupil-aup-ks2", "title": "Pupil acceptable use policy", "audience": "pupils",
             "send_variant": True, "created_at": at(22)},
        ],
        "portal_policy_versions": [
            {"id": 1, "policy_id": 1, "number": 1, "status": "published", "title": "Staff AUP",
             "body_md": "Use school systems kindly.", "requires_resign": False, "change_note": "First version",
             "created_at": at(23), "published_at": at(24), "published_by_id": 1},
            {"id": 2, "policy_id": 2, "number": 1, "status": "published", "title": "Pupil AUP",
             "body_md": "I will tell a grown-up.", "requires_resign": False, "change_note": "",
             "created_at": at(25), "published_at": at(26), "published_by_id": 1},
        ],
        "portal_consent_items": [{"id": 1, "version_id": 2, "key": "photos",
                                  "question": "May the school use photographs of your child?", "position": 1}],
        "portal_policy_reminders": [{"id": 1, "recipient_id": 5, "sent_at": at(27), "sent_by_id": 1, "items": 2}],
        "portal_signed_texts": [{"id": 1, "sha256": sha("a"), "version_id": 1, "title": "Staff AUP",
                                 "body_html": "<p>Use school systems kindly.</p>", "questions": "[]",
                                 "first_shown_at": at(28)}],
        "portal_signatures": [
            {"id": 1, "version_id": 1, "signer_id": 4, "signer_role": "teacher", "on_behalf_of_id": None,
             "decision": "agree", "decline_reason": None, "signed_name": "Tobias Fenn", "text_sha256": sha("a"),
             "signed_at": at(29), "ip": "192.0.2.10", "user_agent": "FictionalBrowser/1.0", "method": "online",
             "witness_id": None, "academic_year": 2025},
            {"id": 2, "version_id": 2, "signer_id": 5, "signer_role": "parent", "on_behalf_of_id": 6,
             "decision": "agree", "decline_reason": None, "signed_name": "Priya Ashdown", "text_sha256": sha("b"),
             "signed_at": at(30), "ip": "192.0.2.11", "user_agent": "FictionalBrowser/1.0", "method": "online",
             "witness_id": None, "academic_year": 2025},
        ],
        "portal_consent_answers": [{"id": 1, "consent_item_id": 1, "signature_id": 2, "person_id": 5, "pupil_id": 6,
                                    "answer": True, "answered_at": at(30)}],
        "portal_signed_records": [{"id": 1, "signature_id": 1, "status": "sealed", "pdf_sha256": sha("c"),
                                   "size": 20480, "seal_mode": "local", "created_at": at(31), "sealed_at": at(32),
                                   "attempts": 1, "last_error": None}],
        "portal_classroom_sessions": [{"id": 1, "class_id": 1, "teacher_id": 4, "version_id": 2,
                                       "send_version_id": None, "code": "QX7K2P", "created_at": at(33),
                                       "expires_at": at(93), "closed_at": at(60)}],
        "portal_classroom_entries": [{"id": 1, "session_id": 1, "pupil_id": 6, "version_id": 2,
                                      "text_sha256": sha("b"), "acknowledged_at": at(34), "ip": "192.0.2.12",
                                      "user_agent": "FictionalTablet/2.0", "signature_id": None}],
        "portal_concerns": [{
            "id": 1, "raised_by_id": 5, "child_id": 6, "category": "online_safety", "about": "child",
            "about_person_id": None, "at_risk": False, "route": "dsl", "subject": "A worrying message",
            "description": "A fictional description of a fictional worry.", "status": "open",
            "stage": "informal", "assignee_id": 2, "created_at": at(35), "stage_started_at": at(35),
            "ack_due": dt.date(2026, 3, 9), "response_due": dt.date(2026, 3, 23), "acknowledged_at": at(36),
            "resolved_at": None, "closed_at": None, "parent_seen_at": at(37),
        }],
        "portal_concern_messages": [{"id": 1, "concern_id": 1, "author_id": 2, "from_parent": False,
                                     "internal": False, "body": "Thank you; we are looking into it.",
                                     "created_at": at(38)}],
        "portal_concern_attachments": [{"id": 1, "concern_id": 1, "stored_name": "f3a9c2d1e0b4.png",
                                        "original_name": "screenshot.png", "content_type": "image/png",
                                        "size": 1234, "sha256": sha("d"), "created_at": at(35)}],
        "portal_concern_events": [{"id": 1, "concern_id": 1, "actor_id": 2, "kind": "status", "old_value": "new",
                                   "new_value": "open", "reason": None, "created_at": at(36)}],
        "portal_school_closures": [{"id": 1, "first_day": dt.date(2026, 4, 3), "last_day": dt.date(2026, 4, 17),
                                    "label": "Spring holiday", "created_by_id": 1, "created_at": at(39)}],
        "portal_family_links": [{
            "id": 1, "source": "staff", "declared_by_id": 4, "adult_id": 4, "pupil_id": 7, "typed_pupil_name": None,
            "typed_pupil_class": None, "typed_adult_name": None, "relationship_kind": "parent", "note": "",
            "academic_year": 2025, "status": "approved", "created_at": at(40), "decided_by_id": 1,
            "decided_at": at(41), "decision_reason": "",
        }],
        "portal_family_link_confirmations": [{"id": 1, "person_id": 4, "context": "staff", "academic_year": 2025,
                                              "has_links": True, "confirmed_at": at(40)}],
        "portal_contact_incidents": [{
            "id": 1, "kind": "message", "direction": "adult_to_pupil", "pupil_id": 7, "adult_id": 4,
            "platform": "FictionalChat", "occurred_on": dt.date(2026, 3, 1), "summary": "A fictional contact.",
            "routed_to": "dsl", "covered_by_link": True, "covering_link_id": 1, "recorded_by_id": 2,
            "created_at": at(42), "closed_at": None,
        }],
        "portal_social_media_incidents": [{
            "id": 1, "author_type": "parent", "author_description": "A fictional account", "platform": "FictionalGram",
            "posted_on": dt.date(2026, 2, 27), "seen_on": dt.date(2026, 2, 28), "summary": "A fictional post.",
            "prevent_flag": False, "routed_to": "head", "deletion_requested_on": None, "deletion_outcome": "none",
            "deletion_outcome_on": None, "reported_to_platform_on": None, "helpline_contacted_on": None,
            "police_involved": False, "police_reference": "", "recorded_by_id": 1, "created_at": at(43),
            "closed_at": None,
        }],
        "portal_incident_actions": [
            {"id": 1, "contact_incident_id": 1, "social_incident_id": None, "at": at(44), "actor_id": 2,
             "text": "Spoke to the member of staff."},
            {"id": 2, "contact_incident_id": None, "social_incident_id": 1, "at": at(45), "actor_id": 1,
             "text": "Asked for the post to be removed."},
        ],
        "portal_lti_registrations": [{
            "id": 1, "name": "Fictional VLE", "issuer": "https://vle.fictional.example", "client_id": "client-001",
            "auth_login_url": "https://vle.fictional.example/auth", "auth_token_url": "https://vle.fictional.example/token",
            "auth_audience": None, "key_set_url": "https://vle.fictional.example/jwks", "key_set": None,
            "deployment_ids": ["dep-1"], "active": True, "created_at": at(46),
        }],
        "portal_lti_identities": [{"id": 1, "issuer": "https://vle.fictional.example", "sub": "sub-tobias",
                                   "person_id": 4, "created_at": at(47), "last_launch_at": at(48)}],
        "portal_lti_contexts": [{"id": 1, "registration_id": 1, "context_id": "course-3b", "title": "3B Computing",
                                 "memberships_url": "https://vle.fictional.example/nrps/3b", "class_id": 1,
                                 "last_synced_at": at(49), "updated_at": at(49)}],
        "portal_lti_context_teachers": [{"id": 1, "context_id": 1, "person_id": 4}],
        "portal_lti_grade_links": [{"id": 1, "registration_id": 1, "person_id": 7, "sub": "sub-ivy",
                                    "resource_link_id": "rl-aup", "lineitem_url": "https://vle.fictional.example/li/1",
                                    "scopes": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                                    "version_id": 2, "updated_at": at(50)}],
        "portal_lti_score_jobs": [{"id": 1, "grade_link_id": 1, "signature_id": 1, "status": "sent", "attempts": 1,
                                   "last_error": None, "created_at": at(51), "sent_at": at(52)}],
        "portal_lti_nonces": [{"id": 1, "issuer": "https://vle.fictional.example", "nonce": "nonce-0001",
                               "used_at": at(53)}],
        "portal_lti_launch_data": [{"key": "launch-state-0001", "value": {"state": "fictional"},
                                    "expires_at": at(54)}],
        "portal_login_attempts": [{"id": 1, "key": "ip:192.0.2.99", "at": at(55)}],
        "portal_used_tokens": [{"id": 1, "digest": sha("e"), "used_at": at(56)}],
        "portal_audit_log": audit_rows,
    }


#: 0001 tables that a later migration removes on purpose (see check_upgraded).
LATER_DROPPED = {"portal_lti_score_jobs"}


def _counts(conn, tables) -> dict[str, int]:
    return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}


def _schema(engine) -> dict:
    """What 0001 built, table by table (to compare after a downgrade)."""
    insp = inspect(engine)
    out = {}
    for t in sorted(insp.get_table_names()):
        if not t.startswith("portal_"):
            continue
        out[t] = {
            "columns": sorted((c["name"], c["nullable"], str(c["type"])) for c in insp.get_columns(t)),  # order aside
            "pk": sorted(insp.get_pk_constraint(t)["constrained_columns"]),
            "fks": sorted((fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"],
                           tuple(fk["referred_columns"]), (fk.get("options") or {}).get("ondelete"))
                          for fk in insp.get_foreign_keys(t)),
            "uniques": sorted((u["name"], tuple(sorted(u["column_names"]))) for u in insp.get_unique_constraints(t)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(t)
                              if not i.get("duplicates_constraint")),
        }
    return out


def seed_0001(url, tmp_path) -> Seeded:
    """A database at revision 0001 with at least one fictional row in every table."""
    upgrade(url, "0001")
    app = make_app(url, tmp_path)
    try:
        with app.app_context():
            from portal.auth.passwords import hash_password

            hashes = {pid: hash_password(f"{PASSWORD}-{pid}" if pid != 1 else PASSWORD) for pid in (1, 2, 4, 5, 8, 9)}
    finally:
        dispose(app)
    people = _people(hashes)
    audit_rows = _audit_rows()
    data = _rows(people, audit_rows)

    engine = create_engine(url)
    try:
        tables_0001 = {t for t in inspect(engine).get_table_names() if t.startswith("portal_")}
        meta = MetaData()
        meta.reflect(bind=engine, only=sorted(tables_0001))
        with engine.begin() as conn:
            for name, rows in data.items():
                conn.execute(meta.tables[name].insert(), rows)
            if conn.dialect.name == "postgresql":
                # As in a real database, each serial counter is past the rows it numbered.
                for name in sorted(tables_0001):
                    if "id" in meta.tables[name].c:
                        conn.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"))
        with engine.connect() as conn:
            counts = _counts(conn, tables_0001)
        empty = sorted(t for t, n in counts.items() if n == 0)
        assert not empty, f"the 0001 data set leaves these tables empty (add rows for them): {empty}"
        assert set(data) == tables_0001, f"rows given for tables 0001 does not have: {set(data) - tables_0001}"
        schema = _schema(engine)
    finally:
        engine.dispose()
    return Seeded(url=url, counts=counts, people=people, audit=audit_rows, schema=schema)


# ---------------------------------------------------------------- checks of the upgraded database


def _include(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name and not name.startswith("portal_"))


def check_upgraded(seeded: Seeded) -> int:
    """Everything the upgrade must keep or make; returns the school's id."""
    engine = create_engine(seeded.url)
    try:
        insp = inspect(engine)
        tables = set(insp.get_table_names())
        assert "portal_school_settings" not in tables
        with engine.connect() as conn:
            # The migration builds exactly the models' schema from a database with data, too.
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _include})
            diff = compare_metadata(ctx, Base.metadata)
            assert diff == [], f"after upgrading a database with data, models and schema differ: {diff}"

            schools = conn.execute(text("SELECT * FROM portal_schools")).mappings().all()
            assert len(schools) == 1
            school = schools[0]
            sid = school["id"]
            for key in ("name", "head_teacher_id", "dsl_id", "chair_of_governors_id", "academic_year_start_month",
                        "academic_year_start_day", "official_channel", "helpline_contact"):
                assert school[key] == SETTINGS[key], key
            assert school["keys_path"] == "" and school["archive_prefix"] == ""
            assert school["slug"] == "larkspur-hollow-primary-school"
            assert school["uid"] and school["trust_id"] is None
            assert conn.execute(text("SELECT count(*) FROM portal_trusts")).scalar() == 0

            # Nothing lost: every 0001 table still holds as many rows (a table a later migration
            # replaces on purpose keeps its meaning elsewhere: 0003 turns sent LTI scores into done-marks).
            kept = [t for t in seeded.counts if t != "portal_school_settings" and t not in LATER_DROPPED]
            assert _counts(conn, kept) == {t: seeded.counts[t] for t in kept}
            assert conn.execute(text("SELECT key FROM portal_job_marks")).scalars().all() == ["lti-score:1:1"]

            # Every 0001 table is either installation-wide or now belongs to the school.
            for t in seeded.counts:
                if t == "portal_school_settings" or t in LATER_DROPPED:
                    continue
                has_school = "school_id" in {c["name"] for c in insp.get_columns(t)}
                if t in GLOBAL_0001:
                    assert t in GLOBAL_TABLES and not has_school, t
                    continue
                assert has_school, f"{t} has no school_id after the upgrade"
                ids = conn.execute(text(f"SELECT DISTINCT school_id FROM {t}")).scalars().all()
                assert ids == [sid], f"{t}: school_id {ids}, expected [{sid}]"
                nullable = {c["name"]: c["nullable"] for c in insp.get_columns(t)}["school_id"]
                assert nullable is (t == "portal_audit_log"), f"{t}.school_id nullable={nullable}"

            # Accounts: one per email, lower-cased, holding the password; people point at them.
            assert "password_hash" not in {c["name"] for c in insp.get_columns("portal_people")}
            accounts = {r["id"]: r for r in conn.execute(text("SELECT * FROM portal_accounts")).mappings()}
            people = {r["id"]: r for r in conn.execute(text("SELECT * FROM portal_people")).mappings()}
            with_email = [p for p in seeded.people if p["email"]]
            assert len(accounts) == len({p["email"].lower() for p in with_email}) == len(with_email)
            for old in seeded.people:
                new = people[old["id"]]
                assert (new["email"], new["external_id"], new["given_name"]) == \
                       (old["email"], old["external_id"], old["given_name"])
                assert new["school_id"] == sid
                if not old["email"]:
                    assert new["account_id"] is None
                    continue
                account = accounts[new["account_id"]]
                assert account["email"] == old["email"].lower()
                assert account["password_hash"] == old["password_hash"]
                assert account["display_name"] == f"{old['given_name']} {old['family_name']}"
                assert bool(account["active"]) is old["active"]
                assert account["last_school_id"] == sid

            # The unique constraints are per school now.
            for t, wanted in PER_SCHOOL_UNIQUES.items():
                have = [set(u["column_names"]) for u in insp.get_unique_constraints(t)]
                for cols in wanted:
                    assert cols in have, f"{t}: no unique constraint on {sorted(cols)} (has {have})"
                for cols in OLD_GLOBAL_UNIQUES[t]:
                    assert cols not in have, f"{t}: still unique on {sorted(cols)} across schools"

            # The audit log is the school's chain: seq = the old id, nothing else changed.
            log = conn.execute(text("SELECT * FROM portal_audit_log ORDER BY id")).mappings().all()
            assert [(r["id"], r["seq"], r["chain"], r["school_id"], r["import_id"]) for r in log] == \
                   [(e["id"], e["id"], sid, sid, None) for e in seeded.audit]
            assert [(r["prev_hash"], r["hash"], r["action"], r["actor_id"]) for r in log] == \
                   [(e["prev_hash"], e["hash"], e["action"], e["actor_id"]) for e in seeded.audit]
    finally:
        engine.dispose()
    return sid


def check_per_school_uniques(url, sid):
    """Behaviourally: a second school may reuse an email, roster id, account, class code, policy slug,
    text hash or LMS identity of the first; the first school itself may not (all rolled back)."""
    person = text(
        "INSERT INTO portal_people (id, school_id, external_id, given_name, family_name, email, account_id, active, "
        "created_at) VALUES (:id, :school, :ext, 'Harriet', 'Quill', :email, :account, :t, :now)")
    email, ext = "Harriet.Quill@Larkspur-Hollow.example", "STAFF-001"
    elsewhere = [
        ("INSERT INTO portal_classes (id, school_id, code, name, year_group) VALUES (901, 900, '3B', 'x', 3)"),
        ("INSERT INTO portal_policies (id, school_id, slug, title, audience, send_variant, created_at) "
         "VALUES (901, 900, 'staff-aup', 'x', 'staff', false, CURRENT_TIMESTAMP)"),
        (f"INSERT INTO portal_signed_texts (id, school_id, sha256, version_id, title, body_html, questions, "
         f"first_shown_at) VALUES (901, 900, '{'a' * 64}', 1, 'x', 'x', '[]', CURRENT_TIMESTAMP)"),
        ("INSERT INTO portal_lti_registrations (id, school_id, name, issuer, client_id, auth_login_url, "
         "auth_token_url, deployment_ids, active, created_at) VALUES (901, 900, 'x', "
         "'https://vle.fictional.example', 'client-001', 'x', 'x', '[]', true, CURRENT_TIMESTAMP)"),
        ("INSERT INTO portal_lti_identities (id, school_id, issuer, sub, person_id, created_at) VALUES "
         "(901, 900, 'https://vle.fictional.example', 'sub-tobias', 901, CURRENT_TIMESTAMP)"),
    ]
    same_school = [
        (person, {"id": 902, "school": sid, "ext": "NEW-1", "email": email, "account": None}),
        (person, {"id": 903, "school": sid, "ext": ext, "email": "new.one@larkspur-hollow.example", "account": None}),
        (person, {"id": 904, "school": sid, "ext": "NEW-2", "email": "new.two@larkspur-hollow.example", "account": 1}),
        (text("INSERT INTO portal_classes (id, school_id, code, name, year_group) VALUES (902, :s, '3B', 'x', 3)"),
         {"s": sid}),
        (text("INSERT INTO portal_policies (id, school_id, slug, title, audience, send_variant, created_at) "
              "VALUES (902, :s, 'staff-aup', 'x', 'staff', false, CURRENT_TIMESTAMP)"), {"s": sid}),
    ]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                conn.execute(text(
                    "INSERT INTO portal_schools (id, uid, slug, name, phases, academic_year_start_month, "
                    "academic_year_start_day, official_channel, helpline_contact, keys_path, archive_prefix, "
                    "created_at) VALUES (900, :uid, 'brackenfield-academy', 'Brackenfield Academy', '', 9, 1, "
                    "'the office', '', 'brackenfield', 'brackenfield', :now)"), {"uid": str(uuid.uuid4()), "now": T0})
                conn.execute(person, {"id": 901, "school": 900, "ext": ext, "email": email, "account": 1,
                                      "t": True, "now": T0})
                for stmt in elsewhere:
                    conn.execute(text(stmt))
                for stmt, params in same_school:
                    nested = conn.begin_nested()
                    with pytest.raises(IntegrityError):
                        conn.execute(stmt, {"t": True, "now": T0, **params})
                    nested.rollback()
            finally:
                trans.rollback()
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the tests


def test_single_school_database_upgrades_in_place(fresh_url, tmp_path):
    seeded = seed_0001(fresh_url, tmp_path)
    upgrade(fresh_url)
    sid = check_upgraded(seeded)
    check_per_school_uniques(fresh_url, sid)

    app = make_app(fresh_url, tmp_path)
    try:
        from portal import audit
        from portal.db import session
        from portal.schools.isolation import set_school

        with app.app_context():
            set_school(session, sid)
            report = audit.verify_chain(sid)
            assert report.ok, report
            assert (report.count, report.head) == (3, seeded.audit[-1]["hash"])

        # The head teacher signs in with the password she had before (address in any case).
        client = app.test_client()
        response = client.post("/portal/auth/login", data={"email": "harriet.quill@larkspur-hollow.example",
                                                          "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        assert "/auth/login" not in response.headers["Location"]
        home = client.get(response.headers["Location"], follow_redirects=True)
        assert home.status_code == 200 and "/auth/login" not in home.request.path  # signed in, in the school
        assert "Harriet" in home.get_data(as_text=True)

        with app.app_context():
            set_school(session, sid)
            report = audit.verify_chain(sid)
            assert report.ok and report.count == 4, report  # the sign-in appended to the old chain
    finally:
        dispose(app)


def test_upgraded_database_downgrades_and_upgrades_again(fresh_url, tmp_path):
    seeded = seed_0001(fresh_url, tmp_path)
    upgrade(fresh_url)
    sid = check_upgraded(seeded)

    # Life goes on after the upgrade: the installation's own chain gets an entry (a trust role,
    # say) before the school's chain gets its next one.
    app = make_app(fresh_url, tmp_path)
    try:
        from portal import audit
        from portal.db import session
        from portal.schools.isolation import set_school

        with app.app_context():
            set_school(session, sid)
            audit.record("trust.role_granted", school=None, role="trust_auditor")
            audit.record("policy.reminded", actor=1, count=2)
            session.commit()
            assert audit.verify_chain(sid).count == 4
    finally:
        dispose(app)

    downgrade(fresh_url, "0001")
    engine = create_engine(fresh_url)
    try:
        schema = _schema(engine)
        assert set(schema) == set(seeded.schema)
        for t in sorted(schema):
            for part in schema[t]:
                assert schema[t][part] == seeded.schema[t][part], f"after the downgrade, {t} {part} differ from 0001"
        with engine.connect() as conn:
            settings = conn.execute(text("SELECT * FROM portal_school_settings")).mappings().all()
            assert [dict(r) for r in settings] == [SETTINGS]
            hashes = dict(conn.execute(text("SELECT id, password_hash FROM portal_people")).all())
            assert hashes == {p["id"]: p["password_hash"] for p in seeded.people}
            counts = _counts(conn, seeded.counts)
            assert counts == {**seeded.counts, "portal_audit_log": 4}
            # The school's chain verifies as 0001 computes it (the id is in the payload).
            meta = MetaData()
            meta.reflect(bind=engine, only=["portal_audit_log"])
            log = conn.execute(select(meta.tables["portal_audit_log"]).order_by(text("id"))).mappings().all()
            prev = GENESIS
            for expected_id, row in enumerate(log, start=1):
                assert row["id"] == expected_id
                created = row["created_at"]
                created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
                entry = AuditEntry(seq=row["id"], created_at=created, actor_id=row["actor_id"],
                                   action=row["action"], target_type=row["target_type"],
                                   target_id=row["target_id"], data=row["data"], prev_hash=row["prev_hash"])
                assert row["prev_hash"] == prev and entry.compute_hash() == row["hash"], f"entry {row['id']}"
                prev = row["hash"]
            assert [r["hash"] for r in log[:3]] == [e["hash"] for e in seeded.audit]
    finally:
        engine.dispose()

    upgrade(fresh_url)
    engine = create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM portal_schools")).scalar() == 1
            sid = conn.execute(text("SELECT id FROM portal_schools")).scalar()
            linked = conn.execute(text(
                "SELECT p.id, a.email, a.password_hash FROM portal_people p "
                "JOIN portal_accounts a ON a.id = p.account_id")).all()
            assert {r.id: (r.email, r.password_hash) for r in linked} == {
                p["id"]: (p["email"].lower(), p["password_hash"]) for p in seeded.people if p["email"]}
    finally:
        engine.dispose()

    app = make_app(fresh_url, tmp_path)
    try:
        with app.app_context():
            set_school(session, sid)
            report = audit.verify_chain(sid)
            assert report.ok and report.count == 4, report
        response = app.test_client().post("/portal/auth/login", data={
            "email": "Harriet.Quill@Larkspur-Hollow.example", "password": PASSWORD})
        assert response.status_code == 302
    finally:
        dispose(app)
