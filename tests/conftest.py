"""Shared fixtures: real SQLite files, a real server on 127.0.0.1, a settable clock."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import uvicorn

from widget_server.app import create_app
from widget_server.centers import load_centers
from widget_server.settings import Settings
from widget_server.store.engine import make_engine
from widget_server.store.subscribers import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CENTERS = ROOT / "examples" / "centers"


class Clock:
    """A clock tests can move: ``clock.advance(days=200)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Seconds:
    """A Unix-seconds clock for the token signer and link minter: ``clock.now += 3600``."""

    def __init__(self, now: float = 1_800_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    app: object
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(app, port: int | None = None) -> LiveServer:  # noqa: ANN001
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server on port {port} did not start")
        time.sleep(0.02)
    return LiveServer(app, port, server, thread)


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
    port = free_port()
    server = serve(app_factory(port=port), port)
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
