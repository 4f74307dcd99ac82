"""Engines: one URL in, a configured SQLAlchemy engine out.

SQLite is tuned for a durable single-writer service: WAL so readers never wait for the
writer, ``synchronous=FULL`` so a committed consent survives a power cut, a busy timeout
for other processes, and ``BEGIN IMMEDIATE`` for write transactions so two writers
queue at the start instead of deadlocking on the read-to-write upgrade.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

WRITE = {"write": True}  # execution option: this transaction will write


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the SQLite file's folder when needed.

    ``hide_parameters``: a database error's message must not carry the statement's
    values (an e-mail address, a subscriber id) into the logs.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # As many pooled connections as worker threads (anyio's default limit is 40), so a
    # burst does not open and close overflow connections, each repeating the PRAGMAs.
    engine = create_engine(
        parsed, connect_args={"check_same_thread": False}, pool_size=40, max_overflow=10, hide_parameters=True
    )
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=5000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:  # noqa: ANN001
        immediate = connection.get_execution_options().get("write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
