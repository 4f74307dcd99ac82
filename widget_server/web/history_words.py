"""A subscriber's recorded changes in words: one reading of the ledger's change paths, two
audiences.

The agent console tells an agent what happened to a customer ("Offers and promotions, Text
message (SMS): subscribed", made by "our service team"); the person's own history page tells
the person ("You subscribed to Offers and promotions by Text message (SMS)", "by our service
team"). Both read a change the same way (:func:`change_words`) with the form's own labels and
differ only in their :class:`Wording`. Neither ever names who made a change: only where, or
how when the evidence says more than the source ("confirmed from our e-mail", "by your
browser's privacy signal", "not confirmed in time").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from .. import countries
from ..centers.model import Center
from ..errors import N_
from ..i18n import format_day
from ..preferences import EXPIRED, OPTED_IN, OPTED_OUT, PENDING, UNKNOWN
from .labels import CHANNEL_LABELS, FREQUENCY_LABELS

Gettext = Callable[[str], str]

#: The console's words for a subscription's state, put into its ``subscription`` sentence.
STATE_WORDS = {
    OPTED_IN: N_("subscribed"),
    OPTED_OUT: N_("unsubscribed"),
    PENDING: N_("waiting for the customer's confirmation"),
    UNKNOWN: N_("never asked"),
    EXPIRED: N_("expired"),
}


@dataclass(frozen=True)
class Wording:
    """The msgids one audience reads a change in.

    ``sources`` says where a change was made (by its event's source; an unknown one reads as
    ``system``); ``ways`` says it better where the event's evidence names a way (its
    ``method``, or the ``reason`` of a system change). ``subscription`` maps a state to its
    sentence (``%(topic)s``, ``%(channel)s`` and ``%(state)s``: the state in ``STATE_WORDS``); a
    state it does not name reads ``other_state``.
    """

    sources: Mapping[str, str]
    subscription: Mapping[str, str]
    other_state: str
    frequency: str  # %(topic)s, %(frequency)s
    interests: str  # %(interests)s
    paused: str  # %(date)s
    pause_ended: str
    suppressed: str
    unsuppressed: str
    erased: str
    ways: Mapping[str, str]


_CONSOLE_SUBSCRIPTION = N_("%(topic)s, %(channel)s: %(state)s")

#: What the agent console reads (web/routes/agent.py).
CONSOLE = Wording(
    sources={
        "web": N_("the customer online"),
        "app": N_("the customer in the app"),
        "kiosk": N_("in store"),
        "call_center": N_("our service team"),
        "email_link": N_("an e-mail link"),
        "api": N_("one of our systems"),
        "import": N_("an import"),
        "system": N_("the system"),
    },
    subscription={state: _CONSOLE_SUBSCRIPTION for state in STATE_WORDS},
    other_state=_CONSOLE_SUBSCRIPTION,
    frequency=N_("%(topic)s, how often: %(frequency)s"),
    interests=N_("Interests: %(interests)s"),
    paused=N_("Marketing messages paused until %(date)s"),
    pause_ended=N_("Pause ended"),
    suppressed=N_("Unsubscribed from everything"),
    unsuppressed=N_("No longer unsubscribed from everything"),
    erased=N_("Personal data erased"),
    ways={
        "double_opt_in": N_("confirmed by e-mail"),
        "repermission": N_("renewed by e-mail"),
        "global_privacy_control": N_("the customer's browser privacy signal (Global Privacy Control)"),
        "pending_expired": N_("not confirmed in time"),
        "basis_expired": N_("its validity ended"),
    },
)

#: What the person reads on their own history page (web/routes/history.py).
OWN = Wording(
    sources={
        "web": N_("on our website"),
        "app": N_("in the app"),
        "kiosk": N_("in one of our stores"),
        "call_center": N_("by our service team"),
        "email_link": N_("from a link in our e-mails"),
        "api": N_("by one of our systems"),
        "import": N_("in an import"),
        "system": N_("automatically"),
    },
    subscription={
        OPTED_IN: N_("You subscribed to %(topic)s: %(channel)s"),
        OPTED_OUT: N_("You unsubscribed from %(topic)s: %(channel)s"),
        PENDING: N_("%(topic)s, %(channel)s: waiting for your confirmation"),
        UNKNOWN: N_("%(topic)s, %(channel)s: not chosen yet"),
        EXPIRED: N_("%(topic)s, %(channel)s: expired"),
    },
    other_state=N_("%(topic)s, %(channel)s: %(state)s"),
    frequency=N_("How often you hear about %(topic)s: %(frequency)s"),
    interests=N_("Interests: %(interests)s"),
    paused=N_("You paused marketing messages until %(date)s"),
    pause_ended=N_("Your pause ended"),
    suppressed=N_("You unsubscribed from everything"),
    unsuppressed=N_("You are no longer unsubscribed from everything"),
    erased=N_("Your personal data was erased"),
    ways={
        "double_opt_in": N_("confirmed from our e-mail"),
        "repermission": N_("renewed from our reminder e-mail"),
        "global_privacy_control": N_("by your browser's privacy signal (Global Privacy Control)"),
        "pending_expired": N_("not confirmed in time"),
        "basis_expired": N_("when its validity ended"),
    },
)


def history_rows(wording: Wording, center: Center, locale: str, _: Gettext,
                 rows: Sequence[Mapping[str, Any]], tz: str | None = None) -> list[dict[str, Any]]:
    """Each recorded event (``Store.recent_events``' rows) as ``date`` (the day in ``tz``, the
    embed's zone, else UTC), ``who`` (where or how it was made, in words) and ``what`` (each
    change, in words)."""
    return [{
        "date": format_day(row["occurred_at"], locale, tz),
        "who": _(where(wording, row)),
        "what": [change_words(wording, center, locale, _, change) for change in row["changes"] or []],
    } for row in rows]


def where(wording: Wording, row: Mapping[str, Any]) -> str:
    """The msgid of where (or how) an event was made: its evidence's way, else its source."""
    evidence = row.get("evidence") or {}
    way = (evidence.get("method") or evidence.get("reason")) if isinstance(evidence, Mapping) else None
    if isinstance(way, str) and way in wording.ways:
        return wording.ways[way]
    return wording.sources.get(row["source"], wording.sources["system"])


def change_words(wording: Wording, center: Center, locale: str, _: Gettext, change: Mapping[str, Any]) -> str:
    """One change in words, with the labels the form shows; a path neither audience knows, as it is."""
    path, after = str(change.get("path", "")), change.get("to")
    head, _dot, tail = path.partition(".")
    if head == "frequency":
        frequency = _(FREQUENCY_LABELS[after]) if after in FREQUENCY_LABELS else _("the default")
        return _(wording.frequency) % {"topic": topic_label(center, tail, locale), "frequency": frequency}
    if path == "interests":
        labels = {i.id: center.text(i.label, locale) for i in center.interests}
        chosen = ", ".join(labels.get(i, i) for i in after or [])
        return _(wording.interests) % {"interests": chosen or _("none")}
    if path == "pause":
        if not after:
            return _(wording.pause_ended)
        return _(wording.paused) % {"date": format_day(datetime.fromisoformat(after), locale)}
    if path == "suppression":
        return _(wording.suppressed) if after else _(wording.unsuppressed)
    if path == "erasure":
        return _(wording.erased)
    if path == "country":  # the person's country, which picks the rules (web/region_wording.py)
        name = dict(countries.names(locale)).get(after) if isinstance(after, str) else None
        return _("Country: %(country)s") % {"country": name or after or _("not said")}
    if tail and center.topic(head) is not None:
        channel = _(CHANNEL_LABELS[tail]) if tail in CHANNEL_LABELS else tail
        state = _(STATE_WORDS[after]) if after in STATE_WORDS else str(after)
        sentence = wording.subscription.get(after, wording.other_state) if isinstance(after, str) \
            else wording.other_state
        return _(sentence) % {"topic": topic_label(center, head, locale), "channel": channel, "state": state}
    return path


def topic_label(center: Center, topic_id: str, locale: str) -> str:
    """A topic's label in ``locale``; a topic the center no longer has, by its id."""
    topic = center.topic(topic_id)
    return center.text(topic.label, locale) if topic else topic_id
