"""Does the kiosk answer a known customer as fast as an unknown one?

    python bench/kiosk_timing.py                  # loyalty numbers, 4 rounds of 30 (the recorded figures)
    python bench/kiosk_timing.py --kind email     # e-mail addresses

Whoever stands at a kiosk (or scripts one) must not learn who is a customer. The screen
after "send me a code" says the same for a known and an unknown contact; this measures
whether the time to answer says it too. It serves the real app (``create_app``, a fresh
SQLite file, the example centers, a provisioned device) on one uvicorn worker in this
process, with a real SMTP server (aiosmtpd) on 127.0.0.1, and times
``POST /c/maison-lumiere/kiosk/identify`` end to end from a keep-alive client in another
process, as whoever probes a kiosk is (a client in the server's process would share its
interpreter lock, and time the work the server does after answering as if it were the
answer's):

* ``known``     the contact of a subscriber (a loyalty number with an e-mail address on file);
* ``unknown``   a contact nobody has;
* ``unknown'``  another one nobody has: the noise floor (an A/A comparison).

For e-mail addresses a code is mailed in the request whoever the address belongs to; for
a loyalty number only a known one has somewhere to send it, after the answer. Groups are
interleaved in a random order per triple, with a pause after each; the code limits are
raised out of reach (this times the path that sends, not the 429); the warm-up's codes are
counted too. A round's difference
is the known median minus the unknown median; the noise is the unknown median minus the
unknown' median. The run is valid when every answer was the 200 code screen and the
known customer's codes arrived.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "bench"))

from fresh_link_timing import Inbox, _port, interleaved, table, timing_arguments  # noqa: E402

from widget_server.app import create_app  # noqa: E402
from widget_server.settings import Settings  # noqa: E402
from widget_server.store import contacts, devices  # noqa: E402
from widget_server.tokens import kiosk_url  # noqa: E402
from widget_server.web.dependencies import AppState  # noqa: E402

CENTER = "maison-lumiere"
CONTACTS = {
    "loyalty": {"known": "ML-1001", "unknown": "ML-9001", "unknown'": "ML-9002"},
    "email": {"known": "camille@example.org", "unknown": "nobody@example.org", "unknown'": "nobody.else@example.org"},
}


def _settings(folder: Path, port: int, smtp_port: int) -> Settings:
    return Settings(config=str(ROOT / "examples" / "centers"), database=f"sqlite:///{folder / 'widget.db'}",
                    port=port, secret_keys=("bench-secret-not-for-production",), mail_dir=str(folder / "mail"),
                    smtp_host="127.0.0.1", smtp_port=smtp_port, deliver_webhooks=False,
                    kiosk_codes_per_device=10**9, kiosk_codes_per_contact=10**9)


def run(kind: str = "loyalty", rounds: int = 4, n: int = 30, pause: float = 0.05, seed: int = 1) -> dict[str, Any]:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_port(), ready_timeout=30)
    smtp.start()
    with tempfile.TemporaryDirectory() as tmp:
        port = _port()
        app = create_app(_settings(Path(tmp), port, smtp.port))
        state = AppState.of(app)
        known = state.store.create_subscriber(CENTER, email=CONTACTS["email"]["known"])
        with state.store.writing() as connection:
            contacts.add(connection, state.store.lookup_key, CENTER, known, "loyalty", CONTACTS["loyalty"]["known"])
            tablet = devices.create(connection, CENTER, "Bench store", "Bench tablet", state.clock())
        token = kiosk_url("", state.signer, CENTER, tablet.id, tablet.location).split("t=", 1)[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False, lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        try:
            return _measure(f"http://127.0.0.1:{port}", token, kind, inbox, rounds, n, pause, seed)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            smtp.stop()


def _measure(url: str, token: str, kind: str, inbox: Inbox, rounds: int, n: int, pause: float,
             seed: int) -> dict[str, Any]:
    mails_before = inbox.count
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as client:
        timed = client.submit(_probe, url, token, kind, rounds, n, pause, seed).result()
    problems, results, pooled = timed["problems"], timed["rounds"], timed["pooled"]
    expected = rounds * n * (1 if kind == "loyalty" else 3) + timed["warm_up_mails"]
    deadline = time.monotonic() + 10
    while inbox.count - mails_before < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    if inbox.count - mails_before != expected:
        problems.append(f"{inbox.count - mails_before} codes mailed, {expected} expected")
    overall = {name: statistics.median(values) for name, values in pooled.items()}
    return {"kind": kind, "rounds": results, "median_ms": overall,
            "difference_ms": overall["known"] - overall["unknown"],
            "noise_ms": overall["unknown"] - overall["unknown'"],
            "known_slower_rounds": sum(r["difference_ms"] > 0 for r in results), "n": n, "pause_s": pause,
            "mails": inbox.count - mails_before, "valid": not problems, "problems": problems[:10],
            "python": sys.version.split()[0]}


def _probe(url: str, token: str, kind: str, rounds: int, n: int, pause: float, seed: int) -> dict[str, Any]:
    """The client's side, in its own process: every group's times, interleaved at random."""
    problems: list[str] = []
    groups, rng = CONTACTS[kind], random.Random(seed)
    with httpx.Client(base_url=url, headers={"Sec-Fetch-Site": "same-origin"}) as client:

        def once(value: str) -> float:
            started = time.perf_counter()
            answer = client.post(f"/c/{CENTER}/kiosk/identify",
                                 data={"t": token, "lang": "en", "kind": kind, kind: value, "proof": "code"})
            elapsed = time.perf_counter() - started
            if answer.status_code != 200 or "Type your code" not in answer.text:
                problems.append(f"{answer.status_code}")
            time.sleep(pause)
            return elapsed * 1000

        warm_up = 10
        for _ in range(warm_up):  # caches, pools, the templates
            for value in groups.values():
                once(value)
        results, pooled = interleaved(groups, once, rounds, n, rng)
    return {"problems": problems, "rounds": results, "pooled": pooled,
            "warm_up_mails": warm_up * (1 if kind == "loyalty" else 3)}


def report(result: dict[str, Any]) -> str:
    lines = table(result, f"kiosk timing ({result['kind']})", "contact")
    lines.append(f"codes mailed: {result['mails']}")
    lines.append("run: valid" if result["valid"] else "run: INVALID: " + "; ".join(result["problems"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=sorted(CONTACTS), default="loyalty")
    args = timing_arguments(parser, argv)
    result = run(args.kind, args.rounds, args.n, args.pause, args.seed)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
