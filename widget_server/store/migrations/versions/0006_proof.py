"""the proof: chain anchors and keys, notice texts

Adds the subscriber's anchor (chain_count, chain_hash, chain_seal), each event's key_id
and notice_text, and the notice_texts table. Existing events stay as they are: legacy
(plain SHA-256, key_id NULL), verified as such. The anchors are filled from the events
found now (so a newest event deleted before this migration shows as the version not
matching the count), and sealed when the server migrates (``migrate.upgrade`` hands
its chain keys over): from then on, rewriting a legacy chain needs the key too. Run
from the ``alembic`` command line, without keys, the anchors stay unsealed, which
``verify-chain`` reports.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 01:15:00.000000
"""

from typing import cast

import sqlalchemy as sa
from alembic import op

import widget_server.store.tables

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

UTC = widget_server.store.tables.UTCDateTime(timezone=True)

#: Subscribers sealed per statement.
BATCH = 2000


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('chain_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('chain_seal', sa.String(length=80), nullable=True))
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('notice_text', sa.String(length=64), nullable=True))
    op.create_table('notice_texts',
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('center', sa.String(length=64), nullable=False),
    sa.Column('notice_version', sa.String(length=40), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', UTC, nullable=False),
    sa.PrimaryKeyConstraint('hash', name=op.f('pk_notice_texts'))
    )
    with op.batch_alter_table('notice_texts', schema=None) as batch_op:
        batch_op.create_index('ix_notice_texts_center', ['center', 'notice_version', 'locale'], unique=False)
    op.execute(
        "UPDATE subscribers SET "
        "chain_count = (SELECT count(*) FROM events WHERE events.subscriber_id = subscribers.id), "
        "chain_hash = (SELECT e.hash FROM events e WHERE e.subscriber_id = subscribers.id "
        "ORDER BY e.version DESC LIMIT 1)"
    )
    config = op.get_context().config
    keys = config.attributes.get("chain_keys") if config is not None else None
    if keys is not None:
        _seal(keys)


def _seal(keys) -> None:  # keys: a chain_keys.ChainKeys
    """Seal every anchor under the current chain key, a batch of subscribers at a time."""
    from widget_server.ledger import seal

    connection = op.get_bind()
    after = ""
    while True:
        rows = [cast(tuple[str, int, "str | None"], tuple(r)) for r in connection.execute(sa.text(
            "SELECT id, chain_count, chain_hash FROM subscribers WHERE id > :after ORDER BY id LIMIT :n"
        ), {"after": after, "n": BATCH})]
        if not rows:
            return
        connection.execute(sa.text("UPDATE subscribers SET chain_seal = :seal WHERE id = :id"),
                           [{"id": sid, "seal": seal(keys, sid, count, head)} for sid, count, head in rows])
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_table('notice_texts')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('notice_text')
        batch_op.drop_column('key_id')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('chain_seal')
        batch_op.drop_column('chain_hash')
        batch_op.drop_column('chain_count')
