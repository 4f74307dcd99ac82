"""Checking a consent receipt the server signed (``Client.receipt``): an Ed25519 JWS whose
public key the server publishes at ``/.well-known/jwks.json``.

A receipt is meant for whoever must trust it without trusting us (the person, an auditor,
a court): ``verify_receipt`` needs only the token and the published key set. It uses the
``cryptography`` package (``pip install 'preference-sdk[receipts]'``), imported when called,
so the rest of the SDK does not need it.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Mapping

from ._exceptions import PreferenceSDKError


class ReceiptVerificationError(PreferenceSDKError, ValueError):
    """The receipt's signature does not verify with the published keys (or it is no receipt)."""


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_receipt(jws: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The receipt inside ``jws`` when its EdDSA signature verifies with the key of ``jwks``
    (the JWK Set of ``/.well-known/jwks.json``) its header names; else ``ReceiptVerificationError``."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError as missing:  # pragma: no cover - depends on the install
        raise ImportError("verify_receipt needs the cryptography package: "
                          "pip install 'preference-sdk[receipts]'") from missing
    try:
        header_part, payload_part, signature_part = jws.split(".")
        header = json.loads(_unb64url(header_part))
        key = next(k for k in jwks["keys"] if k.get("kid") == header.get("kid"))
    except (ValueError, StopIteration, KeyError, TypeError) as error:
        raise ReceiptVerificationError("not a receipt signed with a published key") from error
    if header.get("alg") != "EdDSA" or key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
        raise ReceiptVerificationError("not an EdDSA (Ed25519) signature")
    try:
        Ed25519PublicKey.from_public_bytes(_unb64url(key["x"])).verify(
            _unb64url(signature_part), f"{header_part}.{payload_part}".encode())
    except (InvalidSignature, ValueError) as error:
        raise ReceiptVerificationError("the signature does not verify") from error
    receipt: dict[str, Any] = json.loads(_unb64url(payload_part))
    return receipt
