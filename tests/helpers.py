"""What tests share besides fixtures: clocks, the app in-process, real servers on
127.0.0.1, a webhook receiver, polling, and the fields a browser would post. Tests
import these as ``from tests.helpers import ...``; fixtures stay in the conftest files."""

from __future__ import annotations

import email
import email.message
import email.policy
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import httpx
import uvicorn
from litestar.testing import TestClient
from litestar.testing.client.base import BaseTestClient
from litestar.testing.transport import TestClientTransport

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CENTERS = ROOT / "examples" / "centers"

#: The database engines a suite can run on: a module opts in to both by overriding the
#: ``engine`` fixture with ``@pytest.fixture(params=ENGINES)`` (see tests/conftest.py).
ENGINES = ("sqlite", "postgresql")


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


class _LoopbackTransport(TestClientTransport, httpx.BaseTransport):
    """Litestar's in-process transport, with the peer a client on 127.0.0.1 would be: the
    app keeps the truncated address in events, and Litestar's own is the name "testclient".
    An httpx transport too, so that other clients (``another``, the SDK's) can share it."""

    def parse_request(self, request: httpx.Request) -> dict:
        scope = super().parse_request(request)
        scope["client"] = ("127.0.0.1", 50000)
        return scope


class InProcessClient(TestClient):
    """The app in this process, through Litestar's test client (httpx over ASGI): no port,
    no server thread. Use it as a context manager, which runs the app's lifespan (the
    webhook worker, when the app delivers).

    It behaves as ``httpx.Client(base_url=...)`` against a real server would: httpx's own
    headers, redirects not followed, the peer on 127.0.0.1. ``url`` and ``app`` are those a
    ``LiveServer`` has, so helpers such as ``same_origin`` take either.
    """

    def __init__(self, app, base_url: str) -> None:
        BaseTestClient.__init__(self, app=app, base_url=base_url)
        self._in_process = _LoopbackTransport(client=self)
        httpx.Client.__init__(self, base_url=base_url, transport=self._in_process)

    @property
    def url(self) -> str:
        return str(self.base_url).rstrip("/")

    @property
    def transport(self) -> httpx.BaseTransport:
        """The in-process transport, for another client of the same app (the SDK's, say)."""
        return self._in_process

    def another(self, **options) -> httpx.Client:
        """Another client of the same app, with its own ``headers`` (a second browser)."""
        return httpx.Client(base_url=self.url, transport=self.transport, **options)


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


def serve(app, port: int | None = None) -> LiveServer:
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


def _serve_on(app, sock: socket.socket) -> LiveServer:
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


class Receiver:
    """A CRM's webhook endpoint: answers ``fail_first`` requests with 500, then 200.

    ``host`` and ``port`` say where it listens; with ``tls`` (a server context) it speaks https.
    """

    def __init__(self, fail_first: int = 0, *, host: str = "127.0.0.1", port: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[dict, bytes]] = []
        self.accepted: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.lock:
                    receiver.received.append((dict(self.headers), body))
                    ok = len(receiver.received) > receiver.fail_first
                    if ok:
                        receiver.accepted.append(json.loads(body))
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port or 0), Handler)  # 0: a port of its own, no race
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}/hooks"

    def stop(self) -> None:
        self.server.shutdown()


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def form_of(html: str) -> dict[str, list[str]]:
    """The fields a browser would submit from the rendered form (checked boxes only)."""
    fields: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or ('type="checkbox"' in tag and " checked" not in tag):
            continue
        fields.setdefault(name.group(1), []).append(value.group(1) if value else "on")
    for select in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        options = select[1]
        chosen = re.search(r'<option value="([^"]*)" selected', options) or re.search(r'value="([^"]*)"', options)
        fields[select[0]] = [chosen.group(1)]
    return fields


def same_origin(server) -> dict[str, str]:
    return {"Sec-Fetch-Site": "same-origin", "Origin": server.url}


def start_smtp(handler):
    """A real SMTP server (aiosmtpd) on 127.0.0.1 for ``handler``, started; stop() it after.

    aiosmtpd binds the port itself, so another process may take it between ``free_port()``
    and the bind: a few tries."""
    import errno

    from aiosmtpd.controller import Controller

    for attempt in range(5):
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=30)
        try:
            controller.start()
            return controller
        except OSError as exc:
            controller.loop.close()
            if exc.errno != errno.EADDRINUSE or attempt == 4:
                raise
    raise AssertionError("unreachable")


class Inbox:
    """A real SMTP server's handler (aiosmtpd, ``start_smtp(inbox)``): the messages it was given,
    parsed with the standard library's e-mail package."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def wait(self, count: int, timeout: float = 30.0) -> list[email.message.EmailMessage]:
        """The messages, once ``count`` have arrived (mail is sent after the answer), or fail saying how many did."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.messages) >= count, f"{len(self.messages)} of {count} mails arrived"
        return self.messages
