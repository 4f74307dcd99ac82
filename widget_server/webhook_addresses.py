"""Where a webhook may be sent: one rule, at registration and at every delivery attempt.

A URL is refused unless it is https (plain http only to a private address, when the
server allows private ones), carries no credentials, and its host resolves; then every
address it resolves to must be global unicast: no loopback, private, link-local,
multicast, unspecified, reserved, documentation or benchmarking address, nor any of
these written as IPv6 (``::ffff:127.0.0.1``). ``webhook_allow_private`` lifts the
address rule, for development.

The host is resolved once, by the resolver the app was given (the system's by default:
tests fake DNS with their own). An address written in the URL is judged as the address
the system resolver would read it as, however it is written (``2130706433``,
``0x7f000001``, ``127.1``, ``0`` are all ``127.0.0.1`` or ``0.0.0.0`` to
``getaddrinfo``), and is never handed to the resolver.

Registration checks the whole URL (:func:`check_url`). Each delivery attempt checks the
addresses again (:func:`destinations`) and connects to one of those very addresses: a
name can move after it was registered, rightly or to lead a delivery inside (DNS
rebinding). Each refusal is an :class:`Undeliverable` whose text says why, in the API's
words (the ``message`` of the 422).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Awaitable, Callable, Sequence

import anyio
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Answers a host name's addresses, in the order to try them.
Resolver = Callable[[str], Awaitable[Sequence[str]]]

#: A resolver silent for this long has not resolved the name.
RESOLVE_TIMEOUT = 5.0

HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
#: A label that makes the host an IPv4 address when it comes last (as the WHATWG URL standard
#: and ``inet_aton`` read it): decimal, octal with a leading 0, or hexadecimal with 0x.
NUMBER = re.compile(r"0x[0-9a-f]*|[0-9]+")

NOT_A_URL = "an absolute https URL"
NO_CREDENTIALS = "no credentials in the URL: verify the signature instead"
HTTPS_REQUIRED = "https is required (plain http only to a local address, in development)"
NO_ADDRESS = "the host name does not resolve"

#: Ranges with a name of their own, before the broad ones (most are also "private" to Python).
NAMED_RANGES = [
    (ipaddress.ip_network(network), name)
    for networks, name in (
        (("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"),
         "a documentation address"),
        (("198.18.0.0/15", "2001:2::/48"), "a benchmarking address"),
        (("100.64.0.0/10",), "a shared address (carrier-grade NAT)"),
        (("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10"), "a private network address"),
        (("192.0.0.0/24", "192.88.99.0/24"), "a reserved address"),  # protocol assignments, the old 6to4 relay
    )
    for network in networks
]
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: the IPv4 address in its last 32 bits


class Undeliverable(Exception):
    """A URL no webhook is sent to; ``str()`` says why, in the API's words."""


class UnusableURL(Undeliverable):
    """Not an absolute https URL without credentials (or http where only https will do)."""


class Unresolvable(Undeliverable):
    """The host name has no address (or the resolver did not answer in time)."""


class PrivateDestination(Undeliverable):
    """The host is, or resolves to, a loopback, private, link-local or reserved address."""


async def resolve(host: str) -> list[str]:
    """The system resolver's addresses for ``host`` (``getaddrinfo``, in a worker thread)."""
    infos = await anyio.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: IPAddress) -> str | None:
    """What ``address`` is, when no webhook goes there; None for a global unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or _nat64(address)
        if embedded is not None:  # the IPv4 address it reaches decides
            problem = address_problem(embedded)
            return problem and f"an IPv6 form of {embedded}, {problem}"
    if address.is_unspecified:
        return "the unspecified address (this server itself)"
    if address.is_loopback:
        return "a loopback address (this server itself)"
    if address.is_link_local:
        return "a link-local address (such as a cloud's metadata service)"
    if address.is_multicast:
        return "a multicast address"
    for network, name in NAMED_RANGES:
        if address in network:
            return name
    if address.is_reserved or address.is_private or not address.is_global:
        return "a reserved address"
    return None


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` is written as, in any form the system resolver reads as one;
    None for a name. A host ending in a number that is no IPv4 address (``1.2.3.4.5``,
    ``256.1``) raises ``ValueError``."""
    host = host.lower().removesuffix(".")
    try:
        return ipaddress.ip_address(host)  # dotted IPv4, or IPv6 (with a zone)
    except ValueError:
        pass
    labels = host.split(".")
    if not NUMBER.fullmatch(labels[-1]):
        return None
    numbers = [_number(label) for label in labels]
    last = numbers.pop()
    if len(numbers) > 3 or any(n > 255 for n in numbers) or last >= 256 ** (4 - len(numbers)):
        raise ValueError(f"{host} is not an IPv4 address")
    return ipaddress.IPv4Address(sum(n << 8 * (3 - i) for i, n in enumerate(numbers)) + last)


def _number(label: str) -> int:
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)
    return int(label)  # an empty label (1..2) raises


def _is_plain_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_localhost(name: str) -> bool:
    """``localhost`` and the names under it are this machine, whatever a resolver says (RFC 6761)."""
    name = name.lower().removesuffix(".")
    return name == "localhost" or name.endswith(".localhost")


async def destinations(url: httpx.URL, *, allow_private: bool, resolve: Resolver = resolve) -> list[str]:
    """The addresses to connect to for ``url``: resolved once, every one checked (SSRF).

    Raises :class:`Unresolvable` or :class:`PrivateDestination` (:class:`UnusableURL` for a
    host ending in a number that is no address). The caller connects to one of these
    addresses, never to a fresh answer of the resolver, and checks again at each attempt,
    since a name can rightly move later.
    """
    host = url.host
    try:
        literal = literal_address(host)
    except ValueError:
        raise UnusableURL(NOT_A_URL) from None
    if literal is not None:
        addresses = [literal]
    else:
        name = url.raw_host.decode("ascii")
        if _is_localhost(name) and not allow_private:
            raise PrivateDestination(f"a public address: {host} is this server itself")
        addresses = [ipaddress.ip_address(a) for a in await _resolved(name, resolve)]
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem is None:
                continue
            if literal is None:
                raise PrivateDestination(f"a public address: {host} resolves to {address}, {problem}")
            written = "" if _is_plain_address(host) else f"{literal}, "  # 2130706433 is 127.0.0.1, ...
            raise PrivateDestination(f"a public address: {host} is {written}{problem}")
    return [str(a) for a in addresses]


async def _resolved(name: str, resolve: Resolver) -> Sequence[str]:
    try:
        with anyio.fail_after(RESOLVE_TIMEOUT):
            answers = await resolve(name)
    except (OSError, UnicodeError, TimeoutError):  # socket.gaierror is an OSError; IDNA refuses some names
        raise Unresolvable(NO_ADDRESS) from None
    if not answers:
        raise Unresolvable(NO_ADDRESS)
    return answers


async def check_url(url: str, *, allow_private: bool, resolve: Resolver = resolve) -> list[str]:
    """The whole rule, for a URL about to be registered: its form, then its addresses.

    Returns the addresses :func:`destinations` found; raises an :class:`Undeliverable`.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise UnusableURL(NOT_A_URL) from None
    if parsed.scheme not in ("https", "http") or not parsed.host:
        raise UnusableURL(NOT_A_URL)
    if parsed.userinfo:
        raise UnusableURL(NO_CREDENTIALS)
    try:
        is_name = literal_address(parsed.host) is None
    except ValueError:
        raise UnusableURL(NOT_A_URL) from None
    if is_name and not HOSTNAME.fullmatch(parsed.raw_host.decode("ascii", "replace").lower()):
        raise UnusableURL(NOT_A_URL)
    addresses = await destinations(parsed, allow_private=allow_private, resolve=resolve)
    if parsed.scheme == "http" and any(address_problem(ipaddress.ip_address(a)) is None for a in addresses):
        raise UnusableURL(HTTPS_REQUIRED)
    return addresses
