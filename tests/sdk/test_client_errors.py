"""What the clients say when the key, the URL or the answer is broken: SDK errors, never the key."""

from __future__ import annotations

import httpx
import pytest
from preference_sdk import AsyncClient, Client, PreferenceSDKError, TransportError

KEY = "pck_0123456789ab_" + "s" * 43


@pytest.mark.parametrize("key", [KEY + "\r", " " + KEY + "\n"])
def test_a_key_with_a_final_newline_from_a_file_is_used_without_it(key: str) -> None:
    seen = []
    transport = httpx.MockTransport(lambda request: seen.append(request.headers["authorization"]) or
                                   httpx.Response(200, json={"events": [], "next_cursor": 0, "has_more": False}))
    with Client("https://prefs.example", key, "acme", transport=transport) as client:
        client.events()
    assert seen == [f"Bearer {KEY}"]


@pytest.mark.parametrize("key", [KEY[:10] + " " + KEY[10:], KEY[:10] + "\r\n" + KEY[10:], KEY + "é"])
@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_a_key_no_header_can_carry_is_refused_without_being_quoted(key: str, client_class) -> None:
    with pytest.raises(ValueError) as refused:
        client_class("https://prefs.example", key, "acme")
    assert "s" * 10 not in str(refused.value) and "api-key create" in str(refused.value)


def test_a_base_url_httpx_cannot_parse_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="base_url"):
        Client("http://[::1", KEY, "acme")


def test_a_body_that_cannot_be_decoded_is_an_sdk_error_not_an_httpx_one() -> None:
    def broken_gzip(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    with Client("https://prefs.example", KEY, "acme", transport=httpx.MockTransport(broken_gzip)) as client:
        with pytest.raises(TransportError) as failed:
            client.events()
    assert isinstance(failed.value, PreferenceSDKError) and "DecodingError" in str(failed.value)


def test_an_async_body_that_cannot_be_decoded_is_an_sdk_error_too() -> None:
    import anyio

    def broken_gzip(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    async def ask() -> None:
        async with AsyncClient("https://prefs.example", KEY, "acme", transport=httpx.MockTransport(broken_gzip)) as c:
            await c.events()

    with pytest.raises(TransportError):
        anyio.run(ask)


def test_a_header_httpx_refuses_is_reported_without_its_value() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value {request.headers['authorization']!r}")

    with Client("https://prefs.example", KEY, "acme", transport=httpx.MockTransport(never)) as client:
        with pytest.raises(TransportError) as failed:
            client.events()
    assert KEY not in str(failed.value) and "LocalProtocolError" in str(failed.value)


def test_a_missing_scope_is_named_in_the_error() -> None:
    from preference_sdk import PermissionDenied

    def forbidden(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"type": "about:blank", "title": "Not allowed", "status": 403,
                                         "detail": "This API key may not do this.", "code": "forbidden",
                                         "required_scope": "admin"},
                              headers={"Content-Type": "application/problem+json"})

    with Client("https://prefs.example", KEY, "acme", transport=httpx.MockTransport(forbidden)) as client:
        with pytest.raises(PermissionDenied, match="needs a key with the 'admin' scope"):
            client.export("sub_1")
