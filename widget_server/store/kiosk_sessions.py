"""Kiosk sessions: one customer at one kiosk, from "who I am" to "I'm done".

A row is made when a customer identifies (``pending`` until their one-time code is
typed, or ``verified`` at once when a member of staff attests who they are), may then
change that customer's choices while it is live, and is ``ended`` by "I'm done", the idle
reset or the next customer at the same kiosk (:func:`end_others`, in the transaction that
starts theirs). ``locked`` is a code tried too often or too late: it never verifies
again, even with the right code. ``refused`` is an attestation with a wrong staff PIN: a
row made only to be counted, never a session anyone holds.

What the customer typed is kept only while it is needed: the keyed hash for the code
limits' count, the value itself (``contact``) until the session settles (blanked when a
known customer is verified, when a new one is created, and when the session is locked,
ended or expired). Rows older than :data:`KEPT` are deleted (:func:`forget`, called
when a new session starts), the limits look back an hour only.

These are the queries; the rules (what a code is, how long it lasts, the limits) are
:mod:`widget_server.kiosk`'s. Every function takes the caller's connection, so the
limits' count and the insert share one write transaction.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Literal, cast

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update

from .tables import kiosk_sessions

#: How long a row is kept at all (then deleted): enough to count the code limits, and no more.
KEPT = timedelta(days=1)

PENDING, VERIFIED, LOCKED, ENDED, REFUSED = "pending", "verified", "locked", "ended", "refused"
CODE, ATTESTATION = "code", "attestation"

Outcome = Literal["verified", "wrong", "locked", "gone"]


@dataclass(frozen=True)
class KioskSession:
    id: str
    center: str
    device_id: str
    kind: str
    contact_hash: str
    contact: str | None
    subscriber_id: str | None
    method: str
    staff_id: str | None
    code_hash: str | None
    attempts: int
    status: str
    expires_at: datetime
    verified_at: datetime | None
    ended_at: datetime | None
    created_at: datetime

    def live(self, now: datetime) -> bool:
        """Verified, not ended, and not past its lifetime: it may change the customer's choices."""
        return self.status == VERIFIED and self.ended_at is None and self.expires_at > now


_SESSION_ID = re.compile(r"ks_[A-Za-z0-9_-]{32}")


def new_session_id() -> str:
    """Random, and the code's hash is keyed on it: the same code in two sessions hashes apart."""
    return "ks_" + secrets.token_urlsafe(24)


def well_formed(session_id: str | None) -> bool:
    """Whether ``session_id`` has the shape :func:`new_session_id` gives. What a form sends is
    checked before any query: a NUL or an overlong value is not a session, and PostgreSQL
    would refuse it with an error rather than find nothing."""
    return session_id is not None and _SESSION_ID.fullmatch(session_id) is not None


def start(connection: Connection, session: KioskSession) -> KioskSession:
    """A new customer's session; the kiosk's previous ones end in the same transaction (:func:`end_others`)."""
    end_others(connection, session.device_id, session.id, session.created_at)
    return record(connection, session)


def record(connection: Connection, session: KioskSession) -> KioskSession:
    """The row alone, ending nothing: a wrong staff PIN's, which starts no one's session."""
    connection.execute(insert(kiosk_sessions).values(**vars(session)))
    return session


def get(connection: Connection, center: str, device_id: str, session_id: str) -> KioskSession | None:
    """The session, if it is this device's (a session is never opened from another kiosk)."""
    row = connection.execute(select(kiosk_sessions).where(
        kiosk_sessions.c.id == session_id, kiosk_sessions.c.center == center,
        kiosk_sessions.c.device_id == device_id)).first()
    return KioskSession(**row._mapping) if row is not None else None


def live(connection: Connection, center: str, device_id: str, session_id: str, now: datetime) -> KioskSession | None:
    """The device's verified session, still live (see :meth:`KioskSession.live`); else None."""
    session = get(connection, center, device_id, session_id)
    return session if session is not None and session.live(now) else None


def started_since(connection: Connection, since: datetime, device_id: str) -> tuple[int, datetime | None]:
    """How many sessions a device started after ``since`` (codes, attestations, wrong staff PINs);
    and when the oldest of them was (an hour later, the count goes down)."""
    return _count(connection, kiosk_sessions.c.device_id == device_id, kiosk_sessions.c.created_at > since)


def codes_since(connection: Connection, since: datetime, center: str, contact_hash: str) -> tuple[int, datetime | None]:
    """How many codes were asked for a contact of a center after ``since``, from any kiosk; and when the oldest was."""
    return _count(connection, kiosk_sessions.c.method == CODE, kiosk_sessions.c.created_at > since,
                  kiosk_sessions.c.center == center, kiosk_sessions.c.contact_hash == contact_hash)


def refused_since(connection: Connection, since: datetime, device_id: str) -> tuple[int, datetime | None]:
    """How many wrong staff PINs were typed on a device after ``since``; and when the oldest was."""
    return _count(connection, kiosk_sessions.c.device_id == device_id, kiosk_sessions.c.status == REFUSED,
                  kiosk_sessions.c.created_at > since)


def _count(connection: Connection, *where: ColumnElement[bool]) -> tuple[int, datetime | None]:
    count, oldest = connection.execute(select(func.count(), func.min(kiosk_sessions.c.created_at)).where(*where)).one()
    return cast(int, count) or 0, cast("datetime | None", oldest)


def verify(connection: Connection, session: KioskSession, matches: Callable[[KioskSession], bool],
           now: datetime, *, attempts: int, lifetime: timedelta) -> Outcome:
    """Try a code on a pending session, and record the try (the caller commits, whatever the outcome).

    The right code in time verifies it, live for ``lifetime``; a wrong one counts, and the
    one that reaches ``attempts`` locks it; an expired or locked session stays ``locked``
    whatever is typed. A session already verified and live takes its right code again (a
    form sent twice), anything else is ``gone``.
    """
    if session.status == VERIFIED:
        return "verified" if session.live(now) and matches(session) else "gone"
    if session.status != PENDING:
        return "locked" if session.status == LOCKED else "gone"
    if session.expires_at <= now:
        lock(connection, session.id)
        return "locked"
    if matches(session):
        keep = session.subscriber_id is None  # a new subscriber's contact point, until it is created
        connection.execute(update(kiosk_sessions).where(kiosk_sessions.c.id == session.id).values(
            status=VERIFIED, verified_at=now, expires_at=now + lifetime, attempts=session.attempts + 1,
            **({} if keep else {"contact": None})))
        return "verified"
    tried = session.attempts + 1
    if tried >= attempts:
        lock(connection, session.id, tried)
        return "locked"
    connection.execute(update(kiosk_sessions).where(kiosk_sessions.c.id == session.id).values(attempts=tried))
    return "wrong"


def lock(connection: Connection, session_id: str, attempts: int | None = None) -> None:
    values: dict = {"status": LOCKED, "contact": None}
    if attempts is not None:
        values["attempts"] = attempts
    connection.execute(update(kiosk_sessions).where(kiosk_sessions.c.id == session_id).values(**values))


def extend(connection: Connection, session_id: str, until: datetime) -> None:
    """A save keeps the session open a while longer."""
    connection.execute(update(kiosk_sessions).where(kiosk_sessions.c.id == session_id).values(expires_at=until))


def settle(connection: Connection, session_id: str, subscriber_id: str, until: datetime) -> None:
    """The session's customer is now a subscriber (created from the kiosk): the value is no longer needed."""
    connection.execute(update(kiosk_sessions).where(kiosk_sessions.c.id == session_id).values(
        subscriber_id=subscriber_id, contact=None, expires_at=until))


def end_others(connection: Connection, device_id: str, session_id: str, now: datetime) -> None:
    """A new customer at this kiosk: every other session of it still pending or verified ends
    (its contact blanked), so the previous customer's screen can no longer change anything."""
    connection.execute(update(kiosk_sessions).where(
        kiosk_sessions.c.device_id == device_id, kiosk_sessions.c.id != session_id,
        kiosk_sessions.c.status.in_((PENDING, VERIFIED)),
    ).values(status=ENDED, ended_at=now, contact=None))


def end(connection: Connection, center: str, device_id: str, session_id: str, now: datetime) -> bool:
    """End the device's session (already ended: unchanged); whether there was one to end."""
    ended = connection.execute(update(kiosk_sessions).where(
        kiosk_sessions.c.id == session_id, kiosk_sessions.c.center == center,
        kiosk_sessions.c.device_id == device_id, kiosk_sessions.c.status != ENDED,
    ).values(status=ENDED, ended_at=now, contact=None))
    return ended.rowcount == 1


def forget(connection: Connection, now: datetime) -> None:
    """Blank what expired sessions still hold, and delete the rows older than :data:`KEPT`."""
    connection.execute(update(kiosk_sessions).where(
        kiosk_sessions.c.expires_at <= now, kiosk_sessions.c.contact.is_not(None)).values(contact=None))
    connection.execute(delete(kiosk_sessions).where(kiosk_sessions.c.created_at < now - KEPT))
