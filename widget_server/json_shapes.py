"""The JSON shapes the API and webhooks send (docs/API.md), built from store rows.

One place for them so the change feed, webhook payloads and exports cannot drift apart.
Times are UTC ISO 8601 with a ``Z``.
"""

from __future__ import annotations

from typing import Any, Mapping

from .centers.model import Center
from .preferences import UNKNOWN, Preferences, basis_dict, instant
from .regions import DEFAULT, GROUPS


def subscriptions(center: Center, prefs: Preferences) -> dict[str, dict[str, str]]:
    """Every topic and channel the center offers, ``unknown`` where never asked."""
    return {t.id: {c: prefs.subscriptions.get((t.id, c), UNKNOWN) for c in t.channels} for t in center.topics}


def legal_bases(center: Center, prefs: Preferences) -> dict[str, dict[str, dict[str, Any]]]:
    """The basis of every stored subscription the center offers: on what basis, since and until
    when (``until`` null: until withdrawn), and the reason of a soft opt-in. A subscription never
    answered (``unknown``) has none."""
    shown: dict[str, dict[str, dict[str, Any]]] = {}
    for topic in center.topics:
        for channel in topic.channels:
            basis = prefs.bases.get((topic.id, channel))
            if basis is not None and prefs.state(topic.id, channel) != UNKNOWN:
                shown.setdefault(topic.id, {})[channel] = basis_dict(basis)
    return shown


def document(center: Center, subscriber: Any) -> dict[str, Any]:
    """A subscriber's preferences document (``store.store.Subscriber`` in)."""
    prefs: Preferences = subscriber.preferences
    return {
        "subscriber_id": subscriber.id,
        "center": center.id,
        "external_id": subscriber.external_id,
        "version": prefs.version,
        "locale": subscriber.locale,
        "country": prefs.country,
        "subscriptions": subscriptions(center, prefs),
        "legal_bases": legal_bases(center, prefs),
        "frequencies": {t: f for t, f in sorted(prefs.frequencies.items())},
        "interests": sorted(prefs.interests),
        "paused_until": instant(prefs.paused_until),
        "suppressed": prefs.suppressed,
        "updated_at": instant(subscriber.updated_at),
    }


def event(row: Mapping[str, Any]) -> dict[str, Any]:
    """A change-feed event (``store.feed`` rows in)."""
    return {
        "id": row["id"],
        "subscriber_id": row["subscriber_id"],
        "external_id": row.get("external_id"),
        "center": row["center"],
        "version": row["version"],
        "occurred_at": instant(row["occurred_at"]),
        "source": row["source"],
        "actor": row["actor"],
        "locale": row.get("locale"),
        "notice_version": row.get("notice_version"),
        # The hash of the wording shown (GET .../notices/{hash}, and in the export): None when unknown.
        "notice_text": row.get("notice_text"),
        "changes": list(row["changes"] or ()),
        "evidence": row.get("evidence"),
    }


def recorded_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """An event as exported: the feed's fields plus context and the chain's hashes (and the key's id:
    None for a legacy, plain SHA-256 event)."""
    return {**event(row), "context": row.get("context"), "submission_id": row.get("submission_id"),
            "prev_hash": row.get("prev_hash"), "hash": row["hash"], "key_id": row.get("key_id")}


def center_definition(center: Center) -> dict[str, Any]:
    return {
        "id": center.id,
        "name": center.name,
        "locales": list(center.locales),
        "default_locale": center.default_locale,
        "notice_version": center.notice_version,
        "topics": [
            {"id": t.id, "kind": t.kind, "channels": list(t.channels), "frequencies": list(t.frequencies),
             "default_frequency": t.default_frequency, "label": dict(t.label)}
            for t in center.topics
        ],
        "interests": [{"id": i.id, "label": dict(i.label)} for i in center.interests],
        "consent": consent_rules(center),
    }


def consent_rules(center: Center) -> dict[str, Any]:
    """The center's regional rules, as ``can_contact`` reads them offline (the SDK's ``CenterInfo``):
    regions most precise first (countries, then EU, EEA, then default), a group with its
    countries, so a reader picks a region without a list of its own."""
    rank = {**{code: 1 + i for i, code in enumerate(GROUPS)}, DEFAULT: len(GROUPS) + 1}
    regions = sorted(center.consent.regions, key=lambda r: rank.get(r.code, 0))
    return {
        "pending_days": center.consent.pending_days,
        "ask_country": center.consent.ask_country,
        "regions": [
            {"code": r.code, "countries": sorted(GROUPS.get(r.code, ())), "channels": {
                channel: {"opt_in": "required" if rule.opt_in_required else "opt_out",
                          "double_opt_in": rule.double_opt_in, "bases": list(rule.bases),
                          "lifetime_days": dict(rule.lifetime_days), "remind_days_before": rule.remind_days_before}
                for channel, rule in r.channels.items()}}
            for r in regions
        ],
    }


def delivery(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": f"dlv_{row['id']}",
        "endpoint_id": row["endpoint_id"],
        "event_id": row["event_id"],
        "subscriber_id": row["subscriber_id"],
        "status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": instant(row["next_attempt_at"]) if row["status"] == "pending" else None,
        "delivered_at": instant(row.get("delivered_at")),
        "last_error": row.get("last_error"),
    }


def endpoint(row: Mapping[str, Any], *, with_secret: bool = False) -> dict[str, Any]:
    shown = {"id": row["id"], "url": row["url"], "description": row.get("description"),
             "created_at": instant(row["created_at"]), "counts": row.get("counts") or {}}
    if with_secret:
        shown["secret"] = row["secret"]
    return shown
