"""The proof's rules without a server: chain keys rotate (the named key verifies), which
events carry a notice text, and the derivations keep their purposes apart."""

from __future__ import annotations

import pytest

from tests.helpers import ENGINES
from widget_server.chain_keys import ChainKeys, chain_keys, derive, key_id
from widget_server.ledger import EventContext
from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences
from widget_server.settings import Settings
from widget_server.store.notice_texts import NoticeTexts
from widget_server.store.store import Store

CENTER = "acme"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def state(choice: str, version: int = 0) -> Preferences:
    return Preferences(version=version, subscriptions={("offers", "email"): choice})


def test_keys_rotate_and_each_event_verifies_under_the_key_it_names(store: Store) -> None:
    old, new = b"the first chain secret", b"the next chain secret"
    first = Store(store.engine, lookup_key=b"k", chain_keys=ChainKeys.of([old]))
    sid = first.create_subscriber(CENTER, preferences=state(OPTED_IN))
    rotated = Store(store.engine, lookup_key=b"k", chain_keys=ChainKeys.of([new, old]))  # newest first
    rotated.save(CENTER, sid, state(OPTED_OUT, 1), base_version=1, context=EventContext("web", "subject"))
    assert [e["key_id"] for e in rotated.events(sid)] == [key_id(derive(old)), key_id(derive(new))]
    assert rotated.verify_chain(sid).intact and first.verify_chain(sid).intact is False
    dropped = Store(store.engine, lookup_key=b"k", chain_keys=ChainKeys.of([new]))  # the old key thrown away
    assert any("does not hold" in b.reason for b in dropped.verify_chain(sid).breaks)


def test_the_servers_keys_put_the_configured_ones_first_and_keep_the_default() -> None:
    keys = chain_keys(Settings(chain_keys=("rotated-in",)), b"lookup")
    assert keys.current == key_id(derive(b"rotated-in")) and key_id(derive(b"lookup")) in keys.keys
    assert chain_keys(Settings(), b"lookup").current == key_id(derive(b"lookup"))
    assert derive(b"lookup") != b"lookup"  # never the secret itself: a chain key has its own purpose


def test_which_events_name_the_text_shown() -> None:
    texts = NoticeTexts(shown={(CENTER, "v1", "fr", ""): "h-fr", (CENTER, "v1", "fr", "CA"): "h-fr-ca"},
                        held={(CENTER, "v1", "fr"): "h-fr", (CENTER, "v0", "fr"): "h-old"},
                        regions={CENTER: lambda country, locale: "CA" if country == "CA" else ""})
    shown = EventContext("web", "subject", locale="fr", notice_version="v1")
    assert texts.attach(CENTER, shown).notice_text == "h-fr"
    assert texts.attach(CENTER, shown, country="CA").notice_text == "h-fr-ca"  # the page added CASL's notice
    assert texts.attach(CENTER, shown, country="US").notice_text == "h-fr"
    by_phone = EventContext("call_center", "agent:7", locale="fr", notice_version="v1")
    assert texts.attach(CENTER, by_phone, country="CA").notice_text == "h-fr"  # the console shows no region notice
    for surface in ("kiosk", "call_center", "email_link"):
        assert texts.attach(CENTER, EventContext(surface, "agent:7", locale="fr", notice_version="v1")).notice_text
    for none in (EventContext("api", "api_key:abc", locale="fr", notice_version="v1"),  # the host's form
                 EventContext("web", "api_key:abc", locale="fr", notice_version="v1"),  # relayed by the API
                 EventContext("system", "system", locale="fr", notice_version="v1"),
                 EventContext("import", "api_key:abc", locale="fr", notice_version="v1"),
                 EventContext("web", "subject", locale="de", notice_version="v1"),  # no such text
                 EventContext("web", "subject", notice_version="v1")):
        assert texts.attach(CENTER, none).notice_text is None, none
    assert texts.named(CENTER, "v0", "fr") == "h-old" and texts.named(CENTER, "v9", "fr") is None
    assert texts.named(CENTER, None, "fr") is None and texts.named(CENTER, "v1", None) is None
