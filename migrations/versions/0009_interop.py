"""interop round 2: per-registration LMS settings, parent links waiting for approval, one person
per email in OneRoster imports

Revision ID: 0009
Revises: 0002
Create Date: 2026-11-27 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0009"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portal_lti_registrations") as b:
        b.add_column(sa.Column("approve_mentor_links", sa.Boolean(), server_default="1", nullable=False))
        b.add_column(sa.Column("role_parameter", sa.String(length=50), nullable=True))
        b.add_column(sa.Column("role_map", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("portal_schools") as b:
        b.add_column(sa.Column("roster_merge_same_email", sa.Boolean(), server_default="0", nullable=False))

    op.create_table(
        "portal_lti_mentor_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("pupil_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["decided_by_id"], ["portal_people.id"], ondelete="SET NULL",
                                name=op.f("fk_portal_lti_mentor_links_decided_by_id_portal_people")),
        sa.ForeignKeyConstraint(["parent_id"], ["portal_people.id"], ondelete="CASCADE",
                                name=op.f("fk_portal_lti_mentor_links_parent_id_portal_people")),
        sa.ForeignKeyConstraint(["pupil_id"], ["portal_people.id"], ondelete="CASCADE",
                                name=op.f("fk_portal_lti_mentor_links_pupil_id_portal_people")),
        sa.ForeignKeyConstraint(["registration_id"], ["portal_lti_registrations.id"], ondelete="SET NULL",
                                name=op.f("fk_portal_lti_mentor_links_registration_id_portal_lti_registrations")),
        sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"], ondelete="CASCADE",
                                name=op.f("fk_portal_lti_mentor_links_school_id_portal_schools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_lti_mentor_links")),
        sa.UniqueConstraint("parent_id", "pupil_id", name=op.f("uq_portal_lti_mentor_links_parent_id_pupil_id")),
    )
    with op.batch_alter_table("portal_lti_mentor_links") as b:
        b.create_index(b.f("ix_portal_lti_mentor_links_parent_id"), ["parent_id"], unique=False)
        b.create_index(b.f("ix_portal_lti_mentor_links_school_id"), ["school_id"], unique=False)
        b.create_index(b.f("ix_portal_lti_mentor_links_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("portal_lti_mentor_links") as b:
        b.drop_index(b.f("ix_portal_lti_mentor_links_status"))
        b.drop_index(b.f("ix_portal_lti_mentor_links_school_id"))
        b.drop_index(b.f("ix_portal_lti_mentor_links_parent_id"))
    op.drop_table("portal_lti_mentor_links")
    with op.batch_alter_table("portal_schools") as b:
        b.drop_column("roster_merge_same_email")
    with op.batch_alter_table("portal_lti_registrations") as b:
        b.drop_column("role_map")
        b.drop_column("role_parameter")
        b.drop_column("approve_mentor_links")
