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
import pytest
from preference_sdk import TokenSigner
from preference_sdk._links import LinkMinter

from widget_server.ledger import EventContext
from widget_server.preferences import Preferences

CENTER = "maison-lumiere"
#: The installed command, as a user runs it (the module when the script is not installed next to Python).
_SCRIPT = Path(sys.executable).parent / "preference-sdk"
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "preference_sdk._cli"]


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


def change_everyone(store, center: str, subscribers: list[str], topic: str) -> None:
    for sid in subscribers:
        current = store.get(center, sid).preferences
        store.save(center, sid, Preferences(subscriptions={(topic, "email"): "opted_in"}, version=current.version),
                   base_version=current.version, context=EventContext(source="web", actor="subject"))


def test_two_centers_sync_into_one_table_each_with_its_own_cursor(live_server, make_key, store, tmp_path) -> None:
    """Event ids are shared by every center: with one cursor, voyago after maison-lumiere synced nothing."""
    voyago = [store.create_subscriber("voyago", external_id=f"vo-{i}") for i in range(4)]
    change_everyone(store, "voyago", voyago, "deals")  # voyago's events come first: ids below the others'
    lumiere = [store.create_subscriber(CENTER, external_id=f"ml-{i}") for i in range(3)]
    change_everyone(store, CENTER, lumiere, "offers")
    db = tmp_path / "crm.db"
    for center in (CENTER, "voyago"):
        key = make_key(center, "read")
        run = subprocess.run([*COMMAND, "sync", "--url", live_server.url, "--center", center,
                              "--sink", f"sql:sqlite:///{db}"], env=environment(key),
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
    with sqlite3.connect(db) as connection:
        rows = dict(connection.execute("SELECT subscriber_id, center FROM crm_contacts").fetchall())
        cursors = dict(connection.execute("SELECT name, center FROM preference_sync_cursors").fetchall())
    assert rows == {**dict.fromkeys(lumiere, CENTER), **dict.fromkeys(voyago, "voyago")}
    assert cursors == {f"crm_contacts@{CENTER}": CENTER, "crm_contacts@voyago": "voyago"}


def test_the_command_line_says_what_is_missing(live_server) -> None:
    run = subprocess.run([*COMMAND, "sync", "--sink", "jsonl:x.jsonl", "--cursor", "c"],
                         capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                              if not k.startswith("PREFERENCE_")})
    assert run.returncode == 2 and "PREFERENCE_URL" in run.stderr and "Traceback" not in run.stderr
    bad_key = subprocess.run(sync_command(live_server.url, "pck_x_y", "jsonl:x.jsonl", "--cursor", "c"),
                             capture_output=True, text=True, env=environment("pck_x_y"))
    assert bad_key.returncode == 1 and "401" in bad_key.stderr and "pck_x_y" not in bad_key.stderr


def test_mint_link_offline_and_export(live_server, make_key, settings, store) -> None:
    sid = store.create_subscriber(CENTER, email="lou@example.org")
    env = {**os.environ, "PREFERENCE_SECRET_KEYS": ",".join(settings.secret_keys)}
    minted = subprocess.run([*COMMAND, "mint-link", "--url", live_server.url, "--center", CENTER,
                             "--subscriber", sid, "--headers", "--topic", "offers", "--locale", "en"],
                            capture_output=True, text=True, env=env)
    assert minted.returncode == 0, minted.stderr
    assert minted.stdout.startswith("List-Unsubscribe: <http://127.0.0.1")
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in minted.stdout
    token = minted.stdout.split("?t=", 1)[1].split(">", 1)[0]
    # Read on the wall clock, as the command minted it: on the test's clock, frozen before the
    # command started, a link signed a second later is "from the future" and refused.
    claims = TokenSigner(settings.secret_keys).read(token, "unsubscribe")
    assert (claims.topic, claims.locale) == ("offers", "en")  # --locale reaches the headers' link too
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
    assert trial.returncode == 3, trial.stderr  # a row rejected (tests/integration/test_sdk_cli_progress.py)
    assert '"created": 2' in trial.stdout and '"dry_run": true' in trial.stdout and "--commit" in trial.stderr
    assert len(json.loads(trial.stdout)["rejected"]) == 1
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM subscribers").scalar() == 0
    done = subprocess.run([*base, "--commit", "--allow-rejected"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    [event] = store.events(json.loads(httpx.get(
        f"{live_server.url}/api/v1/centers/{CENTER}/subscribers", params={"external_id": "C1"},
        headers={"Authorization": f"Bearer {env['PREFERENCE_API_KEY']}"}).text)["subscribers"][0]["subscriber_id"])
    assert event["source"] == "import" and event["evidence"]["legacy_source"] == "old-esp"


def test_a_link_minted_with_one_plain_string_secret_opens_the_widget(live_server, settings, store, clock) -> None:
    """``LinkMinter(url, "secret")`` once signed with the string's first character: every link refused."""
    sid = store.create_subscriber(CENTER)
    newest = settings.secret_keys[0]
    minter = LinkMinter(live_server.url, newest, clock=lambda: clock().timestamp())
    assert httpx.get(minter.manage_url(CENTER, sid, locale="en")).status_code == 200
    older = LinkMinter(live_server.url, settings.secret_keys[-1], clock=lambda: clock().timestamp())
    assert httpx.get(older.manage_url(CENTER, sid)).status_code == 200  # rotation: the old secret still opens
    assert httpx.get(LinkMinter(live_server.url, newest[0], clock=lambda: clock().timestamp())
                     .manage_url(CENTER, sid)).status_code == 403


MAPPING = '[columns]\nexternal_id = "Id"\n"offers.email" = "News"\n[values]\nstates = {Y = "opted_in"}\n'
GOOD_CSV = "Id,News\nC1,Y\n"


def _files(tmp_path: Path, csv: str | bytes = GOOD_CSV, mapping: str = MAPPING) -> list[str]:
    data, rules = tmp_path / "legacy.csv", tmp_path / "legacy.toml"
    data.write_bytes(csv if isinstance(csv, bytes) else csv.encode())
    rules.write_text(mapping)
    return ["import", str(data), "--mapping", str(rules)]


#: Each: the arguments (from tmp_path), the exit code, what stderr must say.
CLI_FAILURES = {
    "delimiter": (lambda t: _files(t, mapping='delimiter = ";;"\n' + MAPPING), 1, "delimiter must be one character"),
    "encoding": (lambda t: _files(t, mapping='encoding = "latin-9x"\n' + MAPPING), 1,
                 "encoding: 'latin-9x' is not a text encoding"),
    "timezone": (lambda t: _files(t, mapping="timezone = 5\n" + MAPPING), 1, "timezone must be a time zone name"),
    "column": (lambda t: _files(t, mapping="[columns]\nexternal_id = 7\n"), 1,
               "columns.external_id must be the name of a column"),
    "huge cell": (lambda t: _files(t, csv='Id,News\nC1,Y\nC2,"open\n' + "x" * 1_100_000 + "\n"), 1,
                  "legacy.csv: row 3 cannot be read as CSV"),
    "not utf-8": (lambda t: _files(t, csv="Id,News,Nom\nC1,Y,Andr\xe9\n".encode("latin-1")), 1,
                  'legacy.csv: line 2 is not utf-8-sig text (byte 0xe9): say the file\'s encoding in the mapping, '
                  'e.g. encoding = "cp1252"'),
    "same column twice": (lambda t: _files(t, csv="Id,News,News\nC1,Y,N\n"), 1,
                          "legacy.csv has more than one column named News"),
    "sql url": (lambda t: ["sync", "--sink", "sql:nonsense"], 1, "not a SQLAlchemy database URL"),
    "sql file": (lambda t: ["sync", "--sink", "sql:sqlite:////nonexistent/dir/x.db"], 1,
                 "the database failed (OperationalError): unable to open database file"),
    "sql password": (lambda t: ["sync", "--sink", "sql:postgresql+psycopg://crm:s3cr%40t-pw@127.0.0.1:1/crm"], 1,
                     "the database failed (OperationalError)"),
    "sink kind": (lambda t: ["sync", "--sink", "parquet:x"], 2, "--sink must be jsonl:PATH, csv:PATH or sql:"),
    "cursor of another center": (lambda t: ["sync", "--sink", f"jsonl:{t / 'feed.jsonl'}", "--cursor",
                                            str(_cursor_of_voyago(t))], 1, "holds the feed cursor of center 'voyago'"),
}


def _cursor_of_voyago(tmp_path: Path) -> Path:
    (tmp_path / "cursor").write_text("1 voyago\n")
    return tmp_path / "cursor"


@pytest.mark.parametrize("case", sorted(CLI_FAILURES))
def test_every_failure_is_one_line_without_a_traceback_or_a_secret(live_server, make_key, tmp_path, case) -> None:
    arguments, code, says = CLI_FAILURES[case]
    key = make_key(CENTER, "write", "read")
    run = subprocess.run([*COMMAND, *arguments(tmp_path), "--url", live_server.url, "--center", CENTER],
                         env=environment(key), capture_output=True, text=True, timeout=60)
    assert run.returncode == code, run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("preference-sdk: "), run.stderr
    assert says in run.stderr
    assert "Traceback" not in run.stderr and key not in run.stderr and "s3cr" not in run.stderr


def test_a_cell_over_the_csv_modules_default_limit_is_imported(live_server, make_key, tmp_path) -> None:
    csv = "Id,News,Notes\nC1,Y," + "x" * 200_000 + "\nC2,Y,short\n"  # 200 KB: over the 128 KB default
    run = subprocess.run([*COMMAND, *_files(tmp_path, csv=csv), "--url", live_server.url, "--center", CENTER],
                         env=environment(make_key(CENTER, "write")), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["created"] == 2
