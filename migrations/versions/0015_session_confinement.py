"""account sessions: the one school an LMS launch's session may open, and the class session a kiosk is locked to

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 17:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("portal_account_sessions", sa.Column("only_school_id", sa.Integer(), nullable=True))
    op.add_column("portal_account_sessions", sa.Column("kiosk_session_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_account_sessions") as batch:
        batch.drop_column("kiosk_session_id")
        batch.drop_column("only_school_id")
