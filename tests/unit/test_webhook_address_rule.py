"""The rule of where a webhook may go (``widget_server.webhook_addresses``), alone: how a
host written as a number is read, which addresses are refused and why, and the resolver's
part (a fake one: no DNS question leaves this machine)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx
import pytest

from widget_server import webhook_addresses
from widget_server.webhook_addresses import (
    PrivateDestination,
    Unresolvable,
    UnusableURL,
    address_problem,
    check_url,
    destinations,
    literal_address,
)

PUBLIC = "93.184.215.14"


class Answers:
    """A resolver answering ``table``; a name not in it does not resolve."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table, self.asked = table or {}, []

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


# -- a host written as a number ---------------------------------------------------------------

NUMERIC = [
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0X7F000001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("010.0.0.1", "8.0.0.1"),
    ("10.0.0.5", "10.0.0.5"),
    ("127.0.0.1.", "127.0.0.1"),
    ("1572394766", PUBLIC),
]


@pytest.mark.parametrize(("host", "address"), NUMERIC)
def test_a_host_written_as_a_number_is_the_address_the_system_reads(host: str, address: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)
    # inet_aton is how getaddrinfo reads a numeric host: the rule reads it the same way.
    assert socket.inet_aton(host.removesuffix(".")) == ipaddress.ip_address(address).packed


@pytest.mark.parametrize("host", ["::1", "::ffff:127.0.0.1", "fe80::1%25eth0", "2606:4700::1"])
def test_ipv6_hosts_are_addresses(host: str) -> None:
    assert isinstance(literal_address(host), ipaddress.IPv6Address)


@pytest.mark.parametrize("host", ["example.com", "127.0.0.1.nip.io", "0x7f.example", "ip6-localhost", "1e100.net"])
def test_a_host_not_ending_in_a_number_is_a_name(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize("host", ["1.2.3.4.5", "4294967296", "256.0.0.1", "1.16777216", "08", "1..2",
                                  "0x100000000"])
def test_a_host_ending_in_a_number_that_is_no_address_is_refused(host: str) -> None:
    with pytest.raises(ValueError):
        literal_address(host)


# -- which addresses ----------------------------------------------------------------------------

REFUSED = [
    ("127.0.0.1", "a loopback address"),
    ("127.255.0.9", "a loopback address"),
    ("::1", "a loopback address"),
    ("0.0.0.0", "the unspecified address"),
    ("::", "the unspecified address"),
    ("10.1.2.3", "a private network address"),
    ("172.16.0.1", "a private network address"),
    ("192.168.0.1", "a private network address"),
    ("fd00::1", "a private network address"),
    ("fec0::1", "a private network address"),  # IPv6 site-local, deprecated but still routed inside
    ("169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("ff0e::1", "a multicast address"),  # global scope: Python calls it global
    ("192.0.2.1", "a documentation address"),
    ("198.51.100.7", "a documentation address"),
    ("203.0.113.9", "a documentation address"),
    ("2001:db8::1", "a documentation address"),
    ("3fff::1", "a documentation address"),
    ("198.18.0.1", "a benchmarking address"),
    ("2001:2::1", "a benchmarking address"),
    ("100.64.0.1", "a shared address (carrier-grade NAT)"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "a reserved address"),
    ("192.0.0.8", "a reserved address"),
    ("192.88.99.1", "a reserved address"),
    ("::7f00:1", "a reserved address"),  # IPv4-compatible, deprecated
    ("2001::1", "a reserved address"),  # Teredo
    ("::ffff:127.0.0.1", "an IPv6 form of 127.0.0.1, a loopback address"),
    ("::ffff:10.0.0.1", "an IPv6 form of 10.0.0.1, a private network address"),
    ("::ffff:169.254.169.254", "an IPv6 form of 169.254.169.254, a link-local address"),
    ("2002:7f00:1::", "an IPv6 form of 127.0.0.1, a loopback address"),  # 6to4
    ("2002:a00:1::", "an IPv6 form of 10.0.0.1, a private network address"),
    ("64:ff9b::7f00:1", "an IPv6 form of 127.0.0.1, a loopback address"),  # NAT64
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_addresses_other_than_global_unicast_are_refused_with_their_kind(address: str, why: str) -> None:
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None and problem.startswith(why), problem


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001::1",
                                     "::ffff:93.184.215.14", "64:ff9b::5db8:d70e", "2002:5db8:d70e::"])
def test_global_unicast_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


# -- the resolver's part ------------------------------------------------------------------------


def addresses_of(url: str, allow_private: bool = False, table: dict[str, list[str]] | None = None) -> list[str]:
    return asyncio.run(destinations(httpx.URL(url), allow_private=allow_private, resolve=Answers(table)))


def test_every_address_a_name_resolves_to_is_checked() -> None:
    both = [PUBLIC, "2606:4700::1"]
    assert addresses_of("https://hooks.example/", table={"hooks.example": both}) == both
    with pytest.raises(PrivateDestination, match="hooks.example resolves to 10.9.8.7, a private network address"):
        addresses_of("https://hooks.example/", table={"hooks.example": [PUBLIC, "10.9.8.7"]})
    with pytest.raises(PrivateDestination, match=r"resolves to ::1, a loopback"):
        addresses_of("https://ip6-localhost/", table={"ip6-localhost": ["::1"]})


def test_allowed_private_addresses_are_all_returned() -> None:
    assert addresses_of("http://hooks.example/", True, {"hooks.example": ["10.9.8.7", PUBLIC]}) == ["10.9.8.7", PUBLIC]
    assert addresses_of("https://2130706433/", True) == ["127.0.0.1"]


def test_a_name_that_does_not_resolve_is_refused_whatever_is_allowed() -> None:
    for allow_private in (False, True):
        with pytest.raises(Unresolvable, match="^the host name does not resolve$"):
            addresses_of("https://nowhere.example/", allow_private)
        with pytest.raises(Unresolvable):
            addresses_of("https://empty.example/", allow_private, {"empty.example": []})


def test_a_resolver_that_does_not_answer_in_time_has_not_resolved(monkeypatch) -> None:
    monkeypatch.setattr(webhook_addresses, "RESOLVE_TIMEOUT", 0.05)

    async def silent(host: str) -> list[str]:
        await asyncio.sleep(10)
        return [PUBLIC]

    with pytest.raises(Unresolvable):
        asyncio.run(destinations(httpx.URL("https://slow.example/"), allow_private=False, resolve=silent))


def test_addresses_in_the_url_and_localhost_names_are_never_resolved() -> None:
    resolver = Answers({"localhost": [PUBLIC], "app.localhost": [PUBLIC]})  # a resolver that lies
    for url in ("https://2130706433/", "https://[::ffff:127.0.0.1]/", "https://localhost/", "https://app.localhost/",
                "https://LOCALHOST./"):
        with pytest.raises(PrivateDestination):
            asyncio.run(destinations(httpx.URL(url), allow_private=False, resolve=resolver))
    assert resolver.asked == []


def test_the_system_resolver_answers_localhost_without_the_network() -> None:
    assert "127.0.0.1" in asyncio.run(webhook_addresses.resolve("localhost"))


# -- the whole URL, as registration checks it ---------------------------------------------------


def check(url: str, allow_private: bool = False) -> list[str]:
    resolver = Answers({"hooks.example": [PUBLIC], "inside.example": ["10.0.0.5"], "localhost": ["127.0.0.1"]})
    return asyncio.run(check_url(url, allow_private=allow_private, resolve=resolver))


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://hooks.example/", "an absolute https URL"),
    ("/hooks", "an absolute https URL"),
    ("not a url", "an absolute https URL"),
    ("https://[abc/", "an absolute https URL"),
    ("https://ex\tample.com/", "an absolute https URL"),
    ("https://under_score.example/", "an absolute https URL"),
    ("https://1.2.3.4.5/", "an absolute https URL"),
    ("https://user:pw@hooks.example/", "no credentials in the URL"),
    ("http://hooks.example/", "https is required"),
    ("http://inside.example/", "a public address: inside.example resolves to 10.0.0.5, a private network address"),
    ("https://0x7f000001/", "a public address: 0x7f000001 is 127.0.0.1, a loopback address"),
    ("https://nowhere.example/", "the host name does not resolve"),
])
def test_registration_refuses_with_the_reason(url: str, why: str) -> None:
    with pytest.raises((UnusableURL, PrivateDestination, Unresolvable)) as refused:
        check(url)
    assert str(refused.value).startswith(why), str(refused.value)


def test_registration_accepts_https_to_public_and_http_only_to_allowed_private() -> None:
    assert check("https://hooks.example:8443/in?x=1") == [PUBLIC]
    assert check(f"https://{PUBLIC}/") == [PUBLIC]
    assert check("http://inside.example/", allow_private=True) == ["10.0.0.5"]
    assert check("http://localhost:8000/", allow_private=True) == ["127.0.0.1"]
    assert check("http://127.0.0.1:9/", allow_private=True) == ["127.0.0.1"]
    with pytest.raises(UnusableURL, match="https is required"):
        check("http://hooks.example/", allow_private=True)
