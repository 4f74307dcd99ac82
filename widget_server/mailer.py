"""Outgoing mail: SMTP (aiosmtplib) in production, a folder of ``.eml`` files otherwise.

The folder transport is what ``widget-server demo`` uses, so "send me a new link" works
on a laptop with no mail server: open the newest file in ``var/mail``.
"""

from __future__ import annotations

import email.policy
import logging
import secrets
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib
import anyio

from .settings import Settings

log = logging.getLogger("widget_server.mail")


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SMTPMailer:
    """One connection per mail, as the outbox worker sends them: plain, STARTTLS or TLS from the
    start (the certificate checked either way), with a login when a user name is set."""

    def __init__(self, settings: Settings) -> None:
        if settings.smtp_tls and settings.smtp_starttls:
            raise ValueError("SMTP_TLS (TLS from the start, port 465) and SMTP_STARTTLS (an upgrade, port 587) "
                             "exclude each other: set one")
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        await aiosmtplib.send(
            message, hostname=s.smtp_host, port=s.smtp_port, use_tls=s.smtp_tls,
            # A bool, never None: with None aiosmtplib upgrades whenever the server offers STARTTLS.
            start_tls=s.smtp_starttls if not s.smtp_tls else False,
            username=s.smtp_username or None, password=s.smtp_password or None, timeout=30,
        )


class FolderMailer:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    async def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = secrets.token_hex(8)
        partial = anyio.Path(self.folder / f"{name}.partial")
        await partial.write_bytes(bytes(message))
        # Whoever watches the folder sees a whole message or none: renaming is atomic.
        await partial.rename(self.folder / f"{name}.eml")
        log.info("mail written to %s.eml", name)


def make_mailer(settings: Settings) -> Mailer:
    return SMTPMailer(settings) if settings.smtp_host else FolderMailer(settings.mail_dir)


#: RFC 5322's line limit, not the 78 characters it recommends: a ``List-Unsubscribe`` URL has no
#: space to fold at, and the default policy would turn it into encoded words no client reads.
POLICY = email.policy.default.clone(max_line_length=998)


def build_message(sender: str, recipient: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    """A mail with a text part and, when given, an HTML alternative (clients show the last they can)."""
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    # Quoted-printable: 7-bit safe through any relay, and still readable in a .eml file.
    message.set_content(text, cte="quoted-printable")
    if html:
        message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message
