"""The keys the event chain is keyed under, kept outside the database.

A plain SHA-256 chain proves nothing against someone who can write the database: they
edit an event and recompute every later hash. Each event's hash is therefore an
HMAC-SHA256 under a chain key, and each subscriber's anchor is sealed with one
(``ledger.seal``), so rewriting history needs a key the database does not hold.

Where the keys come from (``WIDGET_CHAIN_KEYS``, newest first: the first keys new
events, every one verifies), and a default that needs no setting: a key derived from
the lookup key (itself derived from the oldest link-signing secret unless set), which
is already the secret an operator can never drop (the contact points are hashed under
it). The derived key always verifies, so events keyed before ``WIDGET_CHAIN_KEYS`` was
set still do. A configured secret is never used as it is: the chain key is an HMAC of
it with a label of its own, so it cannot be mistaken for (or serve as) a link or lookup
key.

Each event records the id of its key (``events.key_id``): a short public digest of the
key, so verification picks the named key, and keys can rotate without re-keying
history. Keep every key ever used: an event whose key is gone can only be reported as
unverifiable.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

if TYPE_CHECKING:
    from .settings import Settings

#: The label a chain key is derived under (a distinct purpose from the link and lookup keys).
LABEL = b"widget-server event chain v1"


def derive(secret: bytes) -> bytes:
    """The chain key of one secret: HMAC-SHA256(secret, label)."""
    return hmac.new(secret, LABEL, hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    """A key's public name: 8 hex digits of a digest of it (reveals nothing of the key)."""
    return hashlib.sha256(b"widget-server chain key id\x00" + key).hexdigest()[:8]


class UnknownChainKey(KeyError):
    """An event names a key this server does not hold."""


@dataclass(frozen=True, eq=False)  # hashed by identity: what is derived from it is cached per instance
class ChainKeys:
    """The chain keys by id; ``current`` keys what is written now."""

    keys: Mapping[str, bytes]
    current: str

    @classmethod
    def of(cls, secrets: Iterable[bytes]) -> ChainKeys:
        """Keys from secrets, newest first (the first is current)."""
        derived = [derive(s) for s in secrets]
        if not derived:
            raise ValueError("at least one chain secret is needed")
        keys = {key_id(k): k for k in reversed(derived)}
        return cls(keys, key_id(derived[0]))

    def mac(self, name: str, data: bytes) -> str:
        """HMAC-SHA256 of ``data`` under the key ``name``, in hex."""
        key = self.keys.get(name)
        if key is None:
            raise UnknownChainKey(name)
        return hmac.digest(key, data, "sha256").hex()

    @property
    def key(self) -> bytes:
        """The current key (bulk imports MAC many events under it)."""
        return self.keys[self.current]


def chain_keys(settings: Settings, lookup_key: bytes) -> ChainKeys:
    """The server's chain keys: ``WIDGET_CHAIN_KEYS`` first, then the one derived from the lookup key."""
    configured = [s.encode() for s in settings.chain_keys]
    return ChainKeys.of([*configured, lookup_key])
