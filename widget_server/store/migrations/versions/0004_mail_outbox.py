"""mail outbox: the mails "send me a new link" owes, and the count its limits read

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import widget_server.store.tables

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new table and its indexes: the same statements on SQLite and PostgreSQL.
    op.create_table('mail_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.String(length=40), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('client_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', widget_server.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', widget_server.store.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('created_at', widget_server.store.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox'))
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_mail_outbox_address', ['center', 'address_hash', 'created_at'], unique=False)
        batch_op.create_index('ix_mail_outbox_client', ['center', 'client_hash', 'created_at'], unique=False)
        batch_op.create_index('ix_mail_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_mail_outbox_created_at', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_outbox_created_at')
        batch_op.drop_index('ix_mail_outbox_due')
        batch_op.drop_index('ix_mail_outbox_client')
        batch_op.drop_index('ix_mail_outbox_address')

    op.drop_table('mail_outbox')
