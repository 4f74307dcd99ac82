"""Engines: one URL in, a configured SQLAlchemy engine out.

SQLite is tuned for a durable single-writer service: WAL so readers never wait for the
writer, ``synchronous=FULL`` so a committed consent survives a power cut, a busy timeout
for other processes, and ``BEGIN IMMEDIATE`` for write transactions so two writers
queue at the start instead of deadlocking on the read-to-write upgrade.

:func:`storage_fault` is the one place that knows which of each engine's errors mean
"this database cannot store anything right now" (a full disk, a read-only file or
database, a server out of reach), as opposed to a fault of the write itself.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

WRITE = {"write": True}  # execution option: this transaction will write

#: SQLite's primary result codes that mean the database cannot be written, in SQLite's
#: own words (sqlite3_errstr): the reason is never the driver's message, which could carry data.
SQLITE_CANNOT_WRITE = {
    8: "attempt to write a readonly database",  # SQLITE_READONLY
    10: "disk I/O error",  # SQLITE_IOERR
    13: "database or disk is full",  # SQLITE_FULL
    14: "unable to open database file",  # SQLITE_CANTOPEN
}

#: PostgreSQL's SQLSTATEs (then classes of them) that mean the same.
POSTGRES_CANNOT_WRITE = {
    "53100": "disk full",
    "25006": "cannot execute in a read-only transaction",
    "58030": "I/O error",
    "57P01": "the server is shutting down",
    "57P02": "the server is shutting down",
    "57P03": "the server cannot accept connections now",
    "08": "connection failed",
    "53": "insufficient resources",
}


def storage_fault(error: BaseException) -> str | None:
    """Why the database cannot store a write now, when that is what ``error`` says; else None.

    A constraint, a deadlock or a bug in a statement is not a storage fault: it is None,
    and stays what it was.
    """
    driver_error = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(driver_error, sqlite3.Error):  # the module's own (a closed connection) have no code
        code = getattr(driver_error, "sqlite_errorcode", None)
        return SQLITE_CANNOT_WRITE.get(code & 0xFF) if isinstance(code, int) else None
    sqlstate = getattr(driver_error, "sqlstate", None)
    if isinstance(sqlstate, str):
        return POSTGRES_CANNOT_WRITE.get(sqlstate) or POSTGRES_CANNOT_WRITE.get(sqlstate[:2])
    if isinstance(error, OperationalError) or (isinstance(error, DBAPIError) and error.connection_invalidated):
        return "connection failed"  # before the server could say anything (no SQLSTATE)
    return None


def outcome_unknown(error: BaseException) -> bool:
    """Whether a COMMIT that raised ``error`` may have committed all the same: the link to
    a PostgreSQL server broke before it answered. (A server's error answer rolled back; a
    SQLite commit is all or nothing in this process.)"""
    driver_error = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(driver_error, sqlite3.Error):
        return False
    sqlstate = getattr(driver_error, "sqlstate", None)
    return not isinstance(sqlstate, str) or sqlstate.startswith(("08", "57P"))


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
    if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
        # (a URI filename, ``sqlite:///file:/path?mode=ro&uri=true``, names a file that exists)
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
