"""The exact wording shown, kept: each notice version's text per center and locale, stored
once under the SHA-256 of its canonical JSON, which every event of a surface names
(``events.notice_text``, covered by the event's keyed hash).

A notice version is a label; what a person read is the text. Keeping the text itself,
content-addressed, answers "shown which words?" from the export alone, even after the
center file has changed: the same text always has the same hash (so it is stored once,
however many events name it), and a changed text is a new row. The texts are worked out
once per center and locale when the server starts (``web/notice_wording.py``), not per
request; inserting one that is there already does nothing, on either engine, even when
several processes start at once.

Which events carry one (:meth:`NoticeTexts.attach`): those a surface of ours wrote (the
widget, the kiosk, the agent console, the unsubscribe and confirmation pages), which
showed the center's current wording in the event's locale, with the notice of the
subscriber's region where the page adds one (a text of its own, stored beside the base). An API or import event
carries none unless its body names a notice version this server holds the text of
(:meth:`NoticeTexts.named`): a host's own form may have shown anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import Connection, event, select
from sqlalchemy.dialects import postgresql, sqlite

from ..ledger import EventContext, canonical_json
from .tables import notice_texts

#: Sources whose events are written by someone else's surface, or by no surface at all.
NOT_SHOWN = ("import", "system")


def encode(document: Mapping[str, Any]) -> tuple[str, str]:
    """The canonical JSON of a text (the stored bytes) and its SHA-256, the key events name."""
    text = canonical_json(dict(document))
    return text, hashlib.sha256(text.encode()).hexdigest()


def insert_missing(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert the texts not there yet: ``ON CONFLICT DO NOTHING`` on both engines, so two
    processes starting together cannot fail on each other's rows."""
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(dialect.insert(notice_texts).on_conflict_do_nothing(index_elements=["hash"]), rows)


def text_of(connection: Connection, center: str, digest: str) -> dict[str, Any] | None:
    """A stored text of ``center`` by its hash, with what it was shown for, or None."""
    row = connection.execute(select(notice_texts).where(notice_texts.c.hash == digest,
                                                        notice_texts.c.center == center)).mappings().first()
    if row is None:
        return None
    return {"hash": row["hash"], "center": row["center"], "notice_version": row["notice_version"],
            "locale": row["locale"], "created_at": row["created_at"], "text": json.loads(row["text"])}


def texts_of(connection: Connection, digests: set[str]) -> dict[str, Any]:
    """The texts of these hashes (an export's events name them), hash -> text."""
    if not digests:
        return {}
    rows = connection.execute(select(notice_texts.c.hash, notice_texts.c.text)
                              .where(notice_texts.c.hash.in_(sorted(digests))))
    return {str(digest): json.loads(str(text)) for digest, text in rows}


#: (center, notice version, locale), or with the region whose notice the page showed too.
Key = tuple[str, ...]
#: The text's region for a subscriber's country in a locale ("" when the page shows no region notice).
RegionOf = Callable[[str | None, str], str]


@dataclass
class NoticeTexts:
    """The hashes of the texts this server shows (``shown``, by center, notice version, locale
    and the region whose notice the page adds: "" for none) and of every text it holds
    (``held``, the older versions' too, without a region notice: what an API body can name).

    ``pending`` holds the texts not yet known to be stored: all of them between
    :meth:`prepare` and a successful :meth:`store`. A server started on a database not
    migrated yet (``/readyz`` says so) cannot store them at start; then the first event
    naming a text stores it in its own transaction, so no event ever names a text the
    database lacks.
    """

    shown: dict[Key, str] = field(default_factory=dict)
    held: dict[Key, str] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Per center, which region's text a subscriber's page showed (``web/notice_wording.py``).
    regions: dict[str, RegionOf] = field(default_factory=dict)

    def prepare(self, documents: Sequence[tuple[str, str, str, str, Mapping[str, Any]]], now: datetime) -> None:
        """Work out the hashes of these (center, notice version, locale, region, text): nothing stored yet."""
        for center, version, locale, region, document in documents:
            text, digest = encode(document)
            self.shown[(center, version, locale, region)] = digest
            self.pending[digest] = {"hash": digest, "center": center, "notice_version": version, "locale": locale,
                                    "text": text, "created_at": now}
        self._hold_shown()

    def _hold_shown(self) -> None:
        self.held.update({key[:3]: digest for key, digest in self.shown.items() if key[3] == ""})

    def store(self, connection: Connection) -> None:
        """Store the prepared texts once each (in the caller's transaction, which then commits),
        and read which texts are held from before (a small table: one row per version and locale)."""
        insert_missing(connection, list(self.pending.values()))
        held = select(notice_texts.c.center, notice_texts.c.notice_version, notice_texts.c.locale,
                      notice_texts.c.hash, notice_texts.c.text).order_by(notice_texts.c.created_at)
        for row in connection.execute(held):  # a version's newest text wins; a region's is no API's
            if "region_notice" not in json.loads(row.text):
                self.held[(row.center, row.notice_version, row.locale)] = row.hash
        self._hold_shown()
        self.pending.clear()

    def attach(self, center: str, context: EventContext, connection: Connection | None = None,
               country: str | None = None) -> EventContext:
        """The context with the hash of what our surface showed, when one of ours wrote it
        (an API key's events are left to :meth:`named`): the center's text in the event's
        locale, with the notice of ``country``'s region when the page showed one. A text not
        stored yet is stored in ``connection``'s transaction, the event's."""
        digest = context.notice_text  # named already (an API body's version: ``named``)
        if digest is None:
            if (context.source in NOT_SHOWN or context.actor.startswith("api_key:") or not context.notice_version
                    or not context.locale):
                return context
            # The agent console shows no region's notice (it is the person's own screens').
            shows_region = center in self.regions and context.source != "call_center"
            region = self.regions[center](country, context.locale) if shows_region else ""
            digest = self.shown.get((center, context.notice_version, context.locale, region)) or self.shown.get(
                (center, context.notice_version, context.locale, ""))
            if not digest:
                return context
        row = self.pending.get(digest)
        if row is not None:
            if connection is None:  # nowhere to store it: name nothing rather than a text the database lacks
                return replace(context, notice_text=None)
            insert_missing(connection, [row])  # idempotent: kept pending until that transaction commits
            event.listen(connection, "commit", lambda _: self.pending.pop(digest, None), once=True)
        return replace(context, notice_text=digest)

    def named(self, center: str, version: str | None, locale: str | None) -> str | None:
        """The hash of the text of a notice version an API body names, if this server holds
        it (shown now, or stored before) in that locale; None otherwise."""
        if not version or not locale:
            return None
        return self.held.get((center, version, locale))
