"""``preference-sdk import`` and ``sync`` as processes against a real server: their progress, their exit codes.

A person at a terminal sees a bar (done of the total, the rate, the time left); a cron job
or a pipe sees nothing but the summary. A dry run that rejected rows exits 3 unless
``--allow-rejected``, so a script cannot take a half-readable file for a good one.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.integration.test_sync_live import CENTER, environment
from widget_server.preferences import Preferences

CLI = [sys.executable, "-m", "preference_sdk._cli"]
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MAPPING = ('date_formats = ["%d/%m/%Y"]\n[columns]\nexternal_id = "Id"\n"offers.email" = "News"\n'
           'legacy_date = "Since"\n[values]\nstates = {Y = "opted_in", N = "opted_out"}\n')


def files(tmp_path: Path, rows: list[str]) -> list[str]:
    (tmp_path / "legacy.csv").write_text("Id,News,Since\n" + "".join(f"{row}\n" for row in rows))
    (tmp_path / "legacy.toml").write_text(MAPPING)
    return [str(tmp_path / "legacy.csv"), "--mapping", str(tmp_path / "legacy.toml")]


GOOD = [f"C{n},{'Y' if n % 2 else 'N'},02/04/2019" for n in range(1, 13)]
ONE_BAD = [*GOOD[:3], "C99,maybe,02/04/2019", *GOOD[3:6]]


def run(live_server, key: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *arguments, "--url", live_server.url, "--center", CENTER],
                          capture_output=True, text=True, env=environment(key), timeout=60)


def on_a_terminal(live_server, key: str, *arguments: str) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (100 columns), as in an interactive shell: (exit, stdout, what it drew)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen([*CLI, *arguments, "--url", live_server.url, "--center", CENTER],
                               stdout=subprocess.PIPE, stderr=terminal, text=True, env=environment(key))
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the other end closed (EIO on Linux)
            break
        if not chunk:
            break
        drawn += chunk
    os.close(controller)
    output, _ = process.communicate(timeout=60)
    return process.returncode, output, ESCAPES.sub("", drawn.decode("utf-8", "replace")).replace("\r", "\n")


def test_a_dry_run_with_a_rejected_row_exits_3_and_lists_it(live_server, make_key, store, tmp_path) -> None:
    key = make_key(CENTER, "write")
    trial = run(live_server, key, "import", *files(tmp_path, ONE_BAD))
    assert trial.returncode == 3, trial.stderr
    report = json.loads(trial.stdout)  # the whole report still comes, on stdout
    assert report["dry_run"] and report["created"] == 6
    assert [r["row"] for r in report["rejected"]] == [5]
    assert "1 row rejected" in trial.stderr and "--allow-rejected" in trial.stderr
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM subscribers").scalar() == 0


def test_allow_rejected_exits_0_and_a_commit_writes_the_others(live_server, make_key, store, tmp_path) -> None:
    key = make_key(CENTER, "write")
    arguments = files(tmp_path, ONE_BAD)
    assert run(live_server, key, "import", *arguments, "--allow-rejected").returncode == 0
    committed = run(live_server, key, "import", *arguments, "--commit")
    assert committed.returncode == 3 and json.loads(committed.stdout)["created"] == 6  # written, yet told
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM subscribers").scalar() == 6


def test_a_clean_file_exits_0(live_server, make_key, tmp_path) -> None:
    trial = run(live_server, make_key(CENTER, "write"), "import", *files(tmp_path, GOOD))
    assert trial.returncode == 0, trial.stderr
    assert "rejected" not in trial.stderr


def test_not_on_a_terminal_the_import_shows_no_progress(live_server, make_key, tmp_path) -> None:
    trial = run(live_server, make_key(CENTER, "write"), "import", *files(tmp_path, GOOD), "--batch-size", "4")
    assert trial.returncode == 0
    assert trial.stderr == "dry run: nothing was written; run again with --commit to import\n"


def test_on_a_terminal_the_import_shows_the_total_the_rate_and_the_time_left(live_server, make_key,
                                                                             tmp_path) -> None:
    code, output, drawn = on_a_terminal(live_server, make_key(CENTER, "write"), "import", *files(tmp_path, GOOD),
                                        "--batch-size", "4")
    assert code == 0, drawn
    assert json.loads(output)["rows"] == 12  # stdout stays the report alone
    assert "12 of 12 rows" in drawn, drawn  # rich draws 4 times a second: the steps between may not show
    assert re.search(r"\d:\d\d:\d\d left", drawn), drawn


def test_no_progress_keeps_a_terminal_quiet(live_server, make_key, tmp_path) -> None:
    code, _, drawn = on_a_terminal(live_server, make_key(CENTER, "write"), "import", *files(tmp_path, GOOD),
                                   "--no-progress")
    assert code == 0 and " rows" not in drawn


def test_on_a_terminal_the_sync_counts_toward_the_events_to_come(live_server, make_key, tmp_path) -> None:
    key = make_key(CENTER, "write", "read")
    assert run(live_server, key, "import", *files(tmp_path, GOOD), "--commit").returncode == 0
    sink = f"jsonl:{tmp_path / 'feed.jsonl'}"
    cursor = str(tmp_path / "cursor")
    code, _, drawn = on_a_terminal(live_server, key, "sync", "--sink", sink, "--cursor", cursor, "--batch", "5")
    assert code == 0, drawn
    assert "12 of 12 events" in drawn, drawn
    assert "synced 12 events in 3 pages" in drawn
    again = run(live_server, key, "sync", "--sink", sink, "--cursor", cursor)
    assert again.returncode == 0 and again.stderr.startswith("synced 0 events")  # no bar in a pipe


@pytest.fixture
def api(client, make_key):
    key = make_key(CENTER, "read")
    return lambda **params: client.get(f"/api/v1/centers/{CENTER}/events", params=params,
                                       headers={"Authorization": f"Bearer {key}"})


def test_the_feed_counts_what_remains_only_when_asked(api, store) -> None:
    chosen = Preferences(subscriptions={("offers", "email"): "opted_out"})
    for n in range(5):
        store.create_subscriber(CENTER, external_id=f"crm-{n}", preferences=chosen)
    # another center's event is not counted
    store.create_subscriber("voyago", preferences=Preferences(subscriptions={("deals", "email"): "opted_out"}))
    assert "remaining" not in api(limit=2).json()
    first = api(limit=2, remaining="true").json()
    assert len(first["events"]) == 2 and first["remaining"] == 3 and first["has_more"]
    last = api(after=first["next_cursor"], limit=10, remaining="true").json()
    assert len(last["events"]) == 3 and last["remaining"] == 0 and not last["has_more"]
    assert api(remaining="maybe").status_code == 400
