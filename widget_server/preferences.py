"""What a subscriber has chosen, and what a submitted form asks to change.

:class:`Preferences` is the whole state the widget shows and saves: subscription states
per topic and channel, frequency per topic, interests, a global pause, suppression.
:func:`diff` turns two states into the list of :class:`~widget_server.ledger.Change`
that an event records; an empty diff means "nothing to record".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Mapping

from .centers.model import Center
from .ledger import Change

OPTED_IN = "opted_in"
OPTED_OUT = "opted_out"
PENDING = "pending"
UNKNOWN = "unknown"
STATES = (OPTED_IN, OPTED_OUT, PENDING, UNKNOWN)

Key = tuple[str, str]  # (topic, channel)


@dataclass(frozen=True)
class Preferences:
    """One subscriber's choices at one version."""

    version: int = 0
    subscriptions: Mapping[Key, str] = field(default_factory=dict)
    frequencies: Mapping[str, str] = field(default_factory=dict)
    interests: frozenset[str] = frozenset()
    paused_until: datetime | None = None
    suppressed: bool = False

    def state(self, topic: str, channel: str) -> str:
        return self.subscriptions.get((topic, channel), UNKNOWN)

    def opted_in(self, topic: str, channel: str) -> bool:
        return self.state(topic, channel) == OPTED_IN

    def frequency(self, center: Center, topic_id: str) -> str | None:
        topic = center.topic(topic_id)
        if topic is None or not topic.frequencies:
            return None
        chosen = self.frequencies.get(topic_id)
        return chosen if chosen in topic.frequencies else topic.default_frequency

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now

    def same_choices(self, other: "Preferences") -> bool:
        """Equal in everything a person can choose (the version aside)."""
        return replace(self, version=0) == replace(other, version=0)


def suppress_all(center: Center, prefs: Preferences) -> Preferences:
    """"Unsubscribe from everything": every switchable subscription off, and stay off."""
    subscriptions = dict(prefs.subscriptions)
    for topic in center.switchable_topics:
        for channel in topic.channels:
            subscriptions[(topic.id, channel)] = OPTED_OUT
    return replace(prefs, subscriptions=subscriptions, suppressed=True)


def diff(before: Preferences, after: Preferences) -> list[Change]:
    """The changes from ``before`` to ``after``, in a stable order."""
    changes: list[Change] = []
    for key in sorted(set(before.subscriptions) | set(after.subscriptions)):
        old, new = before.state(*key), after.state(*key)
        if old != new:
            changes.append(Change(f"{key[0]}.{key[1]}", old, new))
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
    return changes


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
