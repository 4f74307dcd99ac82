"""Apply and inspect the schema migrations (Alembic), from code, at start.

The server upgrades its database before it accepts requests; ``/readyz`` asks
:func:`pending` so a half-migrated database never reports ready. Developers add a
revision with ``alembic -c widget_server/store/alembic.ini revision --autogenerate``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from ..chain_keys import ChainKeys

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection=None, chain_keys=None) -> Config:  # noqa: ANN001
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["chain_keys"] = chain_keys
    return config


def upgrade(engine: Engine, chain_keys: ChainKeys | None = None) -> None:
    """Bring the database to the newest revision (no-op when it is there).

    ``chain_keys`` lets revision 0006 seal the anchors of the chains it finds (the server
    passes its own; without them, those anchors stay unsealed).
    """
    with engine.begin() as connection:
        command.upgrade(_config(connection, chain_keys), "head")


def head() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def pending(engine: Engine) -> bool:
    """True when migrations remain to apply."""
    return current(engine) != head()
