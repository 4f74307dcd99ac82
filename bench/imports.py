"""Bulk import, end to end: a legacy CSV through the SDK and the API into SQLite, against raw sqlite3.

    python bench/imports.py                  # 100,000 rows
    python bench/imports.py --rows 1000000   # the target: a million rows in under 60 s
    python bench/imports.py --profile        # also cProfile both sides, in process (no HTTP)
    python bench/imports.py --batch 5000     # the SDK's default batch size (default here: 10,000)

What it does, in a temporary folder (removed at the end):

1. writes a legacy CSV (customer id, e-mail, language, opt-in date in ``dd/mm/yyyy``,
   Y/N flags for six subscriptions, a frequency letter, ``;``-separated tags) and its
   TOML mapping, with 0.5 % of rows the mapping rejects (a date that does not exist);
2. starts the real server (``uvicorn widget_server.app:app_from_env --factory``, one
   worker, webhooks off; ``BENCH_WORKERS=2`` for two) on a fresh SQLite file, WAL,
   ``synchronous=FULL``;
3. times ``preference_sdk.import_file(client, csv, mapping, dry_run=False)`` (the clock
   runs from opening the file to the merged report), and samples the CPU time of the
   server process and of this one;
4. checks the outcome: every accepted row has its subscriber and one ``import`` event,
   and the hash chains of 1,000 random subscribers verify;
5. the baseline, in the same run: plain ``sqlite3`` ``executemany`` of the same number of
   subscriber rows and event rows (same schema, ids, batch size and durability: a fresh
   WAL file, ``synchronous=FULL``, one commit per batch), with no HTTP, no validation,
   no hashing and none of the other tables;
6. the floor: the same, writing as many rows in every table as the import did
   (subscriptions, frequencies, interests, contact points with random lookup hashes):
   what SQLite alone costs for this import on this machine.

It prints rows/s for each and the ratios, and ``run()`` returns them as a dict. The exit
status is 0 unless the import's outcome is wrong.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "sdk"))

from preference_sdk._client import Client  # noqa: E402
from preference_sdk._import import import_file, load_mapping  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from widget_server.store import api_keys  # noqa: E402
from widget_server.store.engine import make_engine  # noqa: E402
from widget_server.store.store import Store  # noqa: E402
from widget_server.store.tables import events, subscribers  # noqa: E402

CENTER = "maison-lumiere"
BATCH = 10_000  # the most the server takes per request (the SDK defaults to 5,000)
MAPPING = """\
legacy_source = "old-esp"
date_formats = ["%d/%m/%Y"]
separator = ";"

[columns]
external_id = "CustomerID"
email = "Email"
locale = "Lang"
legacy_date = "OptInDate"
"offers.email" = "OffersEmail"
"offers.sms" = "OffersSMS"
"offers.push" = "OffersPush"
"inspirations.email" = "InspiEmail"
"inspirations.post" = "InspiPost"
"loyalty.email" = "LoyaltyEmail"
"frequency.offers" = "OffersFreq"
interests = "Tags"

[values]
states = {Y = "opted_in", N = "opted_out"}
locale = {FR = "fr", EN = "en"}
"frequency.offers" = {W = "weekly", M = "monthly", R = "realtime"}

[values.interests]
Deco = "home-decor"
Lampes = "lighting"
Table = "tableware"
Linge = "linen"
Femme = "womenswear"
Homme = "menswear"
Enfant = "kids"
Jardin = "garden"
"""
#: A lean export, as many ESPs give it: an id, an address, the date, one opt-in flag.
LIGHT_MAPPING = """\
legacy_source = "old-esp"
date_formats = ["%d/%m/%Y"]

[columns]
external_id = "CustomerID"
email = "Email"
legacy_date = "OptInDate"
"offers.email" = "OffersEmail"

[values]
states = {Y = "opted_in", N = "opted_out"}
"""
TAGS = ["Deco", "Lampes", "Table", "Linge", "Femme", "Homme", "Enfant", "Jardin"]


def write_light_csv(path: Path, rows: int, seed: int = 7) -> int:
    """The lean export (``--shape light``); answers how many rows will be rejected (bad dates)."""
    pick = random.Random(seed)
    start = datetime(2015, 1, 1)
    bad = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("CustomerID,Email,OptInDate,OffersEmail\n")
        for n in range(rows):
            if pick.random() < 0.005:
                day, bad = "31/02/2019", bad + 1
            else:
                day = (start + timedelta(days=pick.randrange(3000))).strftime("%d/%m/%Y")
            out.write(f"CRM{n:08d},customer{n}@example.com,{day},{pick.choice('YYYN')}\n")
    return bad


def write_csv(path: Path, rows: int, seed: int = 7) -> int:
    """A legacy export; answers how many rows the mapping will reject (bad dates)."""
    pick = random.Random(seed)
    start = datetime(2015, 1, 1)
    bad = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("CustomerID,Email,Lang,OptInDate,OffersEmail,OffersSMS,OffersPush,InspiEmail,InspiPost,"
                  "LoyaltyEmail,OffersFreq,Tags\n")
        for n in range(rows):
            if pick.random() < 0.005:
                day, bad = "31/02/2019", bad + 1
            else:
                day = (start + timedelta(days=pick.randrange(3000))).strftime("%d/%m/%Y")
            flags = [pick.choice("YYYNN ").strip() for _ in range(6)]
            tags = ";".join(pick.sample(TAGS, pick.randrange(3)))
            lang = pick.choice(("FR", "FR", "FR", "EN"))
            out.write(f"CRM{n:08d},customer{n}@example.com,{lang},{day},{','.join(flags)},"
                      f"{pick.choice('WMR ').strip()},{tags}\n")
    return bad


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(db_url: str, port: int, workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "WIDGET_DATABASE": db_url, "WIDGET_CONFIG": str(ROOT / "examples" / "centers"),
           "WIDGET_SECRET_KEYS": "bench-secret-not-for-production", "WIDGET_LOOKUP_KEY": "bench-lookup",
           "WIDGET_CHAIN_KEYS": "",
           "WIDGET_DELIVER_WEBHOOKS": "false", "WIDGET_API_RATE_LIMIT": "1000000",
           "WIDGET_MAIL_DIR": str(workdir / "mail"), "WIDGET_PORT": str(port),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "sdk")])}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "widget_server.app:app_from_env", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log",
         "--workers", os.environ.get("BENCH_WORKERS", "1")],
        env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server died:\n" + server.stdout.read().decode(errors="replace"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start in 30 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def check_outcome(store: Store, expected: int) -> dict:
    """Every accepted row imported with one event; 1,000 random chains intact."""
    with store.engine.connect() as connection:
        subs = connection.scalar(select(func.count()).select_from(subscribers))
        evs = connection.scalar(select(func.count()).select_from(events).where(events.c.source == "import"))
        sample = [r[0] for r in connection.execute(select(subscribers.c.id).order_by(func.random()).limit(1000))]
    # Keyed and anchored as the server writes them (its chain key derives from WIDGET_LOOKUP_KEY, as this store's).
    broken = sum(not store.verify_chain(sid).intact for sid in sample)
    return {"subscribers": subs, "events": evs, "chains_checked": len(sample), "chains_broken": broken,
            "ok": subs == expected and evs <= subs and broken == 0}


def baseline(template_db: Path, path: Path, rows: int, batch: int) -> float:
    """Seconds for plain sqlite3 to write ``rows`` subscribers and ``rows`` events (see the module docstring)."""
    from widget_server.store.imports import batch_ids

    shutil.copy(template_db, path)
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        connection.execute(f"PRAGMA {pragma}")
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    changes = json.dumps([{"path": "offers.email", "from": "unknown", "to": "opted_in"}])
    evidence = json.dumps({"legacy_source": "old-esp", "legacy_date": "2019-04-02"})
    started = time.perf_counter()
    for first in range(0, rows, batch):
        ids = batch_ids(min(batch, rows - first))
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO subscribers (id, center, version, locale, suppressed, created_at, updated_at, external_id) "
            "VALUES (?, ?, 1, 'fr', 0, ?, ?, ?)",
            [(sid, CENTER, now, now, f"CRM{first + i:08d}") for i, sid in enumerate(ids)])
        connection.executemany(
            "INSERT INTO events (subscriber_id, center, version, occurred_at, source, actor, changes, locale, "
            "evidence, hash) VALUES (?, ?, 1, ?, 'import', 'api_key:bench', ?, 'fr', ?, ?)",
            [(sid, CENTER, now, changes, evidence, "0" * 64) for sid in ids])
        connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


TABLE_ROWS = {  # the other tables an import fills, and a row of each for subscriber ``sid``
    "subscriptions": ("INSERT INTO subscriptions (subscriber_id, topic, channel, state, legal_basis, since, event_id) "
                      "VALUES (?, 'offers', ?, 'opted_in', 'consent', '2019-04-02 00:00:00.000000', ?)"),
    "topic_settings": "INSERT INTO topic_settings (subscriber_id, topic, frequency) VALUES (?, 'offers', 'weekly')",
    "subscriber_interests": "INSERT INTO subscriber_interests (subscriber_id, interest) VALUES (?, ?)",
    "contact_points": "INSERT INTO contact_points (subscriber_id, kind, lookup_hash, value) VALUES (?, 'email', ?, ?)",
}


def table_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {name: connection.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar()
                for name in ("subscribers", "events", *TABLE_ROWS)}


def floor(template_db: Path, path: Path, counts: dict[str, int], batch: int) -> float:
    """Seconds for plain sqlite3 to write as many rows in every table as the import wrote (same batches)."""
    from widget_server.store.imports import batch_ids

    shutil.copy(template_db, path)
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        connection.execute(f"PRAGMA {pragma}")
    now = "2026-11-23 12:00:00.000000"
    subscribers_ = counts["subscribers"]
    per = {name: counts[name] / subscribers_ for name in TABLE_ROWS}
    channels = ("email", "sms", "push", "post", "phone", "whatsapp", "in_app")
    interests = ("home-decor", "lighting", "tableware", "linen", "womenswear", "menswear", "kids", "garden")
    started, event_id = time.perf_counter(), 0
    for first in range(0, subscribers_, batch):
        ids = batch_ids(min(batch, subscribers_ - first))
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO subscribers (id, center, version, locale, suppressed, created_at, updated_at, external_id) "
            "VALUES (?, ?, 1, 'fr', 0, ?, ?, ?)", [(sid, CENTER, now, now, f"CRM{first + i:08d}")
                                                    for i, sid in enumerate(ids)])
        connection.executemany(
            "INSERT INTO events (subscriber_id, center, version, occurred_at, source, actor, changes, locale, "
            "evidence, hash) VALUES (?, ?, 1, ?, 'import', 'api_key:bench', ?, 'fr', ?, ?)",
            [(sid, CENTER, now, '[{"path":"offers.email","from":"unknown","to":"opted_in"}]',
              '{"legacy_source":"old-esp","legacy_date":"2019-04-02"}', os.urandom(32).hex()) for sid in ids])
        spread = [(sid, event_id + i + 1) for i, sid in enumerate(ids)]
        event_id += len(ids)
        connection.executemany(TABLE_ROWS["subscriptions"], [
            (sid, channels[k], e) for sid, e in spread for k in range(int(per["subscriptions"] + random.random()))])
        connection.executemany(TABLE_ROWS["topic_settings"],
                               [(sid,) for sid, _ in spread if random.random() < per["topic_settings"]])
        connection.executemany(TABLE_ROWS["subscriber_interests"], [
            (sid, interests[k]) for sid, _ in spread
            for k in range(int(per["subscriber_interests"] + random.random()))])
        connection.executemany(TABLE_ROWS["contact_points"], [
            (sid, os.urandom(32).hex(), f"c{first + i}@example.com") for i, (sid, _) in enumerate(spread)
            if random.random() < per["contact_points"]])
        connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def profile_in_process(workdir: Path, csv_path: Path, mapping: dict, rows: int) -> str:
    """cProfile of the client's reading and of the server's work per batch, without HTTP."""

    from preference_sdk._calls import _dumps
    from preference_sdk._import_reader import _Reader

    from widget_server.centers import load_centers
    from widget_server.store.imports import import_rows
    from widget_server.web.routes.api.import_rows import read_batch

    center = load_centers(ROOT / "examples" / "centers")[CENTER]
    url = f"sqlite:///{workdir / 'profile.db'}"
    store = Store(make_engine(url), lookup_key=b"bench-lookup")
    store.migrate()
    report = io.StringIO()
    bodies = []
    client_side = cProfile.Profile()
    client_side.enable()
    for records, _, _ in _Reader(csv_path, mapping).batches(BATCH):
        bodies.append(b"".join(_dumps(r) + b"\n" for r in records))
    client_side.disable()
    server_side = cProfile.Profile()
    server_side.enable()
    for body in bodies:
        batch = read_batch(body, center, store.clock())
        with store.writing() as connection:
            import_rows(connection, center, batch.rows, patch=batch.patch, actor="api_key:bench",
                        lookup_key=b"bench-lookup", now=store.clock(), dry_run=False)
    server_side.disable()
    for name, profile in (("client: CSV -> records -> JSON lines", client_side),
                          ("server: JSON lines -> rows -> SQLite", server_side)):
        report.write(f"\n== {name} ({rows:,} rows)\n")
        pstats.Stats(profile, stream=report).sort_stats("tottime").print_stats(18)
    return report.getvalue()


def run(rows: int = 100_000, *, batch: int = BATCH, profile: bool = False, shape: str = "full") -> dict:
    """``shape``: ``full`` (six flags, a frequency, tags, a locale) or ``light`` (one flag)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    server = None
    try:
        csv_path, mapping_path = workdir / "legacy.csv", workdir / "legacy.toml"
        bad = (write_light_csv if shape == "light" else write_csv)(csv_path, rows)
        mapping_path.write_text(LIGHT_MAPPING if shape == "light" else MAPPING, encoding="utf-8")
        db = workdir / "widget.db"
        store = Store(make_engine(f"sqlite:///{db}"), lookup_key=b"bench-lookup")
        store.migrate()
        template = workdir / "template.db"
        with sqlite3.connect(db) as plain:
            plain.execute("VACUUM INTO ?", (str(template),))
        with store.engine.begin() as connection:
            key = api_keys.create(connection, CENTER, "bench", ["write"], datetime.now(timezone.utc))[1]
        port = free_port()
        server = start_server(f"sqlite:///{db}", port, workdir)
        server_cpu, client_cpu = cpu_seconds(server.pid), own_cpu()
        started = time.perf_counter()
        with Client(f"http://127.0.0.1:{port}", key, CENTER, timeout=300) as client:
            report = import_file(client, csv_path, load_mapping(mapping_path), dry_run=False, batch_size=batch)
        seconds = time.perf_counter() - started
        server_cpu, client_cpu = cpu_seconds(server.pid) - server_cpu, own_cpu() - client_cpu
        outcome = check_outcome(store, rows - bad)
        outcome["ok"] = outcome["ok"] and report.created == rows - bad and len(report.rejected) == bad
        raw = baseline(template, workdir / "baseline.db", rows, batch)
        counts = table_counts(store)
        all_rows = floor(template, workdir / "floor.db", counts, batch)
        result = {
            "rows": rows, "shape": shape, "batch": batch, "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds),
            "created": report.created, "rejected": len(report.rejected),
            "server_cpu_s": round(server_cpu, 2), "client_cpu_s": round(client_cpu, 2),
            "baseline_seconds": round(raw, 2), "baseline_rows_per_s": round(rows / raw),
            "ratio": round(raw / seconds, 3), "floor_seconds": round(all_rows, 2),
            "floor_ratio": round(all_rows / seconds, 3), "table_rows": counts,
            "load_average": os.getloadavg()[0], **outcome,
        }
        if profile:
            result["profile"] = profile_in_process(workdir, csv_path, load_mapping(mapping_path), rows)
        return result
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--profile", action="store_true", help="also cProfile both sides in process")
    parser.add_argument("--shape", choices=("full", "light"), default="full",
                        help="full: six flags, a frequency, tags (default); light: an address and one flag")
    args = parser.parse_args(argv)
    result = run(args.rows, batch=args.batch, profile=args.profile, shape=args.shape)
    profile = result.pop("profile", None)
    print(f"import   {result['rows']:>9,} rows in {result['seconds']:7.2f} s  {result['rows_per_s']:>8,} rows/s"
          f"  (server CPU {result['server_cpu_s']} s, client CPU {result['client_cpu_s']} s)")
    print(f"baseline {result['rows']:>9,} rows in {result['baseline_seconds']:7.2f} s  "
          f"{result['baseline_rows_per_s']:>8,} rows/s  (raw sqlite3: subscribers + events only)")
    print(f"floor    {result['rows']:>9,} rows in {result['floor_seconds']:7.2f} s  "
          f"{round(result['rows'] / result['floor_seconds']):>8,} rows/s  (raw sqlite3: as many rows in every table)")
    print(f"ratio    {result['ratio']:.2f} of the baseline's throughput, {result['floor_ratio']:.2f} of the floor's; "
          f"load average {result['load_average']:.2f}")
    print(json.dumps(result))
    if profile:
        print(profile)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
