"""Deciding what each row of a batch changes, then gathering the rows of every table.

Why the subscriber ids of a batch share a random prefix: every table is keyed by
subscriber id, and ids spread at random over a large B-tree make each batch touch (and
write at commit) most of its pages. Writing the rows of 400,000 subscribers with plain
sqlite3 took 75 s with ids from ``new_subscriber_id()`` and 29 s with one random prefix
per batch of 5,000 and random suffixes, which land in one narrow key range. (The ids
are handed to rows in random order, so they do not follow the file's order.)
The ids keep the usual format (``sub_`` + 22 URL-safe characters) and 96 random bits
each; what the prefix tells (these subscribers were imported together) the events'
common ``occurred_at`` already says.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection

from ...centers.model import Center
from ...chain_keys import ChainKeys
from ...ledger import Change, seal
from ...preferences import OPTED_OUT, PENDING, UNKNOWN, Basis, Preferences, SubscriptionChange, diff, suppress_all
from ..tables import contact_points, events, subscriber_interests, subscribers, subscriptions, topic_settings
from .model import Current, Patch, Row
from .proof import COLUMNS as EVENT_COLUMNS
from .proof import HASH, Hasher, json_text
from .statements import Statements, enqueue_since, last_event_id


def batch_ids(count: int) -> list[str]:
    """``count`` new subscriber ids: one random prefix, random suffixes (see the module docstring).

    Each suffix is 12 random bytes (16 characters); they are drawn all at once.
    """
    prefix = "sub_" + secrets.token_urlsafe(6)[:6]
    drawn = base64.urlsafe_b64encode(secrets.token_bytes(12 * count)).decode()
    # Handed out in random order: sorted, they would follow the file's order (often a CRM
    # number or a sign-up date) and say something. Rows are inserted sorted by id instead.
    return [prefix + drawn[i:i + 16] for i in range(0, 16 * count, 16)]


@dataclass(slots=True)
class Fresh:
    """What a new subscriber with some choices gets: shared by the rows that make the same choices."""

    changes: list[Change]
    stored: str  # the changes as JSON items, comma-separated, as stored
    hashed: str  # the same, encoded as ledger.canonical encodes them
    states: list[tuple[str, str, str, Basis | None]]  # (topic, channel, state, basis), unknown left out
    settings: list[tuple[str, str]]  # (topic, frequency)
    interests: list[str]
    suppressed: bool = False

    @classmethod
    def of(cls, desired: Preferences, changes: list[Change]) -> Fresh:
        changes = plain(changes)
        items = [c.as_dict() for c in changes]
        return cls(changes, json_text(items, sort_keys=False)[1:-1], json_text(items)[1:-1],
                   [(t, c, s, desired.bases.get((t, c))) for (t, c), s in sorted(desired.subscriptions.items())
                    if s != UNKNOWN],
                   sorted(desired.frequencies.items()), sorted(desired.interests), desired.suppressed)


class Plan:
    """The decisions for one batch, then its rows gathered per table."""

    def __init__(self, center: Center, now: datetime, patch: Patch, sql: Statements) -> None:
        self.center = center
        self.sql = sql
        self.now = now
        self.patch = patch
        self.new: list[tuple[Row, str | None, tuple[Fresh, ...] | None]] = []
        self.updates: list[tuple] = []  # (row, current, desired, changes, email hash, locale)
        self._fresh: dict[int, Fresh] = {}  # id(part) -> what it gives (the rows keep the parts alive)
        self._resolved = False
        self._counts: list[tuple[Fresh, int]] = []  # each Fresh, and how many new subscribers get it
        self._changes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        #: Subscribers this batch made pending on e-mail (the double_opt_in option), with the mail's
        #: locale: they are owed a confirmation mail, queued in the batch's transaction.
        self.pending: dict[str, str | None] = {}

    def create(self, row: Row, email_hash: str | None, suppress: bool) -> None:
        if suppress or row.suppress:
            desired = self.patch(Preferences(), row.choices)
            if suppress:
                desired = suppress_all(self.center, desired)
            self.new.append((row, email_hash, (Fresh.of(desired, diff(Preferences(), desired)),)))
        else:  # diff(empty, parts together) is the parts' diffs one after the other: see _resolve
            self.new.append((row, email_hash, None))

    def _resolve(self) -> None:
        """Give every new row its parts' :class:`Fresh` (each made once) and count them for the report."""
        if self._resolved:
            return
        self._resolved = True
        fresh, made = self._fresh, cast(list[Fresh], [])
        for i, (row, email_hash, parts) in enumerate(self.new):
            if parts is None:
                parts = tuple([fresh.get(id(p)) or self._fresh_of(p) for p in row.parts])
                self.new[i] = (row, email_hash, parts)
            made += parts
        counts = Counter(map(id, made))
        self._counts = [(f, counts[id(f)]) for f in {id(f): f for f in made}.values()]

    def _fresh_of(self, part: Preferences) -> Fresh:
        made = self._fresh[id(part)] = Fresh.of(part, diff(Preferences(), part))
        return made

    def update(self, row: Row, current: Current, email_hash: str | None, suppress: bool) -> bool:
        """Plan the change of an existing subscriber; False when the row changes nothing."""
        before = current.preferences
        desired = keep_withdrawals(before, self.patch(before, row.choices))
        if suppress or before.suppressed:  # an import is not the person's act: it never lifts a suppression
            desired = suppress_all(self.center, desired)
        changes = plain(diff(before, desired))
        locale = row.locale if row.locale and row.locale != current.locale else None
        if not (changes or locale or email_hash):
            return False
        self.updates.append((row, current, desired, changes, email_hash, locale))
        for change in changes:
            self._changes[change.path][tally_key(change.after)] += 1
        return True

    def _note_pending(self, sid: str, locale: str | None, states: list[tuple[str, str, str, Any]]) -> None:
        if any(state == PENDING and channel == "email" for _, channel, state, _ in states):
            self.pending[sid] = locale

    def tally(self) -> dict[str, dict[str, int]]:
        """Changes per path and value reached, for the report."""
        self._resolve()
        for fresh, count in self._counts:
            for change in fresh.changes:
                self._changes[change.path][tally_key(change.after)] += count
        return {path: dict(sorted(counts.items())) for path, counts in sorted(self._changes.items())}

    def write(self, connection: Connection, *, actor: str, keys: ChainKeys) -> None:
        if not self.new and not self.updates:
            return
        self._resolve()
        sql, center = self.sql, self.center.id
        now = sql.time(self.now)
        hasher = Hasher(center, actor, self.now, now, keys)
        before = int(connection.scalar(last_event_id) or 0)  # Store.writing holds the commit order
        count = sum(1 for _, _, parts in self.new if any(f.changes for f in cast(tuple[Fresh, ...], parts)))
        ids = iter(sql.reserve_ids(connection, count + sum(1 for u in self.updates if u[3]), before))
        times = sql.times
        new_subscribers, contacts, appended, states, settings, interests = [], [], [], [], [], []
        rows_of = StateRows(sql, self.now)
        for sid, (row, email_hash, maybe_parts) in zip(batch_ids(len(self.new)), self.new, strict=True):
            parts = cast(tuple[Fresh, ...], maybe_parts)  # _resolve gave every row its parts
            changed = [f for f in parts if f.changes]
            suppressed = len(parts) == 1 and parts[0].suppressed  # only a row's own Fresh can suppress
            if email_hash:
                contacts.append((sid, "email", email_hash, cast(str, row.email).strip()))
            if not changed:
                new_subscribers.append((sid, center, 0, row.locale, suppressed, now, now, row.external_id,
                                        0, None, seal(hasher.keys, sid, 0, None), row.country))
                continue
            event_id = next(ids)  # taken before hashing: the hash covers it
            if len(changed) == 1:
                stored, hashed = "[" + changed[0].stored + "]", "[" + changed[0].hashed + "]"
            else:
                stored = "[" + ",".join(f.stored for f in changed) + "]"
                hashed = "[" + ",".join(f.hashed for f in changed) + "]"
            event = hasher.event(event_id, sid, 1, None, row, stored, hashed)
            appended.append(event)
            new_subscribers.append((sid, center, 1, row.locale, suppressed, now, now, row.external_id,
                                    1, event[HASH], seal(hasher.keys, sid, 1, event[HASH]), row.country))
            since = times.get(row.since) or sql.time(row.since)
            for fresh in changed:  # a part has rows for one table only
                if fresh.states:
                    states += [rows_of.row(sid, t, c, s, basis, row.since, since, event_id)
                               for t, c, s, basis in fresh.states]
                    self._note_pending(sid, row.locale, fresh.states)
                if fresh.settings:
                    settings += [(sid, t, f) for t, f in fresh.settings]
                if fresh.interests:
                    interests += [(sid, i) for i in fresh.interests]
        bumps: list[tuple] = []
        countries: list[tuple[str | None, str]] = []
        cleared: tuple[list, list, list] = ([], [], [])
        for row, current, desired, changes, email_hash, locale in self.updates:
            version = current.version + (1 if changes else 0)
            anchor: tuple = (None, None, None)  # no event: the anchor stays
            if email_hash:
                contacts.append((current.id, "email", email_hash, cast(str, row.email).strip()))
            if changes:
                event_id = next(ids)
                event = hasher.event(event_id, current.id, version, current.last_hash, row, *hasher.changes(changes))
                appended.append(event)
                anchor = (version, event[HASH], seal(hasher.keys, current.id, version, event[HASH]))
                changed_state_rows(rows_of, current, row, desired, event_id, states, settings, interests, cleared)
                self._note_pending(current.id, row.locale or current.locale,
                                   [(t, c, desired.state(t, c), None) for t, c in desired.subscriptions
                                    if before_state(current, t, c) != desired.state(t, c)])
                if desired.country != current.preferences.country:
                    countries.append((desired.country, current.id))
            bumps.append((version, desired.suppressed, locale or current.locale, now, *anchor, current.id,
                          current.version))
        sql.insert(connection, subscribers, ("id", "center", "version", "locale", "suppressed", "created_at",
                                             "updated_at", "external_id", "chain_count", "chain_hash", "chain_seal",
                                             "country"),
                   sorted(new_subscribers))
        if bumps and sql.update_versions(connection, bumps) != len(bumps):
            raise RuntimeError("a subscriber changed during the import batch")  # cannot happen under the write lock
        if countries:
            connection.exec_driver_sql(f"UPDATE subscribers SET country = {sql.mark} WHERE id = {sql.mark}", countries)
        sql.insert(connection, contact_points, ("subscriber_id", "kind", "lookup_hash", "value"), sorted(contacts))
        if appended:
            sql.insert(connection, events, EVENT_COLUMNS, appended)
            connection.execute(enqueue_since, {"after": before, "center": center, "now": self.now})
        sql.delete_changed(connection, *cleared)
        sql.insert(connection, subscriptions, ("subscriber_id", "topic", "channel", "state", "legal_basis", "since",
                                               "until", "basis_reason", "event_id"), states)
        sql.insert(connection, topic_settings, ("subscriber_id", "topic", "frequency"), settings)
        sql.insert(connection, subscriber_interests, ("subscriber_id", "interest"), interests)


class StateRows:
    """A subscription row of the batch: its basis as ``choosing.apply`` gave it (by the row's
    region, at the import's time), dated from the row's ``legacy_date`` (the opt-in's own time):
    ``since`` the legacy date and ``until`` as long after it as the basis lasts. A ``pending``
    one (the ``double_opt_in`` option) is asked now, and waits from now."""

    def __init__(self, sql: Statements, now: datetime) -> None:
        self.sql, self.now = sql, now

    def row(self, sid: str, topic: str, channel: str, state: str, basis: Basis | None, legacy: datetime,
            legacy_stored: Any, event_id: int) -> tuple:
        """(subscriber_id, topic, channel, state, legal_basis, since, until, basis_reason, event_id)"""
        if basis is None:
            return (sid, topic, channel, state, "consent", legacy_stored, None, None, event_id)
        if state == PENDING:
            return (sid, topic, channel, state, basis.legal_basis, self.sql.time(basis.since),
                    self.sql.time(basis.until) if basis.until else None, basis.reason, event_id)
        until = self.sql.time(legacy + (basis.until - basis.since)) if basis.until else None
        return (sid, topic, channel, state, basis.legal_basis, legacy_stored, until, basis.reason, event_id)


def plain(changes: list[Change]) -> list[Change]:
    """An import's changes without their bases: the basis' time is the row's ``legacy_date`` (in
    the event's evidence), which the rows that share a change do not share; the subscription
    rows carry it."""
    return [Change(c.path, c.before, c.after) for c in changes
            if not (isinstance(c, SubscriptionChange) and c.before == c.after)]


def before_state(current: Current, topic: str, channel: str) -> str:
    return current.preferences.state(topic, channel)


def keep_withdrawals(before: Preferences, desired: Preferences) -> Preferences:
    """Legacy data never takes back a withdrawal: what is ``opted_out`` here stays so.

    A re-run of an old file after the person unsubscribed here must not re-subscribe
    them (and must report the row unchanged).
    """
    withdrawn = {key: state for key, state in before.subscriptions.items() if state == OPTED_OUT}
    if all(desired.state(*key) == OPTED_OUT for key in withdrawn):
        return desired
    return replace(desired, subscriptions={**desired.subscriptions, **withdrawn})


def tally_key(value: Any) -> str:
    """The report counts changes per value reached: a state, a frequency, ``true``..."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "changed"  # interests: a list


def changed_state_rows(rows_of: StateRows, current: Current, row: Row, desired: Preferences, event_id: int,
                       states: list, settings: list, interests: list, cleared: tuple[list, list, list]) -> None:
    """What ``writes.write_preferences`` does for one subscriber, as rows for ``executemany``."""
    before, sid = current.preferences, current.id
    since = rows_of.sql.time(row.since)
    changed = sorted(k for k in set(before.subscriptions) | set(desired.subscriptions)
                     if before.state(*k) != desired.state(*k))
    cleared[0].extend((sid, topic, channel) for topic, channel in changed)
    states.extend(rows_of.row(sid, t, c, s, desired.bases.get((t, c)), row.since, since, event_id) for t, c in changed
                  if (s := desired.state(t, c)) != UNKNOWN)
    if before.frequencies != desired.frequencies:
        cleared[1].append((sid,))
        settings.extend((sid, t, f) for t, f in sorted(desired.frequencies.items()))
    if before.interests != desired.interests:
        cleared[2].append((sid,))
        interests.extend((sid, i) for i in sorted(desired.interests))
