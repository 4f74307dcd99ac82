"""Does "send me a new link" answer a known address as fast as an unknown one?

    python bench/fresh_link_timing.py                 # 4 rounds of 30 of each (the recorded figures)
    python bench/fresh_link_timing.py --rounds 2 --n 50

An attacker who can tell the two apart by timing learns which addresses are subscribers.
This serves the real app (``create_app``, a fresh SQLite file, the example centers) on one
uvicorn worker in this process, with a real SMTP server (aiosmtpd) on 127.0.0.1 for its
mail, and times ``POST /c/maison-lumiere/link`` from a keep-alive client, end to end:

* ``known``     the address of a subscriber (a mail is sent);
* ``unknown``   an address nobody has;
* ``unknown'``  another address nobody has: the noise floor (an A/A comparison), since
  the two unknown groups can differ only by chance.

Each round times ``--n`` requests of each group, interleaved in a random order per
triple, with a pause after each (``--pause``, so the previous request's mail is out of the
way, as it would be for an attacker probing one address at a time). Every request comes
from its own client address (``X-Forwarded-For``, which uvicorn trusts from 127.0.0.1), and
the limits are raised out of reach when the code has them: this times the path that queues
a mail, not the 429. A round's difference is the known median minus the unknown median; the
noise is the unknown median minus the unknown' median. The run is valid when every answer was
a 200 "Check your inbox" page and the known address got mail.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import uvicorn
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from widget_server.app import create_app  # noqa: E402
from widget_server.settings import Settings  # noqa: E402

CENTER = "maison-lumiere"
KNOWN, UNKNOWN, UNKNOWN_2 = "camille@example.org", "nobody@example.org", "nobody.else@example.org"
GROUPS = {"known": KNOWN, "unknown": UNKNOWN, "unknown'": UNKNOWN_2}


class Inbox:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        self.count += 1
        return "250 OK"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settings(folder: Path, port: int, smtp_port: int) -> Settings:
    options: dict[str, Any] = {
        "config": str(ROOT / "examples" / "centers"), "database": f"sqlite:///{folder / 'widget.db'}",
        "port": port, "secret_keys": ("bench-secret-not-for-production",), "mail_dir": str(folder / "mail"),
        "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "deliver_webhooks": False,
    }
    names = {f.name for f in dataclasses.fields(Settings)}
    for limit in ("link_limit_per_address", "link_limit_per_client"):  # out of reach, when the code has them
        if limit in names:
            options[limit] = 10**9
    return Settings(**options)


def run(rounds: int = 4, n: int = 30, pause: float = 0.05, seed: int = 1) -> dict[str, Any]:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_port(), ready_timeout=30)
    smtp.start()
    with tempfile.TemporaryDirectory() as tmp:
        port = _port()
        app = create_app(_settings(Path(tmp), port, smtp.port))
        app.state.store.create_subscriber(CENTER, email=KNOWN)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False, lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        try:
            return _measure(f"http://127.0.0.1:{port}", inbox, rounds, n, pause, random.Random(seed))
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            smtp.stop()


def _measure(url: str, inbox: Inbox, rounds: int, n: int, pause: float, rng: random.Random) -> dict[str, Any]:
    problems: list[str] = []
    sequence = 0
    with httpx.Client(base_url=url, headers={"Sec-Fetch-Site": "same-origin"}) as client:

        def once(address: str) -> float:
            nonlocal sequence
            sequence += 1
            client_address = f"10.{sequence // 65536 % 256}.{sequence // 256 % 256}.{sequence % 256}"
            started = time.perf_counter()
            answer = client.post(f"/c/{CENTER}/link", data={"email": address, "lang": "en"},
                                 headers={"X-Forwarded-For": client_address})
            elapsed = time.perf_counter() - started
            if answer.status_code != 200 or "Check your inbox" not in answer.text:
                problems.append(f"{address}: {answer.status_code}")
            time.sleep(pause)
            return elapsed * 1000

        for _ in range(10):  # warm-up: caches, pools, the template
            for address in GROUPS.values():
                once(address)
        results, pooled = interleaved(GROUPS, once, rounds, n, rng)
    deadline = time.monotonic() + 10
    while inbox.count == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if inbox.count == 0:
        problems.append("the known address got no mail")
    overall = {name: statistics.median(values) for name, values in pooled.items()}
    return {"rounds": results, "median_ms": overall, "difference_ms": overall["known"] - overall["unknown"],
            "noise_ms": overall["unknown"] - overall["unknown'"],
            "known_slower_rounds": sum(r["difference_ms"] > 0 for r in results),
            "n": n, "pause_s": pause, "mails": inbox.count, "valid": not problems,
            "problems": problems[:10], "python": sys.version.split()[0]}


def interleaved(groups: dict[str, str], once: Callable[[str], float], rounds: int, n: int,
                rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """``rounds`` of ``n`` timings per group (known, unknown, unknown'), in a random order per
    triple: each round's medians, difference and A/A noise, and every timing by group."""
    results = []
    pooled: dict[str, list[float]] = {name: [] for name in groups}
    for _ in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in groups}
        for _ in range(n):
            order = list(groups.items())
            rng.shuffle(order)
            for name, value in order:
                times[name].append(once(value))
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, values in times.items():
            pooled[name] += values
        results.append({"median_ms": medians, "difference_ms": medians["known"] - medians["unknown"],
                        "noise_ms": medians["unknown"] - medians["unknown'"]})
    return results, pooled


def table(result: dict[str, Any], title: str, what: str) -> list[str]:
    """The rounds' medians, then all of them pooled, and how often the known one was slower."""
    names = ("known", "unknown", "unknown'")
    lines = [f"{title}: {len(result['rounds'])} rounds of {result['n']} per group, "
             f"pause {result['pause_s'] * 1000:.0f} ms, Python {result['python']}",
             "round    known  unknown  unknown'  known-unknown  noise (A/A)"]
    for i, r in enumerate(result["rounds"], 1):
        known, unknown, other = (r["median_ms"][name] for name in names)
        lines.append(f"{i:>5} {known:8.3f} {unknown:8.3f} {other:8.3f}  "
                     f"{r['difference_ms']:+14.3f} {r['noise_ms']:+12.3f}")
    known, unknown, other = (result["median_ms"][name] for name in names)
    lines.append(f"{'all':>5} {known:8.3f} {unknown:8.3f} {other:8.3f}  "
                 f"{result['difference_ms']:+14.3f} {result['noise_ms']:+12.3f}")
    lines.append(f"(milliseconds, medians; the known {what} was slower in {result['known_slower_rounds']} "
                 f"of {len(result['rounds'])} rounds)")
    return lines


def report(result: dict[str, Any]) -> str:
    lines = table(result, "fresh link timing", "address")
    lines.append(f"mails received: {result['mails']}")
    lines.append("run: valid" if result["valid"] else "run: INVALID: " + "; ".join(result["problems"]))
    return "\n".join(lines)


def timing_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """The options both timing scripts take (rounds, n, pause, seed, json), read and checked."""
    parser.add_argument("--rounds", type=int, default=4, help="rounds (default 4)")
    parser.add_argument("--n", type=int, default=30, help="requests per group per round (default 30)")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds after each request (default 0.05)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the interleaving order")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.n < 3:
        parser.error("--rounds must be at least 1 and --n at least 3")
    return args


def main(argv: list[str] | None = None) -> int:
    args = timing_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]), argv)
    result = run(args.rounds, args.n, args.pause, args.seed)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
