"""``preference-sdk sync`` as a process against a real server: killed mid-way, resumed, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from widget_server.ledger import EventContext
from widget_server.preferences import Preferences

CENTER = "maison-lumiere"


def sync_command(server_url: str, key: str, sink: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "preference_sdk._cli", "sync", "--url", server_url, "--center", CENTER,
            "--sink", sink, "--batch", "5", *extra]


def environment(key: str) -> dict[str, str]:
    return {**os.environ, "PREFERENCE_API_KEY": key}


def cursor_of(db: Path) -> int:
    try:
        with sqlite3.connect(db) as connection:
            row = connection.execute("SELECT cursor FROM preference_sync_cursors").fetchone()
            return row[0] if row else 0
    except sqlite3.Error:
        return 0


def test_a_sync_killed_mid_way_resumes_with_nothing_lost(live_server, make_key, store, tmp_path) -> None:
    subscribers = [store.create_subscriber(CENTER, external_id=f"crm-{i}") for i in range(40)]
    for round_ in range(6):
        for sid in subscribers:
            current = store.get(CENTER, sid).preferences
            state = "opted_in" if (round_ + len(sid)) % 2 else "opted_out"
            store.save(CENTER, sid, Preferences(subscriptions={("offers", "email"): state,
                                                               ("offers", "sms"): "opted_in"},
                                                version=current.version),
                       base_version=current.version, context=EventContext(source="web", actor="subject"))
    total = sum(len(store.events(s)) for s in subscribers)
    key = make_key(CENTER, "read")
    db = tmp_path / "crm.db"
    sink = f"sql:sqlite:///{db}"

    first = subprocess.Popen(sync_command(live_server.url, key, sink, "--follow"), env=environment(key),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while cursor_of(db) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)  # no chance to clean up
    first.wait(timeout=10)
    stopped_at = cursor_of(db)
    last_id = max(e["id"] for s in subscribers for e in store.events(s))
    assert 0 < stopped_at < last_id, "the kill should land mid-way"

    resumed = subprocess.run(sync_command(live_server.url, key, sink), env=environment(key),
                             capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert cursor_of(db) == last_id

    with sqlite3.connect(db) as connection:
        rows = {r[0]: r[1:] for r in connection.execute(
            "SELECT subscriber_id, offers__email, offers__sms, version FROM crm_contacts")}
    assert len(rows) == len(subscribers)
    for sid in subscribers:
        prefs = store.get(CENTER, sid).preferences
        assert rows[sid] == (prefs.state("offers", "email"), prefs.state("offers", "sms"), prefs.version)
    assert total == 6 * len(subscribers)  # each round changed every subscriber: one event each

    # A replay from the start is harmless: same rows.
    replay = subprocess.run(sync_command(live_server.url, key, "jsonl:" + str(tmp_path / "feed.jsonl"),
                                         "--cursor", str(tmp_path / "cursor")), env=environment(key),
                            capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stderr
    lines = (tmp_path / "feed.jsonl").read_text().splitlines()
    again = subprocess.run(sync_command(live_server.url, key, "jsonl:" + str(tmp_path / "feed.jsonl"),
                                        "--cursor", str(tmp_path / "cursor")), env=environment(key),
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and (tmp_path / "feed.jsonl").read_text().splitlines() == lines


def test_the_command_line_says_what_is_missing(live_server) -> None:
    run = subprocess.run([sys.executable, "-m", "preference_sdk._cli", "sync", "--sink", "jsonl:x.jsonl",
                          "--cursor", "c"],
                         capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                              if not k.startswith("PREFERENCE_")})
    assert run.returncode == 1 and "PREFERENCE_URL" in run.stderr and "Traceback" not in run.stderr
    bad_key = subprocess.run(sync_command(live_server.url, "pck_x_y", "jsonl:x.jsonl", "--cursor", "c"),
                             capture_output=True, text=True, env=environment("pck_x_y"))
    assert bad_key.returncode == 1 and "401" in bad_key.stderr and "pck_x_y" not in bad_key.stderr


def test_mint_link_offline_and_export(live_server, make_key, settings, store, clock) -> None:
    sid = store.create_subscriber(CENTER, email="lou@example.org")
    env = {**os.environ, "PREFERENCE_SECRET_KEYS": ",".join(settings.secret_keys)}
    minted = subprocess.run([sys.executable, "-m", "preference_sdk._cli", "mint-link", "--url", live_server.url,
                             "--center", CENTER, "--subscriber", sid, "--headers", "--topic", "offers"],
                            capture_output=True, text=True, env=env)
    assert minted.returncode == 0, minted.stderr
    assert minted.stdout.startswith("List-Unsubscribe: <http://127.0.0.1")
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in minted.stdout
    key = make_key(CENTER, "admin")
    exported = subprocess.run([sys.executable, "-m", "preference_sdk._cli", "export", sid, "--url", live_server.url,
                               "--center", CENTER], capture_output=True, text=True, env=environment(key))
    assert exported.returncode == 0 and "lou@example.org" in exported.stdout
    assert httpx.get(f"{live_server.url}/healthz").status_code == 200


def test_import_from_the_command_line_dry_run_then_commit(live_server, make_key, store, tmp_path) -> None:
    (tmp_path / "legacy.csv").write_text(
        "CustomerID,Email,NewsletterOptIn,OptInDate\n"
        "C1,ana@example.org,Y,02/04/2019\n"
        "C2,bo@example.org,N,03/04/2019\n"
        ",nobody@example.org,Y,03/04/2019\n"
    )
    (tmp_path / "legacy.toml").write_text(
        'legacy_source = "old-esp"\ndate_formats = ["%d/%m/%Y"]\n\n[columns]\nexternal_id = "CustomerID"\n'
        'email = "Email"\nlegacy_date = "OptInDate"\n"offers.email" = "NewsletterOptIn"\n\n'
        '[values]\nstates = {Y = "opted_in", N = "opted_out"}\n'
    )
    base = [sys.executable, "-m", "preference_sdk._cli", "import", str(tmp_path / "legacy.csv"),
            "--mapping", str(tmp_path / "legacy.toml"), "--url", live_server.url, "--center", CENTER]
    env = environment(make_key(CENTER, "write"))
    trial = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    assert trial.returncode == 0, trial.stderr
    assert '"created": 2' in trial.stdout and '"dry_run": true' in trial.stdout and "--commit" in trial.stderr
    assert len(json.loads(trial.stdout)["rejected"]) == 1
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM subscribers").scalar() == 0
    done = subprocess.run([*base, "--commit"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    [event] = store.events(json.loads(httpx.get(
        f"{live_server.url}/api/v1/centers/{CENTER}/subscribers", params={"external_id": "C1"},
        headers={"Authorization": f"Bearer {env['PREFERENCE_API_KEY']}"}).text)["subscribers"][0]["subscriber_id"])
    assert event["source"] == "import" and event["evidence"]["legacy_source"] == "old-esp"
