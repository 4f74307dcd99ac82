"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

import anyio
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from ...store.store import Store
from ..dependencies import AppState


@get("/healthz", media_type="application/json", cache=False)
async def healthz() -> dict[str, str]:
    """The process answers. Nothing else is checked: restarting would not fix more."""
    return {"status": "ok"}


@get("/readyz", media_type="application/json", cache=False, responses={503: ResponseSpec(
    dict[str, str], description="Not ready: the database does not answer, a migration is pending, or writes fail",
    generate_examples=False)})
async def readyz(request: Request, store: NamedDependency[Store]) -> Response[dict[str, str]]:
    """Ready to serve: the database answers, every migration is applied, and writes are stored.

    After a write the database could not store (a full disk, a read-only file), 503 with
    the reason ("writes failing: database or disk is full") until a write is stored again:
    this check tries one itself, so a server the load balancer took out of rotation comes
    back once the storage does (``Store.ready``).
    """
    ready, why = await anyio.to_thread.run_sync(store.ready)
    centers = AppState.of(request.app).centers
    body = {"status": "ready" if ready else "not ready", "database": why, "centers": str(len(centers))}
    return Response(body, status_code=200 if ready else 503)
