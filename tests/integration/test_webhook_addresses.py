"""Registering a webhook refuses every address a delivery would refuse, by the same rule
(``widget_server.webhook_addresses``): resolve the host, then check every address.

The app in-process, built with a resolver the test controls (``create_app(resolve=...)``,
the one the worker uses too): no DNS question leaves this machine, and the addresses that
look public are only ever handed to ``httpx.MockTransport``.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.helpers import wait_for
from tests.integration.test_webhooks import change

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"
PUBLIC = "93.184.215.14"  # looks public: passes the check
PUBLIC6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


class FakeDNS:
    """A resolver answering from a table (a name not in it does not resolve); notes each question."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table, self.asked = dict(table), []

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


DNS = {
    "hooks.example.com": [PUBLIC],
    "dual.example.com": [PUBLIC, PUBLIC6],
    "localhost": ["127.0.0.1", "::1"],  # asked only when private addresses are allowed
    "ip6-localhost": ["::1"],  # as /etc/hosts answers it on Debian
    "intranet.example.com": ["10.0.0.5"],
    "split.example.com": [PUBLIC, "192.168.1.20"],  # one public address, one private
    "metadata.example.com": ["169.254.169.254"],
    "ula.example.com": ["fd12:3456:789a::1"],
    "mapped.example.com": ["::ffff:10.0.0.1"],
}

#: The issue's cases: each was accepted at registration, then refused at every delivery.
ISSUE = [
    ("https://ip6-localhost/", "ip6-localhost resolves to ::1, a loopback address"),
    ("https://2130706433/", "2130706433 is 127.0.0.1, a loopback address"),
    ("https://0x7f000001/", "0x7f000001 is 127.0.0.1, a loopback address"),
    ("https://127.1/", "127.1 is 127.0.0.1, a loopback address"),
    ("https://0/", "0 is 0.0.0.0, the unspecified address"),
    ("https://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("https://nowhere.example.com/hooks", "the host name does not resolve"),
]

MORE = [
    ("https://0x7f.1/", "0x7f.1 is 127.0.0.1, a loopback address"),
    ("https://017700000001/", "017700000001 is 127.0.0.1, a loopback address"),
    ("https://127.0.0.1:8443/", "127.0.0.1 is a loopback address"),
    ("https://[::1]/", "::1 is a loopback address"),
    ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is an IPv6 form of 127.0.0.1, a loopback address"),
    ("https://[::ffff:7f00:1]/", "an IPv6 form of 127.0.0.1, a loopback address"),
    ("https://[2002:7f00:1::]/", "an IPv6 form of 127.0.0.1, a loopback address"),  # 6to4
    ("https://[::]/", ":: is the unspecified address"),
    ("https://0.0.0.0/", "0.0.0.0 is the unspecified address"),
    ("https://10.0.0.5/", "10.0.0.5 is a private network address"),
    ("https://192.168.1.1/", "a private network address"),
    ("https://[fd12:3456:789a::1]/", "a private network address"),  # IPv6 unique local
    ("https://[fe80::1]/", "fe80::1 is a link-local address"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("https://[ff02::1]/", "a multicast address"),
    ("https://192.0.2.10/", "a documentation address"),
    ("https://[2001:db8::1]/", "a documentation address"),
    ("https://198.18.0.1/", "a benchmarking address"),
    ("https://100.64.0.1/", "a shared address"),
    ("https://240.0.0.1/", "a reserved address"),
    ("https://255.255.255.255/", "a reserved address"),
    ("https://localhost:8443/", "localhost is this server itself"),
    ("https://app.localhost/", "app.localhost is this server itself"),
    ("https://intranet.example.com/hooks", "intranet.example.com resolves to 10.0.0.5, a private network address"),
    ("https://split.example.com/hooks", "split.example.com resolves to 192.168.1.20, a private network address"),
    ("https://metadata.example.com/", "resolves to 169.254.169.254, a link-local address"),
    ("https://ula.example.com/", "resolves to fd12:3456:789a::1, a private network address"),
    ("https://mapped.example.com/", "an IPv6 form of 10.0.0.1, a private network address"),
    ("https://1.2.3.4.5/", "an absolute https URL"),  # ends in a number, yet no address
    ("https://4294967296/", "an absolute https URL"),
]

GOOD = ["https://hooks.example.com/hooks", "https://hooks.example.com:8443/in?source=widget",
        "https://dual.example.com/", f"https://{PUBLIC}/hooks", f"https://[{PUBLIC6}]/hooks"]


@pytest.fixture
def dns() -> FakeDNS:
    return FakeDNS(DNS)


@pytest.fixture
def admin(make_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(CENTER, 'admin')}"}


@pytest.fixture
def api(client_for, admin, dns) -> httpx.Client:
    return client_for(resolve=dns).another(headers=admin)


def refused(answer: httpx.Response, why: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    [error] = answer.json()["errors"]
    assert error["path"] == "url"
    assert why in error["message"], error["message"]


@pytest.mark.parametrize(("url", "why"), ISSUE + MORE, ids=[url for url, _ in ISSUE + MORE])
def test_an_address_delivery_would_refuse_is_refused_at_registration(api, url: str, why: str) -> None:
    refused(api.post(f"{BASE}/webhooks", json={"url": url, "description": "crm"}), why)
    assert api.get(f"{BASE}/webhooks").json() == {"webhooks": []}  # nothing stored


def test_an_address_in_the_url_is_judged_as_written_and_never_resolved(api, dns) -> None:
    """So are names under localhost: this machine, whatever a resolver would answer."""
    for url, _ in ISSUE + MORE:
        if "example.com" not in url and "ip6-localhost" not in url:
            api.post(f"{BASE}/webhooks", json={"url": url})
    assert dns.asked == []


def test_public_urls_are_accepted_after_asking_the_apps_resolver(api, dns) -> None:
    for url in GOOD:
        made = api.post(f"{BASE}/webhooks", json={"url": url})
        assert made.status_code == 201, (url, made.text)
        assert made.json()["url"] == url
    assert [e["url"] for e in api.get(f"{BASE}/webhooks").json()["webhooks"]] == GOOD
    assert dns.asked == ["hooks.example.com", "hooks.example.com", "dual.example.com"]


def test_allowing_private_addresses_allows_them_and_plain_http_to_them(client_for, admin, dns) -> None:
    api = client_for(options={"webhook_allow_private": True}, resolve=dns).another(headers=admin)
    for url in ("http://127.0.0.1:9/hooks", "https://ip6-localhost/", "https://intranet.example.com/",
                "https://split.example.com/", "http://localhost:8000/hooks", "https://2130706433/"):
        assert api.post(f"{BASE}/webhooks", json={"url": url}).status_code == 201, url
    # Still refused: a name that does not resolve, and plain http to a public address.
    refused(api.post(f"{BASE}/webhooks", json={"url": "https://nowhere.example.com/"}),
            "the host name does not resolve")
    refused(api.post(f"{BASE}/webhooks", json={"url": "http://hooks.example.com/"}), "https is required")
    refused(api.post(f"{BASE}/webhooks", json={"url": "http://split.example.com/"}), "https is required")
    assert len(api.get(f"{BASE}/webhooks").json()["webhooks"]) == 6
    assert "localhost" in dns.asked  # allowed: localhost is resolved like any name


def test_the_worker_asks_the_same_resolver_and_refuses_a_name_moved_inside(client_for, admin, dns,
                                                                          store) -> None:
    """Registered while public, then moved to 127.0.0.1 (DNS rebinding): the delivery is
    refused, by the resolver the registration asked, and nothing is sent."""
    sent: list[httpx.Request] = []
    app = client_for(options={"webhook_poll_ms": 50}, resolve=dns,
                     webhook_transport=httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200)))
    api = app.another(headers=admin)
    endpoint = api.post(f"{BASE}/webhooks", json={"url": "https://hooks.example.com/hooks"}).json()
    dns.table["hooks.example.com"] = ["127.0.0.1"]
    change(store, store.create_subscriber(CENTER), "opted_in")
    deliveries = f"{BASE}/webhooks/{endpoint['id']}/deliveries"
    wait_for(lambda: api.get(deliveries).json()["deliveries"][0]["last_error"] is not None)
    [delivery] = api.get(deliveries).json()["deliveries"]
    assert delivery["last_error"] == "PrivateDestination" and sent == []
    assert dns.asked == ["hooks.example.com", "hooks.example.com"]
