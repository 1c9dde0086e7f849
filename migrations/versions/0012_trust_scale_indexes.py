"""trust scale indexes: signatures by (school, id), so a school's newest signatures are read
from the end of one index range (the auditor list) whatever the other schools hold

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 01:50:00
"""
from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_portal_signatures_school_id_id", "portal_signatures", ["school_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_portal_signatures_school_id_id", table_name="portal_signatures")
