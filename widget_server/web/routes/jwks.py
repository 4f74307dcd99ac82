"""``GET /.well-known/jwks.json``: the public keys consent receipts are signed with (a JWK Set,
RFC 7517), so that anyone can check a receipt (``receipt_signing.py``) without asking us."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from ...receipt_signing import signer_for
from ...store.store import Store


@get("/.well-known/jwks.json", include_in_schema=False, sync_to_thread=False)
def jwks(store: NamedDependency[Store]) -> Response[dict[str, Any]]:
    """Every receipt key, current first; public, cacheable for an hour (older keys stay listed)."""
    return Response(signer_for(store.chain_keys).jwks(), media_type="application/jwk-set+json",
                    headers={"Cache-Control": "public, max-age=3600"})
