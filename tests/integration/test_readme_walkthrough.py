"""The README's SDK walkthrough, run as written against a real ``widget-server demo``.

Every fenced block after a ``<!-- walkthrough -->`` line of README.md runs, in order, in
one bash shell (a ``python`` block through ``python -``), in the demo's folder, with the
virtual environment's ``python`` and ``preference-sdk`` first on the PATH. The one change
made to the text is the demo's port (the README's 8000, a free one here), so a README
edit that breaks a newcomer's first hour breaks this test.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import ROOT
from tests.integration.test_cli import free_port_pair, start_demo, stop

README = ROOT / "README.md"
BLOCK = re.compile(r"^<!-- walkthrough -->\n```(sh|python)\n(.*?)\n```$", re.MULTILINE | re.DOTALL)
README_ADDRESS = "127.0.0.1:8000"


def walkthrough_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, code)`` of each marked block, in the README's order."""
    return BLOCK.findall(text)


def walkthrough_script(blocks: list[tuple[str, str]], port: int) -> str:
    """One bash script running every block; only the demo's port differs from the README."""
    parts = ["set -euo pipefail"]
    for language, code in blocks:
        parts.append(code if language == "sh" else f"python - <<'PYTHON'\n{code}\nPYTHON")
    return "\n".join(parts).replace(README_ADDRESS, f"127.0.0.1:{port}")


def test_the_readme_marks_a_whole_walkthrough_that_names_the_demos_address() -> None:
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    languages = [language for language, _ in blocks]
    assert languages.count("sh") >= 4 and languages.count("python") >= 2, languages
    script = "\n".join(code for _, code in blocks)
    assert README_ADDRESS in script  # the one thing the test replaces
    for needed in ("var/api-keys.json", "var/demo-subscribers.json", "var/secret.key", "mint-link",
                   "preference-sdk sync", "examples/imports/legacy.csv", "examples/imports/legacy.toml"):
        assert needed in script, needed
    assert "pck_..." not in script and "sub_..." not in script  # no placeholder left to fill in


def test_the_readme_walkthrough_runs_as_written_against_the_demo(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the README runs in the checkout
    port = free_port_pair()
    process, _ = start_demo(tmp_path, port)
    try:
        script = walkthrough_script(walkthrough_blocks(README.read_text(encoding="utf-8")), port)
        env = {name: value for name, value in os.environ.items() if not name.startswith("PREFERENCE_")}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=180)
        assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        footer = re.search(rf"http://127\.0\.0\.1:{port}/c/maison-lumiere/preferences\?t=\S+", result.stdout)
        assert footer, result.stdout
        page = httpx.get(footer.group(0))
        assert page.status_code == 200 and 'lang="fr"' in page.text
        assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in result.stdout
        assert "crm-000123" in result.stdout  # the sync's table, printed in step 4
    finally:
        stop(process)
    with sqlite3.connect(tmp_path / "crm.db") as crm:
        rows = dict(crm.execute("SELECT external_id, offers__email FROM crm_contacts WHERE external_id IS NOT NULL"))
    assert rows["crm-000123"] == "opted_out"  # step 3's change, synced in step 4
    # Step 6: the five readable rows of the legacy file, committed and synced; the sixth rejected.
    assert {"crm-100001", "crm-100002", "crm-100003", "crm-100004", "crm-100006"} <= rows.keys()
    assert "crm-100005" not in rows
    assert rows["crm-100001"] == "opted_in" and rows["crm-100003"] == "opted_out"


def test_the_script_changes_only_the_port() -> None:
    blocks = [("sh", "export PREFERENCE_URL=http://127.0.0.1:8000"), ("python", "print('hi')")]
    script = walkthrough_script(blocks, 8765)
    assert script == ("set -euo pipefail\nexport PREFERENCE_URL=http://127.0.0.1:8765\n"
                      "python - <<'PYTHON'\nprint('hi')\nPYTHON")
