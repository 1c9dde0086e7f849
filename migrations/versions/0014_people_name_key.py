"""people name key: both names folded for searching (no accents or case), so "Lucja" finds Łucja

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 03:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from portal.people.folding import KEY_LENGTH, name_key

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    op.add_column("portal_people", sa.Column("name_key", sa.String(KEY_LENGTH), server_default="", nullable=False))
    conn = op.get_bind()
    people = sa.table("portal_people", sa.column("id", sa.Integer), sa.column("given_name", sa.String),
                      sa.column("family_name", sa.String), sa.column("name_key", sa.String))
    stmt = sa.update(people).where(people.c.id == sa.bindparam("row_id")).values(name_key=sa.bindparam("key"))
    last = 0
    while True:
        rows = conn.execute(sa.select(people.c.id, people.c.given_name, people.c.family_name)
                            .where(people.c.id > last).order_by(people.c.id).limit(_BATCH)).all()
        if not rows:
            break
        conn.execute(stmt, [{"row_id": r.id, "key": name_key(r.given_name, r.family_name)} for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("portal_people", "name_key")
        return
    # SQLite: the batch rebuilds the table, and cannot reflect the expression index on lower(email).
    with op.batch_alter_table("portal_people") as batch:
        batch.drop_column("name_key")
    op.create_index("uq_portal_people_school_id_lower_email", "portal_people",
                    ["school_id", sa.text("lower(email)")], unique=True)
