"""The person's own view over HTTP, the app in-process: their history in words, their data,
and "sign out every link I was sent"; every bad link answered as the widget answers it."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.helpers import same_origin

CENTER = "maison-lumiere"


@pytest.fixture
def person(client, centers, store, clock):
    """A subscriber of maison-lumiere with three changes a day apart (the system's, our
    service team's, their own on the website), and their manage link."""
    from widget_server.ledger import EventContext
    from widget_server.preferences import OPTED_IN, Preferences, suppress_all

    subscriber = store.create_subscriber(
        CENTER, email="camille@example.org",
        preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}),
    )
    clock.advance(days=1)
    current = store.get(CENTER, subscriber).preferences
    by_phone = replace(current, subscriptions={**current.subscriptions, ("offers", "sms"): OPTED_IN},
                       interests=frozenset({"lighting"}))
    store.save(CENTER, subscriber, by_phone, base_version=current.version,
               context=EventContext(source="call_center", actor="agent:a1"))
    clock.advance(days=1)
    current = store.get(CENTER, subscriber).preferences
    store.save(CENTER, subscriber, suppress_all(centers[CENTER], current), base_version=current.version,
               context=EventContext(source="web", actor="subject"))
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    clock.advance(seconds=5)  # the link was sent before it is used (revocation counts in seconds)
    return subscriber, token


def history_of(client, token: str, **params):
    return client.get(f"/c/{CENTER}/history", params={"t": token, **params})


def test_the_widget_links_to_the_history_with_its_token(client, person) -> None:
    _, token = person
    page = client.get(f"/c/{CENTER}/preferences", params={"t": token, "lang": "en"}).text
    assert f'href="/c/{CENTER}/history?t={token}&amp;lang=en"' in page
    assert "Your history and your data" in page


def test_the_history_says_each_change_in_words_newest_first(client, person) -> None:
    _, token = person
    response = history_of(client, token, lang="en")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    html = response.text
    table = html[html.index('id="history-title"'):html.index("</table>")]
    assert '<th scope="col">Date</th>' in table
    newest, staff, first = (table.index("You unsubscribed from everything"),
                            table.index("by our service team"), table.index("automatically"))
    assert newest < staff < first
    assert "on our website" in table
    assert "You subscribed to Offers and promotions: Text message (SMS)" in table
    assert "Interests: Lighting" in table
    assert "agent:" not in html and "a1" not in table  # where, never who
    assert f'action="/c/{CENTER}/history"' in html and f'name="t" value="{token}"' in html


def test_the_data_download_is_the_api_export(client, person, make_key) -> None:
    subscriber, token = person
    response = client.get(f"/c/{CENTER}/history/data", params={"t": token})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="my-data.json"'
    assert response.headers["cache-control"] == "no-store"
    mine = response.json()
    key = make_key(CENTER, "admin")
    api = client.get(f"/api/v1/centers/{CENTER}/subscribers/{subscriber}/export",
                     headers={"Authorization": f"Bearer {key}"}).json()
    assert mine.keys() == api.keys()
    assert mine == api  # the same clock: the same exported_at too
    assert [e["source"] for e in mine["events"]] == ["system", "call_center", "web"]


def test_signing_out_revokes_every_link_this_one_too(client, person, store, clock) -> None:
    subscriber, token = person
    response = client.post(f"/c/{CENTER}/history", data={"t": token, "lang": "en"}, headers=same_origin(client))
    assert response.status_code == 200
    assert "Your links are signed out" in response.text
    assert f'action="/c/{CENTER}/link"' in response.text
    assert store.get(CENTER, subscriber).valid_after is not None
    clock.advance(seconds=2)
    assert client.get(f"/c/{CENTER}/preferences", params={"t": token}).status_code == 401
    again = client.post(f"/c/{CENTER}/history", data={"t": token}, headers=same_origin(client))
    assert again.status_code == 401 and f'action="/c/{CENTER}/link"' in again.text


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}])
def test_a_sign_out_from_another_site_is_refused(client, person, store, headers) -> None:
    subscriber, token = person
    response = client.post(f"/c/{CENTER}/history", data={"t": token}, headers=headers)
    assert response.status_code == 403
    assert store.get(CENTER, subscriber).valid_after is None
    assert history_of(client, token).status_code == 200


@pytest.mark.parametrize("path", ["/history", "/history/data"])
def test_bad_links_answer_as_the_widget_answers(client, person, clock, path) -> None:
    subscriber, token = person
    signer = client.app.state.signer
    for bad in (token[:-4] + "AAAA", "", "garbage", signer.mint("unsubscribe", CENTER, subscriber)):
        page = client.get(f"/c/{CENTER}{path}", params={"t": bad})
        widget = client.get(f"/c/{CENTER}/preferences", params={"t": bad})
        assert page.status_code == widget.status_code == 403
        assert "Ce lien ne fonctionne pas" in page.text
    assert client.get(f"/c/voyago{path}", params={"t": token}).status_code == 403  # another center's
    clock.advance(days=181)
    expired = client.get(f"/c/{CENTER}{path}", params={"t": token})
    assert expired.status_code == 401 and "Ce lien a expiré" in expired.text


def test_the_page_is_in_french_for_a_french_link(client, person) -> None:
    _, token = person
    with client.another(headers={"Accept-Language": "fr-FR,fr;q=0.9"}) as browser:
        html = history_of(browser, token).text
    assert '<html lang="fr"' in html
    assert '<th scope="col">Modification</th>' in html  # "What changed", reused from the console


def test_inside_an_embed_the_history_and_its_way_back_keep_the_embeds_options(client, person) -> None:
    """The history link, the way back and the sign-out form carry the embed's theme and origin,
    so the framed page keeps its look and keeps telling the host page its height."""
    _, token = person
    embed = {"embed_origin": "http://127.0.0.1:8001", "mode": "dark"}
    widget = client.get(f"/c/{CENTER}/preferences", params={"t": token, "lang": "en", **embed}).text
    assert "embed_origin=http%3A%2F%2F127.0.0.1%3A8001" in widget.split('class="own-history"')[1].split("</p>")[0]
    page = history_of(client, token, lang="en", **embed).text
    assert 'data-embed-origin="http://127.0.0.1:8001"' in page
    back = page.split("Back to your preferences")[0].rsplit('href="', 1)[1]
    assert "embed_origin=http%3A%2F%2F127.0.0.1%3A8001" in back and "mode=dark" in back
    assert '<input type="hidden" name="embed_origin" value="http://127.0.0.1:8001">' in page
    unlisted = history_of(client, token, lang="en", embed_origin="https://evil.example").text
    assert "evil.example" not in unlisted  # only an origin the center lists, as in the widget


def test_a_long_history_pages_by_fifty_and_its_days_follow_the_embeds_zone(client, store, clock) -> None:
    from widget_server.ledger import EventContext
    from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences
    from widget_server.web.routes.history import HISTORY_PAGE

    subscriber = store.create_subscriber(CENTER)  # no event yet
    web = EventContext(source="web", actor="subject")
    for n in range(HISTORY_PAGE + 3):
        current = store.get(CENTER, subscriber).preferences
        state = OPTED_IN if n % 2 == 0 else OPTED_OUT
        store.save(CENTER, subscriber, Preferences(version=current.version, subscriptions={("offers", "email"): state}),
                   base_version=current.version, context=web)
    clock.advance(seconds=5)
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    first = history_of(client, token, lang="en", tz="Pacific/Kiritimati")
    html = first.text
    assert first.status_code == 200 and html.count("<tr>") == HISTORY_PAGE + 1  # the header row, and fifty
    older = re.search(r'href="(/c/[^"]*before=(\d+)[^"]*)"', html)
    assert older and older.group(2) == "4" and "Older changes" in html and "Newest changes" not in html
    rest = client.get(older.group(1).replace("&amp;", "&"))
    assert rest.status_code == 200 and rest.text.count("<tr>") == 1 + 3
    assert "Older changes" not in rest.text and "Newest changes" in rest.text and "tz=Pacific%2FKiritimati" in rest.text
    # 23:30 UTC on the 1st is already the 2nd in Kiritimati (UTC+14).
    day = store.events(subscriber)[0]["occurred_at"]
    from widget_server.i18n import format_day
    assert format_day(day, "en", "Pacific/Kiritimati") in rest.text
    for silly in ("0", "1", "-5"):
        assert history_of(client, token, lang="en", before=silly).text.count("<tr>") == HISTORY_PAGE + 1
    assert history_of(client, token, lang="en", before="many").status_code == 400


def test_a_privacy_signal_and_a_confirmation_read_as_how_they_were_made(centers) -> None:
    from widget_server.web import history_words

    center = centers[CENTER]
    rows = [{"occurred_at": __import__("datetime").datetime(2026, 3, 3, tzinfo=__import__("datetime").timezone.utc),
             "source": source, "evidence": evidence, "changes": [{"path": "offers.email", "from": "a", "to": to}]}
            for source, evidence, to in (("web", {"method": "global_privacy_control"}, "opted_out"),
                                         ("email_link", {"method": "double_opt_in"}, "opted_in"),
                                         ("system", {"reason": "pending_expired"}, "expired"),
                                         ("web", None, "opted_in"))]
    words = history_words.history_rows(history_words.OWN, center, "en", lambda s: s, rows)
    assert [w["who"] for w in words] == ["by your browser's privacy signal (Global Privacy Control)",
                                         "confirmed from our e-mail", "not confirmed in time", "on our website"]
    assert words[2]["what"] == ["Offers and promotions, E-mail: expired"]
