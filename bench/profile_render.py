"""Where does a widget render spend its time? In-process timings and a cProfile.

    python bench/profile_render.py            # 2,000 renders (default)
    python bench/profile_render.py -n 5000 --top 40

Builds the same app as ``bench/server.py`` (real ``create_app``, fresh SQLite file under
``bench/out/``, example centers), then drives ``GET /c/<center>/preferences?t=...``
straight through the ASGI callable in one event loop: no sockets, no HTTP parsing, so
what is measured is the app (Litestar + handler + store + Jinja), one request at a time.

It prints:

1. mean time per request for the render, the precomputed baseline, and the render with
   ``anyio.to_thread.run_sync`` replaced by a direct call (the cost of the thread hop);
   then the same render split by timers around its pieces (store, Jinja, hop...);
2. the pieces timed alone: token check, ``store.get``, the Jinja render of the page;
3. a cProfile of N renders (thread hop replaced by a direct call, so the store's work is
   seen: cProfile only follows the thread it runs in), top functions by own time and by
   cumulative time. The raw profile is saved to ``bench/out/render.prof``
   (``python -m pstats bench/out/render.prof`` or snakeviz).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import sys
import time
from pathlib import Path

import anyio.to_thread

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import server as bench_server  # noqa: E402

OUT = BENCH / "out"


def scope_for(path: str, query: str) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept-language", bench_server.ACCEPT_LANGUAGE.encode()),
                    (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }


async def call(app, path: str, query: str) -> int:
    status = 0

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope_for(path, query), receive, send)
    return status


async def drive(app, path: str, tokens: list[str], n: int) -> float:
    """Mean seconds per request over n sequential requests (after 50 warm-up ones)."""
    rng = random.Random(1)
    for _ in range(50):
        assert await call(app, path, "t=" + rng.choice(tokens)) == 200
    started = time.perf_counter()
    for _ in range(n):
        status = await call(app, path, "t=" + rng.choice(tokens))
        if status != 200:
            raise SystemExit(f"{path}: status {status}")
    return (time.perf_counter() - started) / n


async def attributed(app, path: str, tokens: list[str], n: int) -> dict[str, float]:
    """Mean seconds per render spent in each piece, measured with timers around them."""
    import jinja2

    from widget_server.web.routes import widget

    spent = {key: 0.0 for key in ("read", "store", "hop", "context", "locale", "jinja")}

    def timing(key: str, fn):
        def wrapper(*a, **kw):
            started = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[key] += time.perf_counter() - started
        return wrapper

    real_run_sync = anyio.to_thread.run_sync

    async def run_sync(fn, *a, **kw):
        started = time.perf_counter()
        try:
            return await real_run_sync(fn, *a, **kw)
        finally:
            spent["hop"] += time.perf_counter() - started  # store time subtracted below

    store = app.state.store
    patches = [
        (widget, "read_link", timing("read", widget.read_link)),
        (widget, "form_context", timing("context", widget.form_context)),
        (widget, "visitor_locale", timing("locale", widget.visitor_locale)),
        (jinja2.Template, "render", timing("jinja", jinja2.Template.render)),
        (anyio.to_thread, "run_sync", run_sync),
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    store.get = timing("store", store.get)  # instance attribute, removed afterwards
    for obj, name, value in patches:
        setattr(obj, name, value)
    try:
        rng = random.Random(3)
        for _ in range(50):
            await call(app, path, "t=" + rng.choice(tokens))
        for key in spent:
            spent[key] = 0.0
        started = time.perf_counter()
        for _ in range(n):
            await call(app, path, "t=" + rng.choice(tokens))
        total = time.perf_counter() - started
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)
        del store.get
    # On SQLite the store reads inline (no hop at all); only a hop that happened is counted.
    spent["hop"] = max(0.0, spent["hop"] - spent["store"]) if spent["hop"] else 0.0
    labels = {
        "jinja": "Jinja render of the page",
        "store": "store.get through SQLAlchemy Core",
        "hop": "thread hop around store.get (none on SQLite)",
        "context": "form_context + page_context",
        "locale": "visitor_locale (Accept-Language negotiation)",
        "read": "read_link (token signature check)",
    }
    out = {labels[k]: v / n for k, v in spent.items()}
    out["Litestar + middleware + response (the rest)"] = total / n - sum(out.values())
    out["total"] = total / n
    return out


def timed(fn, n: int) -> float:
    for _ in range(20):
        fn()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description="Profile the widget render in-process.")
    parser.add_argument("-n", type=int, default=2000, help="renders to time and to profile")
    parser.add_argument("--top", type=int, default=30, help="rows of each profile table")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    app, seed = bench_server.build(OUT / "profile.db", 8000, {"render": 200, "save_warm": 0, "save_run": 0})
    tokens = [t for t, _ in seed["tokens"]["render"]]
    path = f"/c/{seed['center']}/preferences"
    real_run_sync = anyio.to_thread.run_sync

    async def inline(fn, *fn_args, **_kw):
        return fn(*fn_args)

    async def timings() -> dict[str, float]:
        out = {"render (ASGI, real thread hop)": await drive(app, path, tokens, args.n),
               "precomputed (ASGI)": await drive(app, "/bench/precomputed", tokens, args.n)}
        anyio.to_thread.run_sync = inline
        try:
            out["render (ASGI, store called inline)"] = await drive(app, path, tokens, args.n)
        finally:
            anyio.to_thread.run_sync = real_run_sync
        return out

    results = asyncio.run(timings())
    breakdown = asyncio.run(attributed(app, path, tokens, args.n))

    # The pieces alone. The template and its context are captured from one real request,
    # so this follows whatever the handler and templates are today.
    import jinja2

    from widget_server.tokens import read_link

    state = app.state
    center = state.centers[seed["center"]]
    token = tokens[0]
    claims = read_link(state.signer, token, center)
    captured: dict = {}
    real_render = jinja2.Template.render

    def capture(self, *a, **kw):
        captured.setdefault("template", self)
        captured.setdefault("context", dict(*a, **kw))
        return real_render(self, *a, **kw)

    jinja2.Template.render = capture
    try:
        asyncio.run(call(app, path, "t=" + token))
    finally:
        jinja2.Template.render = real_render
    template, context = captured["template"], captured["context"]
    pieces = {
        "read_link (token signature + JSON)": timed(lambda: read_link(state.signer, token, center), args.n),
        "store.get (SQLAlchemy Core)": timed(lambda: state.store.get(center.id, claims.subscriber), args.n),
        f"jinja render of {template.name}": timed(lambda: template.render(context), args.n),
    }

    print(f"\nIn-process, sequential, mean of {args.n:,} requests (no sockets, no HTTP parsing):\n")
    for name, seconds in results.items():
        print(f"  {name:<42} {seconds * 1e6:8.0f} µs")
    total = breakdown.pop("total")
    print(f"\nWhere a render's {total * 1e6:,.0f} µs go (same ASGI renders, real thread hop, timers "
          f"around the pieces):\n")
    for name, seconds in breakdown.items():
        print(f"  {name:<58} {seconds * 1e6:6.0f} µs  {100 * seconds / total:4.0f} %")
    print("\nPieces alone:\n")
    for name, seconds in pieces.items():
        print(f"  {name:<42} {seconds * 1e6:8.0f} µs")

    # cProfile, thread hop replaced so the store's work is in the profiled thread.
    async def profiled() -> None:
        anyio.to_thread.run_sync = inline
        try:
            rng = random.Random(2)
            profile.enable()
            for _ in range(args.n):
                await call(app, path, "t=" + rng.choice(tokens))
            profile.disable()
        finally:
            anyio.to_thread.run_sync = real_run_sync

    profile = cProfile.Profile()
    asyncio.run(profiled())
    profile.dump_stats(OUT / "render.prof")
    for key in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(profile, stream=buffer).strip_dirs().sort_stats(key).print_stats(args.top)
        text = buffer.getvalue()
        print(f"\n=== cProfile of {args.n:,} renders, by {key} ===")
        print(text[text.find("   ncalls"):].rstrip())
    print(f"\nprofile saved to {OUT / 'render.prof'}")


if __name__ == "__main__":
    main()
