"""The proof of an import: each event's keyed hash, computed as ``ledger.keyed_hash`` does,
and each subscriber's anchor seal, as ``ledger.seal`` does."""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from typing import Any, Mapping, Sequence

from ...chain_keys import ChainKeys
from ...ledger import KEYED_FIELDS, Change, canonical, canonical_json
from .model import Row


def json_text(value: Any, *, sort_keys: bool = True) -> str:
    """JSON as :func:`ledger.canonical` writes it (for the hashed form) or unsorted (for storage)."""
    return canonical_json(value, sort_keys=sort_keys)


class Hasher:
    """``ledger.keyed_hash`` for the events of one batch, without encoding again what they share.

    An event's canonical bytes are a JSON object with sorted keys: the fields the batch's
    events share (source, actor, center, time, key id, the empty ones) are literal text
    between the ones that vary. The template is cut out of :func:`ledger.canonical`'s own
    output for a record whose varying fields are placeholders, so the encoding cannot drift
    from the ledger's; an event then costs a few concatenations and one HMAC-SHA256.
    Encodings of changes and evidence are kept per distinct value (a batch repeats them).
    """

    VARYING = ("changes", "evidence", "id", "locale", "prev_hash", "subscriber_id", "version")  # in sorted order

    def __init__(self, center: str, actor: str, occurred_at: datetime, occurred_stored: Any,
                 keys: ChainKeys) -> None:
        self.center, self.actor, self.occurred = center, actor, occurred_stored
        self.keys, self._key = keys, keys.key
        record: dict[str, Any] = {name: None for name in KEYED_FIELDS}
        record.update(center=center, actor=actor, occurred_at=occurred_at, source="import", key_id=keys.current)
        marks = {name: f"\x00{name}\x00" for name in self.VARYING}
        record.update(marks)
        text = canonical(record, KEYED_FIELDS).decode()
        if sorted(self.VARYING, key=lambda name: text.index(json_text(marks[name]))) != list(self.VARYING):
            raise RuntimeError("ledger.canonical no longer orders fields by name: update Hasher")
        self._literals: list[str] = []
        for name in self.VARYING:
            head, text = text.split(json_text(marks[name]), 1)
            self._literals.append(head)
        self._literals.append(text)
        self._changes: dict[tuple, tuple[str, str]] = {}
        self._evidence: dict[int, tuple[str, str]] = {}
        self._kept: list[Mapping[str, Any]] = []

    def changes(self, changes: Sequence[Change]) -> tuple[str, str]:
        """(stored, hashed) JSON of a list of changes."""
        key = tuple((c.path, hashable(c.before), hashable(c.after)) for c in changes)
        known = self._changes.get(key)
        if known is None:
            items = [c.as_dict() for c in changes]
            known = self._changes[key] = (json_text(items, sort_keys=False), json_text(items))
        return known

    def event(self, event_id: int, subscriber_id: str, version: int, prev_hash: str | None, row: Row, stored: str,
              hashed: str) -> tuple:
        """An events row (the columns of :data:`COLUMNS`): ``stored`` and ``hashed`` are its changes
        as :meth:`changes` encodes them. Its hash is the row's 12th value."""
        evidence, evidence_hashed = self._evidence_of(row.evidence)
        l0, l1, l2, l3, l4, l5, l6, l7 = self._literals
        text = (f"{l0}{hashed}{l1}{evidence_hashed}{l2}{event_id}{l3}{quoted(row.locale)}{l4}{quoted(prev_hash)}"
                f"{l5}{quoted(subscriber_id)}{l6}{version}{l7}")
        digest = hmac.digest(self._key, text.encode(), "sha256").hex()
        return (event_id, subscriber_id, self.center, version, self.occurred, "import", self.actor, stored,
                row.locale, evidence, prev_hash, digest, self.keys.current)

    def _evidence_of(self, evidence: Mapping[str, Any]) -> tuple[str, str]:
        """(stored, hashed) JSON of an evidence; rows share their evidence dict, so it is encoded once."""
        known = self._evidence.get(id(evidence))
        if known is None:
            known = evidence_json(evidence)
            self._evidence[id(evidence)] = known
            self._kept.append(evidence)  # its id stays its own while this hasher lives
        return known


#: The events columns :meth:`Hasher.event` fills, in its order.
COLUMNS = ("id", "subscriber_id", "center", "version", "occurred_at", "source", "actor", "changes", "locale",
           "evidence", "prev_hash", "hash", "key_id")
HASH = COLUMNS.index("hash")


def evidence_json(evidence: Mapping[str, Any]) -> tuple[str, str]:
    if set(evidence) == {"legacy_source", "legacy_date"}:  # what imports record: no need for json.dumps
        source, day = quoted(evidence["legacy_source"]), quoted(evidence["legacy_date"])
        return (f'{{"legacy_source":{source},"legacy_date":{day}}}',
                f'{{"legacy_date":{day},"legacy_source":{source}}}')
    return json_text(dict(evidence), sort_keys=False), json_text(dict(evidence))


PLAIN = re.compile(r'[^"\\\x00-\x1f]*')  # what json.dumps(ensure_ascii=False) writes as it is


def quoted(text: Any) -> str:
    """``json.dumps(text, ensure_ascii=False)``, quicker when there is nothing to escape."""
    if text is None:
        return "null"
    if isinstance(text, str) and PLAIN.fullmatch(text):
        return f'"{text}"'
    return json_text(text)


def hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
