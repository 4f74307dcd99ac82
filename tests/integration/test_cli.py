"""The ``widget-server`` command as users run it: real processes, real ports."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import EXAMPLE_CENTERS, ROOT, free_port

FIXTURES = ROOT / "tests" / "fixtures" / "centers"
CLI = [sys.executable, "-m", "widget_server"]


def run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, cwd=cwd or ROOT)


def test_check_config_accepts_the_examples() -> None:
    result = run("check-config", str(EXAMPLE_CENTERS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_check_config_reports_each_problem_on_its_own_line() -> None:
    result = run("check-config", str(FIXTURES / "unknown-channel.toml"), str(FIXTURES / "many-problems.toml"))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) >= 3
    for line in lines:
        assert re.match(r"^[^:]+\.toml:[\w.\[\]-]+: .+", line), line
    assert any("unknown-channel.toml:topics[0].channels" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_check_config_on_a_missing_path_is_a_problem_not_a_crash() -> None:
    result = run("check-config", "/nonexistent/centers")
    assert result.returncode == 1 and "Traceback" not in result.stderr


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    # Generous: `serve` with two workers imports the app three times; on a loaded 2-CPU
    # machine that once took more than 30 s (10 s when idle).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become ready")


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def test_serve_reads_its_options_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "WIDGET_CONFIG": str(EXAMPLE_CENTERS),
        "WIDGET_DATABASE": f"sqlite:///{tmp_path / 'prod.db'}",
        "WIDGET_PORT": str(port),
        "WIDGET_SECRET_KEYS": "prod-secret",
        "WIDGET_WORKERS": "2",
    }
    process = subprocess.Popen([*CLI, "serve"], env={**os.environ, **env}, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        assert httpx.get(f"http://127.0.0.1:{port}/c/voyago/preferences?t=x").status_code == 403
    finally:
        output = stop(process)
    assert "prod-secret" not in output
    assert (tmp_path / "prod.db").exists()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"WIDGET_SECRET_KEYS": ""}, "WIDGET_SECRET_KEYS"),
        ({"WIDGET_CONFIG": str(FIXTURES / "unknown-channel.toml")}, "unknown-channel.toml:topics[0].channels"),
        ({"WIDGET_PORT": "eighty"}, "WIDGET_PORT"),
    ],
)
def test_serve_refuses_to_start_with_a_message_saying_what_to_fix(tmp_path: Path, env, message) -> None:
    base = {"WIDGET_CONFIG": str(EXAMPLE_CENTERS), "WIDGET_DATABASE": f"sqlite:///{tmp_path / 'x.db'}",
            "WIDGET_SECRET_KEYS": "s", "WIDGET_PORT": str(free_port())}
    result = run("serve", env={**base, **env}, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def free_port_pair() -> int:
    """A port whose next port is free too: the demo serves its host pages on port + 1."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


def start_demo(cwd: Path, port: int) -> tuple[subprocess.Popen, list[str]]:
    """``widget-server demo`` running, and the banner it printed (up to "Ctrl+C")."""
    process = subprocess.Popen([*CLI, "demo", "--port", str(port)], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_ready(f"http://127.0.0.1:{port}", process)
    banner = []
    while not banner or "Ctrl+C" not in banner[-1]:
        line = process.stdout.readline()
        if not line:
            break
        banner.append(line)
    return process, banner


def test_demo_prints_links_that_open_the_widget_and_a_host_page_that_frames_it(tmp_path: Path) -> None:
    port = free_port_pair()
    process, banner = start_demo(tmp_path, port)
    try:
        text = "".join(banner)
        widget_links = re.findall(r"widget \(a visitor's link\):\s+(\S+)", text)
        host_pages = re.findall(r"embedded in a host page:\s+(\S+)", text)
        assert len(widget_links) == 2 and len(host_pages) == 2, text
        for link in widget_links:
            assert httpx.get(link).status_code == 200
        for url in host_pages:
            assert url.startswith(f"http://127.0.0.1:{port + 1}/")  # another origin
            host_page = httpx.get(url)
            # The script-tag loader (it sizes the frame to the widget), not a fixed-height iframe.
            assert host_page.status_code == 200 and "<iframe" not in host_page.text
            loader = re.search(r"<script src='([^']+/embed\.js)' data-center='([^']+)' data-token='([^']+)'",
                               host_page.text)
            assert loader and loader.group(1) == f"http://127.0.0.1:{port}/embed.js", host_page.text
            assert httpx.get(loader.group(1)).status_code == 200
            framed = httpx.get(f"http://127.0.0.1:{port}/c/{loader.group(2)}/preferences",
                               params={"t": loader.group(3), "embed_origin": f"http://127.0.0.1:{port + 1}"})
            assert framed.status_code == 200
            assert f"http://127.0.0.1:{port + 1}" in framed.headers["content-security-policy"]  # may frame it
        footer = httpx.get(f"http://127.0.0.1:{port + 1}/examples/email-footer.html").text
        footer_links = [u.replace("&amp;", "&")
                        for u in re.findall(r'href="([^"]+/(?:unsubscribe|preferences)\?[^"]+)"', footer)]
        assert len(footer_links) == 4 and all(httpx.get(u).status_code == 200 for u in footer_links), footer_links
        # Maison Lumière's regions, each with a visitor of its own: the same widget, each law's rules.
        regional = dict(re.findall(r"a visitor in ([A-Z]{2}):\s+(\S+)", text))
        assert sorted(regional) == ["CA", "FR", "US"], text
        canadian = httpx.get(regional["CA"])
        assert canadian.status_code == 200 and 'id="region-notice"' in canadian.text
        assert "retirer votre consentement" in canadian.text  # CASL's notice, in French
        assert 'id="region-notice"' not in httpx.get(regional["US"]).text  # the US region asks for none
        keys = json.loads((tmp_path / "var" / "api-keys.json").read_text())
        feed = httpx.get(f"http://127.0.0.1:{port}/api/v1/centers/voyago/events",
                         headers={"Authorization": f"Bearer {keys['voyago']}"})
        assert feed.status_code == 200 and feed.json()["events"]  # the demo subscriber's first choices
    finally:
        stop(process)
    assert (tmp_path / "var" / "demo.db").exists() and (tmp_path / "var" / "secret.key").exists()
    tablets = kiosk_and_agent_links_of(text, tmp_path / "var" / "secret.key")
    pins = staff_pins_of(text)

    process, again = start_demo(tmp_path, port)  # a restart keeps its subscribers and secret
    stop(process)
    assert payloads_of_links(again) == payloads_of_links(banner)  # same centers, same subscribers
    new_tablets = kiosk_and_agent_links_of("".join(again), tmp_path / "var" / "secret.key")
    assert set(new_tablets.values()).isdisjoint(tablets.values())  # a new tablet, to show its new PIN
    assert len(staff_pins_of("".join(again))) == 2
    rows = run("device", "list", "--database", f"sqlite:///{tmp_path / 'var' / 'demo.db'}").stdout.splitlines()[1:]
    state = {row.split()[0]: row for row in rows}
    assert set(state) == {*tablets.values(), *new_tablets.values()}
    assert all("Demo store  Front desk tablet" in row for row in rows), rows
    assert all(not state[d].endswith("live") for d in tablets.values())  # the previous start's: revoked
    assert all(state[d].endswith("live") for d in new_tablets.values())
    with sqlite3.connect(tmp_path / "var" / "demo.db") as db:  # only the PINs' hashes are kept
        kept = repr(db.execute("select * from devices").fetchall())
    assert not any(pin in kept for pin in pins)
    assert json.loads((tmp_path / "var" / "api-keys.json").read_text()) == keys  # and the same API keys


@pytest.mark.parametrize("busy", [0, 1], ids=["widget port", "host-site port"])
def test_demo_on_a_busy_port_says_which_one_and_exits(tmp_path: Path, busy: int) -> None:
    port = free_port_pair()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port + busy))
        squatter.listen()
        result = run("demo", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert f"127.0.0.1:{port + busy}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "var").exists()  # refused before writing anything


def test_when_one_demo_server_cannot_start_both_stop(caplog) -> None:
    """The race the early check cannot close: the port is taken between check and bind."""
    import asyncio

    import click

    from widget_server.cli import _serve_both

    async def nothing(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = (await receive())["type"]
                await send({"type": f"{message}.complete"})
                if message == "lifespan.shutdown":
                    return

    port = free_port_pair()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port + 1))
        squatter.listen()
        with pytest.raises(click.ClickException, match="could not start"):  # a hang would be a TimeoutError
            asyncio.run(asyncio.wait_for(_serve_both(nothing, nothing, "127.0.0.1", port), 60))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # the widget's server let its port go


def test_the_demo_port_check_speaks_ipv6_too() -> None:
    import click

    from widget_server.cli import _require_free_ports

    with socket.socket(socket.AF_INET6) as squatter:
        squatter.bind(("::1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        with pytest.raises(click.ClickException, match=f"::1:{busy}"):
            _require_free_ports("::1", busy)
    _require_free_ports("::1", busy)  # free again: no complaint


def kiosk_and_agent_links_of(banner: str, secret_file: Path) -> dict[str, str]:
    """The device of each printed kiosk link (the demo's tablet), its agent links checked."""
    from preference_sdk import TokenSigner

    signer = TokenSigner([secret_file.read_text().strip()])
    kiosks = re.findall(r"kiosk \(a shop's tablet\):\s+\S+/c/([a-z-]+)/kiosk\?t=(\S+)", banner)
    consoles = re.findall(r"agent console \(Demo Agent\):\s+\S+/c/([a-z-]+)/agent\?t=(\S+)", banner)
    assert {c for c, _ in kiosks} == {c for c, _ in consoles} == {"maison-lumiere", "voyago"}, banner
    for center, token in consoles:
        claims = signer.read(token, "agent", center=center)
        assert (claims.subscriber, claims.extra["n"], claims.extra["p"]) == ("demo-agent", "Demo Agent", "change,view")
    tablets = {}
    for center, token in kiosks:
        claims = signer.read(token, "kiosk", center=center)
        assert claims.extra["lc"] == "Demo store"
        tablets[center] = claims.subscriber
    return tablets


def staff_pins_of(banner: str) -> list[str]:
    """The staff PIN printed under each kiosk link."""
    pins = re.findall(r"kiosk \(a shop's tablet\):\s+\S+\n\s+its staff PIN:\s+(\d{8})\b", banner)
    assert len(pins) == 2, banner
    return pins


def payloads_of_links(banner: list[str]) -> list[str]:
    """The signed payload (center, subscriber, scope) of each printed widget link."""
    return [token.split(".")[0] for token in re.findall(r"preferences\?t=(\S+)", "".join(banner))]


def test_api_keys_are_created_listed_and_revoked_from_the_command_line(tmp_path: Path) -> None:
    db = ["--database", f"sqlite:///{tmp_path / 'keys.db'}"]
    made = run("api-key", "create", "--center", "voyago", "--scope", "read", "--scope", "write",
               "--name", "crm-sync", *db, "--config", str(EXAMPLE_CENTERS))
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert re.fullmatch(r"pck_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    key_id = key.split("_")[1]
    assert "cannot be shown again" in made.stderr
    listed = run("api-key", "list", *db)
    assert key_id in listed.stdout and "read,write" in listed.stdout and "live" in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout  # never the secret
    revoked = run("api-key", "revoke", key, *db)  # the whole key given by mistake: not echoed back
    assert revoked.returncode == 0 and key.split("_", 2)[2] not in revoked.stdout + revoked.stderr
    assert "revoked" in run("api-key", "list", *db).stdout
    again = run("api-key", "revoke", key_id, *db)
    assert again.returncode == 1 and "no live key" in again.stderr
    unknown = run("api-key", "create", "--center", "nowhere", "--scope", "read", "--name", "x", *db,
                  "--config", str(EXAMPLE_CENTERS))
    assert unknown.returncode == 1 and "voyago" in unknown.stderr and "Traceback" not in unknown.stderr
    long_name = run("api-key", "create", "--center", "voyago", "--scope", "read", "--name", "x" * 81, *db,
                    "--config", str(EXAMPLE_CENTERS))
    assert long_name.returncode == 2 and "80" in long_name.stderr


def device_env(tmp_path: Path) -> dict:
    return {"WIDGET_SECRET_KEYS": "cli-secret", "WIDGET_CONFIG": str(EXAMPLE_CENTERS),
            "WIDGET_DATABASE": f"sqlite:///{tmp_path / 'devices.db'}", "WIDGET_PUBLIC_URL": "https://prefs.example.com"}


def test_devices_are_created_listed_and_revoked_from_the_command_line(tmp_path: Path) -> None:
    from preference_sdk import TokenSigner

    env = device_env(tmp_path)
    made = run("device", "create", "--center", "maison-lumiere", "--store", "Paris 9e", "--name", "Front desk tablet",
               env=env)
    assert made.returncode == 0, made.stderr
    link, pin_line = made.stdout.strip().splitlines()  # the link, and its staff PIN beside it
    assert re.fullmatch(r"https://prefs\.example\.com/c/maison-lumiere/kiosk\?t=[A-Za-z0-9_.-]+", link), link
    pin = re.fullmatch(r"staff PIN: (\d{8})", pin_line).group(1)
    claims = TokenSigner(["cli-secret"]).read(link.partition("?t=")[2], "kiosk", center="maison-lumiere")
    assert claims.extra["lc"] == "Paris 9e" and claims.subscriber.startswith("dev_")
    device_id = claims.subscriber
    assert device_id in made.stderr and "cannot be shown again" in made.stderr  # the id, said beside the link
    from widget_server.settings import Settings
    from widget_server.store import devices
    from widget_server.store.engine import make_engine
    from widget_server.tokens import lookup_key

    engine = make_engine(env["WIDGET_DATABASE"])
    with engine.connect() as connection:
        (made_device,) = devices.listed(connection)
    engine.dispose()
    key = lookup_key(Settings(secret_keys=("cli-secret",)))  # the store's key, as the server derives it
    assert devices.staff_pin_matches(key, made_device, pin) and pin not in repr(made_device)
    run("device", "create", "--center", "voyago", "--store", "Berlin Mitte", "--name", "Till 2", env=env)

    listed = run("device", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.strip().splitlines()
    assert header.split() == ["ID", "CENTER", "STORE", "NAME", "CREATED", "(UTC)", "REVOKED"]
    assert len(rows) == 2 and rows[0].startswith(device_id) and "Paris 9e" in rows[0] and rows[0].endswith("live")
    assert link.partition("?t=")[2] not in listed.stdout and pin not in listed.stdout  # never the token nor PIN
    only = run("device", "list", "--center", "voyago", env=env).stdout.strip().splitlines()
    assert len(only) == 2 and "Berlin Mitte" in only[1]

    revoked = run("device", "revoke", device_id, env=env)
    assert revoked.returncode == 0 and f"revoked {device_id}" in revoked.stderr
    assert not run("device", "list", "--center", "maison-lumiere", env=env).stdout.strip().endswith("live")
    again = run("device", "revoke", device_id, env=env)
    assert again.returncode == 0 and "already revoked" in again.stderr
    unknown = run("device", "revoke", "dev_nosuchdevice", env=env)
    assert unknown.returncode == 1 and "no device" in unknown.stderr and "Traceback" not in unknown.stderr


@pytest.mark.parametrize("args, status, message", [
    (["--center", "nowhere", "--store", "S", "--name", "N"], 1, "maison-lumiere, voyago"),
    (["--center", "voyago", "--store", "x" * 81, "--name", "N"], 2, "80"),
    (["--center", "voyago", "--store", "   ", "--name", "N"], 2, "printable"),
    (["--center", "voyago", "--store", "S", "--name", "tab\there"], 2, "printable"),
])
def test_a_device_that_cannot_be_made_is_refused_saying_why(tmp_path: Path, args, status, message) -> None:
    env = device_env(tmp_path)
    refused = run("device", "create", *args, env=env)
    assert refused.returncode == status and message in refused.stderr and "Traceback" not in refused.stderr
    assert run("device", "list", env=env).stdout == ""  # nothing provisioned


def test_agent_link_prints_a_console_link_for_one_shift(tmp_path: Path) -> None:
    from preference_sdk import TokenSigner

    env = device_env(tmp_path)
    made = run("agent-link", "--center", "maison-lumiere", "--agent", "a.martin", "--name", "Alice Martin",
               "--permissions", "view", "--locale", "en", env=env)
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith("https://prefs.example.com/c/maison-lumiere/agent?t=")
    claims = TokenSigner(["cli-secret"]).read(link.partition("?t=")[2], "agent", center="maison-lumiere")
    assert (claims.subscriber, claims.extra["n"], claims.extra["p"], claims.locale) == ("a.martin", "Alice Martin",
                                                                                         "view", "en")
    default = run("agent-link", "--center", "voyago", "--agent", "b.durand", env=env).stdout.strip()
    claims = TokenSigner(["cli-secret"]).read(default.partition("?t=")[2], "agent", center="voyago")
    assert (claims.extra["n"], claims.extra["p"]) == ("b.durand", "change,view")  # the id, and both permissions
    for args, status in [(["--center", "nowhere", "--agent", "x"], 1), (["--center", "voyago", "--agent", "x",
                                                                         "--permissions", "delete"], 2),
                         (["--center", "maison-lumiere", "--agent", "x", "--locale", "de"], 1)]:
        refused = run("agent-link", *args, env=env)
        assert refused.returncode == status and "Traceback" not in refused.stderr, refused.stderr
    no_secret = run("agent-link", "--center", "voyago", "--agent", "x", env={**env, "WIDGET_SECRET_KEYS": ""})
    assert no_secret.returncode == 1 and "WIDGET_SECRET_KEYS" in no_secret.stderr


def test_a_subscribers_links_are_revoked_from_the_command_line(tmp_path: Path) -> None:
    from preference_sdk import TokenSigner

    from widget_server.settings import Settings
    from widget_server.store.engine import make_engine
    from widget_server.store.store import Store
    from widget_server.tokens import lookup_key

    env = device_env(tmp_path)
    engine = make_engine(env["WIDGET_DATABASE"])
    store = Store(engine, lookup_key=lookup_key(Settings(secret_keys=("cli-secret",))))
    store.migrate()
    subscriber = store.create_subscriber("maison-lumiere")
    token = TokenSigner(["cli-secret"]).mint("manage", "maison-lumiere", subscriber)  # sent before the sign-out
    revoked = run("revoke-links", "--center", "maison-lumiere", "--subscriber", subscriber, env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert f"links of {subscriber} signed before" in revoked.stderr
    valid_after = store.get("maison-lumiere", subscriber).valid_after
    assert valid_after is not None and valid_after.microsecond == 0
    assert TokenSigner(["cli-secret"]).read(token, "manage").issued_at < valid_after.timestamp()
    for center, who in (("voyago", subscriber), ("maison-lumiere", "sub_nobody")):
        refused = run("revoke-links", "--center", center, "--subscriber", who, env=env)
        assert refused.returncode == 1 and "no subscriber" in refused.stderr and "Traceback" not in refused.stderr
    engine.dispose()
