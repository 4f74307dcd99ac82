"""The shop tablet's rules: who the customer at the kiosk is, how they prove it, what they may change.

A customer says who they are (an e-mail address, a phone number, a loyalty number:
:mod:`.contact_input` reads it) and proves it, by one of:

- a **one-time code** sent to that contact: :data:`CODE_DIGITS` digits from
  :mod:`secrets`, good for :data:`CODE_LIFETIME` and :data:`CODE_ATTEMPTS` tries. Only
  an HMAC of the session id and the code is stored (keyed with the store's lookup key),
  compared with :func:`hmac.compare_digest`, so neither a database reader nor a timing
  measurement learns a code. A loyalty number's code goes to the contact saved with it,
  if there is one; to whoever asks, the answer looks the same either way.
- a **staff attestation**: a member of staff ticks that they checked the customer's
  identity in person and types the tablet's **staff PIN** (with their staff id if they
  give one). The PIN is what makes it a staff's attestation: the kiosk link is in the
  tablet's address for a year, anyone holding the tablet has it, but only the staff were
  given the PIN (shown once when the device was provisioned, stored as a keyed hash, see
  :mod:`.store.devices`). A wrong PIN is recorded and counted: after
  :data:`STAFF_PIN_ATTEMPTS` in :data:`LIMIT_WINDOW`, the device takes no attestation
  until the oldest of them leaves the window. A device without a PIN takes none.

Sessions are limited per kiosk (codes, attestations and wrong PINs alike) and codes per
contact over :data:`LIMIT_WINDOW`, counted in the same write transaction as the new
session (writers are serialised on both engines), so two requests at once cannot both
take the last one. A new session ends the kiosk's previous ones in that transaction. A
verified session may change that customer's choices through the one write path for
:data:`SESSION_LIFETIME` after its last save; "I'm done" and the idle reset end it. A
session id that is not of the shape the kiosk makes is refused before any query. The
rows are in :mod:`.store.kiosk_sessions`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Callable, Mapping

import anyio
from sqlalchemy import Connection, update

from .centers.model import Center
from .changes import Changes
from .errors import (
    CodeLimitReached,
    CodeLocked,
    CodeNotSent,
    KioskBusy,
    NotAllowedHere,
    StaffIdInvalid,
    StaffPinNotSet,
    StaffPinsLimitReached,
    StaffPinWrong,
    WrongCode,
)
from .i18n import Translator, text_direction
from .ledger import EventContext
from .mailer import Mailer, build_message
from .preferences import Preferences
from .settings import Settings
from .sms import SmsSender
from .store import contacts, devices
from .store import kiosk_sessions as rows
from .store.devices import Device
from .store.kiosk_sessions import KioskSession
from .store.store import SaveResult, Store, VersionConflict
from .store.tables import subscribers

if TYPE_CHECKING:
    from jinja2 import Environment

log = logging.getLogger("widget_server.kiosk")

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
CODE_ATTEMPTS = 3
#: How long a verified session stays open after its verification or its last save.
SESSION_LIFETIME = timedelta(minutes=15)
LIMIT_WINDOW = timedelta(hours=1)
#: Wrong staff PINs a device takes in :data:`LIMIT_WINDOW` before it refuses attestations.
STAFF_PIN_ATTEMPTS = 5
#: Seconds after the answer before a loyalty number's code is looked up and sent (see CodeSender.later).
LOYALTY_SEND_DELAY = 0.25

#: A staff id as the ledger's actor writes it (``staff:<id>``): a badge number, initials, a login.
_STAFF_ID = re.compile(r"^[\w.@-]{1,64}$")


# -- the kiosk's own errors (rendered by the one handler, as errors.py's are) --------------------------


# -- codes ---------------------------------------------------------------------------------------------


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(key: bytes, session_id: str, code: str) -> str:
    """The stored form of a code: keyed, and bound to its session."""
    return hmac.new(key, f"kiosk code\x00{session_id}\x00{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(key: bytes, session_id: str, typed: str, stored: str | None) -> bool:
    """Whether ``typed`` (spaces ignored) is the session's code; the comparison takes the same
    time wherever the two differ."""
    compact = "".join(typed.split())
    return stored is not None and hmac.compare_digest(code_hash(key, session_id, compact), stored)


@dataclass(frozen=True)
class CodeLimits:
    per_device: int
    per_contact: int
    window: timedelta = LIMIT_WINDOW

    @classmethod
    def of(cls, settings: Settings) -> CodeLimits:
        return cls(settings.kiosk_codes_per_device, settings.kiosk_codes_per_contact)


@dataclass(frozen=True)
class Identity:
    """What the customer typed, as :func:`.contact_input.normalise` read it."""

    kind: str  # email, phone, loyalty
    value: str


@dataclass(frozen=True)
class Destination:
    """Where a code goes: ``email`` or ``sms``, and the address."""

    channel: str
    address: str


def check_staff_id(typed: str | None) -> str | None:
    staff = (typed or "").strip()
    if not staff:
        return None
    if not _STAFF_ID.match(staff):
        raise StaffIdInvalid()
    return staff


# -- sessions ------------------------------------------------------------------------------------------


class Kiosk:
    """Kiosk sessions over the store: start (code or attestation), verify, save, end."""

    def __init__(self, store: Store, changes: Changes, clock: Callable[[], datetime], limits: CodeLimits) -> None:
        self.store, self.changes, self.clock, self.limits = store, changes, clock, limits

    async def start_with_code(self, device: Device, identity: Identity) -> tuple[KioskSession, str, Destination | None]:
        """A pending session, its code, and where to send it: what was typed, or None for a loyalty
        number, whose contact on file :meth:`saved_destination` finds after the answer (so that a
        number we know costs the request no more than one we do not)."""
        return await anyio.to_thread.run_sync(self._start_with_code, device, identity)

    def _start_with_code(self, device: Device, identity: Identity) -> tuple[KioskSession, str, Destination | None]:
        with self.store.writing() as connection:
            now = self.clock()
            rows.forget(connection, now)
            contact_hash = self.store.lookup_hash(device.center, identity.kind, identity.value)
            self._check_limits(connection, device, contact_hash, now)
            subscriber_id = self.store.find_by_contact_in(connection, device.center, identity.kind, identity.value)
            session_id, code = rows.new_session_id(), new_code()
            session = rows.start(connection, KioskSession(
                id=session_id, center=device.center, device_id=device.id, kind=identity.kind,
                contact_hash=contact_hash, contact=identity.value, subscriber_id=subscriber_id, method=rows.CODE,
                staff_id=None, code_hash=code_hash(self.store.lookup_key, session_id, code), attempts=0,
                status=rows.PENDING, expires_at=now + CODE_LIFETIME, verified_at=None, ended_at=None,
                created_at=now))
            return session, code, None if identity.kind == "loyalty" else destination_of(connection, identity, None)

    def _check_limits(self, connection: Connection, device: Device, contact_hash: str, now: datetime) -> None:
        since = now - self.limits.window
        self._check(rows.started_since(connection, since, device.id), self.limits.per_device, now, CodeLimitReached)
        self._check(rows.codes_since(connection, since, device.center, contact_hash), self.limits.per_contact, now,
                    CodeLimitReached)

    def _check(self, counted: tuple[int, datetime | None], limit: int, now: datetime,
               error: type[CodeLimitReached]) -> None:
        """``error`` with Retry-After (when the oldest counted leaves the window) once ``limit`` is reached."""
        count, oldest = counted
        if count >= limit:
            wait = (oldest + self.limits.window - now).total_seconds() if oldest else self.limits.window.seconds
            raise error(retry_after=max(1, math.ceil(wait)))

    async def saved_destination(self, session: KioskSession) -> Destination | None:
        """Where a loyalty number's code goes: the contact saved with it; None for a number we do not know."""
        if session.subscriber_id is None:
            return None

        def read() -> Destination | None:
            with self.store.engine.connect() as connection:
                return destination_of(connection, Identity(session.kind, ""), session.subscriber_id)

        return await self.store.run_sync(read)

    async def attest(self, device: Device, identity: Identity, staff_id: str | None, pin: str) -> KioskSession:
        """A session verified at once by a member of staff, who proves it is them with the device's
        staff PIN. Else :class:`StaffPinNotSet` (a device without one), :class:`StaffPinsLimitReached`
        (too many wrong PINs in the hour), :class:`KioskBusy` (the device's hourly limit), or
        :class:`StaffPinWrong` (recorded and counted before it is raised); nothing of the customer
        is looked up until the PIN is right."""
        if device.staff_pin_hash is None:
            raise StaffPinNotSet()
        if not "".join(pin.split()):  # nothing typed: no PIN was tried, so none is counted
            raise StaffPinWrong()
        session = await anyio.to_thread.run_sync(self._attest, device, identity, staff_id, pin)
        if session is None:
            raise StaffPinWrong()
        return session

    def _attest(self, device: Device, identity: Identity, staff_id: str | None, pin: str) -> KioskSession | None:
        with self.store.writing() as connection:
            now = self.clock()
            rows.forget(connection, now)
            since = now - self.limits.window
            self._check(rows.refused_since(connection, since, device.id), STAFF_PIN_ATTEMPTS, now,
                        StaffPinsLimitReached)
            self._check(rows.started_since(connection, since, device.id), self.limits.per_device, now, KioskBusy)
            contact_hash = self.store.lookup_hash(device.center, identity.kind, identity.value)
            attested = KioskSession(
                id=rows.new_session_id(), center=device.center, device_id=device.id, kind=identity.kind,
                contact_hash=contact_hash, contact=None, subscriber_id=None, method=rows.ATTESTATION,
                staff_id=staff_id, code_hash=None, attempts=0, status=rows.VERIFIED,
                expires_at=now + SESSION_LIFETIME, verified_at=now, ended_at=None, created_at=now)
            if not devices.staff_pin_matches(self.store.lookup_key, device, pin):
                rows.record(connection, replace(attested, status=rows.REFUSED, expires_at=now, verified_at=None))
                return None  # committed: the wrong PIN counts
            subscriber_id = self.store.find_by_contact_in(connection, device.center, identity.kind, identity.value)
            return rows.start(connection, replace(
                attested, subscriber_id=subscriber_id, contact=identity.value if subscriber_id is None else None))

    async def verify(self, device: Device, session_id: str, typed: str) -> KioskSession:
        """The session, verified by ``typed``; else :class:`WrongCode` (with ``attempts_left``),
        :class:`CodeLocked`, or :class:`NotAllowedHere` for a session that is not this kiosk's
        or has ended (or a session id of no shape the kiosk makes). Each try is recorded before
        the error is raised."""
        if not rows.well_formed(session_id):
            raise NotAllowedHere()
        outcome, session = await anyio.to_thread.run_sync(self._verify, device, session_id, typed)
        if outcome == "verified" and session is not None:
            return session
        if outcome == "wrong" and session is not None:
            raise WrongCode(attempts_left=CODE_ATTEMPTS - session.attempts - 1)
        if outcome == "locked":
            raise CodeLocked()
        raise NotAllowedHere()

    def _verify(self, device: Device, session_id: str, typed: str) -> tuple[rows.Outcome, KioskSession | None]:
        key = self.store.lookup_key
        with self.store.writing() as connection:
            session = rows.get(connection, device.center, device.id, session_id)
            if session is None:
                return "gone", None
            outcome = rows.verify(connection, session, lambda s: code_matches(key, s.id, typed, s.code_hash),
                                  self.clock(), attempts=CODE_ATTEMPTS, lifetime=SESSION_LIFETIME)
            if outcome == "verified":
                session = rows.get(connection, device.center, device.id, session_id)
            return outcome, session

    async def live(self, device: Device, session_id: str | None) -> KioskSession:
        """The device's live verified session, or :class:`NotAllowedHere` (ended, expired, another's, malformed)."""
        if session_id is None or not rows.well_formed(session_id):
            raise NotAllowedHere()

        def read() -> KioskSession | None:
            with self.store.engine.connect() as connection:
                return rows.live(connection, device.center, device.id, session_id, self.clock())

        session = await self.store.run_sync(read)
        if session is None:
            raise NotAllowedHere()
        return session

    async def end(self, device: Device, session_id: str | None) -> None:
        """End the session (its contact blanked); no session, a malformed id, or another kiosk's: nothing to do."""
        if session_id is not None and rows.well_formed(session_id):
            await anyio.to_thread.run_sync(self._end, device, session_id)

    def _end(self, device: Device, session_id: str) -> None:
        with self.store.writing() as connection:
            rows.end(connection, device.center, device.id, session_id, self.clock())

    async def save(self, device: Device, center: Center, session_id: str, desired: Preferences, *,
                   base_version: int, seen: Preferences | None, submission_id: str | None, locale: str,
                   client: Mapping[str, Any]) -> SaveResult:
        """Save the session's customer's choices through the one write path, with the kiosk's proof.

        A customer we did not know becomes a subscriber, with the contact point they proved
        and the kiosk's location as their origin, in the same transaction as their first
        event. A stale form raises :class:`VersionConflict` with the current state.
        """
        if not rows.well_formed(session_id):
            raise NotAllowedHere()
        outcome = await self.changes.write(lambda connection: self._save_in(
            connection, device, center, session_id, desired, base_version, seen, submission_id, locale, client))
        if isinstance(outcome, VersionConflict):  # the session settled on the subscriber first: raised after commit
            raise outcome
        return outcome

    def _save_in(self, connection: Connection, device: Device, center: Center, session_id: str,
                 desired: Preferences, base_version: int, seen: Preferences | None, submission_id: str | None,
                 locale: str, client: Mapping[str, Any]) -> SaveResult | VersionConflict:
        now = self.clock()
        session = rows.live(connection, device.center, device.id, session_id, now)
        if session is None:
            raise NotAllowedHere()
        context = event_context(connection, session, device, center, locale, client)
        if session.subscriber_id is None:
            return self._create_in(connection, session, device, center, desired, locale, context, now)
        result = self.store.save_in(connection, center.id, session.subscriber_id, desired, base_version=base_version,
                                    context=context, submission_id=submission_id, seen=seen)
        rows.extend(connection, session.id, now + SESSION_LIFETIME)
        return result

    def _create_in(self, connection: Connection, session: KioskSession, device: Device, center: Center,
                   desired: Preferences, locale: str, context: EventContext,
                   now: datetime) -> SaveResult | VersionConflict:
        if session.contact is None:  # blanked: the session is no longer what it was
            raise NotAllowedHere()
        known = self.store.find_by_contact_in(connection, center.id, session.kind, session.contact)
        if known is not None:  # they subscribed elsewhere meanwhile: show that, never overwrite it
            rows.settle(connection, session.id, known, now + SESSION_LIFETIME)
            current = self.store.get_in(connection, center.id, known)
            return VersionConflict(current.preferences if current else Preferences())
        if desired.same_choices(Preferences()):  # nothing chosen: nobody to create
            return SaveResult("unchanged", Preferences())
        subscriber_id = self.store.create_in(
            connection, center.id, locale=locale, preferences=desired, context=context,
            email=session.contact if session.kind == "email" else None)
        if session.kind != "email":
            contacts.add(connection, self.store.lookup_key, center.id, subscriber_id, session.kind, session.contact)
        connection.execute(update(subscribers).where(subscribers.c.id == subscriber_id)
                           .values(origin=f"kiosk:{device.location}"))
        rows.settle(connection, session.id, subscriber_id, now + SESSION_LIFETIME)
        created = self.store.get_in(connection, center.id, subscriber_id)
        return SaveResult("saved", created.preferences if created else desired)


def destination_of(connection: Connection, identity: Identity, subscriber_id: str | None) -> Destination | None:
    """Where a code for ``identity`` goes: the address typed, or for a loyalty number the
    e-mail address saved with it, else its phone number; None when there is neither."""
    if identity.kind == "email":
        return Destination("email", identity.value)
    if identity.kind == "phone":
        return Destination("sms", identity.value)
    if subscriber_id is None:
        return None
    email = contacts.value_of(connection, subscriber_id, "email")
    if email:
        return Destination("email", email)
    phone = contacts.value_of(connection, subscriber_id, "phone")
    return Destination("sms", phone) if phone else None


def event_context(connection: Connection, session: KioskSession, device: Device, center: Center, locale: str,
                  client: Mapping[str, Any]) -> EventContext:
    """How a kiosk change is recorded: source ``kiosk``, the device and its location, and the proof.

    ``staff_attestation`` is only ever recorded for a session opened with the device's staff
    PIN (:meth:`Kiosk.attest`): the PIN is what makes it a member of staff's word, the staff
    id (the actor ``staff:<id>``) is what they chose to add.
    """
    where = {"device": device.id, "location": device.location}
    if session.method == rows.ATTESTATION:
        actor = f"staff:{session.staff_id}" if session.staff_id else "subject"
        evidence: dict[str, Any] = {"method": "staff_attestation", "staff": session.staff_id, **where}
    else:
        actor = "subject"
        sent_to = destination_of(connection, Identity(session.kind, session.contact or ""), session.subscriber_id)
        channel = sent_to.channel if sent_to else ("email" if session.kind == "email" else "sms")
        evidence = {"method": "one_time_code", "channel": channel, **where}
    return EventContext(source="kiosk", actor=actor, locale=locale, notice_version=center.notice_version,
                        evidence=evidence, context={**client, **where})


# -- sending ---------------------------------------------------------------------------------------------


class CodeSender:
    """Sends a code by e-mail (the app's mailer, in the request) or SMS, in the customer's language."""

    def __init__(self, mailer: Mailer, sms: SmsSender, jinja: Environment, translator: Translator,
                 mail_from: str) -> None:
        self.mailer, self.sms, self.jinja, self.translator, self.mail_from = mailer, sms, jinja, translator, mail_from
        self._later: set[asyncio.Task[None]] = set()  # held until done: the loop keeps only weak references

    async def later(self, kiosk: Kiosk, session: KioskSession, code: str, center: Center, locale: str) -> None:
        """:meth:`send_to_saved_contact` as a task of its own, started once the answer has gone.

        Not the answer's background task, and not at once: work done in the moments after the
        answer still showed in its time (``bench/kiosk_timing.py``: a known loyalty number was
        answered 0.3-1.4 ms slower, in every round), which is what told a known one from an
        unknown one; after :data:`LOYALTY_SEND_DELAY` it falls on no answer in particular.
        """
        async def after_a_moment() -> None:
            await asyncio.sleep(LOYALTY_SEND_DELAY)
            await self.send_to_saved_contact(kiosk, session, code, center, locale)

        task = asyncio.get_running_loop().create_task(after_a_moment())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def send(self, destination: Destination, code: str, center: Center, locale: str) -> None:
        """Send, or :class:`CodeNotSent` (logged without the address or the code)."""
        translations = self.translator.get(locale)
        try:
            if destination.channel == "email":
                await self.mailer.send(self.message(destination.address, code, center, locale))
            else:
                text = translations.gettext("%(brand)s: your code is %(code)s. It works for 10 minutes.") % {
                    "brand": center.name, "code": code}
                await self.sms.send(destination.address, text)
        except Exception as error:  # noqa: BLE001 - whatever the gateway's failure, the code did not go
            log.warning("kiosk code not sent by %s: %s", destination.channel, type(error).__name__)
            raise CodeNotSent() from None

    async def send_to_saved_contact(self, kiosk: Kiosk, session: KioskSession, code: str, center: Center,
                                    locale: str) -> None:
        """A loyalty number's code, after the answer, to the contact saved with it (a number we do
        not know: nobody). A failure is logged, as :meth:`send` logs it, and the customer asks
        again or a member of staff attests."""
        destination = await kiosk.saved_destination(session)
        if destination is None:
            return
        try:
            await self.send(destination, code, center, locale)
        except CodeNotSent:
            pass

    def message(self, address: str, code: str, center: Center, locale: str) -> EmailMessage:
        translations = self.translator.get(locale)
        subject = f"{center.name}: {translations.gettext('your code')}"
        context = {"translations": translations, "center": center, "code": code, "locale": locale,
                   "dir": text_direction(locale), "subject": subject, "link": None}
        text = self.jinja.get_template("emails/kiosk_code.txt").render(context)
        html = self.jinja.get_template("emails/kiosk_code.html").render(context)  # every mail: text and HTML
        return build_message(self.mail_from, address, subject, text, html)
