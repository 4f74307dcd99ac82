"""legal bases and regions: subscriber country, basis details

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 01:15:00.000000
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import widget_server.store.tables  # noqa: F401

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

UTC = widget_server.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
