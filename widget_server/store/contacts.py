"""Contact points: an e-mail address or phone number, kept only where a flow needs it.

They are found through a keyed hash (HMAC of center, kind and normalised value), never
by scanning or by the value itself: the index is useless to whoever reads it without
the key, and the same address in two centers hashes differently.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Connection, insert, select

from .tables import contact_points, subscribers


def lookup_hash(key: bytes, center: str, kind: str, value: str) -> str:
    """The keyed hash of a contact point (``email``, ``phone``) or of a CRM id (``external_id``).

    Addresses are normalised as their kind reads them (an e-mail address ignores case, a
    phone number its spaces); a CRM id is taken exactly as given, since the host's ids
    ``"A 1"`` and ``"A1"`` may well be two people.
    """
    normalised = _NORMALISE.get(kind, _exact)(value)
    return hmac.new(key, f"{center}\x00{kind}\x00{normalised}".encode(), hashlib.sha256).hexdigest()


def _exact(value: str) -> str:
    return value


_NORMALISE = {"email": lambda v: v.strip().lower(), "phone": lambda v: "".join(v.split())}


def add(connection: Connection, key: bytes, center: str, subscriber_id: str, kind: str, value: str) -> None:
    connection.execute(insert(contact_points).values(
        subscriber_id=subscriber_id, kind=kind, lookup_hash=lookup_hash(key, center, kind, value), value=value.strip(),
    ))


def subscriber_of(connection: Connection, key: bytes, center: str, kind: str, value: str) -> str | None:
    """The subscriber id behind a contact point of ``center``."""
    return connection.scalar(
        select(contact_points.c.subscriber_id)
        .join(subscribers, subscribers.c.id == contact_points.c.subscriber_id)
        .where(contact_points.c.lookup_hash == lookup_hash(key, center, kind, value), subscribers.c.center == center)
    )


def value_of(connection: Connection, subscriber_id: str, kind: str) -> str | None:
    owned = (contact_points.c.subscriber_id == subscriber_id, contact_points.c.kind == kind)
    return connection.scalar(select(contact_points.c.value).where(*owned))
