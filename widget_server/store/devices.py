"""Kiosk devices: provisioned one by one, each with its own id, each revocable alone.

A device's token (``kiosk`` scope, see :mod:`widget_server.tokens`) names the device id
and its location (the store); the token is checked against this table at every request,
so revoking a device takes effect at its next request, whatever its token says.

A device is provisioned with a **staff PIN** (:func:`provision`): :data:`STAFF_PIN_DIGITS`
digits from :mod:`secrets`, shown once to whoever sets the tablet up and given to the
store's staff. The kiosk link is in the tablet's address bar for a year; the PIN is not,
so it is what tells a member of staff from anyone holding the tablet when a customer's
identity is attested (:mod:`widget_server.kiosk`). Only an HMAC of the PIN is stored,
keyed with the store's lookup key and bound to the device id (the same PIN on two
devices hashes apart), and a typed PIN is compared in constant time. A lost PIN cannot be
shown again: the tablet is provisioned anew and the old device revoked. A device made
without one (:func:`create`, or before PINs existed) takes no attestation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from .tables import devices

STAFF_PIN_DIGITS = 8


@dataclass(frozen=True)
class Device:
    id: str
    center: str
    location: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    staff_pin_hash: str | None = None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


def new_device_id() -> str:
    return "dev_" + secrets.token_urlsafe(12)


def new_staff_pin() -> str:
    return f"{secrets.randbelow(10**STAFF_PIN_DIGITS):0{STAFF_PIN_DIGITS}d}"


def staff_pin_hash(key: bytes, device_id: str, pin: str) -> str:
    """The stored form of a staff PIN: keyed, and bound to its device."""
    return hmac.new(key, f"kiosk staff pin\x00{device_id}\x00{pin}".encode(), hashlib.sha256).hexdigest()


def staff_pin_matches(key: bytes, device: Device, typed: str) -> bool:
    """Whether ``typed`` (spaces ignored) is the device's PIN, compared in constant time; a device
    without a PIN matches nothing."""
    compact = "".join(typed.split())
    stored = device.staff_pin_hash
    return stored is not None and hmac.compare_digest(staff_pin_hash(key, device.id, compact), stored)


def provision(connection: Connection, key: bytes, center: str, location: str, name: str,
              now: datetime) -> tuple[Device, str]:
    """A new device and its staff PIN: the PIN is for the caller to show once, only its hash is kept."""
    device_id, pin = new_device_id(), new_staff_pin()
    device = Device(device_id, center, location, name, now, staff_pin_hash=staff_pin_hash(key, device_id, pin))
    _insert(connection, device)
    return device, pin


def create(connection: Connection, center: str, location: str, name: str, now: datetime) -> Device:
    """A device without a staff PIN: its kiosk works with codes only (tablets are set up with :func:`provision`)."""
    device = Device(new_device_id(), center, location, name, now)
    _insert(connection, device)
    return device


def _insert(connection: Connection, device: Device) -> None:
    connection.execute(insert(devices).values(
        id=device.id, center=device.center, location=device.location, name=device.name,
        created_at=device.created_at, staff_pin_hash=device.staff_pin_hash))


def get(connection: Connection, center: str, device_id: str) -> Device | None:
    row = connection.execute(select(devices).where(devices.c.id == device_id, devices.c.center == center)).first()
    return Device(**row._mapping) if row is not None else None


def listed(connection: Connection, center: str | None = None) -> list[Device]:
    """Every device (of ``center``), oldest first, revoked ones included."""
    query = select(devices).order_by(devices.c.created_at, devices.c.id)
    if center is not None:
        query = query.where(devices.c.center == center)
    return [Device(**row._mapping) for row in connection.execute(query)]


def revoke(connection: Connection, device_id: str, now: datetime, center: str | None = None) -> Device | None:
    """Revoke a device (already revoked: kept as it was); None when there is no such device."""
    where = [devices.c.id == device_id, devices.c.revoked_at.is_(None)]
    if center is not None:
        where.append(devices.c.center == center)
    connection.execute(update(devices).where(*where).values(revoked_at=now))
    query = select(devices).where(devices.c.id == device_id)
    if center is not None:
        query = query.where(devices.c.center == center)
    row = connection.execute(query).first()
    return Device(**row._mapping) if row is not None else None
