"""The event hash and its chain: one encoding, whoever computes it.

A save hashes an event with ``ledger.event_hash``; a bulk import builds the same bytes
piece by piece (``store/imports/proof.Hasher``) for speed. If the two ever disagreed,
imported history would fail verification, so they are compared on awkward text here.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from widget_server.chain_keys import ChainKeys
from widget_server.ledger import Change, canonical, event_hash, keyed_hash, verify_chain
from widget_server.store.imports.proof import COLUMNS, HASH, Hasher

WHEN = datetime(2026, 12, 3, 14, 30, 5, 123456, tzinfo=timezone.utc)
# Quotes, backslashes, control characters, non-ASCII and astral characters: what JSON escapes, or must not.
AWKWARD = st.sampled_from(['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "\u2028", "é", "😀", "/", "<"])
TEXT = st.text(alphabet=AWKWARD | st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


def record(**overrides: object) -> dict:
    base = {
        "subscriber_id": "sub_1", "center": "maison-lumiere", "version": 1, "occurred_at": WHEN,
        "source": "web", "actor": "subject", "changes": [Change("offers.email", "unknown", "opted_in").as_dict()],
        "notice_version": "2026-01", "locale": "fr", "evidence": {"method": "signed_link"}, "context": None,
        "submission_id": "s1", "prev_hash": None,
    }
    base.update(overrides)
    return base


def chain(length: int) -> list[dict]:
    events, previous = [], None
    for version in range(1, length + 1):
        event = record(version=version, prev_hash=previous, occurred_at=WHEN + timedelta(minutes=version))
        event["hash"] = previous = event_hash(event)
        events.append(event)
    return events


def test_the_hash_does_not_depend_on_key_order_or_unhashed_fields() -> None:
    shuffled = dict(reversed(list(record().items())))
    assert event_hash(shuffled) == event_hash(record())
    assert event_hash({**record(), "id": 99, "hash": "whatever"}) == event_hash(record())


def test_times_are_hashed_in_utc_whatever_their_offset() -> None:
    paris = WHEN.astimezone(timezone(timedelta(hours=1)))
    assert event_hash(record(occurred_at=paris)) == event_hash(record())


def test_every_hashed_field_changes_the_hash() -> None:
    changed = {"subscriber_id": "sub_2", "center": "voyago", "version": 2, "occurred_at": WHEN + timedelta(1),
               "source": "api", "actor": "key:k1", "changes": [], "notice_version": "2026-02", "locale": "en",
               "evidence": None, "context": {"ip": "192.0.2.0"}, "submission_id": "s2", "prev_hash": "0" * 64}
    original = event_hash(record())
    for name, value in changed.items():
        assert event_hash(record(**{name: value})) != original, name


def test_the_canonical_form_is_compact_sorted_utf8() -> None:
    text = canonical(record(locale="fr", actor="agent:José")).decode()
    assert " " not in text.replace("José", "")
    assert '"actor":"agent:José"' in text  # not \u00e9
    assert text.index('"actor"') < text.index('"center"') < text.index('"version"')


def test_an_intact_chain_verifies() -> None:
    assert verify_chain(chain(4)).intact


def test_an_edited_event_breaks_the_chain_from_there() -> None:
    events = chain(4)
    events[1]["changes"] = []
    report = verify_chain(events)
    assert not report.intact and 2 in report.broken_at


def test_a_removed_event_breaks_the_chain() -> None:
    events = chain(4)
    del events[1]
    assert not verify_chain(events).intact


def test_a_rehashed_forgery_still_breaks_the_link_to_the_next() -> None:
    events = chain(3)
    events[0]["actor"] = "someone else"
    events[0]["hash"] = event_hash(events[0])  # the forger recomputes this one's hash...
    assert not verify_chain(events).intact  # ...but the next event names the old one


@settings(max_examples=200, deadline=None)
@given(subscriber=TEXT, actor=TEXT, locale=st.none() | TEXT, source=st.none() | TEXT, day=st.none() | TEXT,
       before=st.none() | TEXT | st.booleans(), after=st.none() | TEXT | st.lists(TEXT, max_size=3),
       prev=st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
       version=st.integers(min_value=1, max_value=10**9))
def test_an_imported_event_hashes_as_the_ledger_does(subscriber: str, actor: str, locale: str | None,
                                                     source: str | None, day: str | None, before: object,
                                                     after: object, prev: str | None, version: int) -> None:
    changes = [Change("offers.email", before, after), Change("interests", [], ["garden"])]
    evidence = {"legacy_source": source, "legacy_date": day}
    keys = ChainKeys.of([b"a chain secret"])
    hasher = Hasher("maison-lumiere", actor, WHEN, "stored", keys)
    stored, hashed = hasher.changes(changes)
    row = SimpleNamespace(evidence=evidence, locale=locale)
    built = hasher.event(version * 3, subscriber, version, prev, row, stored, hashed)
    expected = keyed_hash(keys, {
        "subscriber_id": subscriber, "center": "maison-lumiere", "version": version, "occurred_at": WHEN,
        "source": "import", "actor": actor, "changes": [c.as_dict() for c in changes], "notice_version": None,
        "locale": locale, "evidence": evidence, "context": None, "submission_id": None, "prev_hash": prev,
        "id": version * 3, "key_id": keys.current, "notice_text": None,
    })
    assert built[HASH] == expected and built[COLUMNS.index("key_id")] == keys.current
