"""The call-center console over HTTP, the app in-process: sign-in, search, audit, limits,
saves and their proof, and every bad case. The tests that read or write the store run on
both engines."""

from __future__ import annotations

import dataclasses
import re

import pytest
from sqlalchemy import select, update

from tests.helpers import ENGINES, form_of, same_origin
from widget_server.ledger import EventContext
from widget_server.preferences import OPTED_IN, Preferences
from widget_server.store import contacts
from widget_server.store.tables import agent_searches, subscribers

CENTER = "maison-lumiere"  # French first, phone_region FR, a [call_center] with its own origins
OTHER = "voyago"  # no phone region
EMAIL = "camille.durand@example.org"
PHONE = "+33612345678"
CRM_ID = "CRM-0042-A"
AGENT_NAME = "Sam Agent"

BOTH = pytest.mark.parametrize("engine", ENGINES)
WEB = EventContext(source="web", actor="subject")


def mint(app, center: str = CENTER, agent: str = "a1", permissions: str = "change,view", **extra) -> str:
    return app.state.signer.mint("agent", center, agent, n=AGENT_NAME, p=permissions, **extra)


@pytest.fixture
def customer(store) -> str:
    """A maison-lumiere subscriber with an e-mail address, a phone number and a CRM id, offers by e-mail."""
    subscriber = store.create_subscriber(CENTER, email=EMAIL, external_id=CRM_ID, locale="fr", preferences=Preferences(
        subscriptions={("offers", "email"): OPTED_IN}))
    with store.writing() as connection:
        contacts.add(connection, store.lookup_key, CENTER, subscriber, "phone", PHONE)
    return subscriber


class Console:
    """An agent at the console: their token, and the screens they post from."""

    def __init__(self, client, token: str, headers: dict | None = None) -> None:
        self.client, self.token = client, token
        self.headers = {**same_origin(client), **(headers or {})}

    def open(self, **params):
        return self.client.get(f"/c/{CENTER}/agent", params={"t": self.token, **params}, headers=self.headers)

    def search(self, kind: str, value: str, center: str = CENTER, **headers):
        return self.client.post(f"/c/{center}/agent/search", data={"t": self.token, "kind": kind, "value": value},
                                headers={**self.headers, **headers})

    def save(self, fields: dict, **headers):
        return self.client.post(f"/c/{CENTER}/agent/save", data=fields, headers={**self.headers, **headers})


def save_form(html: str) -> dict[str, list[str]]:
    """The fields the panel's save form would post (not the "new search" form beside it)."""
    start = html.index('<form id="agent-choices"')
    return form_of(html[start:html.index("</form>", start)])


def searches(store) -> list[dict]:
    with store.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(agent_searches)
                                                                 .order_by(agent_searches.c.searched_at))]


@pytest.fixture
def agent(client) -> Console:
    """An agent whose browser asks for English (the center's default is French)."""
    return Console(client, mint(client.app), headers={"Accept-Language": "en"})


# -- signing in -----------------------------------------------------------------------------------

def test_the_console_opens_on_the_search_with_the_agents_name(client) -> None:
    response = Console(client, mint(client.app)).open()
    assert response.status_code == 200
    html = response.text
    assert '<html lang="fr" dir="ltr"' in html  # no language in the token: the center's default
    assert AGENT_NAME in html and "Maison Lumière" in html
    for kind, input_type in (("email", "email"), ("phone", "tel"), ("external_id", "text")):
        tag = re.search(rf'<input id="search-{kind}"[^>]*>', html).group(0)
        assert f'type="{input_type}"' in tag and 'autocomplete="off"' in tag and 'name="value"' in tag
    assert 'id="console"' in html and 'id="messages"' in html
    head = html[:html.index("</head>")]
    assert re.search(r'<link rel="stylesheet" href="/static/agent.css\?v=\w+">', head)
    assert response.headers["cache-control"] == "no-store"
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html)), "no inline script"
    assert all("?" not in action for action in re.findall(r'action="([^"]*)"', html)), "nothing in an address"


def test_the_console_speaks_the_agents_language(client) -> None:
    english = Console(client, mint(client.app, l="en"))
    assert '<html lang="en"' in english.open().text
    by_browser = Console(client, mint(client.app), headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en"' in by_browser.open().text
    arabic = Console(client, mint(client.app, center=OTHER, l="ar"))
    page = client.get(f"/c/{OTHER}/agent", params={"t": arabic.token})
    assert page.status_code == 200 and '<html lang="ar" dir="rtl"' in page.text


def test_an_expired_or_tampered_token_is_a_401(client, clock) -> None:
    token = mint(client.app)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get(f"/c/{CENTER}/agent", params={"t": tampered}).status_code == 401
    assert client.get(f"/c/{CENTER}/agent").status_code == 401
    no_name = client.app.state.signer.mint("agent", CENTER, "a1", p="view")
    assert client.get(f"/c/{CENTER}/agent", params={"t": no_name}).status_code == 401
    a_subscribers_link = client.app.state.signer.mint("manage", CENTER, "a1")
    assert client.get(f"/c/{CENTER}/agent", params={"t": a_subscribers_link}).status_code == 401
    assert client.get(f"/c/{CENTER}/agent", params={"t": token}).status_code == 200
    clock.advance(hours=13)  # past a shift
    expired = client.get(f"/c/{CENTER}/agent", params={"t": token})
    assert expired.status_code == 401 and "<h1>" in expired.text


@BOTH
def test_a_token_of_one_center_is_refused_on_another(client, store, customer) -> None:
    voyago_agent = Console(client, mint(client.app, center=OTHER))
    assert client.get(f"/c/{OTHER}/agent", params={"t": voyago_agent.token}).status_code == 200
    assert client.get(f"/c/{CENTER}/agent", params={"t": voyago_agent.token}).status_code == 401
    assert voyago_agent.search("email", EMAIL, center=CENTER).status_code == 401
    assert searches(store) == []


@BOTH
def test_a_view_only_agent_sees_the_customer_but_cannot_save(client, store, customer) -> None:
    viewer = Console(client, mint(client.app, permissions="view"), headers={"Accept-Language": "en"})
    panel = viewer.search("email", EMAIL)
    assert panel.status_code == 200 and "Customer found" in panel.text
    assert 'id="agent-choices"' not in panel.text and 'id="agent-save"' not in panel.text
    assert "<fieldset class=\"read-only-choices\" disabled>" in panel.text
    search_id = searches(store)[0]["id"]
    forged = {"t": viewer.token, "search": search_id, "version": "1", "agreed": "yes", "s.offers.sms": "on",
              "script_version": "2026-11-01", "script_locale": "fr"}
    refused = viewer.save(forged)
    assert refused.status_code == 403
    assert store.events(customer)[-1]["version"] == 1 and store.get(CENTER, customer).preferences.version == 1
    assert Console(client, mint(client.app, permissions="change")).open().status_code == 403  # view is needed


# -- searching ------------------------------------------------------------------------------------

@BOTH
def test_search_by_email_ignores_case_and_spaces(agent, customer) -> None:
    panel = agent.search("email", "  Camille.Durand@Example.ORG ")
    assert panel.status_code == 200 and "Customer found" in panel.text
    assert EMAIL in panel.text and 'name="s.offers.email" value="on" checked' in panel.text


@BOTH
@pytest.mark.parametrize("typed", ["06 12 34 56 78", "06.12.34.56.78", "+33 6 12 34 56 78", "0033612345678"])
def test_search_by_phone_typed_nationally_or_internationally(agent, customer, typed) -> None:
    panel = agent.search("phone", typed)
    assert panel.status_code == 200 and "Customer found" in panel.text and PHONE in panel.text


@BOTH
def test_search_by_crm_id_is_exact(agent, store, customer) -> None:
    assert "Customer found" in agent.search("external_id", CRM_ID).text
    for near in ("CRM-0042", "crm-0042-a", "CRM-0042-A ".strip() + "B", "0042"):
        answer = agent.search("external_id", near)
        assert answer.status_code == 200 and "No customer has this CRM id." in answer.text, near
        assert "Customer found" not in answer.text
    assert [row["subscriber_id"] for row in searches(store)] == [customer, None, None, None, None]


@BOTH
def test_the_panel_shows_the_contact_searched_and_no_other(agent, customer) -> None:
    html = agent.search("phone", "06 12 34 56 78").text
    assert PHONE in html
    assert EMAIL not in html and CRM_ID not in html and customer not in html
    for word in ("export", "Export", "erase", "Erase", "delete", "Delete"):
        assert word not in html


@BOTH
def test_every_search_is_audited_by_its_hash_never_its_value(agent, store, customer) -> None:
    agent.search("email", EMAIL)
    agent.search("phone", "06 99 99 99 99")
    agent.search("external_id", CRM_ID)
    rows = searches(store)
    assert [(r["agent_id"], r["center"], r["kind"], r["subscriber_id"]) for r in rows] == [
        ("a1", CENTER, "email", customer), ("a1", CENTER, "phone", None), ("a1", CENTER, "external_id", customer)]
    assert rows[0]["query_hash"] == store.lookup_hash(CENTER, "email", EMAIL)
    assert rows[1]["query_hash"] == store.lookup_hash(CENTER, "phone", "+33699999999")
    assert rows[2]["query_hash"] == store.lookup_hash(CENTER, "external_id", CRM_ID)
    everything = " ".join(str(value) for row in rows for value in row.values())
    for typed in (EMAIL, "camille", PHONE, "612345678", "699999999", CRM_ID, "0042"):
        assert typed not in everything


@BOTH
def test_a_customer_not_found_is_said_plainly_with_a_new_search(agent, store) -> None:
    answer = agent.search("email", "nobody@example.org")
    assert answer.status_code == 200
    assert "No customer has this e-mail address." in answer.text
    assert 'id="search-email"' in answer.text and 'id="search-phone"' in answer.text
    assert len(searches(store)) == 1 and searches(store)[0]["subscriber_id"] is None


@BOTH
def test_an_erased_subscriber_is_found_by_no_one(agent, store, customer) -> None:
    with store.writing() as connection:
        connection.execute(update(subscribers).where(subscribers.c.id == customer).values(erased_at=store.clock()))
    answer = agent.search("email", EMAIL)
    assert "No customer has this e-mail address." in answer.text and "Customer found" not in answer.text
    assert searches(store)[0]["subscriber_id"] is None


def test_what_does_not_read_as_a_contact_is_a_422_and_not_a_search(agent, store) -> None:
    for kind, typed in (("email", "camille@"), ("phone", "12"), ("phone", "+33 1"), ("external_id", ""),
                        ("loyalty", "ABC123"), ("nonsense", "x")):
        answer = agent.search(kind, typed)
        assert answer.status_code == 422, (kind, typed)
        assert 'role="alert"' in answer.text and 'id="search-email"' in answer.text
    assert searches(store) == []


def test_a_voyago_phone_needs_its_country_code(client, store) -> None:
    voyager = store.create_subscriber(OTHER, locale="de")
    with store.writing() as connection:
        contacts.add(connection, store.lookup_key, OTHER, voyager, "phone", "+4915112345678")
    agent = Console(client, mint(client.app, center=OTHER))
    assert agent.search("phone", "01511 2345678", center=OTHER).status_code == 422  # no region to read it in
    assert "Customer found" in agent.search("phone", "+49 1511 2345678", center=OTHER).text


@BOTH
def test_the_search_limit_is_a_429_with_retry_after(client_for, store, clock, customer) -> None:
    client = client_for(options={"agent_searches_per_hour": 3})
    agent = Console(client, mint(client.app))
    for _ in range(2):
        assert agent.search("email", EMAIL).status_code == 200
    clock.advance(minutes=20)
    assert agent.search("email", EMAIL).status_code == 200
    refused = agent.search("email", EMAIL)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(40 * 60)  # when the first of the hour ages out
    assert len(searches(store)) == 3  # the refused one is neither looked up nor recorded
    other_agent = Console(client, mint(client.app, agent="a2"))
    assert other_agent.search("email", EMAIL).status_code == 200  # the limit is per agent
    clock.advance(minutes=41)
    assert agent.search("email", EMAIL).status_code == 200


# -- saving ---------------------------------------------------------------------------------------

@BOTH
def test_a_save_records_the_agent_the_source_and_the_script(agent, store, customer) -> None:
    fields = save_form(agent.search("email", EMAIL).text)
    assert fields["search"] == [searches(store)[0]["id"]] and customer not in str(fields)
    fields.update({"s.offers.sms": ["on"], "agreed": ["yes"], "i": ["lighting"]})
    saved = agent.save(fields)
    assert saved.status_code == 200
    assert "Saved: the customer&#39;s choices are recorded." in saved.text
    assert 'name="s.offers.sms" value="on" checked' in saved.text
    assert 'name="agreed" value="yes" required>' in saved.text  # unticked again for the next change
    event = store.events(customer)[-1]
    assert event["source"] == "call_center" and event["actor"] == "agent:a1"
    assert event["evidence"] == {"method": "verbal_consent", "script_version": "2026-11-01", "script_locale": "fr"}
    assert event["locale"] == "fr" and event["notice_version"] == "2026-11-01"
    assert {c["path"] for c in event["changes"]} == {"offers.sms", "interests"}
    prefs = store.get(CENTER, customer).preferences
    assert prefs.opted_in("offers", "sms") and prefs.interests == {"lighting"}
    assert store.verify_chain(customer).intact
    # The panel's history says it in words, newest first.
    history = saved.text[saved.text.index('id="history-title"'):]
    assert history.index("our service team") < history.index("the system")
    assert "Offers and promotions, Text message (SMS): subscribed" in history and "Interests: Lighting" in history


def test_an_agent_records_the_country_the_customer_gives_and_its_rules_apply(agent, store, customer) -> None:
    panel = agent.search("email", EMAIL).text
    assert '<label for="country">' in panel and 'id="region-notice"' not in panel  # asked of, not said to
    fields = save_form(panel)
    fields.update({"country": ["US"], "s.inspirations.email": ["on"], "s.offers.sms": ["on"], "agreed": ["yes"]})
    assert agent.save(fields).status_code == 200
    prefs = store.get(CENTER, customer).preferences
    # The newsletter confirms every e-mail sign-up: given on the phone, it waits for the mailed link.
    assert prefs.country == "US" and prefs.state("inspirations", "email") == "pending"
    assert prefs.state("offers", "sms") == "opted_in" and prefs.state("offers", "email") == "opted_in"
    assert {"path": "country", "from": None, "to": "US"} in store.events(customer)[-1]["changes"]


@BOTH
def test_the_same_submission_twice_is_saved_once(agent, store, customer) -> None:
    fields = save_form(agent.search("email", EMAIL).text)
    fields.update({"s.offers.sms": ["on"], "agreed": ["yes"]})
    assert agent.save(fields).status_code == 200
    assert agent.save(fields).status_code == 200
    assert [e["source"] for e in store.events(customer)] == ["system", "call_center"]


@BOTH
def test_a_save_without_the_confirmation_is_refused_and_stores_nothing(agent, store, customer) -> None:
    fields = save_form(agent.search("email", EMAIL).text)
    fields.update({"s.offers.sms": ["on"], "i": ["garden"], "f.offers": ["monthly"]})
    refused = agent.save(fields)
    assert refused.status_code == 422
    assert "Read the script to the customer, tick that they agreed, then save again." in refused.text
    # The agent's ticks are kept, at the version they were made from.
    again = save_form(refused.text)
    assert again["s.offers.sms"] == ["on"] and again["i"] == ["garden"] and again["f.offers"] == ["monthly"]
    assert again["version"] == ["1"] and "agreed" not in again
    assert len(store.events(customer)) == 1 and store.get(CENTER, customer).preferences.version == 1
    again["agreed"] = ["no"]
    assert agent.save(again).status_code == 422
    again["agreed"] = ["yes"]
    assert agent.save(again).status_code == 200 and store.get(CENTER, customer).preferences.opted_in("offers", "sms")


@BOTH
def test_a_form_read_under_an_old_script_is_a_409_with_the_new_script(agent, store, customer) -> None:
    fields = save_form(agent.search("email", EMAIL).text)
    fields.update({"s.offers.sms": ["on"], "agreed": ["yes"], "script_version": ["2025-01-01"]})
    refused = agent.save(fields)
    assert refused.status_code == 409
    assert "The script has changed." in refused.text and "2026-11-01" in refused.text
    assert "Pour confirmer : souhaitez-vous que j’enregistre" in refused.text
    assert save_form(refused.text)["s.offers.sms"] == ["on"]
    assert len(store.events(customer)) == 1


@BOTH
def test_a_stale_form_gets_the_fresh_state_and_overwrites_nothing(agent, store, customer) -> None:
    fields = save_form(agent.search("email", EMAIL).text)
    # Meanwhile the customer, on the website, takes offers by post... of the newsletter.
    store.save(CENTER, customer, Preferences(subscriptions={("offers", "email"): OPTED_IN,
                                                            ("inspirations", "post"): OPTED_IN}, version=1),
               base_version=1, context=WEB)
    fields.update({"s.offers.sms": ["on"], "agreed": ["yes"]})
    refused = agent.save(fields)
    assert refused.status_code == 409
    assert "review them with the customer again" in refused.text
    fresh = save_form(refused.text)
    assert fresh["version"] == ["2"] and fresh["s.inspirations.post"] == ["on"] and "s.offers.sms" not in fresh
    prefs = store.get(CENTER, customer).preferences
    assert prefs.version == 2 and prefs.opted_in("inspirations", "post") and not prefs.opted_in("offers", "sms")
    assert [e["source"] for e in store.events(customer)] == ["system", "web"]
    assert "the customer online" in refused.text


@BOTH
def test_only_the_agents_own_open_search_that_found_someone_opens_a_save(client, store, clock, customer) -> None:
    first = Console(client, mint(client.app, agent="a1"))
    fields = save_form(first.search("email", EMAIL).text)
    fields.update({"s.offers.sms": ["on"], "agreed": ["yes"]})
    second = Console(client, mint(client.app, agent="a2"))
    assert second.save({**fields, "t": [second.token]}).status_code == 403  # another agent's search
    first.search("email", "nobody@example.org")
    missed = searches(store)[-1]["id"]
    assert first.save({**fields, "search": [missed]}).status_code == 403  # a search that found no one
    assert first.save({**fields, "search": [customer]}).status_code == 403  # a subscriber id is no search
    assert first.save({k: v for k, v in fields.items() if k != "search"}).status_code == 403
    assert first.save({**fields, "search": ["as_\x00" + "x" * 20]}).status_code == 403  # PostgreSQL: no NUL
    assert first.save({**fields, "search": ["as_" + "x" * 500]}).status_code == 403
    clock.advance(minutes=61)
    fields["t"] = [mint(client.app, agent="a1")]
    assert first.save(fields).status_code == 403  # the search's hour is over
    assert len(store.events(customer)) == 1


@BOTH
def test_a_cross_site_post_is_refused(agent, store, customer) -> None:
    assert agent.search("email", EMAIL, **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert searches(store) == []
    fields = save_form(agent.search("email", EMAIL).text)
    fields.update({"s.offers.sms": ["on"], "agreed": ["yes"]})
    refused = agent.save(fields, **{"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert agent.save(fields, **{"Sec-Fetch-Site": "same-site", "Origin": "https://evil.example"}).status_code == 403
    assert len(store.events(customer)) == 1


def test_a_field_that_must_come_once_coming_twice_is_a_400(agent, store) -> None:
    response = agent.client.post(f"/c/{CENTER}/agent/search", headers={
        **agent.headers, "Content-Type": "application/x-www-form-urlencoded"},
        content=f"t={agent.token}&kind=email&value=a%40b.example&value=c%40d.example")
    assert response.status_code == 400
    assert searches(store) == []


def test_a_center_without_a_call_center_script_shows_choices_read_only(client_for, centers, store, customer) -> None:
    without = {**centers, CENTER: dataclasses.replace(centers[CENTER], call_center=None)}
    client = client_for(centers=without)
    agent = Console(client, mint(client.app))
    panel = agent.search("email", EMAIL)
    assert panel.status_code == 200 and "changes cannot be made here" in panel.text
    assert 'id="agent-save"' not in panel.text and "read-only-choices\" disabled" in panel.text
    answer = client.get(f"/c/{CENTER}/agent", params={"t": agent.token})
    assert answer.headers["content-security-policy"].endswith("frame-ancestors 'self'")  # no call-center screens
    fields = {"t": agent.token, "search": searches(store)[0]["id"], "version": "1", "agreed": "yes"}
    assert agent.save(fields).status_code == 403


# -- htmx: one document, screens swapped into #console ---------------------------------------------

def test_with_htmx_each_screen_is_a_fragment_for_the_console(agent, store, customer) -> None:
    htmx = {"HX-Request": "true"}
    panel = agent.search("email", EMAIL, **htmx)
    assert panel.status_code == 200 and "<html" not in panel.text
    assert panel.text.lstrip().startswith('<div id="messages"') and 'id="agent-choices"' in panel.text
    assert 'hx-target="#console"' in panel.text
    fields = save_form(panel.text)
    refused = agent.save(fields, **htmx)
    assert refused.status_code == 422 and "<html" not in refused.text and 'role="alert"' in refused.text
    new = agent.client.post(f"/c/{CENTER}/agent", data={"t": agent.token}, headers={**agent.headers, **htmx})
    assert new.status_code == 200 and 'id="search-email"' in new.text and EMAIL not in new.text
    error = agent.client.post(f"/c/{CENTER}/agent/save", data={**fields, "t": "x"}, headers={**agent.headers, **htmx})
    assert error.status_code == 401 and error.headers["hx-retarget"] == "#messages"


# -- the person's own view, framing, language -----------------------------------------------------

@BOTH
def test_the_widget_says_changed_by_our_service_team_never_who(agent, client, store, customer) -> None:
    link = client.app.state.signer.mint("manage", CENTER, customer)
    english = {"Accept-Language": "en"}
    before = client.get(f"/c/{CENTER}/preferences", params={"t": link, "lang": "en"}, headers=english)
    assert "Last changed" not in before.text  # the system's first event: nothing to say
    fields = save_form(agent.search("email", EMAIL).text)
    fields.update({"s.offers.sms": ["on"], "agreed": ["yes"]})
    assert agent.save(fields).status_code == 200
    page = client.get(f"/c/{CENTER}/preferences", params={"t": link, "lang": "en"}, headers=english)
    today = store.events(customer)[-1]["occurred_at"]
    assert f"Last changed by our service team on {today:%B} {today.day}, {today.year}" in page.text
    assert AGENT_NAME not in page.text and "agent:" not in page.text
    store.save(CENTER, customer, Preferences(version=2), base_version=2,
               context=EventContext(source="kiosk", actor="subject"))
    in_store = client.get(f"/c/{CENTER}/preferences", params={"t": link, "lang": "en"}, headers=english)
    assert "Last changed in one of our stores on" in in_store.text and "service team" not in in_store.text
    store.save(CENTER, customer, Preferences(subscriptions={("offers", "email"): OPTED_IN}, version=3),
               base_version=3, context=WEB)
    on_the_web = client.get(f"/c/{CENTER}/preferences", params={"t": link, "lang": "en"}, headers=english)
    assert "Last changed" not in on_the_web.text


def test_the_console_may_be_framed_by_the_call_center_screens(client, agent) -> None:
    """Only by them: the brand's public sites frame the widget, never the console."""
    ancestors = "frame-ancestors 'self' http://127.0.0.1:8001 https://crm.maison-lumiere.example"
    assert agent.open().headers["content-security-policy"].endswith(ancestors)
    assert agent.search("email", EMAIL).headers["content-security-policy"].endswith(ancestors)
    assert client.get(f"/c/{CENTER}/agent").headers["content-security-policy"].endswith(ancestors)  # its 401 too
    widget = client.get(f"/c/{CENTER}/preferences").headers["content-security-policy"]
    assert "crm.maison-lumiere.example" not in widget and widget.endswith(
        "frame-ancestors 'self' http://127.0.0.1:8001 http://localhost:8001 https://www.maison-lumiere.example")
    assert "crm." not in client.get(f"/c/{CENTER}/agents").headers["content-security-policy"]
    voyago = client.get(f"/c/{OTHER}/agent").headers["content-security-policy"]
    assert voyago.endswith("frame-ancestors 'self'")  # its [call_center] names no screen


def test_bad_inputs_answer_in_the_agents_language(client, store, customer) -> None:
    french = Console(client, mint(client.app, l="fr"))
    invalid = french.search("phone", "12")
    assert invalid.status_code == 422 and '<html lang="fr"' in invalid.text and "Aller au contenu" in invalid.text
    viewer = Console(client, mint(client.app, permissions="view", l="fr"))
    refused = viewer.save({"t": viewer.token, "search": "as_x", "version": "1", "agreed": "yes"})
    assert refused.status_code == 403 and '<html lang="fr"' in refused.text and "Action non autorisée" in refused.text
    cross = french.search("email", EMAIL, **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and "Demande refusée" in cross.text
    english = Console(client, mint(client.app, l="en"))
    assert "Please type a mobile phone number." in english.search("phone", "12").text
    expired = client.post(f"/c/{CENTER}/agent/search", data={"t": "nope", "lang": "en", "kind": "email",
                                                             "value": EMAIL}, headers=same_origin(client))
    assert expired.status_code == 401 and '<html lang="en"' in expired.text


@BOTH
@pytest.mark.parametrize("submission", ["x" * 65, "a\x00b", "ab cd"])
def test_a_submission_id_no_form_makes_is_a_422_on_the_console_and_the_widget(client, agent, store, customer,
                                                                               submission) -> None:
    """Kept with the event (64 characters, no NUL on PostgreSQL): refused before the store sees it."""
    fields = save_form(agent.search("email", EMAIL).text)
    fields.update({"s.offers.sms": ["on"], "agreed": ["yes"], "submission": [submission]})
    assert agent.save(fields).status_code == 422
    token = client.app.state.signer.mint("manage", CENTER, customer)
    page = client.get(f"/c/{CENTER}/preferences", params={"t": token})
    widget_fields = {**form_of(page.text), "s.offers.sms": ["on"], "submission": [submission]}
    assert client.post(f"/c/{CENTER}/preferences", data=widget_fields, headers=same_origin(client)).status_code == 422
    assert len(store.events(customer)) == 1  # nothing stored, by either
