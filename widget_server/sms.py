"""Outgoing SMS: the host's gateway over HTTPS in production, a folder of JSON files otherwise.

We do not speak to a telecom operator: every brand already has an SMS provider (or an
in-house gateway in front of several), so the server POSTs each message as JSON
(``{"to": "+33612345678", "text": "..."}``) to the one address the host configures,
signed like our webhooks (Standard Webhooks headers, :func:`preference_sdk.webhook_headers`),
so the gateway can check that a message really comes from us before paying to send it.

The folder transport is what ``widget-server demo`` uses, as :class:`~.mailer.FolderMailer`
does for mail: a kiosk's phone identification works on a laptop; open the newest file
in ``var/sms``.

Neither sender ever logs a number or a text: a code in a log is a code anyone reading
the log can use.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import anyio
import httpx
from preference_sdk import webhook_headers

from .settings import Settings

log = logging.getLogger("widget_server.sms")

#: How long the gateway may take to accept a message: a customer is waiting at the kiosk.
TIMEOUT = 10.0

LOOPBACK_NAMES = ("localhost",)


class SmsNotSent(Exception):
    """The gateway did not take the message (no answer, or an answer other than 2xx).

    The message says which, never the number or the text.
    """


@runtime_checkable
class SmsSender(Protocol):
    async def send(self, to: str, text: str) -> None:
        """Send ``text`` to ``to`` (E.164), or raise :class:`SmsNotSent`."""
        ...


def check_gateway_url(url: str) -> str:
    """``url`` if codes may be sent to it: HTTPS, or plain HTTP to this machine only.

    A code sent over plain HTTP across a network could be read on the way; a gateway on
    the same machine (and the tests' receiver) is reached over the loopback interface.
    """
    parsed = httpx.URL(url)
    if parsed.scheme == "https" and parsed.host:
        return url
    if parsed.scheme == "http" and _is_loopback(parsed.host):
        return url
    raise ValueError(
        f"SMS_URL must be an https:// address (or http:// to 127.0.0.1, ::1 or localhost), not {url!r}"
    )


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HttpSmsSender:
    """POSTs each message to the host's gateway, signed with its secret.

    ``transport`` is an httpx transport, for tests (``httpx.MockTransport``).
    """

    def __init__(self, url: str, secret: str | Sequence[str], *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.url = check_gateway_url(url)
        if not secret:
            raise ValueError("SMS_URL is set but SMS_SECRET is not: set it to the gateway's whsec_... secret")
        webhook_headers(secret, "check", b"")  # a secret that cannot sign fails now, not at the first code
        self.secret = secret
        self.transport = transport
        self.timeout = timeout

    async def send(self, to: str, text: str) -> None:
        body = json.dumps({"to": to, "text": text}, ensure_ascii=False).encode()
        headers = {"content-type": "application/json", **webhook_headers(self.secret, _message_id(), body)}
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout,
                                         follow_redirects=False) as client:
                answer = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            log.warning("SMS gateway not reached: %s", type(error).__name__)
            raise SmsNotSent(f"gateway not reached ({type(error).__name__})") from None
        if not answer.is_success:
            log.warning("SMS gateway answered %s", answer.status_code)
            raise SmsNotSent(f"gateway answered {answer.status_code}")


class FolderSmsSender:
    """Writes each message to ``folder`` as one JSON file (``to``, ``text``)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    async def send(self, to: str, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = _message_id()
        partial = anyio.Path(self.folder / f"{name}.partial")
        await partial.write_text(json.dumps({"to": to, "text": text}, ensure_ascii=False), encoding="utf-8")
        # Whoever watches the folder sees a whole message or none: renaming is atomic.
        await partial.rename(self.folder / f"{name}.json")
        log.info("SMS written to %s.json", name)


def _message_id() -> str:
    return "sms_" + secrets.token_hex(8)


def make_sms_sender(settings: Settings) -> SmsSender:
    """The gateway ``SMS_URL`` names, else the folder ``SMS_DIR`` (said once at start: outside the
    demo, codes in a folder reach no phone, and the folder holds numbers and codes)."""
    if settings.sms_url:
        return HttpSmsSender(settings.sms_url, settings.sms_secret)
    log.warning("no SMS gateway (WIDGET_SMS_URL): text messages are written to %s, not sent", settings.sms_dir)
    return FolderSmsSender(settings.sms_dir)
