"""A person's choices, checked against what the center offers, applied to their preferences.

Every surface that changes preferences reads its own input into :class:`Choices` (the
widget's form in ``web/forms.py``, an API body in ``web/routes/api/choices.py``, an
import row through the API's rules; the kiosk and agent console to come) and calls
:func:`apply`. So one place decides what a center offers and what a choice does:

* a topic must exist and be switchable (``required`` topics are not anyone's to
  change), and a channel must be one the topic is offered on;
* a frequency must be one the topic offers; ``None`` goes back to the default;
* interests must be the center's;
* opting in to a switchable subscription lifts a suppression; ``suppress`` is "unsubscribe from
  everything" (``True``) or an explicit comeback (``False``);
* ``replacing`` (an API ``PUT``) resets what the choices leave out, except the
  required topics' states, which stay as they are.

Every value that cannot be honoured is reported with its path, all at once, as
:class:`~widget_server.errors.InvalidValues`; nothing is applied then.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Mapping

from .centers.model import Center
from .errors import InvalidValues
from .preferences import OPTED_IN, UNKNOWN, Key, Preferences, suppress_all


class _Keep:
    """The pause is left as it is (distinct from ``None``: no pause)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


@dataclass(frozen=True)
class Choices:
    """What is asked to change. Anything left at its default is left as it is (unless ``replacing``).

    A subscription state of ``unknown`` forgets the answer (as if never asked).
    """

    subscriptions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # topic -> channel -> state
    frequencies: Mapping[str, str | None] = field(default_factory=dict)  # None: the topic's default again
    interests: frozenset[str] | None = None  # None: leave them
    paused_until: datetime | None | _Keep = KEEP
    suppress: bool | None = None
    replacing: bool = False


Problem = dict[str, str]  # {"path": ..., "message": ...}


def apply(center: Center, current: Preferences, choices: Choices) -> Preferences:
    """``current`` changed as ``choices`` ask, or :class:`InvalidValues` listing every problem."""
    problems: list[Problem] = []
    subscriptions = _subscriptions(center, current, choices, problems)
    frequencies = _frequencies(center, current, choices, problems)
    interests = _interests(center, current, choices, problems)
    paused = _pause(current, choices, problems)
    if problems:
        raise InvalidValues(center=center, errors=problems)
    # A suppression stays on (even through a PUT) until something is opted in again: a
    # switchable subscription, since "unsubscribe from everything" leaves required topics
    # (and topics the center no longer offers) as they were, and those are no comeback.
    switchable = {(t.id, c) for t in center.switchable_topics for c in t.channels}
    opted_in_any = any(state == OPTED_IN for key, state in subscriptions.items() if key in switchable)
    result = replace(current, subscriptions=subscriptions, frequencies=frequencies, interests=interests,
                     paused_until=paused, suppressed=current.suppressed and not opted_in_any)
    if choices.suppress is True:
        return suppress_all(center, result)
    if choices.suppress is False:
        return replace(result, suppressed=False)
    return result


def _subscriptions(center: Center, current: Preferences, choices: Choices,
                   problems: list[Problem]) -> dict[Key, str]:
    if choices.replacing:  # required topics are not the caller's to reset
        required = {t.id for t in center.topics if not t.switchable}
        chosen = {k: v for k, v in current.subscriptions.items() if k[0] in required}
    else:
        chosen = dict(current.subscriptions)
    for topic_id, channels in choices.subscriptions.items():
        topic = center.topic(topic_id)
        if topic is None:
            problems.append({"path": f"subscriptions.{topic_id}", "message": "no such topic in this center"})
            continue
        if not topic.switchable:
            problems.append({"path": f"subscriptions.{topic_id}", "message": "a required topic cannot be changed"})
            continue
        for channel, state in channels.items():
            if channel not in topic.channels:
                problems.append({"path": f"subscriptions.{topic_id}.{channel}",
                                 "message": f"this topic is offered on {', '.join(topic.channels)}"})
            elif state == UNKNOWN:
                chosen.pop((topic_id, channel), None)
            else:
                chosen[(topic_id, channel)] = state
    return chosen


def _frequencies(center: Center, current: Preferences, choices: Choices,
                 problems: list[Problem]) -> dict[str, str]:
    chosen = {} if choices.replacing else dict(current.frequencies)
    for topic_id, frequency in choices.frequencies.items():
        topic = center.topic(topic_id)
        if topic is None or not topic.frequencies:
            problems.append({"path": f"frequencies.{topic_id}", "message": "this topic offers no frequency choice"})
        elif frequency is None:
            chosen.pop(topic_id, None)
        elif frequency not in topic.frequencies:
            problems.append({"path": f"frequencies.{topic_id}", "message": f"offered: {', '.join(topic.frequencies)}"})
        else:
            chosen[topic_id] = frequency
    return chosen


def _interests(center: Center, current: Preferences, choices: Choices,
               problems: list[Problem]) -> frozenset[str]:
    if choices.interests is None:
        return frozenset() if choices.replacing else current.interests
    offered = {i.id for i in center.interests}
    for unknown in sorted(choices.interests - offered):
        problems.append({"path": f"interests.{unknown}", "message": "no such interest in this center"})
    return choices.interests & offered


def _pause(current: Preferences, choices: Choices, problems: list[Problem]) -> datetime | None:
    until = choices.paused_until
    if isinstance(until, _Keep):
        return None if choices.replacing else current.paused_until
    if until is None:
        return None
    if until.tzinfo is None:
        problems.append({"path": "paused_until", "message": "give a time zone, e.g. 2026-12-01T00:00:00Z"})
        return None
    try:
        if not 2000 <= until.astimezone(timezone.utc).year <= 9000:
            raise OverflowError
    except OverflowError:
        problems.append({"path": "paused_until", "message": "a date between the years 2000 and 9000"})
    return until
