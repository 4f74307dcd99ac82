"""Shared fixtures: real SQLite files, a real server on 127.0.0.1, a settable clock."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pytest
import uvicorn

from widget_server.app import create_app
from widget_server.centers import load_centers
from widget_server.settings import Settings
from widget_server.store.engine import make_engine
from widget_server.store.subscribers import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CENTERS = ROOT / "examples" / "centers"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last, whatever order the paths were given in: Playwright's sync API
    keeps an event loop running in the main thread until the session ends, and a test
    that calls ``asyncio.run()`` after it fails ("cannot be called from a running event
    loop"). The order within each group is kept."""
    browser = ROOT / "tests" / "browser"
    items.sort(key=lambda item: browser in item.path.parents)


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
    """A port free now, for another process to bind. Anyone may take it before that
    process does: for a server of this process, use ``serve_app`` instead."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bound_socket(port: int = 0) -> socket.socket:
    """A TCP socket bound to 127.0.0.1 (port 0: one the system picks), not yet listening."""
    sock = socket.socket()
    try:
        if port:  # a port given: as uvicorn binds one, so a recent connection's TIME_WAIT does not block it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


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
        self.thread.join(timeout=30)


def serve(app, port: int | None = None) -> LiveServer:  # noqa: ANN001
    """Serve ``app`` on ``port``, or on a port of its own. A port taken since it was
    chosen fails here, at once: prefer ``serve_app``, which cannot lose its port."""
    return _serve_on(app, bound_socket(port or 0))


def serve_app(build: Callable[[int], object]) -> LiveServer:
    """Serve the app ``build(port)`` makes for the port it will listen on.

    The port is bound before the app is built and stays bound until the server stops,
    so no other process (a client's outgoing connection, another test's server) can
    take it between the choice and the bind, as it can with ``free_port()``.
    """
    sock = bound_socket()
    try:
        app = build(sock.getsockname()[1])
    except BaseException:
        sock.close()
        raise
    return _serve_on(app, sock)


def _serve_on(app, sock: socket.socket) -> LiveServer:  # noqa: ANN001
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    # Generous: a loaded CI machine can take seconds to start a thread and an app; a
    # server that fails to start ends its thread, which is seen at once.
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
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
