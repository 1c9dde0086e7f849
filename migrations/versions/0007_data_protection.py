"""data protection: retention schedule, disposal register, legal holds, leavers, subject access
requests, allegations against staff, safeguarding transfer packs, privacy notices

New tables only; nothing existing changes.

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-26 16:30:00
"""
import sqlalchemy as sa
from alembic import op

import portal.db

revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_trust_retention_defaults',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trust_id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=40), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('action', sa.String(length=12), nullable=False),
    sa.Column('review_role', sa.String(length=10), nullable=True),
    sa.Column('changed_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by_account_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_account_id'], ['portal_accounts.id'], name=op.f('fk_portal_trust_retention_defaults_changed_by_account_id_portal_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['trust_id'], ['portal_trusts.id'], name=op.f('fk_portal_trust_retention_defaults_trust_id_portal_trusts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_trust_retention_defaults')),
    sa.UniqueConstraint('trust_id', 'record_type', name=op.f('uq_portal_trust_retention_defaults_trust_id_record_type'))
    )
    with op.batch_alter_table('portal_trust_retention_defaults', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_trust_retention_defaults_trust_id'), ['trust_id'], unique=False)

    op.create_table('portal_departures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('left_on', sa.Date(), nullable=False),
    sa.Column('destination', sa.String(length=200), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['portal_people.id'], name=op.f('fk_portal_departures_person_id_portal_people'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['portal_people.id'], name=op.f('fk_portal_departures_recorded_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['portal_schools.id'], name=op.f('fk_portal_departures_school_id_portal_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_departures')),
    sa.UniqueConstraint('school_id', 'person_id', name=op.f('uq_portal_departures_school_id_person_id'))
    )
    with op.batch_alter_table('portal_departures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_departures_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_departures_school_id'), ['school_id'], unique=False)

    op.create_table('portal_disposal_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=40), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=12), nullable=False),
    sa.Column('rule', sa.JSON(), nullable=False),
    sa.Column('trigger_on', sa.Date(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('done_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('removed_sha256', sa.String(length=64), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['portal_people.id'], name=op.f('fk_portal_disposal_records_decided_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['portal_schools.id'], name=op.f('fk_portal_disposal_records_school_id_portal_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_disposal_records')),
    sa.UniqueConstraint('school_id', 'target_type', 'target_id', 'action', name=op.f('uq_portal_disposal_records_school_id_target_type_target_id_action'))
    )
    with op.batch_alter_table('portal_disposal_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_disposal_records_record_type'), ['record_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_disposal_records_school_id'), ['school_id'], unique=False)

    op.create_table('portal_privacy_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('body_md', sa.Text(), nullable=False),
    sa.Column('saved_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('saved_by_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['saved_by_id'], ['portal_people.id'], name=op.f('fk_portal_privacy_notices_saved_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['portal_schools.id'], name=op.f('fk_portal_privacy_notices_school_id_portal_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_privacy_notices'))
    )
    with op.batch_alter_table('portal_privacy_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_privacy_notices_school_id'), ['school_id'], unique=False)

    op.create_table('portal_retention_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=40), nullable=False),
    sa.Column('target_type', sa.String(length=40), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('summary', sa.String(length=300), nullable=False),
    sa.Column('review_role', sa.String(length=10), nullable=False),
    sa.Column('about_person_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=True),
    sa.Column('keep_until', sa.Date(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['about_person_id'], ['portal_people.id'], name=op.f('fk_portal_retention_reviews_about_person_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['portal_people.id'], name=op.f('fk_portal_retention_reviews_decided_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['portal_schools.id'], name=op.f('fk_portal_retention_reviews_school_id_portal_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_retention_reviews'))
    )
    with op.batch_alter_table('portal_retention_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_retention_reviews_record_type'), ['record_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_retention_reviews_school_id'), ['school_id'], unique=False)

    op.create_table('portal_retention_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=40), nullable=False),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=10), nullable=False),
    sa.Column('action', sa.String(length=12), nullable=False),
    sa.Column('review_role', sa.String(length=10), nullable=True),
    sa.Column('changed_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_id'], ['portal_people.id'], name=op.f('fk_portal_retention_rules_changed_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['portal_people.id'], name=op.f('fk_portal_retention_rules_confirmed_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['portal_schools.id'], name=op.f('fk_portal_retention_rules_school_id_portal_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_retention_rules')),
    sa.UniqueConstraint('school_id', 'record_type', name=op.f('uq_portal_retention_rules_school_id_record_type'))
    )
    with op.batch_alter_table('portal_retention_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_retention_rules_school_id'), ['school_id'], unique=False)

    op.create_table('portal_subject_access_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('include_safeguarding', sa.Boolean(), nullable=False),
    sa.Column('safeguarding_decided_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('safeguarding_decided_by_id', sa.Integer(), nullable=True),
    sa.Column('redaction_reviewed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('redaction_reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('redactions', sa.JSON(), nullable=False),
    sa.Column('released_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('release_method', sa.String(length=200), nullable=True),
    sa.Column('release_sha256', sa.String(length=64), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['portal_people.id'], name=op.f('fk_portal_subject_access_requests_created_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['redaction_reviewed_by_id'], ['portal_people.id'], name=op.f('fk_portal_subject_access_requests_redaction_reviewed_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['released_by_id'], ['portal_people.id'], name=op.f('fk_portal_subject_access_requests_released_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requester_id'], ['portal_people.id'], name=op.f('fk_portal_subject_access_requests_requester_id_portal_people')),
    sa.ForeignKeyConstraint(['safeguarding_decided_by_id'], ['portal_people.id'], name=op.f('fk_portal_subject_access_requests_safeguarding_decided_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['portal_schools.id'], name=op.f('fk_portal_subject_access_requests_school_id_portal_schools'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_id'], ['portal_people.id'], name=op.f('fk_portal_subject_access_requests_subject_id_portal_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_subject_access_requests'))
    )
    with op.batch_alter_table('portal_subject_access_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_subject_access_requests_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_subject_access_requests_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_subject_access_requests_subject_id'), ['subject_id'], unique=False)

    op.create_table('portal_transfer_packs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pupil_id', sa.Integer(), nullable=False),
    sa.Column('destination', sa.String(length=200), nullable=False),
    sa.Column('moved_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('contents', sa.JSON(), nullable=False),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=True),
    sa.Column('received_by', sa.String(length=200), nullable=True),
    sa.Column('receipt_reference', sa.String(length=200), nullable=True),
    sa.Column('receipt_recorded_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('receipt_recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['portal_people.id'], name=op.f('fk_portal_transfer_packs_created_by_id_portal_people')),
    sa.ForeignKeyConstraint(['pupil_id'], ['portal_people.id'], name=op.f('fk_portal_transfer_packs_pupil_id_portal_people')),
    sa.ForeignKeyConstraint(['receipt_recorded_by_id'], ['portal_people.id'], name=op.f('fk_portal_transfer_packs_receipt_recorded_by_id_portal_people')),
    sa.ForeignKeyConstraint(['school_id'], ['portal_schools.id'], name=op.f('fk_portal_transfer_packs_school_id_portal_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_transfer_packs'))
    )
    with op.batch_alter_table('portal_transfer_packs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_transfer_packs_pupil_id'), ['pupil_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_transfer_packs_school_id'), ['school_id'], unique=False)

    op.create_table('portal_legal_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('concern_id', sa.Integer(), nullable=True),
    sa.Column('contact_incident_id', sa.Integer(), nullable=True),
    sa.Column('social_incident_id', sa.Integer(), nullable=True),
    sa.Column('target_label', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('placed_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('placed_by_id', sa.Integer(), nullable=True),
    sa.Column('placed_by_account_id', sa.Integer(), nullable=True),
    sa.Column('review_on', sa.Date(), nullable=False),
    sa.Column('last_reviewed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('released_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('released_by_id', sa.Integer(), nullable=True),
    sa.Column('released_by_account_id', sa.Integer(), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['concern_id'], ['portal_concerns.id'], name=op.f('fk_portal_legal_holds_concern_id_portal_concerns'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_incident_id'], ['portal_contact_incidents.id'], name=op.f('fk_portal_legal_holds_contact_incident_id_portal_contact_incidents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['last_reviewed_by_id'], ['portal_people.id'], name=op.f('fk_portal_legal_holds_last_reviewed_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['portal_people.id'], name=op.f('fk_portal_legal_holds_person_id_portal_people'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['placed_by_account_id'], ['portal_accounts.id'], name=op.f('fk_portal_legal_holds_placed_by_account_id_portal_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['placed_by_id'], ['portal_people.id'], name=op.f('fk_portal_legal_holds_placed_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['released_by_account_id'], ['portal_accounts.id'], name=op.f('fk_portal_legal_holds_released_by_account_id_portal_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['released_by_id'], ['portal_people.id'], name=op.f('fk_portal_legal_holds_released_by_id_portal_people'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['portal_schools.id'], name=op.f('fk_portal_legal_holds_school_id_portal_schools'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['social_incident_id'], ['portal_social_media_incidents.id'], name=op.f('fk_portal_legal_holds_social_incident_id_portal_social_media_incidents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_legal_holds'))
    )
    with op.batch_alter_table('portal_legal_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_legal_holds_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_legal_holds_school_id'), ['school_id'], unique=False)

    op.create_table('portal_staff_allegations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('concern_id', sa.Integer(), nullable=True),
    sa.Column('contact_incident_id', sa.Integer(), nullable=True),
    sa.Column('about_person_id', sa.Integer(), nullable=False),
    sa.Column('reported_on', sa.Date(), nullable=False),
    sa.Column('case_manager', sa.String(length=10), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('lado_consulted_on', sa.Date(), nullable=True),
    sa.Column('lado_reference', sa.String(length=100), nullable=False),
    sa.Column('lado_advice', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('outcome_on', sa.Date(), nullable=True),
    sa.Column('normal_pension_on', sa.Date(), nullable=True),
    sa.Column('closed_at', portal.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['about_person_id'], ['portal_people.id'], name=op.f('fk_portal_staff_allegations_about_person_id_portal_people')),
    sa.ForeignKeyConstraint(['concern_id'], ['portal_concerns.id'], name=op.f('fk_portal_staff_allegations_concern_id_portal_concerns')),
    sa.ForeignKeyConstraint(['contact_incident_id'], ['portal_contact_incidents.id'], name=op.f('fk_portal_staff_allegations_contact_incident_id_portal_contact_incidents')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['portal_people.id'], name=op.f('fk_portal_staff_allegations_recorded_by_id_portal_people')),
    sa.ForeignKeyConstraint(['school_id'], ['portal_schools.id'], name=op.f('fk_portal_staff_allegations_school_id_portal_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_staff_allegations')),
    sa.UniqueConstraint('concern_id', name=op.f('uq_portal_staff_allegations_concern_id')),
    sa.UniqueConstraint('contact_incident_id', name=op.f('uq_portal_staff_allegations_contact_incident_id'))
    )
    with op.batch_alter_table('portal_staff_allegations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_staff_allegations_about_person_id'), ['about_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_staff_allegations_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_staff_allegations_school_id'), ['school_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('portal_staff_allegations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_staff_allegations_school_id'))
        batch_op.drop_index(batch_op.f('ix_portal_staff_allegations_kind'))
        batch_op.drop_index(batch_op.f('ix_portal_staff_allegations_about_person_id'))

    op.drop_table('portal_staff_allegations')
    with op.batch_alter_table('portal_legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_legal_holds_school_id'))
        batch_op.drop_index(batch_op.f('ix_portal_legal_holds_person_id'))

    op.drop_table('portal_legal_holds')
    with op.batch_alter_table('portal_transfer_packs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_transfer_packs_school_id'))
        batch_op.drop_index(batch_op.f('ix_portal_transfer_packs_pupil_id'))

    op.drop_table('portal_transfer_packs')
    with op.batch_alter_table('portal_subject_access_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_subject_access_requests_subject_id'))
        batch_op.drop_index(batch_op.f('ix_portal_subject_access_requests_school_id'))
        batch_op.drop_index(batch_op.f('ix_portal_subject_access_requests_requester_id'))

    op.drop_table('portal_subject_access_requests')
    with op.batch_alter_table('portal_retention_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_retention_rules_school_id'))

    op.drop_table('portal_retention_rules')
    with op.batch_alter_table('portal_retention_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_retention_reviews_school_id'))
        batch_op.drop_index(batch_op.f('ix_portal_retention_reviews_record_type'))

    op.drop_table('portal_retention_reviews')
    with op.batch_alter_table('portal_privacy_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_privacy_notices_school_id'))

    op.drop_table('portal_privacy_notices')
    with op.batch_alter_table('portal_disposal_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_disposal_records_school_id'))
        batch_op.drop_index(batch_op.f('ix_portal_disposal_records_record_type'))

    op.drop_table('portal_disposal_records')
    with op.batch_alter_table('portal_departures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_departures_school_id'))
        batch_op.drop_index(batch_op.f('ix_portal_departures_person_id'))

    op.drop_table('portal_departures')
    with op.batch_alter_table('portal_trust_retention_defaults', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_trust_retention_defaults_trust_id'))

    op.drop_table('portal_trust_retention_defaults')
