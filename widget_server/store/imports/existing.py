"""Reading what the store holds for a batch: a handful of queries, whatever its size."""

from __future__ import annotations

import hmac
from collections import defaultdict
from datetime import datetime
from typing import cast

from sqlalchemy import Connection

from ...preferences import Basis, Preferences
from .model import Current
from .statements import Statements


def existing(connection: Connection, sql: Statements, center: str, external_ids: list[str], *,
              lock: bool) -> dict[str, Current]:
    """Subscribers of ``center`` holding these external ids (erased ones hold none), with their last hash."""
    found: dict[str, Current] = {}
    # The last hash is the anchor's, as a save reads it (store/chain.py).
    query = ("SELECT s.id, s.external_id, s.version, s.locale, s.suppressed, s.paused_until, s.chain_hash, "
             "s.country FROM subscribers s WHERE s.center = {m} AND s.external_id IN ({marks})")
    if lock and sql.dialect.name == "postgresql":  # SQLite has one writer at a time
        query += " FOR UPDATE OF s"
    for sid, external_id, version, locale, suppressed, paused_until, last_hash, country in sql.select_in(
            connection, query, external_ids, center):
        prefs = Preferences(version=version, paused_until=sql.from_time(paused_until), suppressed=bool(suppressed),
                            country=country)
        found[external_id] = Current(sid, version, locale, last_hash, prefs)
    return found


def load_choices(connection: Connection, sql: Statements, found: dict[str, Current]) -> None:
    """Fill in the current subscriptions, frequencies, interests and e-mail presence of ``found``."""
    if not found:
        return
    by_id = {c.id: c for c in found.values()}
    ids = list(by_id)
    subs: dict[str, dict] = defaultdict(dict)
    bases: dict[str, dict] = defaultdict(dict)
    freqs: dict[str, dict] = defaultdict(dict)
    interests: dict[str, set] = defaultdict(set)
    for sid, topic, channel, state, legal_basis, since, until, reason in sql.select_in(
            connection, "SELECT subscriber_id, topic, channel, state, legal_basis, since, until, basis_reason "
                        "FROM subscriptions WHERE subscriber_id IN ({marks})", ids):
        subs[sid][(topic, channel)] = state
        bases[sid][(topic, channel)] = Basis(legal_basis, cast(datetime, sql.from_time(since)), sql.from_time(until),
                                             reason)
    for sid, topic, frequency in sql.select_in(
            connection, "SELECT subscriber_id, topic, frequency FROM topic_settings "
                        "WHERE frequency IS NOT NULL AND subscriber_id IN ({marks})", ids):
        freqs[sid][topic] = frequency
    for sid, interest in sql.select_in(
            connection, "SELECT subscriber_id, interest FROM subscriber_interests WHERE subscriber_id IN ({marks})",
            ids):
        interests[sid].add(interest)
    for (sid,) in sql.select_in(
            connection, "SELECT subscriber_id FROM contact_points WHERE kind = 'email' AND subscriber_id IN ({marks})",
            ids):
        by_id[sid].has_email = True
    for sid, current in by_id.items():
        base = current.preferences
        current.preferences = Preferences(version=base.version, subscriptions=subs.get(sid, {}),
                                          frequencies=freqs.get(sid, {}), interests=frozenset(interests.get(sid, ())),
                                          paused_until=base.paused_until, suppressed=base.suppressed,
                                          bases=bases.get(sid, {}), country=base.country)


def contact_owners(connection: Connection, sql: Statements, hashes: list[str]) -> tuple[dict[str, str], set[str]]:
    """Who holds each address already, and which addresses were erased (by keyed hash).

    The hash covers the center, so an address held in another center does not match.
    """
    owners = dict(sql.select_in(
        connection, "SELECT lookup_hash, subscriber_id FROM contact_points WHERE lookup_hash IN ({marks})", hashes))
    erased = {h for (h,) in sql.select_in(
        connection, "SELECT lookup_hash FROM suppressions WHERE lookup_hash IN ({marks})", hashes)}
    return owners, erased


def erased_external_ids(connection: Connection, sql: Statements, key: bytes, center: str,
                        external_ids: list[str]) -> set[str]:
    """Which of these CRM ids belonged to an erased subscriber (their keyed hash is a suppression entry)."""
    prefix = f"{center}\x00external_id\x00"  # contacts.lookup_hash (a CRM id is hashed as it is), one-shot HMAC
    hashes = {hmac.digest(key, (prefix + x).encode(), "sha256").hex(): x for x in set(external_ids)}
    return {hashes[h] for (h,) in sql.select_in(
        connection, "SELECT lookup_hash FROM suppressions WHERE lookup_hash IN ({marks})", sorted(hashes))}


def lookup_hash(key: bytes, center: str, value: str) -> str:
    """``contacts.lookup_hash(key, center, "email", value)``, with the one-shot HMAC (twice as fast)."""
    return hmac.digest(key, f"{center}\x00email\x00{value.strip().lower()}".encode(), "sha256").hex()
