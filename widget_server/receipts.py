"""Consent receipts: a subscriber's whole history, or one event, as a record a third party
can keep and check, following ISO/IEC TS 27560 (consent record information structure, the
successor of the Kantara Consent Receipt) where its elements apply.

The structure follows 27560's parts, with its element names: ``record`` (schema version,
record id, the PII principal's id: the pseudonymous subscriber id, never an address),
``pii_processing`` (the privacy notice, its language, and one purpose per topic and channel
with its lawful basis, state and validity), ``party_identification`` (the controller: the
center's brand) and ``event`` (each change as a consent event: time, state reached, type,
who, the notice text shown and the chain's hashes, so a receipt can be matched with the
ledger). What 27560 asks and this product cannot know (the controller's address and
contact, retention periods, processing locations) is left out rather than made up. The
Kantara v1.1 names a reader may look for are mapped in docs/API.md.

The receipt is signed (``receipt_signing.py``): its payload is the canonical JSON of this
document inside an Ed25519 JWS, whose public key the server publishes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from . import json_shapes
from .centers.model import Center
from .ledger import ChainReport
from .preferences import EXPIRED, OPTED_IN, OPTED_OUT, PENDING

#: What the receipt says it follows.
SCHEMA_VERSION = "ISO/IEC TS 27560:2023"

#: A subscription state as a 27560 consent state.
CONSENT_STATES = {OPTED_IN: "given", OPTED_OUT: "withdrawn", PENDING: "requested", EXPIRED: "expired"}

#: How a change was expressed, by where it came from: the person's own act, or none.
EXPRESSED = {"web", "app", "kiosk", "call_center", "email_link", "api"}


def receipt(center: Center, subscriber: Any, events: Iterable[Mapping[str, Any]],
            notice_texts: Mapping[str, Any], chain: ChainReport, issued_at: datetime,
            event_id: int | None = None) -> dict[str, Any]:
    """The receipt of ``subscriber``'s history in ``center`` (or of one event, ``event_id``)."""
    history = list(events)
    chosen = [e for e in history if event_id is None or e["id"] == event_id]
    locale = subscriber.locale or (chosen[-1].get("locale") if chosen else None) or center.default_locale
    record_id = f"{center.id}/{subscriber.id}" + (f"/{event_id}" if event_id is not None else "")
    return {
        "record": {
            "schema_version": SCHEMA_VERSION,
            "record_id": record_id,
            "pii_principal_id": subscriber.id,
            "issued_at": json_shapes.instant(issued_at),
        },
        "pii_processing": {
            "privacy_notice": center.center_text("privacy_url", locale) or None,
            "language": locale,
            "purposes": _purposes(center, subscriber, locale),
        },
        "party_identification": [
            {"party_id": center.id, "party_name": center.name, "party_role": "PII Controller"},
        ],
        "event": [_event(e) for e in chosen],
        "notice_texts": {h: t for h, t in notice_texts.items() if any(e.get("notice_text") == h for e in chosen)},
        "proof": {
            "chain_intact": chain.intact,
            "events_in_chain": chain.events,
            "anchored": chain.anchored,
            "note": "each event's hash is an HMAC-SHA256 under the controller's chain key, linked to the "
                    "one before (prev_hash); this receipt is signed with Ed25519 (see the JWS header's kid)",
        },
    }


def _purposes(center: Center, subscriber: Any, locale: str) -> list[dict[str, Any]]:
    """One purpose per topic and channel the center offers: what the person's choice is now."""
    prefs = subscriber.preferences
    purposes = []
    for topic in center.topics:
        for channel in topic.channels:
            state = prefs.state(topic.id, channel)
            basis = prefs.basis(topic.id, channel)
            purposes.append({
                "purpose_id": f"{topic.id}.{channel}",
                "purpose": center.text(topic.label, locale),
                "purpose_type": topic.kind,
                "pii_information": [{"pii_type": channel}],
                "pii_controllers": [center.id],
                "services": [center.name],
                "lawful_basis": basis.legal_basis if basis else ("contract" if not topic.switchable else None),
                "consent_state": CONSENT_STATES.get(state, "not_given" if state else None),
                "valid_from": json_shapes.instant(basis.since) if basis and basis.since else None,
                "valid_until": json_shapes.instant(basis.until) if basis and basis.until else None,
                "jurisdiction": prefs.country,  # ISO 3166 alpha-2, when known
            })
    return purposes


def _event(row: Mapping[str, Any]) -> dict[str, Any]:
    """One event as a 27560 consent event: when, which state each purpose reached, how, shown what."""
    evidence = row.get("evidence") or {}
    return {
        "event_id": row["id"],
        "event_time": json_shapes.instant(row["occurred_at"]),
        "version": row["version"],
        "entity_id": row["actor"],  # "subject" (the person), "agent:<id>", "staff:<id>", "api_key:<id>", "system"
        "type": "expressed" if row["source"] in EXPRESSED else row["source"],
        "source": row["source"],
        "method": evidence.get("method") if isinstance(evidence, Mapping) else None,
        "states": [
            {"purpose_id": change["path"], "state": CONSENT_STATES.get(change["to"], change["to"])}
            for change in (row.get("changes") or []) if isinstance(change, Mapping) and "." in change["path"]
            and not change["path"].startswith("frequency.")
        ],
        "changes": list(row.get("changes") or []),
        "evidence": row.get("evidence"),
        "notice_version": row.get("notice_version"),
        "notice_text": row.get("notice_text"),
        "language": row.get("locale"),
        "hash": row["hash"],
        "prev_hash": row.get("prev_hash"),
        "key_id": row.get("key_id"),
    }
