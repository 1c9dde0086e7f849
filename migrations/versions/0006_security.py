"""security round 2: server-side sessions, two-step sign-in, one-time form tokens, audit checkpoints

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-26 18:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC = portal.db.UTCDateTime(timezone=True)


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["account_id"], ["portal_accounts.id"],
                                   name=op.f(f"fk_{table}_account_id_portal_accounts"), ondelete="CASCADE")


def upgrade() -> None:
    with op.batch_alter_table("portal_accounts") as b:
        b.add_column(sa.Column("mfa_required_since", UTC, nullable=True))

    op.create_table(
        "portal_account_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("second_factor", sa.String(length=10), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("end_reason", sa.String(length=30), nullable=True),
        _account_fk("portal_account_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_account_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_account_sessions_token_hash")),
    )
    op.create_index(op.f("ix_portal_account_sessions_account_id"), "portal_account_sessions", ["account_id"])
    op.create_index(op.f("ix_portal_account_sessions_ended_at"), "portal_account_sessions", ["ended_at"])

    op.create_table(
        "portal_mfa_totp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("secret_encrypted", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=False),
        _account_fk("portal_mfa_totp"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_mfa_totp")),
        sa.UniqueConstraint("account_id", name=op.f("uq_portal_mfa_totp_account_id")),
    )
    op.create_table(
        "portal_mfa_passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=700), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("transports", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        _account_fk("portal_mfa_passkeys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_mfa_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_portal_mfa_passkeys_credential_id")),
    )
    op.create_index(op.f("ix_portal_mfa_passkeys_account_id"), "portal_mfa_passkeys", ["account_id"])
    op.create_table(
        "portal_mfa_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        _account_fk("portal_mfa_recovery_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_mfa_recovery_codes")),
        sa.UniqueConstraint("account_id", "code_hash", name=op.f("uq_portal_mfa_recovery_codes_account_id_code_hash")),
    )
    op.create_index(op.f("ix_portal_mfa_recovery_codes_account_id"), "portal_mfa_recovery_codes", ["account_id"])


    op.create_table(
        "portal_form_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("result_url", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_form_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_portal_form_tokens_digest")),
    )
    op.create_index(op.f("ix_portal_form_tokens_created_at"), "portal_form_tokens", ["created_at"])

    op.create_table(
        "portal_audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("made_at", UTC, nullable=False),
        sa.Column("object_sha256", sa.String(length=64), nullable=False),
        sa.Column("timestamped", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_audit_checkpoints")),
    )
    op.create_index(op.f("ix_portal_audit_checkpoints_chain"), "portal_audit_checkpoints", ["chain"])

    for table in VERSIONED:
        with op.batch_alter_table(table) as b:
            b.add_column(sa.Column("row_version", sa.Integer(), nullable=False, server_default="1"))

    _merge_duplicate_links()
    op.create_index("uq_portal_family_links_live_pair", "portal_family_links", ["adult_id", "pupil_id"], unique=True,
                    postgresql_where=sa.text("status IN ('pending', 'approved')"),
                    sqlite_where=sa.text("status IN ('pending', 'approved')"))


#: Tables whose rows change status through forms (compare-and-set on ``row_version``).
VERSIONED = ("portal_concerns", "portal_family_links", "portal_contact_incidents", "portal_social_media_incidents",
             "portal_policy_versions", "portal_capability_grants")


def _merge_duplicate_links() -> None:
    """Double submits could make the same pending or approved link twice: keep the first of each
    pair (approved before pending) and decline the others, saying why, before the unique index."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, adult_id, pupil_id, status FROM portal_family_links "
        "WHERE status IN ('pending', 'approved') AND adult_id IS NOT NULL AND pupil_id IS NOT NULL "
        "ORDER BY CASE status WHEN 'approved' THEN 0 ELSE 1 END, id")).all()
    kept: dict[tuple[int, int], int] = {}
    for row in rows:
        key = (row.adult_id, row.pupil_id)
        if key not in kept:
            kept[key] = row.id
            continue
        bind.execute(sa.text(
            "UPDATE portal_family_links SET status = 'declined', decision_reason = :reason WHERE id = :id"),
            {"id": row.id, "reason": f"A duplicate of declaration {kept[key]} (merged when the portal was upgraded)."})


def downgrade() -> None:
    op.drop_index("uq_portal_family_links_live_pair", table_name="portal_family_links")
    for table in VERSIONED:
        with op.batch_alter_table(table) as b:
            b.drop_column("row_version")
    op.drop_table("portal_audit_checkpoints")
    op.drop_table("portal_form_tokens")
    op.drop_table("portal_mfa_recovery_codes")
    op.drop_table("portal_mfa_passkeys")
    op.drop_table("portal_mfa_totp")
    op.drop_table("portal_account_sessions")
    with op.batch_alter_table("portal_accounts") as b:
        b.drop_column("mfa_required_since")
