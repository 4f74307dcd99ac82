"""The feed cursor kept in the CRM database, in the same transaction as the rows of each page.

Also how the SQL sink reports database errors: as ``SinkError``, with the driver's message
and never the URL, which may hold a password.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Sequence
from urllib.parse import quote

from .._models import Event
from .._sync import SinkError

try:
    import sqlalchemy as sa
except ImportError:  # an optional dependency: pip install 'preference-sdk[sql]'
    sa = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from ._sql import SqlSink

CURSOR_TABLE = "preference_sync_cursors"


class SqlCursorStore:
    """The feed cursor in the sink's database, saved by ``SqlSink.write`` in its transaction.

    ``save`` after such a write finds the cursor already there and does nothing; it
    writes only when the cursor moved without events (an empty page that skips ahead).
    The row records the center whose feed it follows (``sync`` says which through
    ``bind_center``, and each write's events say it too); a cursor of another center is
    refused with ``SinkError``. A row without a center (written before SDK 0.2) is taken
    as the first center that resumes it.
    """

    def __init__(self, sink: SqlSink, name: str) -> None:
        self.sink = sink
        self.name = name
        self.saved: int | None = None  # what the database holds, when known
        self.center: str | None = None  # whose feed this store follows, once bound
        self.stored_center: str | None = None  # the center of the row, when last read

    def bind_center(self, center: str) -> None:
        """Follow ``center``'s feed; raise ``SinkError`` when the row belongs to another center."""
        self.center = center
        self._check(self.stored_center, center)

    def load(self) -> int:
        cursors = self.sink._cursors
        with _database_errors(self.sink.engine), self.sink.engine.begin() as connection:
            self.sink._ensure_own_tables(connection)
            row = connection.execute(
                sa.select(cursors.c.cursor, cursors.c.center).where(cursors.c.name == self.name)).first()
        self.stored_center = row.center if row is not None else None
        if self.center is not None:
            self._check(self.stored_center, self.center)
        self.saved = int(row.cursor) if row is not None else 0
        return self.saved

    def save(self, cursor: int) -> None:
        if cursor == self.saved:
            return
        try:
            with _database_errors(self.sink.engine), self.sink.engine.begin() as connection:
                self.sink._ensure_own_tables(connection)
                self.save_in(connection, cursor)
        except BaseException:
            self.forget()
            raise
        self.saved = cursor

    def save_in(self, connection: Any, cursor: int, center: str | None = None) -> None:
        """Write the cursor inside a transaction someone else commits (``center``: the events' center)."""
        if center is not None and self.center is not None:
            self._check(self.center, center)
        center = center or self.center or self.stored_center
        cursors = self.sink._cursors
        mine = cursors.c.name == self.name
        if center is not None:
            mine = mine & (cursors.c.center.is_(None) | (cursors.c.center == center))
        done = connection.execute(cursors.update().where(mine).values(cursor=cursor, center=center))
        if not done.rowcount:
            held = connection.execute(sa.select(cursors.c.center).where(cursors.c.name == self.name)).first()
            if held is not None:
                self._check(held.center, center)
            connection.execute(cursors.insert().values(name=self.name, cursor=cursor, center=center))
        self.stored_center = center

    def forget(self) -> None:
        """What the database holds is unknown again (a transaction that wrote the cursor rolled back)."""
        self.saved = self.stored_center = None

    def _check(self, stored: str | None, center: str | None) -> None:
        if stored is not None and center is not None and stored != center:
            raise SinkError(
                f"the feed cursor {self.name!r} (in {CURSOR_TABLE}) belongs to center {stored!r}, not {center!r}: "
                "event ids are shared by every center, so resuming from it would skip events; give each center "
                "its own cursor, sink.cursor_store(name=...) (the command line names it <table>@<center>)")

    def __repr__(self) -> str:
        return f"SqlCursorStore({self.name!r})"


def _one_center(events: Sequence[Event]) -> str:
    """The center of a page that moves a cursor: a cursor follows one center's feed."""
    centers = {e.center for e in events}
    if len(centers) > 1:
        raise SinkError(f"one write holds events of several centers ({', '.join(sorted(centers))}) while a "
                        "cursor is kept with the rows: a cursor follows one center's feed")
    return events[-1].center


@contextmanager
def _database_errors(engine: Any) -> Iterator[None]:
    """SQLAlchemy's errors as ``SinkError``: the driver's message, without the statement or the password."""
    try:
        yield
    except sa.exc.SQLAlchemyError as error:
        secrets = _secrets_of(engine.url.render_as_string(hide_password=False))
        raise SinkError(f"the database failed ({type(error).__name__}): {_scrubbed(error, secrets)}") from error


def _secrets_of(url: str) -> list[str]:
    """What must not be echoed: the URL itself and its password, as written and decoded."""
    secrets = [url]
    try:
        password = sa.engine.make_url(url).password
    except Exception:  # noqa: BLE001 - not a URL at all: the whole string is the secret
        password = None
    if password:
        secrets += [str(password), quote(str(password), safe="")]
    return secrets


def _scrubbed(error: BaseException, secrets: Sequence[str]) -> str:
    """An error's first line, from the driver when there is one, with every secret cut out."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    text = lines[0] if lines else type(cause).__name__
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
