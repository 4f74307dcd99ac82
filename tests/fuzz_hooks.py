"""Schemathesis hooks for the fuzz test and for ``schemathesis run`` from the checkout (both load
them through ``schemathesis.toml``)."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st


@schemathesis.serializer("application/x-ndjson")
def json_lines(_context: Any, value: Any) -> bytes:
    """An import's body: the OpenAPI document describes it as the list of its lines' values; on
    the wire, one JSON text a line.

    A value that is not a list (a negative case) has no JSON-lines form: it goes as a JSON array
    on one line, a JSON document rather than JSON lines, which the server must refuse. (Its own
    text would not do: a lone object reads as a batch of one record.)
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, list):
        return b"".join(json.dumps(item).encode() + b"\n" for item in value)
    return json.dumps([value]).encode()


# If-Match (format "entity-tag"): a version, quoted. Without this, schemathesis' coverage phase, which
# fills headers with letters and digits only, finds no valid value for it (an entity tag is quoted).
schemathesis.openapi.format("entity-tag", st.integers(0, 10**18 - 1).map(lambda version: f'"{version}"'))
