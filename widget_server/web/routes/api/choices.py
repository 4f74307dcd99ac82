"""An API write body, checked against the center, as the desired :class:`Preferences`.

Every value the center does not offer is reported with its path (``422``), all at once.
Rules shared with the widget: ``required`` topics are not switchable; opting in to
anything lifts a suppression; ``suppressed: true`` is "unsubscribe from everything".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timezone

from msgspec import UNSET

from ....centers.model import Center
from ....errors import InvalidValues
from ....preferences import OPTED_IN, UNKNOWN, Preferences, suppress_all
from .bodies import PreferencesWrite


def desired(center: Center, current: Preferences, body: PreferencesWrite, *, replacing: bool) -> Preferences:
    """``current`` changed as ``body`` asks; ``replacing`` resets what the body leaves out (PUT)."""
    errors: list[dict[str, str]] = []
    subscriptions = _subscriptions(center, current, body, replacing, errors)
    frequencies = _frequencies(center, current, body, replacing, errors)
    interests = _interests(center, current, body, replacing, errors)
    _check_pause(body, errors)
    if body.locale is not None and body.locale not in center.locales:
        errors.append({"path": "locale", "message": f"offered: {', '.join(center.locales)}"})
    if errors:
        raise InvalidValues(center=center, errors=errors)
    paused = body.paused_until if body.paused_until is not UNSET else (None if replacing else current.paused_until)
    opted_in_any = any(s == OPTED_IN for s in subscriptions.values())
    # A suppression stays on (even through a PUT) until something is opted in again.
    suppressed = current.suppressed and not opted_in_any
    result = replace(current, subscriptions=subscriptions, frequencies=frequencies, interests=interests,
                     paused_until=paused, suppressed=suppressed)
    if body.suppressed is True:
        return suppress_all(center, result)
    if body.suppressed is False:
        return replace(result, suppressed=False)
    return result


def _check_pause(body: PreferencesWrite, errors: list[dict[str, str]]) -> None:
    until = body.paused_until
    if until is UNSET or until is None:
        return
    if until.tzinfo is None:
        errors.append({"path": "paused_until", "message": "give a time zone, e.g. 2026-12-01T00:00:00Z"})
        return
    try:
        if not 2000 <= until.astimezone(timezone.utc).year <= 9000:
            raise OverflowError
    except OverflowError:
        errors.append({"path": "paused_until", "message": "a date between the years 2000 and 9000"})


def _subscriptions(center: Center, current: Preferences, body: PreferencesWrite, replacing: bool,
                   errors: list[dict[str, str]]) -> dict[tuple[str, str], str]:
    required = {t.id for t in center.topics if not t.switchable}
    if replacing:  # required topics are not the caller's to reset
        chosen = {k: v for k, v in current.subscriptions.items() if k[0] in required}
    else:
        chosen = dict(current.subscriptions)
    given = {} if body.subscriptions is UNSET else body.subscriptions
    for topic_id, channels in given.items():
        topic = center.topic(topic_id)
        if topic is None:
            errors.append({"path": f"subscriptions.{topic_id}", "message": "no such topic in this center"})
            continue
        if not topic.switchable:
            errors.append({"path": f"subscriptions.{topic_id}", "message": "a required topic cannot be changed"})
            continue
        for channel, state in channels.items():
            if channel not in topic.channels:
                errors.append({"path": f"subscriptions.{topic_id}.{channel}",
                               "message": f"this topic is offered on {', '.join(topic.channels)}"})
            elif state == UNKNOWN:
                chosen.pop((topic_id, channel), None)
            else:
                chosen[(topic_id, channel)] = state
    return chosen


def _frequencies(center: Center, current: Preferences, body: PreferencesWrite, replacing: bool,
                 errors: list[dict[str, str]]) -> dict[str, str]:
    chosen = {} if replacing else dict(current.frequencies)
    if body.frequencies is UNSET:
        return chosen
    for topic_id, frequency in body.frequencies.items():
        topic = center.topic(topic_id)
        if topic is None or not topic.frequencies:
            errors.append({"path": f"frequencies.{topic_id}", "message": "this topic offers no frequency choice"})
        elif frequency is None:
            chosen.pop(topic_id, None)
        elif frequency not in topic.frequencies:
            errors.append({"path": f"frequencies.{topic_id}",
                           "message": f"offered: {', '.join(topic.frequencies)}"})
        else:
            chosen[topic_id] = frequency
    return chosen


def _interests(center: Center, current: Preferences, body: PreferencesWrite, replacing: bool,
               errors: list[dict[str, str]]) -> frozenset[str]:
    if body.interests is UNSET:
        return frozenset() if replacing else current.interests
    offered = {i.id for i in center.interests}
    for unknown in sorted(set(body.interests) - offered):
        errors.append({"path": f"interests.{unknown}", "message": "no such interest in this center"})
    return frozenset(body.interests) & offered
