"""The JSON API under ``/api/v1`` (docs/API.md): one router, one guard, one rate limit.

Every route lives under ``/api/v1/centers/{center_id}``; the guard in :mod:`.auth`
authenticates the key and checks its center and scope; writes go through
``write: ApiWrite`` (:mod:`.writes`: one transaction with their idempotency record,
through the one write path). ``center``, ``store``, ``clock``... are dependencies
(``web/dependencies.py``).
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi.spec import Components, SecurityScheme

from ...dependencies import CENTER_DEPENDENCIES
from ...openapi import ShapeSchemas
from . import bodies, proof
from .agent_searches import agent_search_trail
from .auth import rate_limit_identity, require_scope
from .devices import DevicesController
from .feed import center_definition, events
from .imports import import_records
from .proof import ProofController, notice_text
from .request_checks import check_request
from .rights import RightsController
from .sending import SendingController
from .subscribers import SubscribersController
from .webhooks import WebhooksController
from .writes import provide_write

#: An import batch: 10,000 lines of a few hundred bytes.
MAX_IMPORT_BODY = 8 * 1024 * 1024

#: The document's schema of every shape of bodies.py is msgspec's (see web/openapi.py): an app plugin.
SHAPE_SCHEMAS = ShapeSchemas(bodies.__name__, proof.__name__)

SECURITY_COMPONENTS = Components(security_schemes={
    "apiKey": SecurityScheme(type="http", scheme="bearer",
                             description="pck_<id>_<secret>, from `widget-server api-key create`"),
})


def api_router(rate_limit: int, extra_handlers: list | None = None) -> Router:
    """The API; ``rate_limit`` is requests a minute per key."""
    return Router(
        path="/api/v1/centers/{center_id:str}",
        route_handlers=[center_definition, events, SubscribersController, SendingController, RightsController,
                        WebhooksController, DevicesController, agent_search_trail, ProofController,
                        notice_text,
                        Router("/", route_handlers=[import_records], request_max_body_size=MAX_IMPORT_BODY),
                        *(extra_handlers or [])],
        dependencies={**CENTER_DEPENDENCIES, "write": Provide(provide_write, sync_to_thread=False)},
        guards=[require_scope, check_request],  # in this order: who first, then what
        middleware=[RateLimitConfig(("minute", rate_limit), identifier_for_request=rate_limit_identity).middleware],
        security=[{"apiKey": []}],
        tags=["api"],
    )
