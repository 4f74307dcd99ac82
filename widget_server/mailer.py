"""Outgoing mail: SMTP (aiosmtplib) in production, a folder of ``.eml`` files otherwise.

The folder transport is what ``widget-server demo`` uses, so "send me a new link" works
on a laptop with no mail server: open the newest file in ``var/mail``.
"""

from __future__ import annotations

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
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        await aiosmtplib.send(
            message, hostname=s.smtp_host, port=s.smtp_port, start_tls=s.smtp_starttls,
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


def build_message(sender: str, recipient: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message
