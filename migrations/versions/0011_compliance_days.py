"""compliance days: how many requirements were first signed on each day, stored with the
compliance counts (the Head's dashboard and the charts draw their signing-rate trends from it)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 22:15:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_compliance_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=30), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("signed", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"],
                                name="fk_portal_compliance_days_school_id_portal_schools", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_portal_compliance_days"),
    )
    op.create_index("ix_portal_compliance_days_school_id", "portal_compliance_days", ["school_id"], unique=False)
    # Counts stored before this revision have no days: make every school's counts be made again.
    op.execute("DELETE FROM portal_compliance_snapshots")


def downgrade() -> None:
    op.drop_index("ix_portal_compliance_days_school_id", table_name="portal_compliance_days")
    op.drop_table("portal_compliance_days")
