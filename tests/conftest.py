"""Shared fixtures: each test's own database (a copy of a template migrated once per
session, on SQLite or on PostgreSQL), the app in-process or on a real server on
127.0.0.1, a settable clock."""

from __future__ import annotations

import importlib.util
import secrets
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import EXAMPLE_CENTERS, ROOT, Clock, InProcessClient, serve_app
from widget_server.app import create_app
from widget_server.centers import load_centers
from widget_server.settings import Settings
from widget_server.store import migrate
from widget_server.store.engine import make_engine
from widget_server.store.store import Store

#: The PostgreSQL server the [postgresql] cases use (CI starts it: .ci/run).
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last, whatever order the paths were given in: Playwright's sync API
    keeps an event loop running in the main thread until the session ends, and a test
    that calls ``asyncio.run()`` after it fails ("cannot be called from a running event
    loop"). The order within each group is kept."""
    browser = ROOT / "tests" / "browser"
    items.sort(key=lambda item: browser in item.path.parents)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def centers():
    return load_centers(EXAMPLE_CENTERS)


# -- the database: one migrated template per session, a copy per test --------------------------


@pytest.fixture
def engine() -> str:
    """The engine of this test's database: SQLite, unless the module runs on both engines
    by overriding this fixture::

        @pytest.fixture(params=ENGINES)  # from tests.helpers: ids [sqlite] and [postgresql]
        def engine(request) -> str:
            return request.param

    A test about one engine alone (SQLite's WAL, its file) says so where it is defined:
    ``@pytest.mark.parametrize("engine", ["sqlite"])``."""
    return "sqlite"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session, left with no -wal or -shm file beside it,
    so that copying the one file copies the whole database."""
    path = tmp_path_factory.mktemp("template") / "widget.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()  # the last connection closes: SQLite removes the -wal and -shm files
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"the template is not one file: {leftovers}"
    return path


@pytest.fixture(scope="session")
def pg_admin():
    """A connection to the PostgreSQL server's maintenance database, or a failure saying
    it is needed (never a skip: the [postgresql] cases are part of the suite)."""
    if importlib.util.find_spec("psycopg") is None:
        pytest.fail("the [postgresql] cases need psycopg (pip install -e '.[test]')", pytrace=False)
    admin = create_engine(f"{POSTGRES.replace('postgresql:', 'postgresql+psycopg:')}/postgres",
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        pytest.fail(f"the [postgresql] cases need the PostgreSQL server of {POSTGRES} (trust auth; .ci/run "
                    f"starts it with pg_ctlcluster): {type(exc).__name__}: {exc}", pytrace=False)
    yield admin
    admin.dispose()


def _pg_execute(admin, statement: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(statement))


@pytest.fixture(scope="session")
def pg_template(pg_admin) -> Iterator[str]:
    """A PostgreSQL database migrated once per session, the template of each test's own.
    Its name is this session's: other people may run the suite on the same server."""
    name = "widget_template_" + secrets.token_hex(4)
    _pg_execute(pg_admin, f"CREATE DATABASE {name}")
    try:
        engine = make_engine(f"{POSTGRES}/{name}")
        migrate.upgrade(engine)
        engine.dispose()  # CREATE DATABASE ... TEMPLATE needs the template without connections
        yield name
    finally:
        _pg_execute(pg_admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class _PgCopies:
    """Copies of the template, each made while the test before it runs: ``CREATE DATABASE
    ... TEMPLATE`` takes a fifth of a second on a busy server, and no test need wait for
    it. One thread makes them and drops the used ones, in order."""

    def __init__(self, admin, template: str) -> None:
        self._admin, self._template = admin, template
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-copies")
        self._drops: list[Future] = []
        self._next = self._thread.submit(self._create)

    def _create(self) -> str:
        name = "widget_test_" + secrets.token_hex(4)
        _pg_execute(self._admin, f"CREATE DATABASE {name} TEMPLATE {self._template}")
        return name

    def take(self) -> str:
        """A fresh copy, of this caller's own (raises what its CREATE DATABASE raised)."""
        made, self._next = self._next, self._thread.submit(self._create)
        return made.result()

    def drop(self, name: str) -> None:
        statement = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        self._drops.append(self._thread.submit(_pg_execute, self._admin, statement))

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        spare = self._next.exception() is None and self._next.result()
        if spare:
            _pg_execute(self._admin, f"DROP DATABASE IF EXISTS {spare} WITH (FORCE)")
        for dropped in self._drops:
            dropped.result()  # a database left behind is an error of the session, not silence


@pytest.fixture(scope="session")
def pg_copies(pg_admin, pg_template: str) -> Iterator[_PgCopies]:
    copies = _PgCopies(pg_admin, pg_template)
    yield copies
    copies.close()


@pytest.fixture
def pg_url(pg_copies: _PgCopies) -> Iterator[str]:
    """A PostgreSQL database of this test's own, a copy of the migrated template, dropped after."""
    name = pg_copies.take()
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        pg_copies.drop(name)


@pytest.fixture
def db_url(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """This test's own database on its ``engine``, already migrated."""
    if engine == "postgresql":
        return request.getfixturevalue("pg_url")
    if engine != "sqlite":
        raise ValueError(f"no such engine: {engine!r} (tests.helpers.ENGINES)")
    path = tmp_path / "widget.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def store(db_url: str, clock: Clock) -> Iterator[Store]:
    """The Store on this test's database (migrated: the app's own migrate step is a no-op).
    On PostgreSQL whatever the module says: ``@pytest.mark.parametrize("engine", ["postgresql"])``."""
    store = Store(make_engine(db_url), lookup_key=b"test-lookup-key", clock=clock)
    yield store
    store.engine.dispose()


# -- the app: in-process, or on a real server -----------------------------------------------------


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        config=str(EXAMPLE_CENTERS),
        database=db_url,
        secret_keys=("test-secret-new", "test-secret-old"),
        mail_dir=str(tmp_path / "mail"),
    )


@pytest.fixture
def app_factory(settings: Settings, centers, store: Store, clock: Clock):
    """Build the real app around this test's store and clock."""

    def build(*, port: int | None = None, options: dict | None = None, **overrides):
        """``options`` change settings; other keywords go to ``create_app``. The store is a
        copy of the migrated template, so the app does not check its migrations again
        (``migrate=True`` does; test_store checks that it then changes nothing)."""
        s = settings.with_options(port=port, **(options or {}))
        return create_app(s, **{"centers": centers, "store": store, "clock": clock, "migrate": False, **overrides})

    return build


@pytest.fixture
def client_for(app_factory, settings: Settings):
    """``client_for(options=..., **overrides)``: an app built as ``app_factory`` builds it,
    in-process (an ``InProcessClient``, its lifespan running), closed after the test."""
    with ExitStack() as stack:

        def make(*, options: dict | None = None, **overrides) -> InProcessClient:
            app = app_factory(options=options, **overrides)
            base_url = settings.with_options(**(options or {})).base_url  # the app's own links say it
            return stack.enter_context(InProcessClient(app, base_url=base_url))

        yield make


@pytest.fixture
def client(client_for) -> InProcessClient:
    """The app in-process: for what HTTP alone shows (no port, no server thread)."""
    return client_for()


@pytest.fixture
def live_server(app_factory):
    """The app on a real uvicorn on 127.0.0.1: for what needs a real server (a browser,
    SMTP, a real webhook receiver, processes, the server's own compression and lifespan)."""
    server = serve_app(lambda port: app_factory(port=port))
    yield server
    server.stop()


@pytest.fixture
def make_key(store: Store):
    """Create an API key in this test's store: ``make_key("maison-lumiere", "read", "write")``."""
    from widget_server.store import api_keys

    def make(center: str, *scopes: str, name: str = "test") -> str:
        with store.engine.begin() as connection:
            return api_keys.create(connection, center, name, list(scopes), datetime.now(timezone.utc))[1]

    return make
