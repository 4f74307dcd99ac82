"""Python SDK for the widget-server preference center.

This first release carries the signed-link format shared with the server (mint links
for email footers offline); the HTTP clients, the change feed and CRM sync follow.
"""

from ._tokens import (
    DEFAULT_LIFETIMES,
    SCOPES,
    TokenClaims,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenSigner,
)

__all__ = [
    "DEFAULT_LIFETIMES",
    "SCOPES",
    "TokenClaims",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenSigner",
]
__version__ = "0.1.0"
