"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 13:38:50.402492
"""

import sqlalchemy as sa
from alembic import op

import widget_server.store.tables

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subscribers',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('suppressed', sa.Boolean(), nullable=False),
    sa.Column('paused_until', widget_server.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('valid_after', widget_server.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', widget_server.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', widget_server.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers'))
    )
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscribers_center'), ['center'], unique=False)

    op.create_table('contact_points',
    sa.Column('subscriber_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('lookup_hash', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_contact_points_subscriber_id_subscribers')),
    sa.PrimaryKeyConstraint('subscriber_id', 'kind', name=op.f('pk_contact_points')),
    sa.UniqueConstraint('lookup_hash', name=op.f('uq_contact_points_lookup_hash'))
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('subscriber_id', sa.String(length=40), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('occurred_at', widget_server.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('notice_version', sa.String(length=40), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.Column('context', sa.JSON(), nullable=True),
    sa.Column('submission_id', sa.String(length=64), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_events_subscriber_id_subscribers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('subscriber_id', 'submission_id', name=op.f('uq_events_subscriber_id_submission_id')),
    sa.UniqueConstraint('subscriber_id', 'version', name=op.f('uq_events_subscriber_id_version'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_center_id', ['center', 'id'], unique=False)

    op.create_table('subscriber_interests',
    sa.Column('subscriber_id', sa.String(length=40), nullable=False),
    sa.Column('interest', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_subscriber_interests_subscriber_id_subscribers')),
    sa.PrimaryKeyConstraint('subscriber_id', 'interest', name=op.f('pk_subscriber_interests'))
    )
    op.create_table('subscriptions',
    sa.Column('subscriber_id', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('legal_basis', sa.String(length=24), nullable=False),
    sa.Column('since', widget_server.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('until', widget_server.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_subscriptions_subscriber_id_subscribers')),
    sa.PrimaryKeyConstraint('subscriber_id', 'topic', 'channel', name=op.f('pk_subscriptions'))
    )
    op.create_table('topic_settings',
    sa.Column('subscriber_id', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=True),
    sa.Column('paused_until', widget_server.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_topic_settings_subscriber_id_subscribers')),
    sa.PrimaryKeyConstraint('subscriber_id', 'topic', name=op.f('pk_topic_settings'))
    )


def downgrade() -> None:
    op.drop_table('topic_settings')
    op.drop_table('subscriptions')
    op.drop_table('subscriber_interests')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_center_id')

    op.drop_table('events')
    op.drop_table('contact_points')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscribers_center'))

    op.drop_table('subscribers')
