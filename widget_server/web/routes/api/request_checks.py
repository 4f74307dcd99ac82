"""What the API refuses before any handler reads a request: control characters and non-JSON bodies.

A second guard of the API router, after :func:`.auth.require_scope` (so a stranger learns
nothing from it). A control character in a path or query value names nothing we hold, and
PostgreSQL text cannot store NUL at all: answered ``404``/``400`` before any query. A body
sent to a JSON route must be JSON (``415`` otherwise); an empty one may carry any label.
"""

from __future__ import annotations

import re

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from ....errors import BadRequest, NotFound, UnsupportedMediaType


def check_request(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """The API router's second guard (see the module docstring)."""
    _refuse_control_characters(connection)
    _require_json_body(connection, handler)


#: Never in an id, a CRM id or a cursor; and PostgreSQL text cannot hold NUL at all.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse_control_characters(connection: ASGIConnection) -> None:
    """A path or query value with a control character names nothing we hold: 404 or 400, before any query."""
    if any(isinstance(value, str) and _CONTROL.search(value) for value in connection.path_params.values()):
        raise NotFound()
    bad = sorted({name for name, value in connection.query_params.multi_items() if _CONTROL.search(value)})
    if bad:
        raise BadRequest(errors=[{"path": name, "message": "no control characters"} for name in bad])


def _require_json_body(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A body sent to a JSON route is JSON (``application/json`` or ``application/*+json``): else 415.

    Routes that read another type say so in their ``opt`` (``"body": "ndjson"``) and check it themselves.
    """
    if connection.scope.get("method") not in ("POST", "PUT", "PATCH") or handler.opt.get("body"):
        return
    has_body = connection.headers.get("content-length", "0") != "0" or "transfer-encoding" in connection.headers
    if not has_body:  # many clients label an empty POST as a form: nothing to read, nothing to refuse
        return
    media_type = connection.headers.get("content-type", "").partition(";")[0].strip().lower()
    json_type = media_type == "application/json" or (media_type.startswith("application/")
                                                      and media_type.endswith("+json"))
    if not json_type:
        raise UnsupportedMediaType(errors=[{"path": "Content-Type", "message": "application/json"}])
