"""compliance remindable: who a policy reminder could go to, stored with the compliance counts
(the Head's "Reminders due" tile counts these rows instead of working out every requirement)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 01:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_compliance_remindable",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"],
                                name="fk_portal_compliance_remindable_school_id_portal_schools", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_portal_compliance_remindable"),
        sa.UniqueConstraint("school_id", "person_id", name="uq_portal_compliance_remindable_school_id_person_id"),
    )
    op.create_index("ix_portal_compliance_remindable_school_id", "portal_compliance_remindable", ["school_id"],
                    unique=False)
    # Counts stored before this revision have no remindable people: make every school's counts be made again.
    op.execute("DELETE FROM portal_compliance_snapshots")


def downgrade() -> None:
    op.drop_index("ix_portal_compliance_remindable_school_id", table_name="portal_compliance_remindable")
    op.drop_table("portal_compliance_remindable")
