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
4     ``expired``, or ``opted_in`` on a basis whose          no       ``expired``
      ``until`` is at or before ``at``
4     ``opted_in`` on a basis other than ``consent`` that    no       ``basis_not_allowed``
      the subscriber's region no longer allows on the
      channel (they moved: a US legitimate interest is
      no basis in France)
4     ``marketing``, never asked (``unknown``), where the    --       (below)
      subscriber's region says opt-out suffices on the
      channel and allows ``legitimate_interest`` or
      ``soft_opt_in``: usable, as ``opt_out_region``
4     ``marketing`` and not ``opted_in``                     no       ``no_consent``
4     ``informational`` and ``opted_out``                    no       ``opted_out``
4     ``informational`` and ``pending``                      no       ``pending``
5     a digest frequency and ``digest=False``                no       ``wait_for_digest``
--    ``opted_in`` (either kind)                             yes      ``opted_in``
--    ``marketing``, ``unknown``, opt-out region             yes      ``opt_out_region``
--    ``informational``, never asked (``unknown``)           yes      ``not_opted_out``
====  =====================================================  =======  ==================

The subscriber's region is the center's (``CenterInfo.regions``) for their ``country``:
its own, then ``EU``, then ``EEA``, then ``default``. ``legal_basis`` says what an allowed
send relies on: the subscription's basis, or for ``opt_out_region`` the region's
(``legitimate_interest`` before ``soft_opt_in``).

``frequency`` is the topic's effective frequency (the subscriber's choice when the topic
offers it, else the topic's default; ``None`` when the topic has none or is not offered).
"""

from __future__ import annotations

from datetime import datetime, timezone

from ._models import EXPIRED, OPTED_IN, OPTED_OUT, PENDING, UNKNOWN, CenterInfo, Decision, Preferences, TopicInfo

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
EXPIRED_REASON = "expired"
OPT_OUT_REGION = "opt_out_region"
BASIS_NOT_ALLOWED = "basis_not_allowed"

#: Every reason ``can_contact`` gives, for programs that switch on them.
REASONS: tuple[str, ...] = (
    NOT_OFFERED, REQUIRED, SUPPRESSED, PAUSED, NO_CONSENT, OPTED_OUT_REASON, PENDING_REASON,
    WAIT_FOR_DIGEST, OPTED_IN_REASON, NOT_OPTED_OUT, ERASED, EXPIRED_REASON, OPT_OUT_REGION, BASIS_NOT_ALLOWED,
)

#: The bases that need no opt-in, in the order a send relies on them.
WITHOUT_OPT_IN = ("legitimate_interest", "soft_opt_in")


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
    refusal = _refusal(preferences, center, info, channel, when)
    if refusal is not None:
        return Decision(False, refusal, frequency)
    if frequency in DIGEST_FREQUENCIES and not digest:
        return Decision(False, WAIT_FOR_DIGEST, frequency)
    state = preferences.state(topic, channel)
    basis = preferences.basis(topic, channel)
    if state == OPTED_IN:
        return Decision(True, OPTED_IN_REASON, frequency, basis.legal_basis if basis else None)
    opt_out_basis = _opt_out_basis(preferences, center, channel)
    if info.kind != "informational" and opt_out_basis is not None:
        return Decision(True, OPT_OUT_REGION, frequency, opt_out_basis)
    return Decision(True, NOT_OPTED_OUT, frequency, opt_out_basis)


def effective_frequency(preferences: Preferences, topic: TopicInfo) -> str | None:
    """The subscriber's frequency for ``topic`` if the topic offers it, else the default."""
    if not topic.frequencies:
        return None
    chosen = preferences.frequencies.get(topic.id)
    return chosen if chosen in topic.frequencies else topic.default_frequency


def _refusal(preferences: Preferences, center: CenterInfo, topic: TopicInfo, channel: str,
             when: datetime) -> str | None:
    """Steps 3 and 4: why not, or ``None`` when nothing objects."""
    if preferences.suppressed:
        return SUPPRESSED
    if preferences.paused_until is not None and when < _instant(preferences.paused_until, "paused_until"):
        return PAUSED
    state = preferences.state(topic.id, channel)
    basis = preferences.basis(topic.id, channel)
    # Expired before the server's worker recorded it, or recorded: either way, no longer a yes.
    if state == EXPIRED or (state == OPTED_IN and basis is not None and basis.until is not None
                            and _instant(basis.until, "until") <= when):
        return EXPIRED_REASON
    # A basis is judged by the law of where the person is now: express consent holds everywhere,
    # any other only where the region allows it (a country changed after the opt-in).
    if state == OPTED_IN and basis is not None and basis.legal_basis != "consent" \
            and basis.legal_basis not in center.rule_for(preferences.country, channel).bases:
        return BASIS_NOT_ALLOWED
    if topic.kind == "informational":
        return {OPTED_OUT: OPTED_OUT_REASON, PENDING: PENDING_REASON}.get(state)
    if state == UNKNOWN and _opt_out_basis(preferences, center, channel) is not None:
        return None  # never asked, where the law lets it be used until the person opts out
    # Marketing, and any kind this SDK does not know: only an explicit opt-in will do.
    return None if state == OPTED_IN else NO_CONSENT


def _opt_out_basis(preferences: Preferences, center: CenterInfo, channel: str) -> str | None:
    """The basis needing no opt-in that the subscriber's region allows on ``channel``, where opt-out
    suffices there; else None."""
    rule = center.rule_for(preferences.country, channel)
    if rule.opt_in_required:
        return None
    return next((basis for basis in WITHOUT_OPT_IN if basis in rule.bases), None)


def _instant(value: datetime | None, name: str = "at") -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (e.g. datetime.now(timezone.utc)), not a naive one")
    return value
