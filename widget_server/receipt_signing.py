"""Signing consent receipts so that anyone can check them: a JWS (RFC 7515, compact form)
with Ed25519 (``EdDSA``, RFC 8037), its public key published as a JWK Set
(``GET /.well-known/jwks.json``).

Why asymmetric: the chain's HMAC proves integrity to the server that holds its key; a
receipt is for a third party (the person, a regulator, a court), who must verify it without
any secret of ours. Why these keys: each Ed25519 key is derived from a chain key
(``chain_keys.py``), so no new secret is needed, every process signs with the same key,
and rotating the chain keys rotates the signing key while the older public keys stay
published (receipts signed before still verify). The key id names the chain key it comes
from.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .chain_keys import ChainKeys
from .ledger import canonical_json

#: The label a signing key's seed is derived under (another purpose than the chain's HMAC).
LABEL = b"widget-server receipt signing v1"
#: The JWS ``typ`` of a receipt.
TYP = "consent-receipt+jws"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _private(chain_key: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hmac.digest(chain_key, LABEL, hashlib.sha256))


class ReceiptSigner:
    """Signs with the key derived from the current chain key; publishes every one."""

    def __init__(self, keys: ChainKeys) -> None:
        self._private = {f"receipt-{name}": _private(key) for name, key in keys.keys.items()}
        self.current = f"receipt-{keys.current}"

    def sign(self, payload: dict[str, Any]) -> str:
        """The compact JWS of ``payload`` (its canonical JSON: sorted keys, no spaces, UTF-8)."""
        header = {"alg": "EdDSA", "kid": self.current, "typ": TYP}
        signing_input = f"{b64url(canonical_json(header).encode())}.{b64url(canonical_json(payload).encode())}"
        signature = self._private[self.current].sign(signing_input.encode())
        return f"{signing_input}.{b64url(signature)}"

    def jwks(self) -> dict[str, Any]:
        """The public keys, current first, as a JWK Set (RFC 7517; OKP keys: RFC 8037)."""
        names = [self.current, *sorted(n for n in self._private if n != self.current)]
        return {"keys": [jwk(name, self._private[name].public_key()) for name in names]}


@functools.cache
def signer_for(keys: ChainKeys) -> ReceiptSigner:
    """The signer of a server's chain keys, made once (deriving the Ed25519 keys costs a little)."""
    return ReceiptSigner(keys)


def jwk(kid: str, key: Ed25519PublicKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw)),
            "kid": kid, "use": "sig", "alg": "EdDSA"}


class ReceiptInvalid(ValueError):
    """A receipt's signature does not verify with the published keys."""


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The payload of a receipt whose signature verifies with one of ``jwks``' keys
    (what a third party does; the SDK has the same, ``preference_sdk.verify_receipt``)."""
    try:
        header_part, payload_part, signature_part = token.split(".")
        header = json.loads(unb64url(header_part))
        key = next(k for k in jwks["keys"] if k.get("kid") == header.get("kid"))
    except (ValueError, StopIteration, KeyError) as error:
        raise ReceiptInvalid("not a receipt signed with a published key") from error
    if header.get("alg") != "EdDSA" or key.get("crv") != "Ed25519":
        raise ReceiptInvalid("not an EdDSA (Ed25519) signature")
    try:
        Ed25519PublicKey.from_public_bytes(unb64url(key["x"])).verify(
            unb64url(signature_part), f"{header_part}.{payload_part}".encode())
    except (InvalidSignature, ValueError) as error:
        raise ReceiptInvalid("the signature does not verify") from error
    payload: dict[str, Any] = json.loads(unb64url(payload_part))
    return payload

