"""Alembic environment: runs on the connection handed over by :mod:`..migrate`.

From the ``alembic`` command line (developers writing a revision) it opens the URL in
``sqlalchemy.url``, or a scratch SQLite file.
"""

from alembic import context
from sqlalchemy import Connection

from widget_server.store.engine import make_engine
from widget_server.store.tables import metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///var/alembic-dev.db"
    with make_engine(url).connect() as connection:
        run(connection)
        connection.commit()
