"""trusts and schools: many schools in one installation

An existing single-school database upgrades in place: its settings row becomes the first school
(keeping the keys folder and archive paths it always used), every row of school data gets that
school's id, every person with an email gets a global sign-in account (taking over their password),
and the audit log becomes that school's chain (each entry's position is its old id, so every hash
still verifies).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:00:00
"""
from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Every table that belongs to one school (the audit log is handled on its own).
SCHOOL_TABLES = [
    "portal_people", "portal_person_roles", "portal_classes", "portal_class_teachers", "portal_pupils",
    "portal_guardian_links", "portal_capability_grants",
    "portal_policies", "portal_policy_versions", "portal_consent_items", "portal_policy_reminders",
    "portal_signed_texts",
    "portal_signatures", "portal_consent_answers", "portal_signed_records",
    "portal_classroom_sessions", "portal_classroom_entries",
    "portal_concerns", "portal_concern_messages", "portal_concern_attachments", "portal_concern_events",
    "portal_school_closures",
    "portal_contact_incidents", "portal_social_media_incidents", "portal_incident_actions",
    "portal_family_links", "portal_family_link_confirmations",
    "portal_lti_registrations", "portal_lti_identities", "portal_lti_contexts", "portal_lti_context_teachers",
    "portal_lti_grade_links", "portal_lti_score_jobs",
]

#: (table, old unique constraint, old columns, new columns)
UNIQUES = [
    ("portal_people", "uq_portal_people_external_id", ["external_id"], ["school_id", "external_id"]),
    ("portal_people", "uq_portal_people_email", ["email"], ["school_id", "email"]),
    ("portal_classes", "uq_portal_classes_code", ["code"], ["school_id", "code"]),
    ("portal_policies", "uq_portal_policies_slug", ["slug"], ["school_id", "slug"]),
    ("portal_signed_texts", "uq_portal_signed_texts_sha256", ["sha256"], ["school_id", "sha256"]),
    ("portal_lti_registrations", "uq_portal_lti_registrations_issuer_client_id", ["issuer", "client_id"],
     ["school_id", "issuer", "client_id"]),
    ("portal_lti_identities", "uq_portal_lti_identities_issuer_sub", ["issuer", "sub"],
     ["school_id", "issuer", "sub"]),
]


def _uq_name(table: str, cols: list[str]) -> str:
    return f"uq_{table}_{'_'.join(cols)}"


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "").lower()).strip("-")[:60].strip("-")
    return slug or "school"


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "portal_trusts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_trusts")),
        sa.UniqueConstraint("slug", name=op.f("uq_portal_trusts_slug")),
    )
    op.create_table(
        "portal_schools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("urn", sa.String(length=10), nullable=True),
        sa.Column("phases", sa.String(length=100), nullable=False),
        sa.Column("trust_id", sa.Integer(), nullable=True),
        sa.Column("head_teacher_id", sa.Integer(), nullable=True),
        sa.Column("dsl_id", sa.Integer(), nullable=True),
        sa.Column("chair_of_governors_id", sa.Integer(), nullable=True),
        sa.Column("academic_year_start_month", sa.Integer(), nullable=False),
        sa.Column("academic_year_start_day", sa.Integer(), nullable=False),
        sa.Column("official_channel", sa.String(length=300), nullable=False),
        sa.Column("helpline_contact", sa.String(length=300), nullable=False),
        sa.Column("keys_path", sa.String(length=200), nullable=False),
        sa.Column("archive_prefix", sa.String(length=200), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["trust_id"], ["portal_trusts.id"], name=op.f("fk_portal_schools_trust_id_portal_trusts"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["head_teacher_id"], ["portal_people.id"],
                                name=op.f("fk_portal_schools_head_teacher_id_portal_people"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["dsl_id"], ["portal_people.id"], name=op.f("fk_portal_schools_dsl_id_portal_people"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["chair_of_governors_id"], ["portal_people.id"],
                                name=op.f("fk_portal_schools_chair_of_governors_id_portal_people"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_schools")),
        sa.UniqueConstraint("slug", name=op.f("uq_portal_schools_slug")),
        sa.UniqueConstraint("uid", name=op.f("uq_portal_schools_uid")),
    )
    with op.batch_alter_table("portal_schools") as b:
        b.create_index(b.f("ix_portal_schools_trust_id"), ["trust_id"], unique=False)
    op.create_table(
        "portal_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_school_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["last_school_id"], ["portal_schools.id"],
                                name=op.f("fk_portal_accounts_last_school_id_portal_schools"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_accounts")),
        sa.UniqueConstraint("email", name=op.f("uq_portal_accounts_email")),
    )
    op.create_table(
        "portal_trust_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("trust_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["portal_accounts.id"],
                                name=op.f("fk_portal_trust_roles_account_id_portal_accounts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["trust_id"], ["portal_trusts.id"],
                                name=op.f("fk_portal_trust_roles_trust_id_portal_trusts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_trust_roles")),
        sa.UniqueConstraint("account_id", "trust_id", "role", name=op.f("uq_portal_trust_roles_account_id_trust_id_role")),
    )
    with op.batch_alter_table("portal_trust_roles") as b:
        b.create_index(b.f("ix_portal_trust_roles_account_id"), ["account_id"], unique=False)
    op.create_table(
        "portal_deputy_dsls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["portal_people.id"],
                                name=op.f("fk_portal_deputy_dsls_person_id_portal_people"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"],
                                name=op.f("fk_portal_deputy_dsls_school_id_portal_schools"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_deputy_dsls")),
        sa.UniqueConstraint("school_id", "person_id", name=op.f("uq_portal_deputy_dsls_school_id_person_id")),
    )
    with op.batch_alter_table("portal_deputy_dsls") as b:
        b.create_index(b.f("ix_portal_deputy_dsls_person_id"), ["person_id"], unique=False)
        b.create_index(b.f("ix_portal_deputy_dsls_school_id"), ["school_id"], unique=False)

    # ---------------------------------------------------------------- the first school, from the data
    settings = bind.execute(sa.text(
        "SELECT name, head_teacher_id, dsl_id, chair_of_governors_id, academic_year_start_month, "
        "academic_year_start_day, official_channel, helpline_contact FROM portal_school_settings ORDER BY id LIMIT 1"
    )).first()
    has_data = settings is not None or any(
        bind.execute(sa.text(f"SELECT 1 FROM {t} LIMIT 1")).first() is not None
        for t in [*SCHOOL_TABLES, "portal_audit_log"]
    )
    now = bind.execute(sa.text("SELECT CURRENT_TIMESTAMP")).scalar()
    if has_data:
        name = settings.name if settings else "Our school"
        bind.execute(sa.text(
            "INSERT INTO portal_schools (id, uid, slug, name, urn, phases, trust_id, head_teacher_id, dsl_id, "
            "chair_of_governors_id, academic_year_start_month, academic_year_start_day, official_channel, "
            "helpline_contact, keys_path, archive_prefix, created_at) VALUES (1, :uid, :slug, :name, NULL, '', NULL, "
            ":head, :dsl, :chair, :month, :day, :channel, :helpline, '', '', :now)"
        ), {
            "uid": str(uuid.uuid4()), "slug": _slug(name), "name": name,
            "head": settings.head_teacher_id if settings else None, "dsl": settings.dsl_id if settings else None,
            "chair": settings.chair_of_governors_id if settings else None,
            "month": settings.academic_year_start_month if settings else 9,
            "day": settings.academic_year_start_day if settings else 1,
            "channel": settings.official_channel if settings else "the school office by email or telephone",
            "helpline": settings.helpline_contact if settings else "", "now": now,
        })
        if bind.dialect.name == "postgresql":
            bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('portal_schools', 'id'), 1)"))

    # ---------------------------------------------------------------- school_id on every school table
    for table in SCHOOL_TABLES:
        with op.batch_alter_table(table) as b:
            b.add_column(sa.Column("school_id", sa.Integer(), nullable=True))
        if has_data:
            bind.execute(sa.text(f"UPDATE {table} SET school_id = 1"))
        with op.batch_alter_table(table) as b:
            b.alter_column("school_id", existing_type=sa.Integer(), nullable=False)
            b.create_foreign_key(f"fk_{table}_school_id_portal_schools", "portal_schools", ["school_id"], ["id"],
                                 ondelete="CASCADE")
            b.create_index(f"ix_{table}_school_id", ["school_id"], unique=False)

    for table, old, _old_cols, new_cols in UNIQUES:
        with op.batch_alter_table(table) as b:
            b.drop_constraint(old, type_="unique")
            b.create_unique_constraint(_uq_name(table, new_cols), new_cols)

    # ---------------------------------------------------------------- accounts from people with an email
    with op.batch_alter_table("portal_people") as b:
        b.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
    people = bind.execute(sa.text(
        "SELECT id, email, password_hash, active, given_name, family_name, created_at FROM portal_people "
        "WHERE email IS NOT NULL ORDER BY id")).all()
    seen: dict[str, int] = {}
    for p in people:
        email = p.email.strip().lower()
        if email in seen:
            # Two people whose addresses differ only in case could not sign in before either (the
            # sign-in matched case-insensitively); the first keeps the account, the other has none.
            continue
        account_id = bind.execute(sa.text(
            "INSERT INTO portal_accounts (email, password_hash, display_name, active, last_school_id, created_at) "
            "VALUES (:email, :pw, :name, :active, 1, :created) RETURNING id"
        ), {"email": email, "pw": p.password_hash, "name": f"{p.given_name} {p.family_name}"[:200],
            "active": bool(p.active), "created": p.created_at}).scalar()
        seen[email] = account_id
        bind.execute(sa.text("UPDATE portal_people SET account_id = :a WHERE id = :p"), {"a": account_id, "p": p.id})
    with op.batch_alter_table("portal_people") as b:
        b.create_foreign_key("fk_portal_people_account_id_portal_accounts", "portal_accounts", ["account_id"], ["id"],
                             ondelete="SET NULL")
        b.create_index("ix_portal_people_account_id", ["account_id"], unique=False)
        b.create_unique_constraint("uq_portal_people_school_id_account_id", ["school_id", "account_id"])
        b.drop_column("password_hash")

    # ---------------------------------------------------------------- the audit log: one chain per school
    with op.batch_alter_table("portal_audit_log") as b:
        b.add_column(sa.Column("school_id", sa.Integer(), nullable=True))
        b.add_column(sa.Column("chain", sa.Integer(), nullable=True))
        b.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        b.add_column(sa.Column("import_id", sa.Integer(), nullable=True))
    if has_data:
        bind.execute(sa.text("UPDATE portal_audit_log SET school_id = 1, chain = 1, seq = id"))
    with op.batch_alter_table("portal_audit_log") as b:
        b.alter_column("chain", existing_type=sa.Integer(), nullable=False)
        b.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        b.drop_constraint("fk_portal_audit_log_actor_id_portal_people", type_="foreignkey")
        b.drop_constraint("uq_portal_audit_log_hash", type_="unique")
        b.drop_constraint("uq_portal_audit_log_prev_hash", type_="unique")
        b.create_unique_constraint("uq_portal_audit_log_chain_seq", ["chain", "seq"])
        b.create_unique_constraint("uq_portal_audit_log_chain_prev_hash", ["chain", "prev_hash"])
        b.create_index("ix_portal_audit_log_hash", ["hash"], unique=False)
        b.create_index("ix_portal_audit_log_chain", ["chain"], unique=False)
        b.create_index("ix_portal_audit_log_school_id", ["school_id"], unique=False)
        b.create_foreign_key("fk_portal_audit_log_school_id_portal_schools", "portal_schools", ["school_id"], ["id"],
                             ondelete="CASCADE")

    # Concerns a school's DSL shares with the trust's safeguarding lead.
    with op.batch_alter_table("portal_concerns") as b:
        b.add_column(sa.Column("shared_with_trust_at", portal.db.UTCDateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("shared_with_trust_by_id", sa.Integer(), nullable=True))
        b.create_foreign_key("fk_portal_concerns_shared_with_trust_by_id_portal_people", "portal_people",
                             ["shared_with_trust_by_id"], ["id"])

    op.drop_table("portal_school_settings")


def downgrade() -> None:
    bind = op.get_bind()
    schools = bind.execute(sa.text("SELECT count(*) FROM portal_schools")).scalar() or 0
    if schools > 1:
        raise RuntimeError("This database holds several schools; export all but one "
                           "(`flask portal schools export`, then `schools remove`) before downgrading.")
    op.create_table(
        "portal_school_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("head_teacher_id", sa.Integer(), nullable=True),
        sa.Column("dsl_id", sa.Integer(), nullable=True),
        sa.Column("chair_of_governors_id", sa.Integer(), nullable=True),
        sa.Column("academic_year_start_month", sa.Integer(), nullable=False),
        sa.Column("academic_year_start_day", sa.Integer(), nullable=False),
        sa.Column("official_channel", sa.String(length=300), nullable=False),
        sa.Column("helpline_contact", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["chair_of_governors_id"], ["portal_people.id"],
                                name=op.f("fk_portal_school_settings_chair_of_governors_id_portal_people")),
        sa.ForeignKeyConstraint(["dsl_id"], ["portal_people.id"], name=op.f("fk_portal_school_settings_dsl_id_portal_people")),
        sa.ForeignKeyConstraint(["head_teacher_id"], ["portal_people.id"],
                                name=op.f("fk_portal_school_settings_head_teacher_id_portal_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_school_settings")),
    )
    bind.execute(sa.text(
        "INSERT INTO portal_school_settings (id, name, head_teacher_id, dsl_id, chair_of_governors_id, "
        "academic_year_start_month, academic_year_start_day, official_channel, helpline_contact) "
        "SELECT 1, name, head_teacher_id, dsl_id, chair_of_governors_id, academic_year_start_month, "
        "academic_year_start_day, official_channel, helpline_contact FROM portal_schools"))

    with op.batch_alter_table("portal_concerns") as b:
        b.drop_constraint("fk_portal_concerns_shared_with_trust_by_id_portal_people", type_="foreignkey")
        b.drop_column("shared_with_trust_by_id")
        b.drop_column("shared_with_trust_at")
    # The installation's own chain (schools added, trust roles) has no place in a one-school database.
    bind.execute(sa.text("DELETE FROM portal_audit_log WHERE school_id IS NULL"))
    # 0001 hashes cover the entry's id, 0002 hashes its position in the chain (seq); entries of
    # the installation's chain took ids in between, so the school's entries get id = seq again
    # (in two steps, through negative ids, so no two rows ever share an id).
    bind.execute(sa.text("UPDATE portal_audit_log SET id = -seq"))
    bind.execute(sa.text("UPDATE portal_audit_log SET id = -id"))
    with op.batch_alter_table("portal_audit_log") as b:
        b.drop_constraint("fk_portal_audit_log_school_id_portal_schools", type_="foreignkey")
        b.drop_index("ix_portal_audit_log_school_id")
        b.drop_index("ix_portal_audit_log_chain")
        b.drop_index("ix_portal_audit_log_hash")
        b.drop_constraint("uq_portal_audit_log_chain_prev_hash", type_="unique")
        b.drop_constraint("uq_portal_audit_log_chain_seq", type_="unique")
        b.drop_column("import_id")
        b.drop_column("seq")
        b.drop_column("chain")
        b.drop_column("school_id")
    with op.batch_alter_table("portal_audit_log") as b:
        b.create_unique_constraint("uq_portal_audit_log_prev_hash", ["prev_hash"])
        b.create_unique_constraint("uq_portal_audit_log_hash", ["hash"])
        b.create_foreign_key("fk_portal_audit_log_actor_id_portal_people", "portal_people", ["actor_id"], ["id"])

    with op.batch_alter_table("portal_people") as b:
        b.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
    bind.execute(sa.text(
        "UPDATE portal_people SET password_hash = (SELECT a.password_hash FROM portal_accounts a "
        "WHERE a.id = portal_people.account_id)"))
    with op.batch_alter_table("portal_people") as b:
        b.drop_constraint("uq_portal_people_school_id_account_id", type_="unique")
        b.drop_index("ix_portal_people_account_id")
        b.drop_constraint("fk_portal_people_account_id_portal_accounts", type_="foreignkey")
        b.drop_column("account_id")

    for table, _old, old_cols, new_cols in reversed(UNIQUES):
        with op.batch_alter_table(table) as b:
            b.drop_constraint(_uq_name(table, new_cols), type_="unique")
            b.create_unique_constraint(_uq_name(table, old_cols), old_cols)

    for table in reversed(SCHOOL_TABLES):
        with op.batch_alter_table(table) as b:
            b.drop_index(f"ix_{table}_school_id")
            b.drop_constraint(f"fk_{table}_school_id_portal_schools", type_="foreignkey")
            b.drop_column("school_id")

    with op.batch_alter_table("portal_deputy_dsls") as b:
        b.drop_index("ix_portal_deputy_dsls_school_id")
        b.drop_index("ix_portal_deputy_dsls_person_id")
    op.drop_table("portal_deputy_dsls")
    with op.batch_alter_table("portal_trust_roles") as b:
        b.drop_index("ix_portal_trust_roles_account_id")
    op.drop_table("portal_trust_roles")
    op.drop_table("portal_accounts")
    with op.batch_alter_table("portal_schools") as b:
        b.drop_index("ix_portal_schools_trust_id")
    op.drop_table("portal_schools")
    op.drop_table("portal_trusts")
