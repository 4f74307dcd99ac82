"""Reading the preference form: submitted fields in, a desired :class:`Preferences` out.

Field names: ``s.<topic>.<channel>`` (a ticked checkbox), ``f.<topic>`` (frequency),
``i`` (interests, repeated), ``pause`` (``keep``, ``0`` or a number of days), and
``action`` (``save`` or ``unsubscribe_all``). Anything we cannot honour raises
:class:`~widget_server.errors.BadForm`, before anything is written.

An unticked box turns an ``opted_in`` or ``pending`` subscription into ``opted_out``,
but leaves ``unknown`` as it is: not ticking a box nobody asked about before is not a
refusal, and reports must keep the difference.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Mapping, Sequence

from ..centers.model import Center, Topic
from ..errors import BadForm
from ..preferences import OPTED_IN, OPTED_OUT, UNKNOWN, Preferences, suppress_all

PAUSE_DAYS = (7, 30, 90)
ACTIONS = ("save", "unsubscribe_all")

Form = Mapping[str, Sequence[str]]  # every field with all its values


def _one(form: Form, name: str, default: str | None = None) -> str | None:
    values = form.get(name) or []
    return values[-1] if values else default


def read_version(form: Form) -> int:
    try:
        version = int(_one(form, "version") or "")
    except ValueError:
        raise BadForm() from None
    if version < 0:
        raise BadForm()
    return version


def read_action(form: Form) -> str:
    action = _one(form, "action", "save")
    if action not in ACTIONS:
        raise BadForm()
    return action


def desired_preferences(
    center: Center, current: Preferences, form: Form, now: datetime, shown: Sequence[str] | None = None
) -> Preferences:
    """What the submitted form asks for, given what is stored now.

    ``shown`` are the ids of the topics the form showed (an embed may show only some):
    the others are left as they are, whatever the form lacks. "Unsubscribe from
    everything" still means everything.
    """
    if read_action(form) == "unsubscribe_all":
        return suppress_all(center, current)
    topics = [t for t in center.switchable_topics if shown is None or t.id in shown]
    subscriptions = dict(current.subscriptions)
    for topic in topics:
        for channel in topic.channels:
            key = (topic.id, channel)
            if f"s.{topic.id}.{channel}" in form:
                subscriptions[key] = OPTED_IN
            elif current.state(*key) != UNKNOWN:
                subscriptions[key] = OPTED_OUT
    opted_in_any = any(state == OPTED_IN for state in subscriptions.values())
    return replace(
        current,
        subscriptions=subscriptions,
        frequencies=_frequencies(center, current, form, topics),
        interests=_interests(center, form),
        paused_until=_pause(current, form, now),
        # Ticking anything after "unsubscribe from everything" is an explicit comeback.
        suppressed=current.suppressed and not opted_in_any,
    )


def _frequencies(center: Center, current: Preferences, form: Form, topics: Sequence[Topic]) -> dict[str, str]:
    chosen = dict(current.frequencies)
    for topic in topics:
        value = _one(form, f"f.{topic.id}")
        if value is None or not topic.frequencies:
            continue
        if value not in topic.frequencies:
            raise BadForm()
        if value != current.frequency(center, topic.id):
            chosen[topic.id] = value
    return chosen


def _interests(center: Center, form: Form) -> frozenset[str]:
    offered = {interest.id for interest in center.interests}
    chosen = frozenset(form.get("i") or [])
    if not chosen <= offered:
        raise BadForm()
    return chosen


def _pause(current: Preferences, form: Form, now: datetime) -> datetime | None:
    value = _one(form, "pause", "keep")
    if value == "keep":
        return current.paused_until
    if value == "0":
        return None
    if value.isdigit() and int(value) in PAUSE_DAYS:
        return now + timedelta(days=int(value))
    raise BadForm()
