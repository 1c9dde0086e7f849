"""performance at trust scale: indexes for every filter, case-insensitive unique email

* ``school_id`` composites where queries filter by school and something else (people's roles,
  pupils by class, signatures by academic year, concerns by status, links by status, incidents
  by date), and single-column indexes for the foreign keys pages look things up by (a pupil's
  guardians, a teacher's classes, a person's capability grants, a concern's child and handler,
  family links by pupil and adult or by who declared them).
* Email addresses are unique whatever their case: per school for people (replacing the
  case-sensitive ``(school_id, email)`` constraint) and across the installation for sign-in
  accounts (next to the plain unique index that serves look-ups). The upgrade refuses, naming
  them, if a database already holds two addresses that differ only in case.
* Stored compliance counts (``portal_compliance_counts`` per school x policy x class, the year
  they were made for in ``portal_compliance_snapshots``) and the change marks that make a school's
  counts be made again (``portal_compliance_changes``).

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-27 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import portal.db

revision = "0004"
down_revision = "0006"
branch_labels = None
depends_on = None

#: (index name, table, columns) of the plain indexes this revision adds.
INDEXES = [
    ("ix_portal_person_roles_school_id_role", "portal_person_roles", ["school_id", "role"]),
    ("ix_portal_pupils_school_id_class_id", "portal_pupils", ["school_id", "class_id"]),
    ("ix_portal_guardian_links_pupil_id", "portal_guardian_links", ["pupil_id"]),
    ("ix_portal_class_teachers_teacher_id", "portal_class_teachers", ["teacher_id"]),
    ("ix_portal_capability_grants_person_id", "portal_capability_grants", ["person_id"]),
    ("ix_portal_signatures_school_id_academic_year", "portal_signatures", ["school_id", "academic_year"]),
    ("ix_portal_signed_records_school_id_status", "portal_signed_records", ["school_id", "status"]),
    ("ix_portal_concerns_school_id_status", "portal_concerns", ["school_id", "status"]),
    ("ix_portal_concerns_child_id", "portal_concerns", ["child_id"]),
    ("ix_portal_concerns_assignee_id", "portal_concerns", ["assignee_id"]),
    ("ix_portal_concerns_school_id_shared_with_trust_at", "portal_concerns", ["school_id", "shared_with_trust_at"]),
    ("ix_portal_family_links_school_id_status", "portal_family_links", ["school_id", "status"]),
    ("ix_portal_family_links_pupil_id_adult_id", "portal_family_links", ["pupil_id", "adult_id"]),
    ("ix_portal_family_links_declared_by_id", "portal_family_links", ["declared_by_id"]),
    ("ix_portal_contact_incidents_school_id_created_at", "portal_contact_incidents", ["school_id", "created_at"]),
    ("ix_portal_social_media_incidents_school_id_created_at", "portal_social_media_incidents",
     ["school_id", "created_at"]),
]


def _refuse_case_duplicates() -> None:
    bind = op.get_bind()
    people = bind.execute(sa.text(
        "SELECT school_id, lower(email) FROM portal_people WHERE email IS NOT NULL "
        "GROUP BY school_id, lower(email) HAVING count(*) > 1")).all()
    accounts = bind.execute(sa.text(
        "SELECT lower(email) FROM portal_accounts WHERE email IS NOT NULL GROUP BY lower(email) "
        "HAVING count(*) > 1")).all()
    if people or accounts:
        found = [f"school {s}: {e}" for s, e in people[:10]] + [f"accounts: {e}" for (e,) in accounts[:10]]
        raise RuntimeError("These email addresses are used twice, differing only in upper and lower case; "
                           "merge or correct them, then upgrade again: " + "; ".join(found))


def _school_column() -> sa.Column:
    return sa.Column("school_id", sa.Integer(), nullable=False)


def _school_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["school_id"], ["portal_schools.id"], name=f"fk_{table}_school_id_portal_schools",
                                   ondelete="CASCADE")


def _create_compliance_tables() -> None:
    op.create_table(
        "portal_compliance_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        _school_column(),
        _school_fk("portal_compliance_changes"),
        sa.PrimaryKeyConstraint("id", name="pk_portal_compliance_changes"),
    )
    op.create_table(
        "portal_compliance_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("computed_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        _school_column(),
        _school_fk("portal_compliance_snapshots"),
        sa.PrimaryKeyConstraint("id", name="pk_portal_compliance_snapshots"),
        sa.UniqueConstraint("school_id", name="uq_portal_compliance_snapshots_school_id"),
    )
    op.create_table(
        "portal_compliance_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("academic_year", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=30), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=True),
        sa.Column("signed", sa.Integer(), nullable=False),
        sa.Column("declined", sa.Integer(), nullable=False),
        sa.Column("outstanding", sa.Integer(), nullable=False),
        sa.Column("offline", sa.Integer(), nullable=False),
        _school_column(),
        _school_fk("portal_compliance_counts"),
        sa.PrimaryKeyConstraint("id", name="pk_portal_compliance_counts"),
    )
    for table in ("portal_compliance_changes", "portal_compliance_snapshots", "portal_compliance_counts"):
        op.create_index(f"ix_{table}_school_id", table, ["school_id"], unique=False)


def upgrade() -> None:
    _refuse_case_duplicates()
    _create_compliance_tables()
    with op.batch_alter_table("portal_people") as b:
        b.drop_constraint("uq_portal_people_school_id_email", type_="unique")
    op.create_index("uq_portal_people_school_id_lower_email", "portal_people",
                    ["school_id", sa.text("lower(email)")], unique=True)
    op.create_index("uq_portal_accounts_lower_email", "portal_accounts", [sa.text("lower(email)")], unique=True)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for table in ("portal_compliance_counts", "portal_compliance_snapshots", "portal_compliance_changes"):
        op.drop_index(f"ix_{table}_school_id", table_name=table)
        op.drop_table(table)
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("uq_portal_accounts_lower_email", table_name="portal_accounts")
    op.drop_index("uq_portal_people_school_id_lower_email", table_name="portal_people")
    with op.batch_alter_table("portal_people") as b:
        b.create_unique_constraint("uq_portal_people_school_id_email", ["school_id", "email"])
