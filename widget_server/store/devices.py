"""Kiosk devices: provisioned one by one, each with its own id, each revocable alone.

A device's token (``kiosk`` scope, see :mod:`widget_server.tokens`) names the device id
and its location (the store); the token is checked against this table at every request,
so revoking a device takes effect at its next request, whatever its token says.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from .tables import devices


@dataclass(frozen=True)
class Device:
    id: str
    center: str
    location: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


def new_device_id() -> str:
    return "dev_" + secrets.token_urlsafe(12)


def create(connection: Connection, center: str, location: str, name: str, now: datetime) -> Device:
    device = Device(new_device_id(), center, location, name, now)
    connection.execute(insert(devices).values(id=device.id, center=center, location=location, name=name,
                                              created_at=now))
    return device


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
