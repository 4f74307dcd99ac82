"""Render and save throughput of the widget against same-process baselines, with wrk.

    python bench/run.py               # 10 s per run, 32 connections (the recorded figures)
    python bench/run.py --quick       # smoke run: 2 s per run, smaller pools (< 40 s)
    python bench/run.py --duration 30 --connections 64
    python bench/run.py --only links        # or: widget, imports (default: all three)

Then the SDK's benchmarks, each against its own baseline in the same run:
``bench/links.py`` (100,000 footer links and List-Unsubscribe pairs vs a bare HMAC) and
``bench/imports.py`` (bulk import through the API vs raw sqlite3 inserts).

Starts ``bench/server.py`` (one uvicorn worker serving the real app and the baselines),
runs wrk against four endpoints, each after a warm-up:

* ``render``       GET  /c/<center>/preferences?t=<random token>  (the product)
* ``precomputed``  GET  /bench/precomputed   (same page's bytes, rendered once)
* ``save``         POST /c/<center>/preferences  (htmx save, a real new version each time)
* ``raw-commit``   POST /bench/raw-commit    (one sqlite3 INSERT + durable commit)

and prints requests/s, p50 and p99 for each and product/baseline throughput; the same
table goes to ``bench/out/latest.md``. A run with any non-2xx response, body check
failure or socket error is reported as INVALID and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"

TARGET_RATIO = 0.50  # product throughput >= 50 % of its baseline
TARGET_P99_MS = 25.0  # product p99 < 25 ms at 32 connections


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    ok: int
    bad: int
    bad_statuses: str
    socket_errors: int
    bytes_per_response: float
    cpu: dict[str, float]  # CPU used during the run, in % of one CPU: server, wrk, other

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def valid(self) -> bool:
        return self.bad == 0 and self.socket_errors == 0 and self.requests > 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    return wrk


def command_output(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


def environment() -> dict[str, str]:
    from importlib.metadata import version

    model = re.sub(r"^Model name:\s*", "", next(
        (line for line in command_output("lscpu").splitlines() if line.startswith("Model name")), "?"
    ))
    mem = next((line for line in command_output("free", "-h").splitlines() if line.startswith("Mem:")), "?")
    return {
        "nproc": command_output("nproc"),
        "cpu": model.strip(),
        "memory": " ".join(mem.split()[:2]).replace("Mem:", "total").strip(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "litestar": version("litestar"),
        "uvicorn": version("uvicorn"),
        "jinja2": version("jinja2"),
        "sqlalchemy": version("sqlalchemy"),
        "wrk": command_output("wrk", "--version").splitlines()[0].split(" [")[0].removeprefix("wrk ")
        if shutil.which("wrk") else "?",
    }


def code_state() -> str:
    """The commit measured, and any uncommitted change to the app (others edit it meanwhile)."""
    head = command_output("git", "-C", str(ROOT), "log", "-1", "--format=%h %ad %s", "--date=format:%Y-%m-%d %H:%M")
    dirty = [line[3:] for line in command_output("git", "-C", str(ROOT), "status", "--porcelain").splitlines()
             if not line[3:].startswith("bench/")]
    return f"commit {head}" + (f"; uncommitted changes in: {', '.join(dirty)}" if dirty else "; clean tree")


class Server:
    """bench/server.py in a subprocess; stopped by its own pid."""

    def __init__(self, pools: dict[str, int]) -> None:
        self.port = free_port()
        self.db = OUT / "widget.db"
        self.seed_file = OUT / "seed.json"
        self.seed_file.unlink(missing_ok=True)
        self.log = open(OUT / "server.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "server.py"), "--port", str(self.port), "--db", str(self.db),
             "--seed-file", str(self.seed_file),
             "--render-pool", str(pools["render"]), "--save-warm-pool", str(pools["save_warm"]),
             "--save-run-pool", str(pools["save_run"])],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited ({self.proc.returncode}); see {OUT / 'server.log'}")
            if self.seed_file.exists():
                try:
                    with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                        if response.status == 200:
                            return json.loads(self.seed_file.read_text())
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        sys.exit(f"server not ready after {timeout:.0f} s; see {OUT / 'server.log'}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def busy_ticks() -> int:
    """Clock ticks all CPUs spent busy (not idle, not waiting for I/O) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


def process_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(wrk: str, name: str, url: str, script: str, script_args: list[str], *, threads: int,
            connections: int, seconds: float, record: bool, server_pid: int) -> Result:
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "5s", "--latency",
           "-s", str(BENCH / script), url, "--", *script_args]
    hz = os.sysconf("SC_CLK_TCK")
    busy0, server0, wrk0, t0 = busy_ticks(), process_ticks(server_pid), children_seconds(), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - t0
    busy = (busy_ticks() - busy0) / hz
    server_cpu = (process_ticks(server_pid) - server0) / hz
    wrk_cpu = children_seconds() - wrk0
    cpu = {"server": 100 * server_cpu / elapsed, "wrk": 100 * wrk_cpu / elapsed,
           "other": 100 * max(busy - server_cpu - wrk_cpu, 0) / elapsed}
    time.sleep(0.5)  # let the server finish what was in flight when wrk stopped
    if record:
        (OUT / f"wrk-{name}.txt").write_text(" ".join(cmd[:-len(script_args) - 1]) + "\n\n" + proc.stdout + proc.stderr)
    match = re.search(r"^BENCH_JSON (.*)$", proc.stdout, re.M)
    if proc.returncode != 0 or not match:
        sys.exit(f"wrk failed for {name} ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(match.group(1))
    errors = data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"]
    return Result(
        name=name, requests=data["requests"], seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000, ok=data["ok"], bad=data["bad"],
        bad_statuses=data["bad_statuses"], socket_errors=errors,
        bytes_per_response=data["bytes"] / data["requests"] if data["requests"] else 0, cpu=cpu,
    )


def count_rows(db: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute(sql).fetchone()[0]


def markdown(results: dict[str, Result], args: argparse.Namespace, env: dict[str, str], seed: dict,
             checks: list[str], code: str) -> str:
    r = results
    render_ratio = r["render"].rps / r["precomputed"].rps
    save_ratio = r["save"].rps / r["raw-commit"].rps

    def row(res: Result, ratio: str) -> str:
        validity = "yes" if res.valid else (
            f"**NO** ({res.bad} bad {res.bad_statuses}, {res.socket_errors} socket errors)"
        )
        cpu = f"{res.cpu['server']:.0f} / {res.cpu['wrk']:.0f} / {res.cpu['other']:.0f}"
        return (f"| {res.name} | {res.rps:,.0f} | {res.p50_ms:.2f} | {res.p99_ms:.2f} | {ratio} | "
                f"{res.requests:,} | {res.bytes_per_response:,.0f} | {cpu} | {validity} |")

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**NOT met**"

    lines = [
        f"# Widget benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency, after a "
        f"{args.warmup:g} s warm-up per endpoint; one uvicorn worker (uvloop + httptools) serving "
        f"both product and baselines; SQLite WAL, synchronous=FULL.",
        "",
        "| run | requests/s | p50 ms | p99 ms | product/baseline | requests | bytes/resp "
        "| CPU % server / wrk / other | valid (all 2xx) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        row(r["render"], f"**{render_ratio:.1%}**"),
        row(r["precomputed"], "(baseline)"),
        row(r["save"], f"**{save_ratio:.1%}**"),
        row(r["raw-commit"], "(baseline)"),
        "",
        "Targets (product, at 32 connections):",
        "",
        f"- render ≥ 50 % of its baseline: {render_ratio:.1%}, {verdict(render_ratio >= TARGET_RATIO)}",
        f"- save ≥ 50 % of its baseline: {save_ratio:.1%}, {verdict(save_ratio >= TARGET_RATIO)}",
        f"- p99 < 25 ms: render {r['render'].p99_ms:.1f} ms, "
        f"{verdict(r['render'].p99_ms < TARGET_P99_MS)}; save {r['save'].p99_ms:.1f} ms, "
        f"{verdict(r['save'].p99_ms < TARGET_P99_MS)}",
    ]
    if args.connections != 32:
        lines.append(f"  (this run used {args.connections} connections, not 32: the p99 target does not apply as such)")
    lines += [
        "",
        "CPU is in % of one CPU over the measured run (100 % = one core busy): the server is "
        "one process, so about 100 % means it is CPU-bound; \"other\" is everything else on the "
        "machine and should be near 0.",
        "",
        "Checks:",
        "",
        *[f"- {c}" for c in checks],
        "",
        f"Code measured: {code}",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in env.items()),
        "",
        f"Seeded {seed['seeded']:,} subscribers in {seed['seeded_in_s']} s; "
        f"precomputed page {seed['page_bytes']:,} bytes.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Widget render/save benchmark against baselines (wrk).")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per endpoint (default 2)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 s runs, 1 s warm-ups, small pools")
    parser.add_argument("--only", choices=("all", "widget", "links", "imports"), default="all")
    args = parser.parse_args()
    status = widget_bench(args) if args.only in ("all", "widget") else 0
    sys.path.insert(0, str(BENCH))
    if args.only in ("all", "links"):
        import links

        print("\n== links (bench/links.py)", flush=True)
        status |= links.main([] if not args.quick else ["--n", "20000", "--repeat", "1"])
    if args.only in ("all", "imports"):
        import imports

        print("\n== imports (bench/imports.py)", flush=True)
        status |= imports.main([] if not args.quick else ["--rows", "20000"])
    sys.exit(status)


def widget_bench(args: argparse.Namespace) -> int:
    """The widget's render and save against their baselines; 0 when the run is valid."""
    if args.quick:
        args.duration, args.warmup = 2, 1
        pools = {"render": 500, "save_warm": 400, "save_run": 400}
    else:
        pools = {"render": 2000, "save_warm": 1000, "save_run": 2000}
    if args.connections < args.threads:
        sys.exit("--connections must be at least --threads")
    for pool in ("save_warm", "save_run"):  # see save.lua: a subscriber must not be in flight twice
        if pools[pool] // args.threads <= 4 * args.connections // args.threads:
            pools[pool] = 8 * args.connections

    wrk = find_wrk()
    OUT.mkdir(parents=True, exist_ok=True)
    env = environment()
    code = code_state()
    busy0 = busy_ticks()
    time.sleep(1)
    idle_busy = 100 * (busy_ticks() - busy0) / os.sysconf("SC_CLK_TCK")
    if idle_busy > 20:
        print(f"warning: before starting, other processes kept {idle_busy:.0f} % of a CPU busy "
              f"(of {env['nproc']}); figures will be noisy", flush=True)
    started = time.monotonic()
    print(f"starting server (seeding {sum(pools.values()):,} subscribers)...", flush=True)
    server = Server(pools)
    try:
        seed = server.wait_ready()
        print(f"  ready on {server.url} after {time.monotonic() - started:.1f} s "
              f"(seeding took {seed['seeded_in_s']} s)", flush=True)
        files = {}  # render.lua wants bare tokens, save.lua "token version" lines
        for pool, rows in seed["tokens"].items():
            files[pool] = OUT / f"tokens-{pool}.txt"
            lines = (f"{token}\n" if pool == "render" else f"{token} {version}\n" for token, version in rows)
            files[pool].write_text("".join(lines))

        widget_path = f"/c/{seed['center']}/preferences"
        marker = 'id="preferences"'
        run_tag = f"bench{int(time.time())}"

        def get_args(path: str) -> list[str]:
            return [path, str(files["render"]), marker, seed["accept_language"]]

        def post_args(path: str, pool: str, check: str, tag: str) -> list[str]:
            return [path, str(files[pool]), str(args.threads), check, seed["notice"], seed["lang"],
                    seed["form_a"], seed["form_b"], tag]

        cases = [
            # name, script, warm-up args, measured args
            ("precomputed", "render.lua", get_args("/bench/precomputed"), get_args("/bench/precomputed")),
            ("render", "render.lua", get_args(widget_path), get_args(widget_path)),
            ("raw-commit", "save.lua", post_args("/bench/raw-commit", "save_warm", "", run_tag + "w"),
             post_args("/bench/raw-commit", "save_run", "", run_tag + "r")),
            ("save", "save.lua", post_args(widget_path, "save_warm", seed["saved_marker"], run_tag + "w"),
             post_args(widget_path, "save_run", seed["saved_marker"], run_tag + "r")),
        ]
        results: dict[str, Result] = {}
        warm: dict[str, Result] = {}
        for name, script, warm_args, run_args in cases:
            common = {"threads": args.threads, "connections": args.connections, "server_pid": server.proc.pid}
            warm[name] = run_wrk(wrk, name + "-warmup", server.url, script, warm_args,
                                 seconds=args.warmup, record=False, **common)
            res = run_wrk(wrk, name, server.url, script, run_args, seconds=args.duration, record=True, **common)
            results[name] = res
            flag = "" if res.valid and warm[name].valid else "  INVALID"
            print(f"  {name:<12} {res.rps:>9,.0f} req/s   p50 {res.p50_ms:6.2f} ms   p99 {res.p99_ms:6.2f} ms   "
                  f"{res.bad} bad, {res.socket_errors} socket errors   CPU server {res.cpu['server']:.0f} % "
                  f"wrk {res.cpu['wrk']:.0f} % other {res.cpu['other']:.0f} %{flag}", flush=True)
        alive = server.alive()
    finally:
        server.stop()

    # Cross-check with the databases: every 2xx save wrote one event, every raw commit one
    # row. wrk stops with up to `connections` requests in flight, which the server still
    # completes but wrk never counts: so up to 2 x connections more (warm-up + run).
    checks = []
    slack = 2 * args.connections

    def tally(what: str, written: int, answered: int) -> bool:
        extra = written - answered
        ok = 0 <= extra <= slack
        checks.append(f"{what}: {written:,} written for {answered:,} 2xx answers counted by wrk "
                      f"(+{extra} answered after wrk stopped; at most {slack} allowed): "
                      f"{'consistent' if ok else 'INCONSISTENT'}")
        return ok

    seeded_events = seed["seeded"]  # each seeded subscriber got one event (its initial choices)
    events_ok = tally("save events", count_rows(server.db, "SELECT count(*) FROM events") - seeded_events,
                      warm["save"].ok + results["save"].ok)
    rows_ok = tally("raw-commit rows", count_rows(OUT / "raw-commit.db", "SELECT count(*) FROM rows"),
                    warm["raw-commit"].ok + results["raw-commit"].ok)
    bad_warm = [n for n, w in warm.items() if not w.valid]
    checks.append("warm-ups: " + ("all 2xx, no socket errors" if not bad_warm else "INVALID: " + ", ".join(bad_warm)))
    checks.append("server process: " + ("alive to the end" if alive else "DIED during the run"))
    others = max(r.cpu["other"] for r in results.values())
    checks.append(f"other processes: {idle_busy:.0f} % of a CPU busy in the second before the run, at most "
                  f"{others:.0f} % during a measured run (server, wrk and everything else share "
                  f"{env['nproc']} CPUs)" + ("" if others <= 20 else ": **noisy**, figures understated"))
    valid = all(r.valid for r in results.values()) and not bad_warm and events_ok and rows_ok and alive
    checks.append("run: " + ("**valid**" if valid else "**INVALID** (see above); do not use these figures"))

    report = markdown(results, args, env, seed, checks, code)
    (OUT / "latest.md").write_text(report)
    print()
    print(report)
    print(f"written to {OUT / 'latest.md'} (wrk outputs in {OUT}/wrk-*.txt); "
          f"total {time.monotonic() - started:.0f} s")
    return 0 if valid else 1


if __name__ == "__main__":
    main()
