"""double opt-in confirmations and lifecycle mail

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 01:15:00.000000
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import widget_server.store.tables  # noqa: F401

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

UTC = widget_server.store.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
