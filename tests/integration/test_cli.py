"""The ``widget-server`` command as users run it: real processes, real ports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import EXAMPLE_CENTERS, ROOT, free_port

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


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
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
def test_serve_refuses_to_start_with_a_message_saying_what_to_fix(tmp_path: Path, env, message) -> None:  # noqa: ANN001
    base = {"WIDGET_CONFIG": str(EXAMPLE_CENTERS), "WIDGET_DATABASE": f"sqlite:///{tmp_path / 'x.db'}",
            "WIDGET_SECRET_KEYS": "s", "WIDGET_PORT": str(free_port())}
    result = run("serve", env={**base, **env}, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_demo_starts_and_prints_working_links(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([*CLI, "demo", "--port", str(port)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        time.sleep(0.5)
    finally:
        output = stop(process)
    links = re.findall(r"(http://127\.0\.0\.1:\d+/\S+)", output)
    widget_links = [link for link in links if "/preferences?t=" in link]
    assert len(widget_links) == 2, output
    assert any(f":{port + 1}/" in link for link in links)  # the host page on another origin
    assert (tmp_path / "var" / "demo.db").exists() and (tmp_path / "var" / "secret.key").exists()


def test_demo_links_open_the_widget_and_the_host_page(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([*CLI, "demo", "--port", str(port)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        opened = 0
        while True:  # read the banner up to the last link
            line = process.stdout.readline()
            if "Ctrl+C" in line or not line:
                break
            match = re.search(r"widget \(a visitor's link\):\s+(\S+)", line)
            if match:
                assert httpx.get(match.group(1)).status_code == 200
                opened += 1
            match = re.search(r"embedded in a host page:\s+(\S+)", line)
            if match:
                host_page = httpx.get(match.group(1))
                assert host_page.status_code == 200 and "<iframe" in host_page.text
                framed = httpx.get(re.search(r"src='([^']+)'", host_page.text).group(1).replace("&amp;", "&"))
                host_origin = f"http://127.0.0.1:{port + 1}"
                assert host_origin in framed.headers["content-security-policy"]  # may frame it
                opened += 1
        assert opened == 4  # two widget links, two host pages
    finally:
        stop(process)
