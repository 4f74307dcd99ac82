"""The loader host pages include stays small: it is served as is, with no build step."""

from __future__ import annotations

import gzip

from tests.helpers import ROOT

EMBED_JS = ROOT / "static" / "embed.js"
BUDGET = 1024  # bytes, gzip -9


def test_the_loader_is_under_1_kb_gzipped() -> None:
    source = EMBED_JS.read_bytes()
    size = len(gzip.compress(source, compresslevel=9, mtime=0))
    print(f"static/embed.js: {len(source)} bytes, {size} bytes gzipped (budget {BUDGET})")
    assert size <= BUDGET, f"static/embed.js is {size} bytes gzipped (gzip -9), {size - BUDGET} over the budget"
