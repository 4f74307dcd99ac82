"""Shared fixtures: real SQLite files, a real server on 127.0.0.1, a settable clock."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_CENTERS, ROOT, Clock, serve_app
from widget_server.app import create_app
from widget_server.centers import load_centers
from widget_server.settings import Settings
from widget_server.store.engine import make_engine
from widget_server.store.store import Store


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


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'widget.db'}"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        config=str(EXAMPLE_CENTERS),
        database=db_url,
        secret_keys=("test-secret-new", "test-secret-old"),
        mail_dir=str(tmp_path / "mail"),
    )


@pytest.fixture
def store(db_url: str, clock: Clock) -> Store:
    store = Store(make_engine(db_url), lookup_key=b"test-lookup-key", clock=clock)
    store.migrate()
    return store


@pytest.fixture
def app_factory(settings: Settings, centers, store: Store, clock: Clock):
    """Build the real app around this test's store and clock."""

    def build(*, port: int | None = None, options: dict | None = None, **overrides):
        """``options`` change settings; other keywords go to ``create_app``."""
        s = settings.with_options(port=port, **(options or {}))
        return create_app(s, **{"centers": centers, "store": store, "clock": clock, **overrides})

    return build


@pytest.fixture
def live_server(app_factory):
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


@pytest.fixture
def pg_store(clock: Clock):
    """A Store on the PostgreSQL server of 127.0.0.1:5432, in a database of its own, dropped after."""
    pytest.importorskip("psycopg")
    import secrets

    from sqlalchemy import create_engine, text

    admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    name = "widget_test_" + secrets.token_hex(4)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is needed for this test: {type(exc).__name__}")
    engine = make_engine(f"postgresql://postgres@127.0.0.1:5432/{name}")
    store = Store(engine, lookup_key=b"test-lookup-key", clock=clock)
    store.migrate()
    yield store
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()
