"""Which region's rules apply to a subscriber, and what they ask of one subscription.

A center declares regions by code (``centers.model.Region``): ``default``, a group
(``EU``: the 27 member states; ``EEA``: those and Iceland, Liechtenstein, Norway, where the
GDPR applies too) or an ISO 3166 country code. A subscriber's country picks the most
precise one: the country's own, then a group holding it (``EU`` before ``EEA``), then
``default``. A channel the chosen region does not name falls back to ``default``'s rule
for it, then to :data:`~.centers.model.DEFAULT_RULE` (opt-in, consent, until withdrawn).
"""

from __future__ import annotations

from .centers.model import DEFAULT_RULE, Center, ChannelRule, Region

EU = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
EEA = EU | {"IS", "LI", "NO"}
GROUPS = {"EU": EU, "EEA": EEA}
DEFAULT = "default"


def region_for(center: Center, country: str | None) -> Region | None:
    """The region whose rules apply to ``country`` (None: unknown country), or None if none does."""
    by_code = {region.code: region for region in center.consent.regions}
    if country:
        country = country.upper()
        if country in by_code:
            return by_code[country]
        for group in ("EU", "EEA"):
            if group in by_code and country in GROUPS[group]:
                return by_code[group]
    return by_code.get(DEFAULT)


def rule_for(center: Center, country: str | None, channel: str) -> ChannelRule:
    """What the law of ``country``'s region asks of ``channel``."""
    region = region_for(center, country)
    if region is not None and channel in region.channels:
        return region.channels[channel]
    fallback = next((r for r in center.consent.regions if r.code == DEFAULT), None)
    if fallback is not None and channel in fallback.channels:
        return fallback.channels[channel]
    return DEFAULT_RULE


def needs_confirmation(center: Center, country: str | None, topic_id: str, channel: str) -> bool:
    """Whether an opt-in to ``topic_id`` on ``channel`` waits for a confirmation (double opt-in):
    the topic asks it on that channel, or the region's rule does."""
    topic = center.topic(topic_id)
    if topic is not None and channel in topic.double_opt_in:
        return True
    return rule_for(center, country, channel).double_opt_in
