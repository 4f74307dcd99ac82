"""Minting footer links offline: the SDK's LinkMinter against the floor of any signed link.

    python bench/links.py                 # 100,000 of each, best of 3 (the recorded figures)
    python bench/links.py --n 20000       # quicker

A host system sending a campaign mints, per message, one ``manage`` link and one
``List-Unsubscribe``/``List-Unsubscribe-Post`` pair (the issue: 100,000 links, "well
under a second per 10,000"). Measured in this one process, one after the other, each
best of ``--repeat`` passes over the same ``--n`` subscriber ids:

* ``manage_url``         ``LinkMinter.manage_url(center, id)`` (token + URL)
* ``unsubscribe headers`` ``LinkMinter.list_unsubscribe_headers(center, id, mailto=...)``
* ``floor``               for each, one bare HMAC-SHA256 + URL-safe base64 over the very
                          payload bytes the token signs (built before the clock starts):
                          what any signed link costs at least
* ``itsdangerous path``   ``manage_url`` with the fast path off (``TokenSigner.mint``), on a
                          fifth of the ids: what the fast path saves

Every output of the timed passes is kept; one in 500 is checked afterwards (the token
reads back with ``TokenSigner.read`` for its scope and center, the headers have the
RFC 2369/8058 form). A failed check makes the run INVALID and the exit status 1.
``run()`` returns the figures as a dict, for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import platform
import re
import secrets
import statistics
import sys
import time
from importlib.metadata import version
from typing import Any, Callable

from preference_sdk import TokenSigner
from preference_sdk._links import LinkMinter, _payload_json

BASE_URL = "https://prefs.example.com"
CENTER = "maison-lumiere"
MAILTO = "unsubscribe@example.com"
SECRETS = ["bench-secret-new-" + "x" * 32, "bench-secret-old-" + "y" * 32]
TARGET_PER_10K = 1.0  # seconds: "well under a second per 10,000"
CHECK_EVERY = 500

_HEADER = re.compile(rf"<{re.escape(BASE_URL)}/c/{CENTER}/unsubscribe\?t=([A-Za-z0-9_.\-]+)>, "
                     rf"<mailto:{re.escape(MAILTO)}\?subject=unsubscribe>")


def run(n: int = 100_000, repeat: int = 3) -> dict[str, Any]:
    """Time each measure ``repeat`` times over ``n`` ids; seconds are per 10,000 links."""
    ids = ["sub_" + secrets.token_urlsafe(16) for _ in range(n)]  # as the store makes them
    minter = LinkMinter(BASE_URL, SECRETS)
    slow = LinkMinter(BASE_URL, SECRETS)
    slow._fast = None  # TokenSigner.mint for every token, as without the fast path
    manage_payloads = [_payload_json("manage", CENTER, i, {}).encode() for i in ids]
    header_payloads = [_payload_json("unsubscribe", CENTER, i, {"ch": "email"}).encode() for i in ids]
    floor_key = hashlib.sha256(SECRETS[0].encode()).digest()

    def floor(payloads: list[bytes]) -> Callable[[slice], list[bytes]]:
        return lambda part: [base64.urlsafe_b64encode(hmac.digest(floor_key, p, "sha256")) for p in payloads[part]]

    everything, fifth, warm = slice(None), slice(max(n // 5, 1)), slice(2000)
    measures: dict[str, tuple[Callable[[slice], list], slice]] = {
        "floor_manage": (floor(manage_payloads), everything),
        "manage_url": (lambda part: [minter.manage_url(CENTER, i) for i in ids[part]], everything),
        "floor_headers": (floor(header_payloads), everything),
        "unsubscribe_headers": (
            lambda part: [minter.list_unsubscribe_headers(CENTER, i, mailto=MAILTO) for i in ids[part]], everything
        ),
        "itsdangerous_manage_url": (lambda part: [slow.manage_url(CENTER, i) for i in ids[part]], fifth),
    }
    for make, _ in measures.values():  # warm-up: caches, allocator
        make(warm)
    times: dict[str, list[float]] = {name: [] for name in measures}
    problems: list[str] = []
    for _ in range(repeat):
        for name, (make, part) in measures.items():
            started = time.perf_counter()
            outputs = make(part)
            times[name].append((time.perf_counter() - started) * 10_000 / len(outputs))
            problems += _check(name, outputs, ids[part])
    best = {name: min(values) for name, values in times.items()}
    return {
        "n": n,
        "repeat": repeat,
        "fast_path": minter.fast,
        "per_10k_s": best,
        "per_10k_median_s": {name: statistics.median(values) for name, values in times.items()},
        "ratio_to_floor": {
            "manage_url": best["manage_url"] / best["floor_manage"],
            "unsubscribe_headers": best["unsubscribe_headers"] / best["floor_headers"],
        },
        "speedup_over_itsdangerous": best["itsdangerous_manage_url"] / best["manage_url"],
        "target_per_10k_s": TARGET_PER_10K,
        "target_met": max(best["manage_url"], best["unsubscribe_headers"]) < TARGET_PER_10K,
        "valid": not problems and minter.fast,
        "problems": problems[:10],
        "python": platform.python_version(),
        "itsdangerous": version("itsdangerous"),
    }


def _check(name: str, outputs: list, ids: list[str]) -> list[str]:
    """One output in CHECK_EVERY, read back as a server would."""
    if len(outputs) != len(ids):
        return [f"{name}: {len(outputs)} outputs"]
    if name.startswith("floor"):
        return []
    reader = TokenSigner(SECRETS)
    problems = []
    for index in range(0, len(outputs), CHECK_EVERY):
        output = outputs[index]
        try:
            if name == "unsubscribe_headers":
                match = _HEADER.fullmatch(output["List-Unsubscribe"])
                assert match and output["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", output
                claims = reader.read(match.group(1), "unsubscribe", center=CENTER)
            else:
                prefix = f"{BASE_URL}/c/{CENTER}/preferences?t="
                assert output.startswith(prefix), output
                claims = reader.read(output[len(prefix):], "manage", center=CENTER)
            assert claims.subscriber == ids[index], (claims.subscriber, ids[index])
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
            problems.append(f"{name}[{index}]: {type(exc).__name__}: {exc}")
    return problems


def report(result: dict[str, Any]) -> str:
    per, median = result["per_10k_s"], result["per_10k_median_s"]
    rows = [
        ("floor: HMAC-SHA256 + base64 (manage payloads)", "floor_manage", None),
        ("manage_url", "manage_url", result["ratio_to_floor"]["manage_url"]),
        ("floor: HMAC-SHA256 + base64 (unsubscribe payloads)", "floor_headers", None),
        ("List-Unsubscribe + -Post headers", "unsubscribe_headers", result["ratio_to_floor"]["unsubscribe_headers"]),
        ("manage_url, itsdangerous path (n/5)", "itsdangerous_manage_url", None),
    ]
    lines = [
        f"links: {result['n']:,} ids, best of {result['repeat']} (median), Python {result['python']}, "
        f"itsdangerous {result['itsdangerous']}, fast path {'on' if result['fast_path'] else 'OFF'}",
        f"{'':52} {'s / 10,000':>12} {'(median)':>10} {'us each':>8} {'x floor':>8}",
    ]
    for label, key, ratio in rows:
        lines.append(f"{label:52} {per[key]:12.4f} {median[key]:10.4f} {per[key] * 100:8.2f} "
                     f"{'' if ratio is None else f'{ratio:8.1f}'}")
    lines.append(f"fast path: {result['speedup_over_itsdangerous']:.1f}x the itsdangerous path")
    met = "met" if result["target_met"] else "NOT met"
    lines.append(f"target (< {result['target_per_10k_s']:.0f} s per 10,000): {met}")
    lines.append("run: valid" if result["valid"] else "run: INVALID: " + "; ".join(result["problems"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="links of each kind per pass (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is reported (default 3)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeat < 1:
        parser.error("--n and --repeat must be at least 1")
    result = run(args.n, args.repeat)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
