"""The vendored htmx is exactly the pinned release, byte for byte.

A file edited by hand, or swapped for another release without updating the pin,
would change behaviour in every page without a word; these tests say so.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HTMX_DIR = Path(__file__).resolve().parents[2] / "static" / "vendor" / "htmx"

VERSION = "2.0.11"
# sha256sum of dist/htmx.min.js in the npm tarball htmx.org-2.0.11.tgz, whose
# integrity is recorded in static/vendor/htmx/VERSION.txt.
SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"

HTMX_FILE = HTMX_DIR / f"htmx-{VERSION}.min.js"

# The minified build has no banner: it opens with the htmx object, whose
# `version` property sits in the first 2 KB.
OPENING = "var htmx=function(){"
VERSION_MARKER = f'version:"{VERSION}"'

REVENDOR = (
    f"Re-vendor it: cd $(mktemp -d) && npm pack htmx.org@{VERSION}, "
    f"then copy package/dist/htmx.min.js to {HTMX_FILE} and package/LICENSE "
    f"to {HTMX_DIR / 'LICENSE'} (steps in {HTMX_DIR / 'VERSION.txt'}). "
    "If you are moving to another release on purpose, update VERSION and SHA256 "
    "in this test and VERSION.txt together."
)


def test_htmx_is_the_pinned_release() -> None:
    assert HTMX_FILE.is_file(), f"{HTMX_FILE} is missing. {REVENDOR}"
    digest = hashlib.sha256(HTMX_FILE.read_bytes()).hexdigest()
    assert digest == SHA256, (
        f"{HTMX_FILE.name} has SHA-256 {digest}, expected {SHA256} "
        f"(htmx {VERSION} from npm). {REVENDOR}"
    )


def test_htmx_declares_its_version() -> None:
    head = HTMX_FILE.read_text(encoding="utf-8")[:2048]
    assert head.startswith(OPENING), (
        f"{HTMX_FILE.name} does not open with {OPENING!r}: not htmx's dist/htmx.min.js. "
        f"{REVENDOR}"
    )
    assert VERSION_MARKER in head, (
        f"{HTMX_FILE.name} does not declare {VERSION_MARKER} near its start. {REVENDOR}"
    )


def test_htmx_license_is_vendored() -> None:
    license_file = HTMX_DIR / "LICENSE"
    assert license_file.is_file(), f"{license_file} is missing. {REVENDOR}"
    assert "Zero-Clause BSD" in license_file.read_text(encoding="utf-8"), (
        f"{license_file} is not htmx's 0BSD license. {REVENDOR}"
    )
