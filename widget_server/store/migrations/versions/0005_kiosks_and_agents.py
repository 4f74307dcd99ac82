"""kiosks and agents: devices (with their staff PIN's hash), kiosk sessions (one-time codes), the agent search audit, subscribers.origin

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import widget_server.store.tables

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

UTC = widget_server.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=100), nullable=True))
    op.create_table('devices',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('location', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.Column('revoked_at', UTC, nullable=True),
    sa.Column('staff_pin_hash', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_center'), ['center'], unique=False)
    op.create_table('kiosk_sessions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=24), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('contact_hash', sa.String(length=64), nullable=False),
    sa.Column('contact', sa.String(length=320), nullable=True),
    sa.Column('subscriber_id', sa.String(length=40), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.String(length=64), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('expires_at', UTC, nullable=False),
    sa.Column('verified_at', UTC, nullable=True),
    sa.Column('ended_at', UTC, nullable=True),
    sa.Column('created_at', UTC, nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_kiosk_sessions_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosk_sessions'))
    )
    with op.batch_alter_table('kiosk_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_kiosk_sessions_device', ['device_id', 'created_at'], unique=False)
        batch_op.create_index('ix_kiosk_sessions_contact', ['center', 'contact_hash', 'created_at'], unique=False)
    op.create_table('agent_searches',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('query_hash', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=40), nullable=True),
    sa.Column('searched_at', UTC, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_searches'))
    )
    with op.batch_alter_table('agent_searches', schema=None) as batch_op:
        batch_op.create_index('ix_agent_searches_agent', ['center', 'agent_id', 'searched_at'], unique=False)
        batch_op.create_index('ix_agent_searches_center', ['center', 'searched_at'], unique=False)


def downgrade() -> None:
    op.drop_table('agent_searches')
    op.drop_table('kiosk_sessions')
    op.drop_table('devices')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('origin')
