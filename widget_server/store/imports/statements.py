"""The batch's SQL: ``executemany`` with values in the driver's form, the events' ids taken
before they are hashed, and the statement that follows the appended events (their webhook
deliveries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.engine import Dialect

from ..queries import enqueue_deliveries_of
from ..tables import events, subscribers

#: Ids per ``IN (...)`` list: far below SQLite's and PostgreSQL's limits on parameters.
CHUNK = 5000

last_event_id = select(func.coalesce(func.max(events.c.id), 0))

# The outbox rows of every event of the center appended after a cursor, at once.
enqueue_since = enqueue_deliveries_of(
    select(events.c.id, events.c.subscriber_id, events.c.center)
    .where(events.c.id > bindparam("after"), events.c.center == bindparam("center"))
)


class Statements:
    """``executemany`` with values already in the driver's form: no per-row type processing.

    Times are converted once per distinct value by the column type's own bind processor,
    so they are stored exactly as SQLAlchemy stores them.
    """

    JSON_COLUMNS = frozenset({"changes", "evidence"})

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.mark = "%s" if dialect.paramstyle in ("format", "pyformat") else "?"
        stored_as = subscribers.c.created_at.type.dialect_impl(dialect)
        self._to_driver = stored_as.bind_processor(dialect) or (lambda v: v)
        self._from_driver = stored_as.result_processor(dialect, None) or (lambda v: v)
        self.times: dict[datetime, Any] = {}  # datetime -> its stored form

    def from_time(self, stored: Any) -> datetime | None:
        return self._from_driver(stored) if stored is not None else None

    def select_in(self, connection: Connection, query: str, values: Sequence[Any], *before: Any) -> Iterator[tuple]:
        """Rows of ``query`` (``{m}`` a parameter, ``{marks}`` the ``IN`` list) for ``values``, chunk by chunk."""
        for start in range(0, len(values), CHUNK):
            chunk = list(values[start:start + CHUNK])
            text = query.format(m=self.mark, marks=", ".join([self.mark] * len(chunk)))
            yield from connection.exec_driver_sql(text, (*before, *chunk))

    def time(self, moment: datetime) -> Any:
        converted = self.times.get(moment)
        if converted is None:
            converted = self.times[moment] = self._to_driver(moment)
        return converted

    def _marks(self, columns: Sequence[str]) -> str:
        json_mark = f"CAST({self.mark} AS JSON)" if self.dialect.name == "postgresql" else self.mark
        return ", ".join(json_mark if c in self.JSON_COLUMNS else self.mark for c in columns)

    def insert(self, connection: Connection, table: Any, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            quote = self.dialect.identifier_preparer.quote
            names = ", ".join(quote(c) for c in columns)
            sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({self._marks(columns)})"
            connection.exec_driver_sql(sql, rows)

    def reserve_ids(self, connection: Connection, count: int, last: int) -> list[int]:
        """The ids the batch's ``count`` events get, taken before they are hashed (their hash
        covers them): after ``last`` (the largest id, read under the write lock) on SQLite, as
        SQLite itself would number them; from the sequence on PostgreSQL, as a save takes its
        id, so the sequence and the ids never disagree."""
        if count == 0:
            return []
        if self.dialect.name != "postgresql":
            return list(range(last + 1, last + count + 1))
        taken = connection.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, {self.mark})", (count,))
        return sorted(int(row[0]) for row in taken)

    def update_versions(self, connection: Connection, rows: list[tuple]) -> int:
        """Rows of (version, suppressed, locale, updated_at, chain_count, chain_hash, chain_seal, id, seen
        version); an anchor of NULLs keeps the one there (a row that changed no choice has no event)."""
        m = self.mark
        return connection.exec_driver_sql(
            f"UPDATE subscribers SET version = {m}, suppressed = {m}, locale = {m}, updated_at = {m}, "
            f"chain_count = COALESCE({m}, chain_count), chain_hash = COALESCE({m}, chain_hash), "
            f"chain_seal = COALESCE({m}, chain_seal) WHERE id = {m} AND version = {m}", rows).rowcount

    def delete_changed(self, connection: Connection, states: list, settings: list, interests: list) -> None:
        m = self.mark
        if states:
            connection.exec_driver_sql(
                f"DELETE FROM subscriptions WHERE subscriber_id = {m} AND topic = {m} AND channel = {m}", states)
        if settings:
            connection.exec_driver_sql(f"DELETE FROM topic_settings WHERE subscriber_id = {m}", settings)
        if interests:
            connection.exec_driver_sql(f"DELETE FROM subscriber_interests WHERE subscriber_id = {m}", interests)
