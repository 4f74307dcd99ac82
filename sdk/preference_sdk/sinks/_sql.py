"""A CRM table kept in step with the feed, through SQLAlchemy Core (any engine it speaks).

One row per subscriber. Events carry changes, not whole documents, so the row is the
sum of the changes applied in order; each is applied once, because the sink keeps, per
subscriber, the version it has applied (in ``preference_sync_state``, a table of its own,
so a host table needs no version column) and skips an event whose version is not newer.
That table also keeps a tombstone when a subscriber is erased (their pseudonymous id
and version: nothing that names them), so replaying the feed from 0 never brings an
erased row back, not even for a moment.

Each ``write`` is one transaction: rows, applied versions and, when the cursor is kept
here (``cursor_store()``), the cursor too. Rows and cursor commit together or not at all.
The cursor's row also records its center: event ids are shared by every center, so a
cursor resumed with another center's feed would skip that center's events.

Database errors (a URL SQLAlchemy cannot read, a file it cannot open, a refused
statement) are raised as ``SinkError``, with the driver's message and never the URL,
which may hold a password.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .._models import Event
from .._sync import SinkError
from ._sql_cursor import CURSOR_TABLE, SqlCursorStore, _database_errors, _one_center, _scrubbed, _secrets_of
from .mappings import FIXED_PATHS, ROW_FIELDS, SqlMapping, change_values, is_basis, utc

try:
    import sqlalchemy as sa
except ImportError:  # an optional dependency: pip install 'preference-sdk[sql]'
    sa = None  # type: ignore[assignment]

__all__ = ["SqlCursorStore", "SqlSink"]

log = logging.getLogger("preference_sdk.sync")

STATE_TABLE = "preference_sync_state"

_CHUNK = 400  # ids per IN (...): well under SQLite's variable limit


@dataclass
class _Applied:
    """What the sink holds about one subscriber (a row of ``preference_sync_state``)."""

    version: int = 0
    row_key: str | None = None
    erased: bool = False
    last_event_id: int = 0
    stored: bool = False  # already a row of the state table
    changed: bool = False


@dataclass
class _Plan:
    """What one write does to one subscriber's row: erase the stored row, then set ``values``."""

    stored: str | None  # the row's key before this write
    key: str | None  # its key after
    erase: str | None = None
    values: dict[str, Any] | None = None


class SqlSink:
    """Keep ``table`` (created on first sight unless ``create=False``) in step with the feed.

    ``url_or_engine`` is a SQLAlchemy URL (``sqlite:///crm.db``,
    ``postgresql+psycopg://...``) or an ``Engine``. Counts since creation: ``applied``,
    ``skipped`` (replays and duplicates), ``erased``, ``unplaced`` (no key for the row:
    keyed by ``external_id`` and the subscriber has none).
    """

    def __init__(
        self,
        url_or_engine: Any,
        *,
        table: str = "crm_contacts",
        mapping: Mapping[str, Any] | SqlMapping | None = None,
        create: bool = True,
    ) -> None:
        if sa is None:
            raise ImportError("SqlSink needs SQLAlchemy: pip install 'preference-sdk[sql]'")
        self._owns_engine = isinstance(url_or_engine, str)
        if self._owns_engine:
            try:
                self.engine = sa.create_engine(url_or_engine)
            except (sa.exc.ArgumentError, ValueError) as error:
                raise SinkError("SqlSink: not a SQLAlchemy database URL (like sqlite:///crm.db or "
                                f"postgresql+psycopg://user@host/db): {_scrubbed(error, _secrets_of(url_or_engine))}"
                                ) from None
            except ImportError as error:
                raise SinkError(f"SqlSink: the database driver is not installed ({error.name or error})") from None
        else:
            self.engine = url_or_engine
        self.table_name = table
        self.mapping = SqlMapping.parse(mapping)
        self.create = create
        self.applied = self.skipped = self.erased = self.unplaced = 0
        self._table: Any = None
        self._without: set[str] = set()  # basis columns a table made without them (create=False) lacks
        self._meta = sa.MetaData()
        self._state = sa.Table(
            STATE_TABLE, self._meta,
            sa.Column("sink_table", sa.String(128), primary_key=True),
            sa.Column("subscriber_id", sa.String(128), primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("row_key", sa.String(128)),
            sa.Column("erased", sa.Boolean, nullable=False, default=False),
            sa.Column("last_event_id", sa.BigInteger, nullable=False),
        )
        self._cursors = sa.Table(
            CURSOR_TABLE, self._meta,
            sa.Column("name", sa.String(128), primary_key=True),
            sa.Column("cursor", sa.BigInteger, nullable=False),
            sa.Column("center", sa.String(128)),  # whose feed; NULL in tables made before SDK 0.2
        )
        self._cursor_store: SqlCursorStore | None = None
        self._own_tables_ready = False

    def cursor_store(self, name: str | None = None) -> SqlCursorStore:
        """The cursor kept in this database (``preference_sync_cursors``, under ``name``,
        the table's name by default), committed by each ``write`` with its rows.

        A cursor follows one center: to sync two centers into one table, give each its own
        ``name`` (the command line uses ``<table>@<center>``). ``sync`` refuses to resume a
        cursor that another center's feed left.
        """
        if self._cursor_store is None or (name and name != self._cursor_store.name):
            self._cursor_store = SqlCursorStore(self, name or self.table_name)
        return self._cursor_store

    def write(self, events: Sequence[Event]) -> None:
        """Apply the events in one transaction; return once it is committed."""
        if not events:
            return
        events = sorted(events, key=lambda e: e.id)
        try:
            with _database_errors(self.engine), self.engine.begin() as connection:
                self._ensure_own_tables(connection)
                table = self._prepare(connection, events)
                applied = self._load_applied(connection, {e.subscriber_id for e in events})
                plans: dict[str, _Plan] = {}
                for event in events:
                    self._plan(event, applied, plans)
                self._execute(connection, table, plans)
                self._store_applied(connection, applied)
                if self._cursor_store is not None:
                    self._cursor_store.save_in(connection, events[-1].id, _one_center(events))
        except BaseException:
            self._table = None  # a rolled-back ALTER: read the table's columns again next time
            if self._cursor_store is not None:
                self._cursor_store.forget()
            raise
        if self._cursor_store is not None:
            self._cursor_store.saved = events[-1].id

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> SqlSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlSink({self.engine.url.render_as_string(hide_password=True)!r}, table={self.table_name!r})"

    # The table and its columns.

    def _ensure_own_tables(self, connection: Any) -> None:
        if not self._own_tables_ready:
            self._meta.create_all(connection, checkfirst=True)
            columns = {c["name"] for c in sa.inspect(connection).get_columns(CURSOR_TABLE)}
            if "center" not in columns:  # made by an SDK before 0.2
                quote = connection.dialect.identifier_preparer.quote
                kind = sa.String(128).compile(dialect=connection.dialect)
                connection.exec_driver_sql(f"ALTER TABLE {quote(CURSOR_TABLE)} ADD COLUMN center {kind}")
                log.info("added column center to %s", CURSOR_TABLE)
            self._own_tables_ready = True

    def _prepare(self, connection: Any, events: Sequence[Event]) -> Any:
        """The table, created or widened so every column these events need exists."""
        if self._table is None:
            self._table = self._reflect_or_create(connection)
        needed: dict[str, str | None] = {self.mapping.key: None}  # column -> the path or field it holds
        for name in self._names(events):
            column = self.mapping.column(name)
            if column is not None:
                needed.setdefault(column, name)
        missing = [(column, holds) for column, holds in needed.items() if column not in self._table.c]
        for column, holds in missing:
            if not self.create and holds is not None and is_basis(holds) and holds not in self.mapping.columns:
                self._without.add(column)  # a table made before bases were sent: they are left out, not an error
                continue
            self._add_column(connection, column, holds)
        return self._table

    def _names(self, events: Sequence[Event]) -> list[str]:
        names = list(ROW_FIELDS)
        for event in events:
            names.extend(name for c in event.changes if c.path != "erasure" for name, _ in change_values(c))
        return names

    def _reflect_or_create(self, connection: Any) -> Any:
        if sa.inspect(connection).has_table(self.table_name):
            return sa.Table(self.table_name, sa.MetaData(), autoload_with=connection)
        if not self.create:
            raise SinkError(f"there is no table {self.table_name!r}: create it, or pass create=True")
        table = sa.Table(self.table_name, sa.MetaData(), sa.Column(self.mapping.key, sa.String(128), primary_key=True))
        for name in (*ROW_FIELDS, *self.mapping.columns):
            column = self.mapping.column(name)
            if column is not None and column not in table.c:
                kind = _sql_type(self.mapping.kind_of(name))
                table.append_column(sa.Column(column, kind, index=name == "external_id"))
        table.create(connection)
        log.info("created table %s", self.table_name)
        return table

    def _add_column(self, connection: Any, column: str, name: str | None) -> None:
        where = f"table {self.table_name!r} has no column {column!r}"
        if name is None:
            raise SinkError(f"{where} for its key: add it, or name the key column with mapping={{'key': ...}}")
        if not self.create:
            raise SinkError(f"{where} (for {name}): add it, map {name} to an existing column, or pass create=True")
        limit = connection.dialect.max_identifier_length or 63
        if len(column) > limit:
            raise SinkError(f"{where}: {column!r} is longer than this database allows ({limit}); "
                            f"map {name} to a shorter name with mapping={{'columns': {{{name!r}: ...}}}}")
        kind = _sql_type(self.mapping.kind_of(name))
        quote, sql_type = connection.dialect.identifier_preparer.quote, kind.compile(dialect=connection.dialect)
        connection.exec_driver_sql(f"ALTER TABLE {quote(self.table_name)} ADD COLUMN {quote(column)} {sql_type}")
        self._table.append_column(sa.Column(column, kind))
        log.info("added column %s to %s", column, self.table_name)

    # What is already applied.

    def _load_applied(self, connection: Any, subscriber_ids: Iterable[str]) -> dict[str, _Applied]:
        state, ids = self._state, sorted(subscriber_ids)
        applied = {sid: _Applied() for sid in ids}
        for chunk in _chunks(ids):
            query = sa.select(state).where(state.c.sink_table == self.table_name, state.c.subscriber_id.in_(chunk))
            for row in connection.execute(query):
                applied[row.subscriber_id] = _Applied(row.version, row.row_key, row.erased, row.last_event_id, True)
        return applied

    def _store_applied(self, connection: Any, applied: Mapping[str, _Applied]) -> None:
        state = self._state
        new: list[dict[str, Any]] = []
        old: list[dict[str, Any]] = []
        for sid, a in applied.items():
            if a.changed:
                (old if a.stored else new).append({
                    "b_table": self.table_name, "b_id": sid, "version": a.version, "row_key": a.row_key,
                    "erased": a.erased, "last_event_id": a.last_event_id,
                })
        names = ("version", "row_key", "erased", "last_event_id")
        columns: dict[str, Any] = {name: sa.bindparam(name) for name in names}
        if new:
            connection.execute(state.insert().values(sink_table=sa.bindparam("b_table"),
                                                     subscriber_id=sa.bindparam("b_id"), **columns), new)
        if old:
            where = (state.c.sink_table == sa.bindparam("b_table"), state.c.subscriber_id == sa.bindparam("b_id"))
            connection.execute(state.update().where(*where).values(**columns), old)

    # The events, as statements.

    def _plan(self, event: Event, applied: dict[str, _Applied], plans: dict[str, _Plan]) -> None:
        """Fold one event into its subscriber's plan for this write (nothing is executed yet)."""
        done = applied[event.subscriber_id]
        if event.version <= done.version:
            self.skipped += 1
            return
        by_id = self.mapping.key_field == "subscriber_id"
        plan = plans.get(event.subscriber_id)
        if plan is None:
            stored = event.subscriber_id if by_id else done.row_key
            plan = plans[event.subscriber_id] = _Plan(stored=stored, key=stored)
        if event.erased:  # whatever this write meant to set is moot: only the stored row matters
            plan.erase, plan.values, plan.key = plan.stored, None, None
            done.row_key, done.erased = None, True
            self.erased += 1
        else:
            key = event.subscriber_id if by_id else event.external_id or done.row_key
            if key is None:
                self.unplaced += 1
                return
            plan.key, plan.values = key, {**(plan.values or {}), **self._values(event)}
            done.row_key, done.erased = key, False
            self.applied += 1
        done.version, done.last_event_id, done.changed = event.version, event.id, True

    def _values(self, event: Event) -> dict[str, Any]:
        mapping = self.mapping
        fields = {
            "subscriber_id": event.subscriber_id, "external_id": event.external_id, "center": event.center,
            "version": event.version, "last_event_id": event.id, "updated_at": utc(event.occurred_at),
        }
        values: dict[str, Any] = {}
        for name, value in fields.items():
            column = mapping.column(name)
            if column is not None:
                values[column] = value
        external = mapping.column("external_id")
        # No external id in the event: the feed names the current one, so keep what we learned earlier.
        if event.external_id is None and external is not None:
            values.pop(external, None)
        for change in event.changes:
            for name, value in change_values(change):
                column = mapping.column(name)
                if column is not None and column not in self._without:
                    values[column] = mapping.value(name, value)
        values.pop(mapping.key, None)
        return values

    def _execute(self, connection: Any, table: Any, plans: Mapping[str, _Plan]) -> None:
        """Erasures first, then moved keys, then updates and inserts, a statement per set of columns."""
        key = table.c[self.mapping.key]
        self._erase(connection, table, [p.erase for p in plans.values() if p.erase is not None])
        for plan in plans.values():
            if plan.values is not None and plan.erase is None and plan.stored not in (None, plan.key):
                connection.execute(table.update().where(key == plan.stored).values({key.name: plan.key}))
        # A plan has values only once it has a key (see _plan): the second test only says so to mypy.
        rows = {p.key: p.values for p in plans.values() if p.values is not None and p.key is not None}
        existing = {found for chunk in _chunks(list(rows)) for found in connection.scalars(
            sa.select(key).where(key.in_(chunk)))}
        for columns, params in _grouped({k: v for k, v in rows.items() if k in existing}).items():
            if columns:
                sets: dict[str, Any] = {c: sa.bindparam(f"p{i}") for i, c in enumerate(columns)}
                connection.execute(table.update().where(key == sa.bindparam("b_key")).values(sets), params)
        if self.mapping.insert:
            for columns, params in _grouped({k: v for k, v in rows.items() if k not in existing}).items():
                sets = {key.name: sa.bindparam("b_key"), **{c: sa.bindparam(f"p{i}") for i, c in enumerate(columns)}}
                connection.execute(table.insert().values(sets), params)

    def _erase(self, connection: Any, table: Any, keys: list[str]) -> None:
        key = table.c[self.mapping.key]
        cleared = {c.name: None for c in table.columns if c is not key and self._is_mapped(c.name)}
        for chunk in _chunks(keys):
            if self.mapping.on_erasure == "delete":
                connection.execute(table.delete().where(key.in_(chunk)))
            elif cleared:
                connection.execute(table.update().where(key.in_(chunk)).values(cleared))

    def _is_mapped(self, column: str) -> bool:
        if column in self.mapping.columns.values():
            return True
        return self.mapping.auto and (column in ROW_FIELDS or column in FIXED_PATHS.values() or "__" in column)


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    return (items[start:start + _CHUNK] for start in range(0, len(items), _CHUNK))


def _grouped(rows: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Rows by their set of columns, as executemany parameters (``b_key``, ``p0``, ``p1``...)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, values in rows.items():
        columns = tuple(sorted(values))
        groups.setdefault(columns, []).append({"b_key": key, **{f"p{i}": values[c] for i, c in enumerate(columns)}})
    return groups


def _sql_type(kind: str) -> Any:
    return {
        "integer": sa.Integer(), "bigint": sa.BigInteger(), "datetime": sa.DateTime(timezone=True),
        "boolean": sa.Boolean(), "text": sa.Text(), "string": sa.String(128), "state": sa.String(32),
    }[kind]
