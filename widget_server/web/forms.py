"""Reading the preference form: submitted fields in, a desired :class:`Preferences` out.

Field names: ``s.<topic>.<channel>`` (a ticked checkbox), ``f.<topic>`` (frequency),
``i`` (interests, repeated), ``pause`` (``keep``, ``0`` or a number of days), and
``action`` (``save`` or ``unsubscribe_all``). Anything we cannot honour raises
:class:`~widget_server.errors.BadForm`, before anything is written.

An unticked box turns an ``opted_in`` or ``pending`` subscription into ``opted_out``,
but leaves ``unknown`` and ``expired`` as they are: not ticking a box nobody asked about
before (or one shown unticked because its basis ended) is not a refusal, and reports must
keep the difference. ``country`` (a select, when the center's ``[consent] ask_country``)
is the person's country; an empty one is "not said".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Mapping, Sequence

from ..centers.model import Center, Topic
from ..choosing import KEEP, Choices, Rules, _Keep, apply
from ..errors import BadForm, InvalidValues, RepeatedField
from ..preferences import EXPIRED, OPTED_IN, OPTED_OUT, UNKNOWN, Preferences

PAUSE_DAYS = (7, 30, 90)
ACTIONS = ("save", "unsubscribe_all")

Form = Mapping[str, Sequence[str]]  # every field with all its values


def single(form: Form, name: str, default: str | None = None) -> str | None:
    """The one value of a field that must come once; ``default`` when absent, a ``400`` when repeated."""
    values = form.get(name) or []
    if len(values) > 1:
        raise RepeatedField()
    return values[0] if values else default


#: The fields of the widget's and the unsubscribe page's forms that must come once.
SINGLE_FIELDS = ("t", "version", "submission", "notice", "lang", "action", "pause", "event", "email", "country")


def refuse_repeated(form: Form, names: Sequence[str] = SINGLE_FIELDS) -> None:
    """A ``400`` if any field of ``names`` (a query string's too) came more than once."""
    for name in names:
        single(form, name)


def read_version(form: Form) -> int:
    try:
        version = int(single(form, "version") or "")
    except ValueError:
        raise BadForm() from None
    if version < 0:
        raise BadForm()
    return version


#: What the forms put in ``submission`` (``secrets.token_urlsafe(12)``), with room to spare; the
#: event keeps it (64 characters), so anything else is refused before it reaches the store.
_SUBMISSION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def read_submission(form: Form) -> str | None:
    """The form's submission id (a repeat of the same form records nothing), or None; a ``422``
    for one no form of ours makes (too long, a NUL, anything a column could not keep)."""
    submission = single(form, "submission") or None
    if submission is not None and not _SUBMISSION.match(submission):
        raise BadForm()
    return submission


def read_action(form: Form) -> str:
    action = single(form, "action", "save")
    if action not in ACTIONS:
        raise BadForm()
    return action


def desired_preferences(
    center: Center, current: Preferences, form: Form, now: datetime, shown: Sequence[str] | None = None,
    *, confirmed: frozenset[str] = frozenset(),
) -> Preferences:
    """What the submitted form asks for, given what is stored now (the shared rules of
    :mod:`widget_server.choosing` decide what the center offers, and what needs confirming).

    ``shown`` are the ids of the topics the form showed (an embed may show only some):
    the others are left as they are, whatever the form lacks. "Unsubscribe from
    everything" still means everything. ``confirmed``: the channels whose address the
    surface has just proven (the kiosk's code mailed to the customer: ``{"email"}``).
    """
    try:
        return apply(center, current, choices_of(center, current, form, now, shown),
                     rules=Rules(now=now, confirmed=confirmed))
    except InvalidValues:
        raise BadForm() from None


def choices_of(center: Center, current: Preferences, form: Form, now: datetime,
               shown: Sequence[str] | None = None) -> Choices:
    """The form's fields as :class:`Choices`: a form shows every choice, so it names each one."""
    if read_action(form) == "unsubscribe_all":
        return Choices(suppress=True)
    topics = [t for t in center.switchable_topics if shown is None or t.id in shown]
    subscriptions: dict[str, dict[str, str]] = {}
    for topic in topics:
        for channel in topic.channels:
            if f"s.{topic.id}.{channel}" in form:
                subscriptions.setdefault(topic.id, {})[channel] = OPTED_IN
            elif current.state(topic.id, channel) not in (UNKNOWN, EXPIRED):
                subscriptions.setdefault(topic.id, {})[channel] = OPTED_OUT
    return Choices(
        subscriptions=subscriptions,
        frequencies=_frequencies(center, current, form, topics),
        interests=frozenset(form.get("i") or []),
        paused_until=_pause(form, now),
        country=_country(center, form),
    )


def _country(center: Center, form: Form) -> str | None | _Keep:
    """The country select's answer (only a center that asks has one); empty: not said."""
    value = single(form, "country")
    if value is None or not center.consent.ask_country:
        return KEEP
    return value or None


def _frequencies(center: Center, current: Preferences, form: Form, topics: Sequence[Topic]) -> dict[str, str]:
    """The frequencies the form changes: a select always sends a value, so only another one is a choice."""
    chosen = {}
    for topic in topics:
        value = single(form, f"f.{topic.id}")
        if value is not None and topic.frequencies and value != current.frequency(center, topic.id):
            chosen[topic.id] = value
    return chosen


def _pause(form: Form, now: datetime) -> datetime | None | _Keep:
    value = single(form, "pause")
    if value is None or value == "keep":  # no field at all is "keep" too; an empty one is not
        return KEEP
    if value == "0":
        return None
    if value.isascii() and value.isdigit() and int(value) in PAUSE_DAYS:  # not '²': int() refuses it
        return now + timedelta(days=int(value))
    raise BadForm()
