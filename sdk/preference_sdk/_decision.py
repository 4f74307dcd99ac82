"""``can_contact``: may this topic be sent on this channel to this subscriber now?

One function, answered the same way everywhere: the server's ``GET .../decision`` calls
it, and a host system holding a copy of the preferences (from the change feed) calls it
offline before each send. It reads only :mod:`preference_sdk._models` types.

The rules, first match wins (docs/API.md, "can_contact"); the reason is a stable code:

====  =====================================================  =======  ==================
step  condition                                              allowed  reason
====  =====================================================  =======  ==================
0     the subscriber was erased (the server's answer: a      no       ``erased``
      synced copy deletes an erased subscriber)
1     the center does not offer the topic, or not on the     no       ``not_offered``
      channel
2     the topic is ``required`` (transactional), even when   yes      ``required``
      suppressed or paused
3     the subscriber is suppressed                           no       ``suppressed``
3     paused at ``at`` (``at`` < ``paused_until``)           no       ``paused``
4     ``marketing`` and not ``opted_in``                     no       ``no_consent``
4     ``informational`` and ``opted_out``                    no       ``opted_out``
4     ``informational`` and ``pending``                      no       ``pending``
5     a digest frequency and ``digest=False``                no       ``wait_for_digest``
--    ``opted_in`` (either kind)                             yes      ``opted_in``
--    ``informational``, never asked (``unknown``)           yes      ``not_opted_out``
====  =====================================================  =======  ==================

``frequency`` is the topic's effective frequency (the subscriber's choice when the topic
offers it, else the topic's default; ``None`` when the topic has none or is not offered).
"""

from __future__ import annotations

from datetime import datetime, timezone

from ._models import OPTED_IN, OPTED_OUT, PENDING, CenterInfo, Decision, Preferences, TopicInfo

#: Frequencies that gather messages into one send: anything else waits for it.
DIGEST_FREQUENCIES = frozenset({"daily", "weekly", "monthly"})

NOT_OFFERED = "not_offered"
REQUIRED = "required"
SUPPRESSED = "suppressed"
PAUSED = "paused"
NO_CONSENT = "no_consent"
OPTED_OUT_REASON = "opted_out"
PENDING_REASON = "pending"
WAIT_FOR_DIGEST = "wait_for_digest"
OPTED_IN_REASON = "opted_in"
NOT_OPTED_OUT = "not_opted_out"
ERASED = "erased"

#: Every reason ``can_contact`` gives, for programs that switch on them.
REASONS: tuple[str, ...] = (
    NOT_OFFERED, REQUIRED, SUPPRESSED, PAUSED, NO_CONSENT, OPTED_OUT_REASON, PENDING_REASON,
    WAIT_FOR_DIGEST, OPTED_IN_REASON, NOT_OPTED_OUT, ERASED,
)


def can_contact(
    preferences: Preferences,
    center: CenterInfo,
    topic: str,
    channel: str,
    *,
    at: datetime | None = None,
    digest: bool = False,
) -> Decision:
    """Whether ``topic`` may be sent on ``channel`` at ``at`` (default: now), and why.

    ``digest`` says the send is a digest (the daily, weekly or monthly round-up); a
    subscriber who chose a digest frequency gets nothing else. ``at`` must be aware:
    a naive time could be any zone, and a pause ends at one instant.
    """
    when = _instant(at)
    if preferences.center != center.id:
        raise ValueError(f"these preferences belong to center {preferences.center!r}, not {center.id!r}")
    info = center.topic(topic)
    if info is None or channel not in info.channels:
        return Decision(False, NOT_OFFERED, None)
    frequency = effective_frequency(preferences, info)
    if info.kind == "required":
        return Decision(True, REQUIRED, frequency)
    refusal = _refusal(preferences, info, channel, when)
    if refusal is not None:
        return Decision(False, refusal, frequency)
    if frequency in DIGEST_FREQUENCIES and not digest:
        return Decision(False, WAIT_FOR_DIGEST, frequency)
    state = preferences.state(topic, channel)
    return Decision(True, OPTED_IN_REASON if state == OPTED_IN else NOT_OPTED_OUT, frequency)


def effective_frequency(preferences: Preferences, topic: TopicInfo) -> str | None:
    """The subscriber's frequency for ``topic`` if the topic offers it, else the default."""
    if not topic.frequencies:
        return None
    chosen = preferences.frequencies.get(topic.id)
    return chosen if chosen in topic.frequencies else topic.default_frequency


def _refusal(preferences: Preferences, topic: TopicInfo, channel: str, when: datetime) -> str | None:
    """Steps 3 and 4: why not, or ``None`` when nothing objects."""
    if preferences.suppressed:
        return SUPPRESSED
    if preferences.paused_until is not None and when < _instant(preferences.paused_until, "paused_until"):
        return PAUSED
    state = preferences.state(topic.id, channel)
    if topic.kind == "informational":
        return {OPTED_OUT: OPTED_OUT_REASON, PENDING: PENDING_REASON}.get(state)
    # Marketing, and any kind this SDK does not know: only an explicit opt-in will do.
    return None if state == OPTED_IN else NO_CONSENT


def _instant(value: datetime | None, name: str = "at") -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (e.g. datetime.now(timezone.utc)), not a naive one")
    return value
