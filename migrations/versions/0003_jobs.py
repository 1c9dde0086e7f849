"""background jobs: failures and done-marks, queued sealed records, reminder schedule; the
hand-made LTI score retry table goes (scores are queued jobs now)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 17:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0003"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_job_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"],
                                name=op.f("fk_portal_job_failures_school_id_portal_schools"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_job_failures")),
    )
    with op.batch_alter_table("portal_job_failures") as b:
        b.create_index(b.f("ix_portal_job_failures_school_id"), ["school_id"], unique=False)
        b.create_index(b.f("ix_portal_job_failures_name"), ["name"], unique=False)
        b.create_index(b.f("ix_portal_job_failures_failed_at"), ["failed_at"], unique=False)

    op.create_table(
        "portal_job_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("done_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"],
                                name=op.f("fk_portal_job_marks_school_id_portal_schools"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_job_marks")),
        sa.UniqueConstraint("school_id", "key", name=op.f("uq_portal_job_marks_school_id_key")),
    )
    with op.batch_alter_table("portal_job_marks") as b:
        b.create_index(b.f("ix_portal_job_marks_school_id"), ["school_id"], unique=False)

    with op.batch_alter_table("portal_signed_records") as b:
        b.add_column(sa.Column("queued_at", portal.db.UTCDateTime(timezone=True), nullable=True))
        b.create_index(b.f("ix_portal_signed_records_queued_at"), ["queued_at"], unique=False)

    with op.batch_alter_table("portal_schools") as b:
        b.add_column(sa.Column("reminder_first_days", sa.Integer(), nullable=True))
        b.add_column(sa.Column("reminder_every_days", sa.Integer(), nullable=True))
        b.add_column(sa.Column("reminder_max", sa.Integer(), nullable=True))

    # Scores still waiting in the old table are found again by the hourly `lti.sweep` job (it
    # queues every recent signature's score that has no done-mark); sent ones get their mark.
    bind = op.get_bind()
    bind.execute(sa.text(
        "INSERT INTO portal_job_marks (school_id, key, done_at) "
        "SELECT school_id, 'lti-score:' || grade_link_id || ':' || signature_id, COALESCE(sent_at, created_at) "
        "FROM portal_lti_score_jobs WHERE status = 'sent'"))
    with op.batch_alter_table("portal_lti_score_jobs") as b:
        b.drop_index("ix_portal_lti_score_jobs_school_id")
        b.drop_index(b.f("ix_portal_lti_score_jobs_status"))
        b.drop_index(b.f("ix_portal_lti_score_jobs_signature_id"))
    op.drop_table("portal_lti_score_jobs")


def downgrade() -> None:
    op.create_table(
        "portal_lti_score_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grade_link_id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["grade_link_id"], ["portal_lti_grade_links.id"],
                                name=op.f("fk_portal_lti_score_jobs_grade_link_id_portal_lti_grade_links"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["signature_id"], ["portal_signatures.id"],
                                name=op.f("fk_portal_lti_score_jobs_signature_id_portal_signatures")),
        sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"],
                                name="fk_portal_lti_score_jobs_school_id_portal_schools", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_lti_score_jobs")),
        sa.UniqueConstraint("grade_link_id", "signature_id",
                            name=op.f("uq_portal_lti_score_jobs_grade_link_id_signature_id")),
    )
    with op.batch_alter_table("portal_lti_score_jobs") as b:
        b.create_index(b.f("ix_portal_lti_score_jobs_signature_id"), ["signature_id"], unique=False)
        b.create_index(b.f("ix_portal_lti_score_jobs_status"), ["status"], unique=False)
        b.create_index("ix_portal_lti_score_jobs_school_id", ["school_id"], unique=False)
    # Sent scores come back as sent rows (their done-marks name the grade link and the signature).
    bind = op.get_bind()
    marks = bind.execute(sa.text("SELECT school_id, key, done_at FROM portal_job_marks "
                                 "WHERE key LIKE 'lti-score:%'")).all()
    rows = []
    for school_id, key, done_at in marks:
        _, link_id, signature_id = key.split(":")
        rows.append({"school_id": school_id, "grade_link_id": int(link_id), "signature_id": int(signature_id),
                     "status": "sent", "attempts": 1, "created_at": done_at, "sent_at": done_at})
    if rows:
        jobs = sa.table("portal_lti_score_jobs", *(sa.column(c) for c in rows[0]))
        bind.execute(jobs.insert(), rows)

    with op.batch_alter_table("portal_schools") as b:
        b.drop_column("reminder_max")
        b.drop_column("reminder_every_days")
        b.drop_column("reminder_first_days")

    with op.batch_alter_table("portal_signed_records") as b:
        b.drop_index(b.f("ix_portal_signed_records_queued_at"))
        b.drop_column("queued_at")

    with op.batch_alter_table("portal_job_marks") as b:
        b.drop_index(b.f("ix_portal_job_marks_school_id"))
    op.drop_table("portal_job_marks")
    with op.batch_alter_table("portal_job_failures") as b:
        b.drop_index(b.f("ix_portal_job_failures_failed_at"))
        b.drop_index(b.f("ix_portal_job_failures_name"))
        b.drop_index(b.f("ix_portal_job_failures_school_id"))
    op.drop_table("portal_job_failures")
