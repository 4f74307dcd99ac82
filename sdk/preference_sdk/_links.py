"""Links for email footers, minted offline with the shared secret.

A host system that sends 100,000 emails mints 100,000 links: one ``manage`` link and one
``List-Unsubscribe`` pair per message. :class:`LinkMinter` makes them without a request
to the server, with the one token format of :mod:`preference_sdk._tokens`.

Why a fast path: itsdangerous' ``URLSafeTimedSerializer.dumps`` builds a signer, derives
its key, builds a JSON encoder and an HMAC for every token. :class:`_FastSigner` derives
each scope's key once, keeps a keyed HMAC to copy and writes the payload's JSON itself,
and otherwise does exactly what itsdangerous does (compact JSON, zlib when that is
shorter, URL-safe base64, timestamp, HMAC-SHA1 of the "django-concat" key): about half
the time (``bench/links.py``), the rest being mostly the zlib attempt that decides the
token's bytes. The tokens are the same bytes: each minter checks that against
:class:`TokenSigner` when it is built, and signs the slow way if they ever differ
(``LinkMinter.fast`` says which).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import zlib
from functools import lru_cache
from json.encoder import encode_basestring as _quote
from typing import Any, Callable, Sequence
from urllib.parse import quote, urlsplit

from ._tokens import FORMAT_VERSION, SCOPES, TokenSigner, secret_list

#: Hosts for which an ``http`` base URL is accepted in ``List-Unsubscribe`` (the demo).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

#: What an agent token may allow: search and read a customer, and change their choices.
AGENT_PERMISSIONS: tuple[str, ...] = ("change", "view")
#: The longest agent id a console link may name: the ledger's actor ``agent:<id>`` is 80 characters.
AGENT_ID_MAX = 74

#: RFC 8058: the body a mailbox provider POSTs to the one-click URL.
ONE_CLICK = "List-Unsubscribe=One-Click"

# The payload's own keys: an extra with one of these names replaces it (dict.update).
_BASE_KEYS = frozenset({"v", "c", "s", "k"})
# What itsdangerous' URL-safe serializers dump with (json.dumps builds one per call).
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# Unreserved characters plus RFC 6068 "some-delims" that may stay literal in a mailto
# address; "," (it separates addresses), "&", "=", "?" and "#" are always escaped.
_MAILTO_SAFE = "!$'()*+;:@"


class LinkMinter:
    """Mints ``manage`` and ``unsubscribe`` links and ``List-Unsubscribe`` headers.

    ``secrets`` are the server's link secrets, newest first (the newest signs), or one
    secret as a ``str`` or ``bytes``. ``clock`` returns Unix seconds; tests inject one.
    ``base_url`` is where the preference center is served, e.g.
    ``https://preferences.example.com``.
    """

    def __init__(
        self,
        base_url: str,
        secrets: str | bytes | Sequence[str | bytes],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url, self._one_click_ok = _check_base_url(base_url)
        secrets = secret_list(secrets)
        self.signer = TokenSigner(secrets, clock=clock)
        self._clock = clock
        fast = _FastSigner(secrets[0])
        self.fast: bool = fast.agrees_with(secrets)
        self._fast = fast if self.fast else None

    def mint(self, scope: str, center: str, subscriber_id: str, **extra: Any) -> str:
        """A token, the same as ``TokenSigner.mint`` would make at this instant."""
        _check_ids(center, subscriber_id)
        if self._fast is None:
            return self.signer.mint(scope, center, subscriber_id, **extra)
        return self._fast.sign(scope, _payload_json(scope, center, subscriber_id, extra), int(self._clock()))

    def manage_url(self, center: str, subscriber_id: str, *, locale: str | None = None) -> str:
        """The footer link that opens the subscriber's preferences (``manage`` scope)."""
        token = self.mint("manage", center, subscriber_id, l=_opt_str("locale", locale))
        return f"{self.base_url}/c/{_path_segment(center)}/preferences?t={token}"

    def agent_url(
        self,
        center: str,
        agent_id: str,
        *,
        name: str,
        permissions: Sequence[str] = AGENT_PERMISSIONS,
        locale: str | None = None,
    ) -> str:
        """The call-center console for one agent's shift (``agent`` scope, 12 hours).

        Call it from the host's single sign-on once the agent is signed in: ``agent_id`` is
        the id the SSO gives (recorded as ``agent:<id>`` in every change), ``name`` the display
        name shown on the console (never to the customer), ``permissions`` what they may do:
        ``view`` (search and read) and ``change`` (save on a customer's behalf).
        """
        _check_ids(center, agent_id)
        if len(agent_id) > AGENT_ID_MAX or not agent_id.isprintable():
            raise ValueError(f"an agent id is 1 to {AGENT_ID_MAX} printable characters (the ledger records agent:<id>)")
        unknown = sorted(set(permissions) - set(AGENT_PERMISSIONS))
        if unknown or not permissions:
            raise ValueError(f"agent permissions are some of {', '.join(AGENT_PERMISSIONS)}; not {unknown or 'none'}")
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise ValueError("an agent's display name is 1 to 80 characters")
        token = self.mint("agent", center, agent_id, n=name.strip(), p=",".join(sorted(set(permissions))),
                          l=_opt_str("locale", locale))
        return f"{self.base_url}/c/{_path_segment(center)}/agent?t={token}"

    def unsubscribe_url(
        self,
        center: str,
        subscriber_id: str,
        *,
        topic: str | None = None,
        channel: str | None = None,
        locale: str | None = None,
    ) -> str:
        """A link that unsubscribes (``unsubscribe`` scope).

        Without ``topic`` it means "unsubscribe from everything" (suppression, every
        channel). With one, ``channel`` says which of its channels (the server takes
        ``email`` when there is none). Both travel in the token, not the query, so they
        cannot be edited.
        """
        token = self.mint(
            "unsubscribe", center, subscriber_id,
            tp=_opt_str("topic", topic), ch=_opt_str("channel", channel), l=_opt_str("locale", locale),
        )
        return f"{self.base_url}/c/{_path_segment(center)}/unsubscribe?t={token}"

    def list_unsubscribe_headers(
        self,
        center: str,
        subscriber_id: str,
        *,
        topic: str | None = None,
        channel: str | None = "email",
        mailto: str | None = None,
        locale: str | None = None,
    ) -> dict[str, str]:
        """``List-Unsubscribe`` (RFC 2369) and ``List-Unsubscribe-Post`` (RFC 8058).

        ``mailto`` is the list's own unsubscribe mailbox (``unsubscribe@example.com``),
        offered after the one-click URL; it never carries anything about the subscriber.
        ``locale`` is for a mail client that opens the URL in a browser (a GET, which
        must not unsubscribe by itself) rather than posting to it. RFC 8058 also asks
        for a DKIM signature that covers both headers: that is the sending system's job.
        """
        if not self._one_click_ok:
            raise ValueError(
                f"one-click unsubscribe (RFC 8058) needs an https base_url, not {self.base_url!r}; "
                "http is only accepted for localhost, 127.0.0.1 and ::1"
            )
        url = self.unsubscribe_url(center, subscriber_id, topic=topic, channel=channel, locale=locale)
        value = f"<{url}>" if mailto is None else f"<{url}>, <{_mailto_uri(mailto)}>"
        return {"List-Unsubscribe": value, "List-Unsubscribe-Post": ONE_CLICK}


class _FastSigner:
    """Signs as ``URLSafeTimedSerializer(secret, salt=f"preference-center.{scope}")``.

    Holds one keyed HMAC per scope (copied per token) instead of deriving the key every
    time. It signs the payload's compact JSON (see :func:`_payload_json`).
    """

    def __init__(self, secret: str | bytes) -> None:
        secret = secret.encode() if isinstance(secret, str) else secret
        self._macs = {scope: hmac.new(_derive_key(scope, secret), digestmod=hashlib.sha1) for scope in SCOPES}
        self._stamp: tuple[int, bytes] = (-1, b"")

    def sign(self, scope: str, payload_json: str, now: int) -> str:
        try:
            mac = self._macs[scope].copy()
        except KeyError:
            raise ValueError(f"unknown token scope {scope!r}; known: {', '.join(SCOPES)}") from None
        data = payload_json.encode()
        packed = zlib.compress(data)
        body = b"." + _b64(packed) if len(packed) < len(data) - 1 else _b64(data)
        value = body + b"." + self._timestamp(now)
        mac.update(value)
        return (value + b"." + _b64(mac.digest())).decode("ascii")

    def _timestamp(self, now: int) -> bytes:
        # Consecutive tokens share the second: encode it once. One read of the pair, so
        # another thread replacing it cannot hand us its second.
        stamp = self._stamp
        if stamp[0] != now:
            stamp = self._stamp = (now, _b64(now.to_bytes(8, "big").lstrip(b"\x00")))
        return stamp[1]

    def agrees_with(self, secrets: Sequence[str | bytes]) -> bool:
        """Whether this makes byte-for-byte the tokens :class:`TokenSigner` makes.

        Checked once per minter (about a millisecond), for every scope, with a payload
        zlib shortens, one it does not, and one that is not all strings, so a change in
        itsdangerous or in ``json`` cannot silently break links.
        """
        probe_time = 1_767_225_600
        reference = TokenSigner(secrets, clock=lambda: probe_time)
        probes: list[tuple[str, str, dict[str, Any]]] = [
            ("maison-lumiere", "sub_probe", {"l": "fr", "tp": "é\"\n"}),
            ("c" * 40, "s" * 60, {"tp": "t" * 30}),
            ("maison-lumiere", "sub_probe", {"j": 7, "x": [True, None]}),
        ]
        for scope in SCOPES:
            for center, subscriber, extra in probes:
                payload = _payload_json(scope, center, subscriber, extra)
                if self.sign(scope, payload, probe_time) != reference.mint(scope, center, subscriber, **extra):
                    return False
        return True


def _payload_json(scope: str, center: str, subscriber: str, extra: dict[str, Any]) -> str:
    """The compact JSON ``TokenSigner.mint`` signs, in the same key order.

    Built by hand when every value is a string (four times faster than a JSON encoder,
    and the same text: ``encode_basestring`` is what the encoder uses for strings with
    ``ensure_ascii=False``); anything else, or an extra that overrides a base key as
    ``dict.update`` would, goes through the encoder.
    """
    parts = ['{"v":', str(FORMAT_VERSION), ',"c":', _quote(center), ',"s":', _quote(subscriber), ',"k":', _quote(scope)]
    for key, value in extra.items():
        if value is None:
            continue
        if type(value) is not str or key in _BASE_KEYS:
            payload = {"v": FORMAT_VERSION, "c": center, "s": subscriber, "k": scope}
            payload.update((k, v) for k, v in extra.items() if v is not None)
            return _COMPACT_JSON(payload)
        parts += [",", _quote(key), ":", _quote(value)]
    parts.append("}")
    return "".join(parts)


def _derive_key(scope: str, secret: bytes) -> bytes:
    # itsdangerous' default key derivation ("django-concat") with its default SHA-1.
    return hashlib.sha1(f"preference-center.{scope}".encode() + b"signer" + secret).digest()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _check_base_url(base_url: str) -> tuple[str, bool]:
    """The base URL without its trailing slash, and whether RFC 8058 accepts it."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an absolute http(s) URL, like https://prefs.example.com, not {base_url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("base_url must not carry a query, a fragment or credentials")
    one_click_ok = parts.scheme == "https" or parts.hostname in LOOPBACK_HOSTS
    return base_url.rstrip("/"), one_click_ok


def _check_ids(center: str, subscriber_id: str) -> None:
    if not isinstance(center, str) or not center:
        raise ValueError("center must be a non-empty center id")
    if not isinstance(subscriber_id, str) or not subscriber_id:
        raise ValueError("subscriber_id must be a non-empty subscriber id (sub_...)")


def _opt_str(name: str, value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{name} must be a non-empty string or None")
    return value


@lru_cache(maxsize=256)
def _path_segment(center: str) -> str:
    return quote(center, safe="")


@lru_cache(maxsize=64)
def _mailto_uri(address: str) -> str:
    """``mailto:<address>?subject=unsubscribe``, escaped per RFC 6068."""
    if address.lower().startswith("mailto:"):
        address = address[len("mailto:"):]
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c in "<>\x7f" or ord(c) < 32 for c in address):
        raise ValueError("mailto must be one email address, like unsubscribe@example.com")
    return f"mailto:{quote(address, safe=_MAILTO_SAFE)}?subject={quote('unsubscribe', safe='')}"
