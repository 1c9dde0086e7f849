"""everyday experience: paper and verbal agreements recorded by the office; kiosk PIN

A parent without a computer can agree on a paper slip or verbally; the office records it on
their behalf (``portal_offline_agreements``: who recorded it, when the parent agreed, how, and a
scan of the slip). A classroom session handed round as a kiosk keeps the hash of the teacher's
PIN (``portal_classroom_sessions.kiosk_pin_hash``).

Revision ID: 0008
Revises: 0002
Create Date: 2026-11-30 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_offline_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agreed_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("scan_stored_name", sa.String(length=80), nullable=True),
        sa.Column("scan_original_name", sa.String(length=120), nullable=True),
        sa.Column("scan_content_type", sa.String(length=50), nullable=True),
        sa.Column("scan_size", sa.Integer(), nullable=True),
        sa.Column("scan_sha256", sa.String(length=64), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["portal_people.id"],
                                name=op.f("fk_portal_offline_agreements_recorded_by_id_portal_people")),
        sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"], ondelete="CASCADE",
                                name=op.f("fk_portal_offline_agreements_school_id_portal_schools")),
        sa.ForeignKeyConstraint(["signature_id"], ["portal_signatures.id"], ondelete="CASCADE",
                                name=op.f("fk_portal_offline_agreements_signature_id_portal_signatures")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_offline_agreements")),
        sa.UniqueConstraint("scan_stored_name", name=op.f("uq_portal_offline_agreements_scan_stored_name")),
        sa.UniqueConstraint("signature_id", name=op.f("uq_portal_offline_agreements_signature_id")),
    )
    with op.batch_alter_table("portal_offline_agreements") as batch:
        batch.create_index(batch.f("ix_portal_offline_agreements_school_id"), ["school_id"], unique=False)
    with op.batch_alter_table("portal_classroom_sessions") as batch:
        batch.add_column(sa.Column("kiosk_pin_hash", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_classroom_sessions") as batch:
        batch.drop_column("kiosk_pin_hash")
    with op.batch_alter_table("portal_offline_agreements") as batch:
        batch.drop_index(batch.f("ix_portal_offline_agreements_school_id"))
    op.drop_table("portal_offline_agreements")
