"""What an unsubscribe link switches off, and how the page undoes it: the domain half of
unsubscribing, with no web code (``web/routes/unsubscribe.py`` is the web half).

A link names a topic on a channel (``tp`` and ``ch`` in its token) or nothing, which
means everything that can be switched off. An undo puts back only what the link's own
confirmation switched off, only right after it, and only where nothing changed since.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from preference_sdk import TokenClaims

from .centers.model import Center, Topic
from .errors import N_, WidgetError
from .preferences import OPTED_OUT, UNKNOWN, Preferences, suppress_all
from .store.store import Store

SCOPE = "unsubscribe"
DEFAULT_CHANNEL = "email"
#: How long after an unsubscribe the page offers to undo it. Undoing adds contact back,
#: on the strength of a link that may sit in a forwarded message: only right after.
UNDO_WINDOW = timedelta(hours=1)


class CannotUnsubscribe(WidgetError):
    """An authentic link about a topic or channel the center does not (or no longer) let
    anyone switch off: unknown, required, or not offered on that channel."""

    status = 422
    title = N_("This link cannot unsubscribe you")
    detail = N_("The messages it is about are no longer offered, or cannot be switched off. Nothing was changed.")


@dataclass(frozen=True)
class Target:
    """What one unsubscribe link switches off: a topic on a channel, or everything."""

    topic: Topic | None = None
    channel: str | None = None

    def apply(self, center: Center, prefs: Preferences) -> Preferences:
        if self.topic is None or self.channel is None:
            return suppress_all(center, prefs)
        subscriptions = {**prefs.subscriptions, (self.topic.id, self.channel): OPTED_OUT}
        return replace(prefs, subscriptions=subscriptions)

    def pending(self, center: Center, prefs: Preferences) -> bool:
        """True while applying it would still change something."""
        return not self.apply(center, prefs).same_choices(prefs)


def target_of(center: Center, claims: TokenClaims) -> Target:
    """The token's ``tp`` (topic) and ``ch`` (channel, e-mail by default); no topic: everything."""
    if claims.topic is None:
        return Target()
    topic = center.topic(claims.topic) if isinstance(claims.topic, str) else None
    channel = claims.extra.get("ch", DEFAULT_CHANNEL)
    if topic is None or not topic.switchable or channel not in topic.channels:
        raise CannotUnsubscribe(center=center)
    return Target(topic, channel)


def undoable_event(store: Store, subscriber_id: str, now: datetime, link_issued_at: int) -> dict[str, Any] | None:
    """The unsubscribe that the page may still undo: the subscriber's latest event, if it
    was confirmed on this page with this very link, within :data:`UNDO_WINDOW`.

    Not a one-click one (a mail provider made it, perhaps for a forwarded copy), and not
    one made with another link: whoever holds a link can only undo what that link did.
    Reads one event, however long the subscriber's history.
    """
    last = store.last_event(subscriber_id)
    if last is None:
        return None
    evidence = last.get("evidence") or {}
    if last["source"] != "email_link" or evidence.get("method") != "confirmed_on_page":
        return None
    if evidence.get("link_issued_at") != link_issued_at:
        return None
    return last if now - last["occurred_at"] <= UNDO_WINDOW else None


def undone(event: dict[str, Any], prefs: Preferences) -> Preferences:
    """``prefs`` with what ``event`` switched off put back as it was before it.

    Only where the state is still what the event left: anything changed since stays.
    """
    subscriptions = dict(prefs.subscriptions)
    suppressed = prefs.suppressed
    for change in event["changes"]:
        path, before, after = change["path"], change["from"], change["to"]
        if path == "suppression":
            suppressed = before if prefs.suppressed == after else suppressed
            continue
        topic, _, channel = path.rpartition(".")
        if prefs.state(topic, channel) != after:
            continue
        if before == UNKNOWN:
            subscriptions.pop((topic, channel), None)
        else:
            subscriptions[(topic, channel)] = before
    return replace(prefs, subscriptions=subscriptions, suppressed=suppressed)
