"""The little context an event keeps about the client: never more than needed.

An IP address is truncated (IPv4 to /24, IPv6 to /48) and a user agent reduced to its
browser family: enough to tell a kiosk from a phone in a dispute, too little to track.
"""

from __future__ import annotations

import ipaddress
import re

from litestar import Request

_FAMILIES = (
    ("Edge", re.compile(r"Edg/")),
    ("Opera", re.compile(r"OPR/")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/")),
    ("Chrome", re.compile(r"(Chrome|Chromium|CriOS)/")),
    ("Firefox", re.compile(r"(Firefox|FxiOS)/")),
    ("Safari", re.compile(r"Safari/")),
)


def browser_family(user_agent: str | None) -> str:
    if not user_agent:
        return "unknown"
    return next((name for name, pattern in _FAMILIES if pattern.search(user_agent)), "other")


def truncated_ip(address: str | None) -> str | None:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def client_context(request: Request) -> dict[str, str | None]:
    return {
        "user_agent": browser_family(request.headers.get("user-agent")),
        "ip": truncated_ip(request.client.host if request.client else None),
    }
