"""double opt-in confirmations and lifecycle mail: used confirmation links, re-permission reminders, subscriptions by until

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 01:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

import widget_server.store.tables

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

UTC = widget_server.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    # New tables and an index: the same statements on SQLite and PostgreSQL.
    op.create_table('confirmations',
    sa.Column('token_id', sa.String(length=32), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=40), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('used_at', UTC, nullable=False),
    sa.PrimaryKeyConstraint('token_id', name=op.f('pk_confirmations'))
    )
    op.create_table('repermission_reminders',
    sa.Column('subscriber_id', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('until', UTC, nullable=False),
    sa.Column('mail_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('queued_at', UTC, nullable=False),
    sa.PrimaryKeyConstraint('subscriber_id', 'topic', 'channel', 'until', name=op.f('pk_repermission_reminders'))
    )
    with op.batch_alter_table('repermission_reminders', schema=None) as batch_op:
        batch_op.create_index('ix_repermission_reminders_mail_id', ['mail_id'], unique=False)
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_until', ['until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_until')
    with op.batch_alter_table('repermission_reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_repermission_reminders_mail_id')
    op.drop_table('repermission_reminders')
    op.drop_table('confirmations')
