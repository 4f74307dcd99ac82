"""What a subscriber has chosen, and what a submitted form asks to change.

:class:`Preferences` is the whole state the widget shows and saves: subscription states
per topic and channel, frequency per topic, interests, a global pause, suppression.
:func:`diff` turns two states into the list of :class:`~widget_server.ledger.Change`
that an event records; an empty diff means "nothing to record".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from .centers.model import PENDING_DAYS, Center
from .ledger import Change

OPTED_IN = "opted_in"
OPTED_OUT = "opted_out"
PENDING = "pending"
UNKNOWN = "unknown"
#: Only the system sets it (a pending confirmation that never came, a basis whose lifetime
#: ended); no form or API write may. It reads as "not subscribed", and opting in again
#: starts afresh.
EXPIRED = "expired"
STATES = (OPTED_IN, OPTED_OUT, PENDING, UNKNOWN, EXPIRED)

Key = tuple[str, str]  # (topic, channel)


@dataclass(frozen=True)
class Basis:
    """Why a subscription may be used, since when and until when (None: until withdrawn).

    ``reason`` is what gave a ``soft_opt_in`` (``purchase``, ``inquiry``) where the law's
    lifetime depends on it. An ``opted_out`` subscription keeps the basis it had when it
    was withdrawn, with ``since`` the withdrawal: the row says what stopped, and when.
    """

    legal_basis: str
    since: datetime
    until: datetime | None = None
    reason: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.until is not None and self.until <= now


@dataclass(frozen=True)
class Preferences:
    """One subscriber's choices at one version."""

    version: int = 0
    subscriptions: Mapping[Key, str] = field(default_factory=dict)
    frequencies: Mapping[str, str] = field(default_factory=dict)
    interests: frozenset[str] = frozenset()
    paused_until: datetime | None = None
    suppressed: bool = False
    #: The basis of each stored subscription (what the store holds for it); a surface's
    #: write sets it for the subscriptions it changes (``choosing.apply``).
    bases: Mapping[Key, Basis] = field(default_factory=dict)
    #: The subscriber's country (ISO 3166 alpha-2), which picks the region's rules.
    country: str | None = None

    def state(self, topic: str, channel: str) -> str:
        return self.subscriptions.get((topic, channel), UNKNOWN)

    def opted_in(self, topic: str, channel: str) -> bool:
        return self.state(topic, channel) == OPTED_IN

    def basis(self, topic: str, channel: str) -> Basis | None:
        return self.bases.get((topic, channel))

    def frequency(self, center: Center, topic_id: str) -> str | None:
        topic = center.topic(topic_id)
        if topic is None or not topic.frequencies:
            return None
        chosen = self.frequencies.get(topic_id)
        return chosen if chosen in topic.frequencies else topic.default_frequency

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now

    def same_choices(self, other: "Preferences") -> bool:
        """Equal in everything a person can choose (the version and the bases aside: a basis
        follows from a choice and the law, a stale form that asks for the same states asks
        for nothing new)."""
        return replace(self, version=0, bases={}) == replace(other, version=0, bases={})


def suppress_all(center: Center, prefs: Preferences) -> Preferences:
    """"Unsubscribe from everything": every switchable subscription off, and stay off."""
    subscriptions = dict(prefs.subscriptions)
    for topic in center.switchable_topics:
        for channel in topic.channels:
            subscriptions[(topic.id, channel)] = OPTED_OUT
    return replace(prefs, subscriptions=subscriptions, suppressed=True)


@dataclass(frozen=True)
class SubscriptionChange(Change):
    """A subscription's change, with the basis it reached: the event (so the change feed,
    webhooks and the export) says on what basis, since and until when, not only the state.
    A change of basis alone (a renewed consent, an existing customer's soft opt-in made an
    express consent) is a change too, from a state to the same state."""

    basis: Basis | None = None

    def as_dict(self) -> dict[str, Any]:
        shown = super().as_dict()
        if self.basis is not None:
            shown["basis"] = basis_dict(self.basis)
        return shown


def basis_dict(basis: Basis) -> dict[str, Any]:
    """A basis as the API, the feed and the export write it (times UTC, ``Z``)."""
    return {"legal_basis": basis.legal_basis, "since": instant(basis.since), "until": instant(basis.until),
            "reason": basis.reason}


def settle_bases(current: Preferences, desired: Preferences, now: datetime) -> Preferences:
    """``desired`` with a basis for every subscription whose state changes.

    ``choosing.apply`` gives the ones a person's choice reaches (by the region's rules); a
    write that changes states by another way (an unsubscribe link, "unsubscribe from
    everything", an erasure) leaves the old basis, or none, and gets here: an opt-out keeps
    the withdrawn basis, since now; an expiry keeps the expired one as it was; a pending one
    waits the default ``PENDING_DAYS``; an opt-in is consent, since now, until withdrawn.
    """
    bases = dict(desired.bases)
    for key in set(current.subscriptions) | set(desired.subscriptions):
        old, new = current.state(*key), desired.state(*key)
        if old == new:
            continue
        given = bases.get(key)
        if new == UNKNOWN:
            bases.pop(key, None)
        elif given is None or given is current.bases.get(key):
            previous = current.bases.get(key)
            if new == EXPIRED and previous is not None:
                bases[key] = previous
            elif new in (OPTED_OUT, EXPIRED):
                bases[key] = Basis(previous.legal_basis if previous else "consent", now, None,
                                   previous.reason if previous else None)
            elif new == PENDING:  # the center's own pending_days are choosing.apply's to give
                bases[key] = Basis("consent", now, now + timedelta(days=PENDING_DAYS))
            else:
                bases[key] = Basis("consent", now)
    return replace(desired, bases=bases)


def diff(before: Preferences, after: Preferences) -> list[Change]:
    """The changes from ``before`` to ``after``, in a stable order."""
    changes: list[Change] = []
    for key in sorted(set(before.subscriptions) | set(after.subscriptions) | set(after.bases)):
        old, new = before.state(*key), after.state(*key)
        basis = after.bases.get(key) if new != UNKNOWN else None
        if old != new or (basis is not None and basis != before.bases.get(key)):
            path = f"{key[0]}.{key[1]}"
            changes.append(SubscriptionChange(path, old, new, basis) if basis else Change(path, old, new))
    for topic in sorted(set(before.frequencies) | set(after.frequencies)):
        was, now = before.frequencies.get(topic), after.frequencies.get(topic)
        if was != now:
            changes.append(Change(f"frequency.{topic}", was, now))
    if before.interests != after.interests:
        changes.append(Change("interests", sorted(before.interests), sorted(after.interests)))
    if before.paused_until != after.paused_until:
        changes.append(Change("pause", _iso(before.paused_until), _iso(after.paused_until)))
    if before.suppressed != after.suppressed:
        changes.append(Change("suppression", before.suppressed, after.suppressed))
    if before.country != after.country:
        changes.append(Change("country", before.country, after.country))
    return changes


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def instant(moment: datetime | None) -> str | None:
    """An instant as the JSON shapes write it: UTC, milliseconds, ``Z``."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
