"""Global Privacy Control: a browser's standing "do not sell or share my data".

A browser (or an extension) that sends ``Sec-GPC: 1`` asks every site it visits not to sell
or share the person's data (the GPC specification; California and Colorado, among others,
make it a valid opt-out request). A center marks the topics that involve selling or sharing
personal data with partners (``shares_personal_data = true``); on the widget, a request with
the signal opts the person out of those on every channel, recorded as their own choice with
the signal as its evidence, and while the signal is sent, those topics stay off: the page
says why instead of offering a switch that the next request would undo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .centers.model import Center
from .preferences import OPTED_OUT, Key, Preferences

#: What an event made because of the signal records as its evidence.
GPC_EVIDENCE: Mapping[str, str] = {"method": "global_privacy_control", "signal": "Sec-GPC: 1"}


def gpc_sent(headers: Mapping[str, str]) -> bool:
    """Whether the request carries the signal (the specification's one valid value is ``1``)."""
    return headers.get("sec-gpc", "").strip() == "1"


def sharing_topics(center: Center) -> tuple[str, ...]:
    """The switchable topics the signal applies to."""
    return tuple(t.id for t in center.switchable_topics if t.shares_personal_data)


def honour_gpc(center: Center, prefs: Preferences) -> Preferences:
    """``prefs`` with every channel of every sharing topic opted out (unchanged when already so)."""
    keys: list[Key] = [(t.id, c) for t in center.switchable_topics if t.shares_personal_data for c in t.channels]
    if all(prefs.state(*key) == OPTED_OUT for key in keys):
        return prefs
    return replace(prefs, subscriptions={**prefs.subscriptions, **dict.fromkeys(keys, OPTED_OUT)})
