"""The mail outbox's two halves: the queue requests write to, and the worker that sends.

:class:`MailQueue` is what "send me a new link" calls: in one write transaction it reads
the limits' count (per address, per client, each per center: ``store/mail_outbox.py``)
and queues the mail, or refuses with the seconds to wait (:class:`~.errors.LinkLimitReached`).
It does the same for an address nobody has: the row names the address only by its keyed
hash, and who it belongs to is the worker's question, so a known and an unknown address
cost the request the same statements and the same write.

:class:`MailWorker` runs inside each server process beside the webhook worker, woken
after the request has been answered (or every second). Each pass claims due rows with a
lease, so several processes never send the same attempt twice; resolves each recipient
(nobody: the row is done, and nothing is sent); mints the ``login`` link and renders the
mail in the row's language (:class:`MailComposer`); sends through the
:class:`~.mailer.Mailer` (SMTP, or the ``.eml`` folder); and records done, a retry after
``first_retry * 2**n``, or failed after :data:`MAX_ATTEMPTS`. Settled rows are blanked,
and deleted once out of the limits' window.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Mapping

import anyio
from preference_sdk import TokenSigner
from sqlalchemy import Connection, select

from ..centers.model import Center
from ..errors import LinkLimitReached
from ..i18n import Translator
from ..mailer import Mailer
from ..settings import Settings
from ..store import confirmations
from ..store import mail_outbox as outbox
from ..store.mail_outbox import CONFIRM, FRESH_LINK, REPERMISSION, Limits, Mail
from ..store.store import Store
from ..store.tables import repermission_reminders, subscriptions
from .mail_compose import About, Claimed, MailComposer, wait_until
from .outbox_pass import one_pass, retry_delay

if TYPE_CHECKING:
    from jinja2 import Environment

    from ..web.dependencies import AppState

log = logging.getLogger("widget_server.workers.mail")

LEASE = timedelta(seconds=60)
#: A whole send, connection included; well inside the lease, so a claim never outlives its send.
SEND_TIMEOUT = 30.0
#: Attempts before a mail is marked failed: with the default first retry of 5 s, the last
#: comes some ten minutes after the request, while its new link is still worth having.
MAX_ATTEMPTS = 8
POLL = 1.0
BATCH = 20
#: How often settled rows out of the window are deleted.
FORGET_EVERY = timedelta(minutes=1)


def limits_of(settings: Settings) -> Limits:
    return Limits(settings.link_limit_per_address, settings.link_limit_per_client,
                  timedelta(minutes=settings.link_limit_window_minutes))


def client_key(host: str | None) -> str:
    """What a client is counted as: its IPv4 address, or its IPv6 /64 (one subscriber line)."""
    try:
        ip = ipaddress.ip_address(host or "")
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is None:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        ip = ip.ipv4_mapped
    return str(ip)


class MailQueue:
    """Queues mails within the limits; ``wake`` tells this process's worker (or no one)."""

    def __init__(self, store: Store, clock: Callable[[], datetime], limits: Limits,
                 wake: Callable[[], None]) -> None:
        self.store, self.clock, self.limits = store, clock, limits
        self.wake = wake

    async def fresh_link(self, center: str, locale: str, client: str | None, *, address: str | None = None,
                         subscriber_id: str | None = None) -> None:
        """Queue a new ``login`` link for ``address`` (typed), or for an expired link's ``subscriber_id``.

        Raises :class:`LinkLimitReached` (``retry_after``: seconds) when a limit is reached.
        Call :attr:`wake` once the request is answered.
        """
        if (address is None) == (subscriber_id is None):
            raise ValueError("a new link is for an address or for a subscriber")
        now = self.clock()
        client_hash = self.store.lookup_hash(center, "client", client_key(client))
        typed = self.store.lookup_hash(center, "email", address) if address is not None else ""

        def transaction() -> int | None:
            with self.store.writing() as connection:
                address_hash = typed
                if subscriber_id is not None:  # counted as their address, else as themself
                    address_hash = (outbox.address_hash_of(connection, subscriber_id)
                                    or self.store.lookup_hash(center, "subscriber", subscriber_id))
                mail = Mail(center, FRESH_LINK, address_hash, client_hash, locale, subscriber_id)
                return outbox.queue_within_limits(connection, mail, self.limits, now)

        retry_after = await anyio.to_thread.run_sync(transaction)
        if retry_after is not None:
            raise LinkLimitReached(retry_after=retry_after)

    async def for_subscriber(self, kind: str, center: str, locale: str, client: str | None,
                             subscriber_id: str) -> None:
        """Queue a ``kind`` mail to a subscriber (a confirmation resent, an erasure to confirm),
        within the same limits as a new link: counted as their address, else as themself.

        The same statements whether or not they have an address: the worker finds none and
        sends nothing, and the visitor's answer does not say which. Raises
        :class:`LinkLimitReached` over a limit; call :attr:`wake` once answered.
        """
        now = self.clock()
        client_hash = self.store.lookup_hash(center, "client", client_key(client))

        def transaction() -> int | None:
            with self.store.writing() as connection:
                address_hash = (outbox.address_hash_of(connection, subscriber_id)
                                or self.store.lookup_hash(center, "subscriber", subscriber_id))
                mail = Mail(center, kind, address_hash, client_hash, locale, subscriber_id)
                return outbox.queue_within_limits(connection, mail, self.limits, now)

        retry_after = await anyio.to_thread.run_sync(transaction)
        if retry_after is not None:
            raise LinkLimitReached(retry_after=retry_after)


class MailWorker:
    """Sends the mail outbox (see the module's docstring)."""

    def __init__(self, store: Store, clock: Callable[[], datetime], mailer: Mailer, composer: MailComposer, *,
                 first_retry: timedelta, window: timedelta, max_attempts: int = MAX_ATTEMPTS,
                 poll_interval: float = POLL) -> None:
        self.store, self.clock, self.mailer, self.composer = store, clock, mailer, composer
        self.first_retry, self.window, self.max_attempts = first_retry, window, max_attempts
        self.poll_interval = poll_interval
        self.due = asyncio.Event()
        self._forgotten_at: datetime | None = None

    @classmethod
    def build(cls, settings: Settings, store: Store, clock: Callable[[], datetime], mailer: Mailer, *,
              centers: Mapping[str, Center], signer: TokenSigner, translator: Translator, jinja: Environment,
              **options: Any) -> MailWorker:
        """The worker ``settings`` describe (``options`` override its keyword arguments)."""
        arguments: dict[str, Any] = {"first_retry": timedelta(milliseconds=settings.mail_first_retry_ms),
                                     "window": limits_of(settings).window, **options}
        composer = MailComposer(settings, centers, signer, translator, jinja, clock)
        return cls(store, clock, mailer, composer, **arguments)

    @classmethod
    def for_app(cls, state: AppState, mailer: Mailer | None = None, *, store: Store | None = None,
                **options: Any) -> MailWorker:
        """Another worker like the app's (tests: a second process's, or one run by hand)."""
        return cls.build(state.settings, store or state.store, state.clock, mailer or state.mailer,
                         centers=state.centers, signer=state.signer, translator=state.translator, jinja=state.jinja,
                         **options)

    async def run(self) -> None:
        """Send until cancelled; wake on :attr:`due`, when a retry falls due, or every ``poll_interval``."""
        while True:
            try:
                sent = await self.send_due()
                wait = 0.0 if sent else await anyio.to_thread.run_sync(self._idle_for)
            except Exception:  # a bad pass must not stop the worker (logged with its traceback)
                log.exception("mail pass failed")
                wait = self.poll_interval
            if wait > 0:
                with anyio.move_on_after(wait):
                    await self.due.wait()
                self.due.clear()

    async def send_due(self) -> int:
        """One pass: claim, send, record. Returns how many rows were settled or tried."""
        return await one_pass(self._claim, self._send, self._settle)

    def _idle_for(self) -> float:
        """Seconds to wait with nothing due: until the next retry, at most ``poll_interval``."""
        with self.store.engine.connect() as connection:
            upcoming = outbox.next_due(connection)
        if upcoming is None:
            return self.poll_interval
        return min(max((upcoming - self.clock()).total_seconds(), 0.01), self.poll_interval)

    def _claim(self) -> list[Claimed]:
        now = self.clock()
        if self._forgotten_at is None or now - self._forgotten_at >= FORGET_EVERY:
            with self.store.writing() as connection:
                outbox.forget(connection, now - self.window)
            self._forgotten_at = now
        # Look first, in a read transaction: an idle outbox must not take the write lock every
        # poll. ``claim`` checks again under the lock, so a row taken meanwhile is skipped.
        with self.store.engine.connect() as connection:
            due = outbox.due(connection, now, BATCH)
        if not due:
            return []
        claimed = []
        with self.store.writing() as connection:
            for row in due:
                taken = outbox.claim(connection, row["id"], now, LEASE)
                if taken is None:
                    continue
                whom = outbox.recipient(connection, taken["center"], taken["address_hash"], taken["subscriber_id"])
                about = self._about(connection, taken, whom[0]) if whom else ()
                claimed.append(Claimed(taken["id"], taken["lease"], taken["attempts"], taken["center"],
                                       taken["kind"], taken["locale"], whom, about))
        return claimed

    def _about(self, connection: Connection, row: Mapping[str, Any], subscriber_id: str) -> tuple[About, ...]:
        """What a confirmation or a reminder is about, as the store holds it now: a subscription
        confirmed or changed since the mail was queued is no longer asked about."""
        if row["kind"] == CONFIRM:
            center = self.composer.centers.get(row["center"])
            days = center.consent.pending_days if center else 0
            return tuple(wait_until(About(p.topic, p.channel, p.until), days, p.since)
                         for p in confirmations.pending_on_email(connection, subscriber_id))
        if row["kind"] == REPERMISSION:
            r, s = repermission_reminders.c, subscriptions.c
            found = connection.execute(
                select(r.topic, r.channel, r.until).join(subscriptions, (s.subscriber_id == r.subscriber_id)
                                                         & (s.topic == r.topic) & (s.channel == r.channel))
                .where(r.mail_id == row["id"], s.state == "opted_in", s.until == r.until)
            ).first()
            return (About(found[0], found[1], found[2]),) if found else ()
        return ()

    async def _send(self, mail: Claimed) -> str | None:
        """None when sent or when there is nothing to send; else why not (short: no address in it)."""
        try:
            message = self.composer.compose(mail)
            if message is None:
                return None
            with anyio.fail_after(SEND_TIMEOUT):
                await self.mailer.send(message)
        except TimeoutError:
            return "timeout"
        except Exception as exc:  # noqa: BLE001 - any failure is this mail's, never the batch's
            return type(exc).__name__  # not its message: an SMTP refusal quotes the address
        return None

    def _settle(self, results: list[tuple[Claimed, str | None]]) -> None:
        now = self.clock()
        with self.store.writing() as connection:
            for mail, error in results:
                tried = mail.attempts + 1
                retry_at = None
                if error is not None and tried < self.max_attempts:
                    retry_at = now + retry_delay(self.first_retry, tried)
                outbox.settle(connection, mail.id, mail.lease, now=now, error=error, retry_at=retry_at)
                if error is not None:
                    log.warning("mail %s failed (%s), attempt %s%s", mail.id, error, tried,
                                "" if retry_at else ": given up")
