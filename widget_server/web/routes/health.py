"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

import anyio
from litestar import Response, get
from litestar.datastructures import State


@get("/healthz", media_type="application/json", cache=False)
async def healthz() -> dict[str, str]:
    """The process answers. Nothing else is checked: restarting would not fix more."""
    return {"status": "ok"}


@get("/readyz", media_type="application/json", cache=False)
async def readyz(state: State) -> Response[dict[str, str]]:
    """Ready to serve: the database answers and every migration is applied."""
    ready, why = await anyio.to_thread.run_sync(state.store.ready)
    body = {"status": "ready" if ready else "not ready", "database": why, "centers": str(len(state.centers))}
    return Response(body, status_code=200 if ready else 503)
