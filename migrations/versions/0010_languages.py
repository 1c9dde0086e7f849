"""languages: a person's chosen language, a school's default language, translations of policy
versions, and the language of the text each signature was shown

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-26 19:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0010"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it): batch mode would copy these tables on SQLite and lose their
    # expression indexes (e.g. the unique lower(email) index on accounts).
    op.add_column("portal_accounts", sa.Column("language", sa.String(length=10), nullable=True))
    op.add_column("portal_schools", sa.Column("default_language", sa.String(length=10), nullable=True))
    op.add_column("portal_signed_texts", sa.Column("language", sa.String(length=10), nullable=True))
    op.add_column("portal_signatures", sa.Column("language", sa.String(length=10), nullable=True))
    op.create_table(
        "portal_policy_translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("authoritative", sa.Boolean(), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
        sa.Column("change_note", sa.String(length=500), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["published_by_id"], ["portal_people.id"],
                                name=op.f("fk_portal_policy_translations_published_by_id_portal_people")),
        sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"], ondelete="CASCADE",
                                name=op.f("fk_portal_policy_translations_school_id_portal_schools")),
        sa.ForeignKeyConstraint(["version_id"], ["portal_policy_versions.id"], ondelete="CASCADE",
                                name=op.f("fk_portal_policy_translations_version_id_portal_policy_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_policy_translations")),
        sa.UniqueConstraint("version_id", "language", "revision",
                            name=op.f("uq_portal_policy_translations_version_id_language_revision")),
    )
    with op.batch_alter_table("portal_policy_translations") as b:
        b.create_index(b.f("ix_portal_policy_translations_school_id"), ["school_id"], unique=False)
        b.create_index(b.f("ix_portal_policy_translations_status"), ["status"], unique=False)
        b.create_index(b.f("ix_portal_policy_translations_version_id"), ["version_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("portal_policy_translations") as b:
        b.drop_index(b.f("ix_portal_policy_translations_version_id"))
        b.drop_index(b.f("ix_portal_policy_translations_status"))
        b.drop_index(b.f("ix_portal_policy_translations_school_id"))
    op.drop_table("portal_policy_translations")
    # Plain DROP COLUMN (SQLite 3.35+): the columns have no index or constraint.
    op.drop_column("portal_signatures", "language")
    op.drop_column("portal_signed_texts", "language")
    op.drop_column("portal_schools", "default_language")
    op.drop_column("portal_accounts", "language")
