"""Unsubscribe links over HTTP, the app in-process: RFC 8058 one-click, and the page behind the link."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from test_localization import LANGUAGES, RTL, english_sources, visible_text

from widget_server.preferences import OPTED_IN, OPTED_OUT, PENDING, Preferences

CENTER = "maison-lumiere"
URL = f"/c/{CENTER}/unsubscribe"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def subscriber(store) -> str:
    """Offers by e-mail and SMS, the Inspirations letter by post (pending), loyalty untouched."""
    return store.create_subscriber(CENTER, email="camille@example.org", preferences=Preferences(subscriptions={
        ("offers", "email"): OPTED_IN, ("offers", "sms"): OPTED_IN, ("inspirations", "post"): PENDING,
    }))


@pytest.fixture
def visitor(client):
    """A French visitor's browser; ``client`` itself sends no Accept-Language, as a mail provider's server."""
    with client.another(headers={"Accept-Language": "fr-FR,fr;q=0.9"}) as visitor:
        yield visitor


@pytest.fixture
def mint(client, subscriber):
    """``mint(tp="offers", ch="sms", l="en")``: an unsubscribe token for the subscriber."""

    def make(scope: str = "unsubscribe", center: str = CENTER, who: str | None = None, **extra: str) -> str:
        return client.app.state.signer.mint(scope, center, who or subscriber, **extra)

    return make


def same_origin(server) -> dict[str, str]:
    return {"Sec-Fetch-Site": "same-origin", "Origin": server.url}


def hidden_fields(html: str, form_id: str) -> dict[str, str]:
    form = re.search(rf'<form id="{form_id}".*?</form>', html, re.S).group(0)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return {name: unescape(value) for name, value in fields.items()}


def confirm(visitor, server, token: str, **extra: str) -> httpx.Response:
    page = visitor.get(URL, params={"t": token, **extra})
    assert page.status_code == 200 and 'value="confirm"' in page.text
    return visitor.post(URL, data={**hidden_fields(page.text, "unsubscribe"), "action": "confirm"},
                        headers=same_origin(server))


def manage_link(html: str) -> str:
    return unescape(re.search(r'<a class="button secondary" href="(/c/[^"]+/preferences\?[^"]+)"', html).group(1))


# -- RFC 8058 one-click ----------------------------------------------------------------------


def test_one_click_opts_out_that_topic_on_that_channel_and_records_one_event(client, store, subscriber,
                                                                              mint) -> None:
    token = mint(tp="offers", ch="sms")
    # A mail provider's server: no cookie, no Origin of ours, a browser-like cross-site label at worst.
    answer = client.post(f"{client.url}{URL}?t={token}", data=ONE_CLICK,
                        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://mail.example"})
    assert answer.status_code == 200 and "location" not in answer.headers
    assert answer.headers["content-type"].startswith("text/plain") and answer.text.strip()
    assert "set-cookie" not in answer.headers
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("offers", "sms") == OPTED_OUT
    assert prefs.opted_in("offers", "email") and not prefs.suppressed  # only that channel
    events = store.events(subscriber)
    assert len(events) == 2
    event = events[-1]
    assert (event["source"], event["actor"], event["locale"]) == ("email_link", "subject", "fr")
    assert event["evidence"]["method"] == "one_click" and event["notice_version"] == "2026-11-01"
    [change] = event["changes"]  # with the basis withdrawn, since the opt-out
    assert (change["path"], change["from"], change["to"]) == ("offers.sms", "opted_in", "opted_out")
    assert change["basis"]["legal_basis"] == "consent" and change["basis"]["until"] is None
    assert event["context"]["ip"] == "127.0.0.0"
    assert store.verify_chain(subscriber).intact


def test_one_click_defaults_to_email_and_speaks_the_links_language(client, store, subscriber, mint) -> None:
    answer = client.post(f"{client.url}{URL}", params={"t": mint(tp="offers", l="en")}, data=ONE_CLICK)
    assert answer.status_code == 200 and answer.headers["content-language"] == "en"
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("offers", "email") == OPTED_OUT and prefs.opted_in("offers", "sms")
    assert store.events(subscriber)[-1]["locale"] == "en"


def test_one_click_as_multipart_form_data_works_too(client, store, subscriber, mint) -> None:
    """RFC 8058 allows either encoding of the POST body."""
    answer = client.post(f"{client.url}{URL}", params={"t": mint(tp="offers")},
                        files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200
    assert store.get(CENTER, subscriber).preferences.state("offers", "email") == OPTED_OUT


def test_the_sdks_list_unsubscribe_headers_work_as_a_mail_provider_uses_them(client, settings, store,
                                                                              subscriber, clock) -> None:
    """The contract end to end: the SDK mints the headers offline; a provider posts what they say."""
    from preference_sdk import LinkMinter

    # The server's clock is the test's: a link signed by the wall clock would be from its future.
    minter = LinkMinter(client.url, list(settings.secret_keys), clock=lambda: clock().timestamp())
    headers = minter.list_unsubscribe_headers(CENTER, subscriber, topic="offers", channel="sms",
                                              mailto="unsubscribe@example.com")
    url = re.match(r"<([^>]+)>", headers["List-Unsubscribe"]).group(1)
    answer = client.post(url, content=headers["List-Unsubscribe-Post"].encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("offers", "sms") == OPTED_OUT and prefs.opted_in("offers", "email")
    assert client.get(url).status_code == 200  # and a mail client that opens it gets the page


def test_a_repeated_one_click_is_harmless(client, store, subscriber, mint) -> None:
    token = mint(tp="offers")
    for _ in range(3):
        answer = client.post(f"{client.url}{URL}", params={"t": token}, data=ONE_CLICK)
        assert answer.status_code == 200
    assert len(store.events(subscriber)) == 2


@pytest.mark.parametrize("body", [{}, {"List-Unsubscribe": "one-click"}, {"List-Unsubscribe": "Yes"},
                                  {"unsubscribe": "1"}, {"action": "delete"}])
def test_a_post_without_the_one_click_body_is_refused_and_changes_nothing(client, store, subscriber, mint,
                                                                          body) -> None:
    before = store.get(CENTER, subscriber)
    answer = client.post(f"{client.url}{URL}", params={"t": mint(tp="offers")}, data=body)
    assert answer.status_code == 400 and "Traceback" not in answer.text
    assert store.get(CENTER, subscriber) == before and len(store.events(subscriber)) == 1


def test_no_topic_in_the_token_unsubscribes_from_everything(client, store, subscriber, mint, centers) -> None:
    answer = client.post(f"{client.url}{URL}", params={"t": mint()}, data=ONE_CLICK)
    assert answer.status_code == 200
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.suppressed
    for topic in centers[CENTER].switchable_topics:
        assert all(prefs.state(topic.id, channel) == OPTED_OUT for channel in topic.channels), topic.id
    assert all(prefs.state("orders", channel) == "unknown" for channel in ("email", "sms"))  # required: untouched
    assert [c["path"] for c in store.events(subscriber)[-1]["changes"]][-1] == "suppression"


# -- the page behind the link ----------------------------------------------------------------


def test_opening_the_link_changes_nothing_and_says_what_will_stop(client, visitor, store, subscriber,
                                                                  mint) -> None:
    token = mint(tp="offers", ch="sms")
    before = store.get(CENTER, subscriber)
    for _ in range(3):  # a link scanner, then the person, then a reload
        page = visitor.get(URL, params={"t": token})
        assert page.status_code == 200
    assert store.get(CENTER, subscriber) == before and len(store.events(subscriber)) == 1
    html = page.text
    assert '<html lang="fr" dir="ltr"' in html
    assert "Offres et promotions" in html and "SMS" in html
    assert f'<form id="unsubscribe" method="post" action="{URL}">' in html
    assert "frame-ancestors 'self' http://127.0.0.1:8001" in page.headers["content-security-policy"]
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html)), "no inline script"
    assert "set-cookie" not in page.headers and page.headers["cache-control"] == "no-store"


def test_the_manage_link_is_a_fresh_login_link_never_the_unsubscribe_token(client, visitor, subscriber,
                                                                           mint) -> None:
    token = mint(tp="offers", l="en")
    link = manage_link(visitor.get(URL, params={"t": token}).text)
    login = parse_qs(urlsplit(link).query)["t"][0]
    assert login != token
    signer = client.app.state.signer
    claims = signer.read(login, "login", center=CENTER)
    assert claims.subscriber == subscriber and claims.locale == "en"
    widget = visitor.get(link)
    assert widget.status_code == 200 and 'name="s.offers.email"' in widget.text


def test_confirming_on_the_page_unsubscribes_with_a_303_and_says_it_is_done(client, visitor, store,
                                                                             subscriber, mint) -> None:
    token = mint(tp="offers")
    answer = confirm(visitor, client, token)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(f"{URL}?") and "done=1" in location
    assert store.get(CENTER, subscriber).preferences.state("offers", "email") == OPTED_OUT
    event = store.events(subscriber)[-1]
    assert (event["source"], event["actor"]) == ("email_link", "subject")
    assert event["evidence"]["method"] == "confirmed_on_page" and event["locale"] == "fr"
    done = visitor.get(location)
    assert done.status_code == 200
    assert "Offres et promotions" in done.text and 'value="undo"' in done.text
    assert manage_link(done.text)
    # The button again (a second tab, a double click): nothing more happens.
    again = visitor.post(URL, data={"t": token, "lang": "fr", "action": "confirm"}, headers=same_origin(client))
    assert again.status_code == 303 and len(store.events(subscriber)) == 2


def test_undo_puts_back_exactly_what_was_switched_off_as_its_own_event(client, visitor, store, subscriber,
                                                                       mint) -> None:
    token = mint()  # everything
    before = store.get(CENTER, subscriber).preferences
    done = visitor.get(confirm(visitor, client, token).headers["location"])
    assert store.get(CENTER, subscriber).preferences.suppressed
    answer = visitor.post(URL, data={**hidden_fields(done.text, "undo"), "action": "undo"},
                          headers=same_origin(client))
    assert answer.status_code == 303 and "undone=1" in answer.headers["location"]
    after = store.get(CENTER, subscriber).preferences
    assert after.same_choices(before)  # opted in, pending and unknown alike, and no suppression
    events = store.events(subscriber)
    assert len(events) == 3
    assert events[-1]["source"] == "email_link" and events[-1]["evidence"]["method"] == "undo_on_page"
    assert events[-1]["evidence"]["undoes_version"] == events[-2]["version"]
    page = visitor.get(answer.headers["location"])
    assert 'role="status"' in page.text and 'value="confirm"' in page.text  # can unsubscribe again
    # The undo posted twice changes nothing more.
    visitor.post(URL, data={**hidden_fields(done.text, "undo"), "action": "undo"}, headers=same_origin(client))
    assert len(store.events(subscriber)) == 3
    assert store.verify_chain(subscriber).intact


def test_undo_is_only_offered_right_after(client, visitor, store, subscriber, mint, clock) -> None:
    token = mint(tp="offers")
    done = visitor.get(confirm(visitor, client, token).headers["location"])
    fields = hidden_fields(done.text, "undo")
    clock.advance(hours=2)
    later = visitor.get(URL, params={"t": token})
    assert later.status_code == 200 and 'value="undo"' not in later.text and manage_link(later.text)
    answer = visitor.post(URL, data={**fields, "action": "undo"}, headers=same_origin(client))
    assert answer.status_code == 409 and 'role="alert"' in answer.text
    assert store.get(CENTER, subscriber).preferences.state("offers", "email") == OPTED_OUT
    assert len(store.events(subscriber)) == 2


def test_undo_cannot_undo_anything_but_the_latest_unsubscribe(client, visitor, store, subscriber, mint) -> None:
    """A save on the widget after the unsubscribe, or a made-up version: nothing to undo."""
    token = mint(tp="offers")
    done = visitor.get(confirm(visitor, client, token).headers["location"])
    fields = hidden_fields(done.text, "undo")
    forged = visitor.post(URL, data={**fields, "event": "1", "action": "undo"}, headers=same_origin(client))
    assert forged.status_code == 409
    current = store.get(CENTER, subscriber).preferences
    from widget_server.ledger import EventContext
    store.save(CENTER, subscriber, Preferences(subscriptions={**current.subscriptions, ("loyalty", "push"): OPTED_IN}),
               base_version=current.version, context=EventContext(source="web", actor="subject"))
    answer = visitor.post(URL, data={**fields, "action": "undo"}, headers=same_origin(client))
    assert answer.status_code == 409
    assert store.get(CENTER, subscriber).preferences.state("offers", "email") == OPTED_OUT
    assert len(store.events(subscriber)) == 3


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}])
def test_the_pages_buttons_refuse_a_post_from_another_site(client, visitor, store, subscriber, mint,
                                                            headers) -> None:
    token = mint(tp="offers")
    for action in ("confirm", "undo"):
        answer = visitor.post(URL, data={"t": token, "lang": "fr", "action": action, "event": "1"}, headers=headers)
        assert answer.status_code == 403 and "Demande refusée" in answer.text
    assert len(store.events(subscriber)) == 1


def test_the_page_works_inside_an_embed_and_keeps_its_options(client, visitor, store, subscriber, mint) -> None:
    token = mint(tp="offers")
    query = {"embed_origin": "http://127.0.0.1:8001", "mode": "dark", "primary": "#7a1f1f"}
    page = visitor.get(URL, params={"t": token, **query})
    assert 'data-embed-origin="http://127.0.0.1:8001"' in page.text
    assert "mode=dark" in page.text and "primary=%237a1f1f" in page.text  # the theme's stylesheet
    assert "embed_origin=" in manage_link(page.text)
    answer = confirm(visitor, client, token, **query)
    assert answer.status_code == 303
    assert all(f"{name}=" in answer.headers["location"] for name in query)
    assert 'data-embed-origin="http://127.0.0.1:8001"' in visitor.get(answer.headers["location"]).text


# -- bad links -----------------------------------------------------------------------------


def test_an_expired_link_is_a_401_page_and_changes_nothing(client, visitor, store, subscriber, mint,
                                                           clock) -> None:
    token = mint(tp="offers")
    clock.advance(days=366)
    page = visitor.get(URL, params={"t": token})
    assert page.status_code == 401 and "Ce lien a expiré" in page.text
    assert f'action="/c/{CENTER}/link"' in page.text  # offers a fresh link
    assert client.post(f"{client.url}{URL}", params={"t": token}, data=ONE_CLICK).status_code == 401
    answer = visitor.post(URL, data={"t": token, "lang": "fr", "action": "confirm"}, headers=same_origin(client))
    assert answer.status_code == 401
    assert len(store.events(subscriber)) == 1


@pytest.mark.parametrize("mangle", [lambda t: t[:-4] + "AAAA", lambda t: "", lambda t: "garbage"])
def test_a_tampered_or_missing_link_is_a_403_and_changes_nothing(client, visitor, store, subscriber, mint,
                                                                 mangle) -> None:
    token = mangle(mint(tp="offers"))
    page = visitor.get(URL, params={"t": token})
    assert page.status_code == 403 and "Ce lien ne fonctionne pas" in page.text and "Traceback" not in page.text
    assert client.post(f"{client.url}{URL}", params={"t": token}, data=ONE_CLICK).status_code == 403
    answer = visitor.post(URL, data={"t": token, "lang": "fr", "action": "confirm"}, headers=same_origin(client))
    assert answer.status_code == 403
    assert len(store.events(subscriber)) == 1


def test_a_token_of_another_scope_or_center_does_not_unsubscribe(client, visitor, store, subscriber,
                                                                 mint) -> None:
    for token, center in ((mint("manage"), CENTER), (mint("login"), CENTER), (mint(tp="offers"), "voyago")):
        assert visitor.get(f"/c/{center}/unsubscribe", params={"t": token}).status_code == 403
        answer = client.post(f"{client.url}/c/{center}/unsubscribe", params={"t": token}, data=ONE_CLICK)
        assert answer.status_code == 403
    assert len(store.events(subscriber)) == 1


def test_an_unsubscribe_token_does_not_open_the_widget(client, visitor, subscriber, mint) -> None:
    token = mint(tp="offers")
    assert visitor.get(f"/c/{CENTER}/preferences", params={"t": token}).status_code == 403


def test_an_unknown_center_is_a_404(client, mint) -> None:
    answer = client.get(f"{client.url}/c/nope/unsubscribe", params={"t": mint()}, headers={"Accept-Language": "de"})
    assert answer.status_code == 404 and "Seite nicht gefunden" in answer.text


@pytest.mark.parametrize("extra", [{"tp": "orders"}, {"tp": "no-such-topic"}, {"tp": "offers", "ch": "post"},
                                   {"tp": "loyalty", "ch": "fax"}])
def test_a_topic_or_channel_that_cannot_be_switched_off_is_a_clear_422(client, visitor, store, subscriber, mint,
                                                                       extra) -> None:
    token = mint(**extra)
    page = visitor.get(URL, params={"t": token})
    assert page.status_code == 422 and "Traceback" not in page.text
    assert 'value="confirm"' not in page.text and manage_link(page.text)
    assert client.post(f"{client.url}{URL}", params={"t": token}, data=ONE_CLICK).status_code == 422
    answer = visitor.post(URL, data={"t": token, "lang": "fr", "action": "confirm"}, headers=same_origin(client))
    assert answer.status_code == 422
    assert len(store.events(subscriber)) == 1


def test_revoked_links_still_unsubscribe_but_lead_nowhere_else(client, visitor, store, subscriber, mint,
                                                               clock) -> None:
    email_token, sms_token = mint(tp="offers"), mint(tp="offers", ch="sms")
    clock.advance(seconds=5)
    store.revoke_links(subscriber)
    assert client.post(f"{client.url}{URL}", params={"t": email_token}, data=ONE_CLICK).status_code == 200
    assert confirm(visitor, client, sms_token).status_code == 303
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("offers", "email") == OPTED_OUT and prefs.state("offers", "sms") == OPTED_OUT
    # A revoked link must not mint a working link to the widget, nor opt back in.
    done = visitor.get(URL, params={"t": sms_token})
    assert done.status_code == 200 and 'value="undo"' not in done.text
    assert "/preferences?" not in done.text and f"/c/{CENTER}/link?" in done.text
    last = store.events(subscriber)[-1]["version"]
    answer = visitor.post(URL, data={"t": sms_token, "lang": "fr", "action": "undo", "event": str(last)},
                          headers=same_origin(client))
    assert answer.status_code == 409 and len(store.events(subscriber)) == 3


def test_an_unsubscribe_is_applied_to_the_fresh_state_when_someone_saved_meanwhile(store, subscriber,
                                                                                   centers) -> None:
    """The page read version 1; a save on another device made version 2; the unsubscribe still applies,
    to version 2, keeping what that save chose."""
    import anyio

    from widget_server.changes import Changes
    from widget_server.ledger import EventContext
    from widget_server.unsubscribing import Target

    center = centers[CENTER]
    stale = store.get(CENTER, subscriber)
    chosen = Preferences(subscriptions={**stale.preferences.subscriptions, ("loyalty", "email"): OPTED_IN})
    store.save(CENTER, subscriber, chosen, base_version=1, context=EventContext(source="web", actor="subject"))
    target = Target(center.topic("offers"), "email")
    woken = []
    changes = Changes(store, wake=lambda: woken.append(True))
    result = anyio.run(changes.apply, CENTER, stale, lambda p: target.apply(center, p),
                       EventContext(source="email_link", actor="subject", evidence={"method": "one_click"}))
    assert woken == [True]  # the commit woke the webhook worker
    assert result.outcome == "saved" and result.preferences.version == 3
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("offers", "email") == OPTED_OUT and prefs.opted_in("loyalty", "email")
    assert [e["version"] for e in store.events(subscriber)] == [1, 2, 3]


# -- every language ----------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_unsubscribe_screen_speaks_the_language(client, store, locale: str) -> None:
    """The confirm page, the done page, the page after an undo, the 422 page, the one-click answer
    and its 400: native text, ``lang`` and ``dir``, no English left."""
    app = client.app
    center = "voyago"  # offers every shipped language
    signer = app.state.signer
    who = store.create_subscriber(center, preferences=Preferences(subscriptions={("deals", "email"): OPTED_IN}))
    topic, everything = signer.mint("unsubscribe", center, who, tp="deals", l=locale), \
        signer.mint("unsubscribe", center, who, l=locale)
    url = f"/c/{center}/unsubscribe"
    own = {"Sec-Fetch-Site": "same-origin"}
    with client.another() as visitor:
        screens = {"confirm topic": visitor.get(url, params={"t": topic}),
                   "confirm everything": visitor.get(url, params={"t": everything})}
        done = visitor.post(url, data={"t": everything, "lang": locale, "action": "confirm"}, headers=own)
        screens["done"] = visitor.get(done.headers["location"])
        screens["already"] = visitor.get(url, params={"t": topic})
        undo = visitor.post(url, data={**hidden_fields(screens["done"].text, "undo"), "action": "undo"}, headers=own)
        screens["undone"] = visitor.get(undo.headers["location"])
        screens["cannot undo"] = visitor.post(url, data={"t": topic, "lang": locale, "action": "undo", "event": "9"},
                                              headers=own)
        screens["unavailable"] = visitor.get(url, params={"t": signer.mint("unsubscribe", center, who, tp="bookings",
                                                                           l=locale)})
        screens["not one-click"] = visitor.post(url, params={"t": topic}, data={"lang": locale})
        screens["one-click"] = visitor.post(url, params={"t": topic}, data=ONE_CLICK)
    expected = {"confirm topic": 200, "confirm everything": 200, "done": 200, "already": 200, "undone": 200,
                "cannot undo": 409, "unavailable": 422, "not one-click": 400, "one-click": 200}
    sources = english_sources(app.state.translator, locale) if locale != "en" else []
    direction = "rtl" if locale in RTL else "ltr"
    for name, answer in screens.items():
        assert answer.status_code == expected[name], name
        if name != "one-click":
            assert f'<html lang="{locale}" dir="{direction}"' in answer.text, name
        leaked = [source for source in sources if source in visible_text(answer.text)]
        assert not leaked, f"{locale} {name}: English left on the page: {leaked}"
    assert screens["one-click"].headers["content-language"] == locale
    if locale != "en":
        for message in ("Unsubscribe me", "You are unsubscribed", "Subscribe me again", "You are subscribed again.",
                        "Manage all my preferences instead", "This link cannot unsubscribe you"):
            assert app.state.translator.gettext(locale, message) != message, (locale, message)


def test_undo_belongs_to_the_link_that_confirmed(client, visitor, store, subscriber, mint, clock) -> None:
    """A one-click (a mail provider's, maybe for a forwarded copy) offers no undo; nor does another link."""
    token = mint(tp="offers", ch="email")
    assert client.post(f"{client.url}{URL}?t={token}", data=ONE_CLICK).status_code == 200
    after_one_click = visitor.get(URL, params={"t": token})
    assert 'value="undo"' not in after_one_click.text
    clock.advance(seconds=5)
    mine = mint(tp="offers", ch="sms")
    assert confirm(visitor, client, mine).status_code == 303
    assert 'value="undo"' in visitor.get(URL, params={"t": mine}).text
    clock.advance(seconds=5)
    forwarded = mint(tp="offers", ch="sms")  # another copy of the mail, another link
    assert 'value="undo"' not in visitor.get(URL, params={"t": forwarded}).text


def test_an_erased_subscriber_cannot_use_an_unsubscribe_link(client, visitor, store, subscriber, mint,
                                                           make_key) -> None:
    token = mint(tp="offers")
    key = make_key(CENTER, "admin")
    assert client.delete(f"{client.url}/api/v1/centers/{CENTER}/subscribers/{subscriber}",
                        headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert visitor.get(URL, params={"t": token}).status_code == 403
