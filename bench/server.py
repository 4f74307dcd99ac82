"""The benchmark's server process: the real app plus two baseline routes, one uvicorn worker.

Started by ``bench/run.py`` (not meant to be run by hand, though it can be)::

    python bench/server.py --port 8123 --db bench/out/widget.db --seed-file bench/out/seed.json

What it does, in order:

1. builds the real app with :func:`widget_server.app.create_app` on a fresh SQLite file,
   the example centers and a benchmark-only secret;
2. seeds subscribers through ``app.state.store.create_subscriber`` and mints one
   ``manage`` token each with ``app.state.signer`` (three pools: ``render`` for the GETs,
   ``save_warm`` and ``save_run`` for the POSTs of the warm-up and of the measured run);
3. registers two baseline routes on the same app, so both sides go through the same
   process, server, middleware stack and event loop:

   * ``GET /bench/precomputed``: the bytes of one real widget page, rendered once here at
     start-up, returned as ``text/html; charset=utf-8`` (the *render* baseline);
   * ``POST /bench/raw-commit``: one durable single-row ``INSERT`` + ``commit()`` with the
     plain ``sqlite3`` module (own file, WAL, ``synchronous=FULL``, one connection behind a
     lock), run in a worker thread with ``anyio.to_thread.run_sync`` as the app does (the
     *save* baseline);

4. writes the seed file (tokens, notice version, the two form states to alternate) and
   serves with uvicorn: 1 worker, ``access_log=False``, log level ``warning``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path

import anyio
import uvicorn
from litestar import MediaType, Response, get, post
from markupsafe import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from widget_server.app import create_app  # noqa: E402
from widget_server.centers import load_centers  # noqa: E402
from widget_server.preferences import OPTED_IN, Preferences  # noqa: E402
from widget_server.settings import Settings  # noqa: E402

EXAMPLE_CENTERS = ROOT / "examples" / "centers"
CENTER = "maison-lumiere"
SECRET = "bench-secret-not-for-production"
ACCEPT_LANGUAGE = "fr-FR,fr;q=0.9,en;q=0.8"


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def form_states(center) -> tuple[dict, dict]:
    """Two distinct choices, A and B, as (preferences, urlencoded form fields).

    Saving B over A (or A over B) always changes something, so every save of the
    benchmark writes a new version and an event, never an ``unchanged`` no-op.
    """
    topics = center.switchable_topics
    interests = [i.id for i in center.interests]
    states = []
    for pick in (0, 1):
        subs, fields, freqs = {}, [], {}
        for topic in topics:
            channels = topic.channels[:1] if pick == 0 else topic.channels[1:]
            for channel in channels:
                subs[(topic.id, channel)] = OPTED_IN
                fields.append(f"s.{topic.id}.{channel}=on")
            if len(topic.frequencies) >= 2:
                freqs[topic.id] = topic.frequencies[pick]
                fields.append(f"f.{topic.id}={topic.frequencies[pick]}")
        chosen = interests[:2] if pick == 0 else interests[-1:]
        fields += [f"i={i}" for i in chosen] + ["pause=keep"]
        prefs = Preferences(subscriptions=subs, frequencies=freqs, interests=frozenset(chosen))
        states.append({"prefs": prefs, "form": "&".join(fields)})
    return states[0], states[1]


class RawCommit:
    """The save baseline: one row, one durable commit, plain sqlite3."""

    def __init__(self, path: Path) -> None:
        remove_db(path)
        self.lock = threading.Lock()
        self.connection = sqlite3.connect(path, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=FULL")
        self.connection.execute(
            "CREATE TABLE rows (id INTEGER PRIMARY KEY, at REAL NOT NULL, payload TEXT NOT NULL)"
        )
        self.connection.commit()
        assert self.connection.execute("PRAGMA synchronous").fetchone()[0] == 2

    def __call__(self) -> None:
        with self.lock:
            self.connection.execute(
                "INSERT INTO rows (at, payload) VALUES (?, ?)", (time.time(), "benchmark row")
            )
            self.connection.commit()


def build(db: Path, port: int, pools: dict[str, int]):
    remove_db(db)
    settings = Settings(
        config=str(EXAMPLE_CENTERS),
        database=f"sqlite:///{db}",
        port=port,
        secret_keys=(SECRET,),
        mail_dir=str(db.parent / "mail"),
        log_level="warning",
    )
    centers = load_centers(EXAMPLE_CENTERS)
    center = centers[CENTER]
    app = create_app(settings, centers=centers)
    state_a, state_b = form_states(center)

    started = time.perf_counter()
    store, signer = app.state.store, app.state.signer
    tokens: dict[str, list[list]] = {}
    n = 0
    for pool, size in pools.items():
        rows = []
        for _ in range(size):
            n += 1
            sid = store.create_subscriber(
                CENTER, email=f"bench{n}@example.org", preferences=state_a["prefs"]
            )
            rows.append([signer.mint("manage", CENTER, sid), 1])  # version 1 after seeding
        tokens[pool] = rows
    seeded_in = time.perf_counter() - started

    # Render one real page through the app (same handler, templates and middleware).
    from litestar.testing import TestClient

    with TestClient(app) as client:
        response = client.get(
            f"/c/{CENTER}/preferences",
            params={"t": tokens["render"][0][0]},
            headers={"Accept-Language": ACCEPT_LANGUAGE},
        )
    if response.status_code != 200 or 'id="preferences"' not in response.text:
        raise SystemExit(f"could not render the widget page: {response.status_code}")
    page = response.content

    @get("/bench/precomputed", media_type=MediaType.HTML, cache=False, include_in_schema=False)
    async def precomputed() -> Response[bytes]:
        return Response(page, media_type=MediaType.HTML, headers={"Vary": "Accept-Language"})

    raw = RawCommit(db.parent / "raw-commit.db")

    @post("/bench/raw-commit", media_type=MediaType.TEXT, status_code=200, include_in_schema=False)
    async def raw_commit() -> str:
        await anyio.to_thread.run_sync(raw)
        return "ok"

    app.register(precomputed)
    app.register(raw_commit)

    saved = app.state.translator.get(center.default_locale).gettext("Your choices are saved.")
    seed = {
        "center": CENTER,
        "saved_marker": str(escape(saved)),  # in the answer to a save that wrote a version
        "notice": center.notice_version,
        "lang": center.default_locale,
        "accept_language": ACCEPT_LANGUAGE,
        "form_a": state_a["form"],
        "form_b": state_b["form"],
        "tokens": tokens,
        "page_bytes": len(page),
        "seeded": n,
        "seeded_in_s": round(seeded_in, 2),
    }
    return app, seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True, help="SQLite file (deleted and recreated)")
    parser.add_argument("--seed-file", type=Path, required=True, help="where to write tokens (JSON)")
    parser.add_argument("--render-pool", type=int, default=2000)
    parser.add_argument("--save-warm-pool", type=int, default=1000)
    parser.add_argument("--save-run-pool", type=int, default=2000)
    args = parser.parse_args()

    logging.basicConfig(level=logging.WARNING)  # the app's own access log stays off too
    args.db.parent.mkdir(parents=True, exist_ok=True)
    app, seed = build(
        args.db.resolve(), args.port,
        {"render": args.render_pool, "save_warm": args.save_warm_pool, "save_run": args.save_run_pool},
    )
    tmp = args.seed_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(seed))
    os.replace(tmp, args.seed_file)

    uvicorn.run(
        app, host="127.0.0.1", port=args.port, workers=1, access_log=False,
        log_level="warning", server_header=False, lifespan="on",
    )


if __name__ == "__main__":
    main()
