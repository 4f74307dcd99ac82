"""legal bases and regions: subscribers.country, subscriptions.basis_reason

The subscriber's country (ISO 3166 alpha-2) picks the region whose consent rules apply;
a subscription's basis gains the reason a soft opt-in was given for (``purchase``,
``inquiry``), since its lifetime depends on it. Both nullable: rows written before
keep what they said (consent, since their write, until withdrawn), and a subscriber of
unknown country falls under the ``default`` region.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 01:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

import widget_server.store.tables  # noqa: F401

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=True))
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('basis_reason', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('basis_reason')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('country')
