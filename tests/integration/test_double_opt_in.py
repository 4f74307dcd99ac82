"""Double opt-in end to end over HTTP, with a real SMTP server (aiosmtpd) on 127.0.0.1: the
widget's opt-in makes a pending subscription and queues its mail in the same transaction;
the mail (text and HTML, the person's language, List-Unsubscribe) carries a link whose GET
changes nothing and whose page's POST confirms; every bad link and every replay leaves the
state as it was."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import pytest

from tests.helpers import ENGINES, Inbox, form_of, serve_app, start_smtp
from widget_server import confirm_links
from widget_server.ledger import EventContext
from widget_server.preferences import OPTED_IN, PENDING, Preferences

CENTER = "maison-lumiere"


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def mail_server(app_factory):
    inbox = Inbox()
    controller = start_smtp(inbox)
    options = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "mail_from": "prefs@maison.example"}
    server = serve_app(lambda port: app_factory(port=port, options=options))
    yield server, inbox
    server.stop()
    controller.stop()


def same_site(server) -> dict[str, str]:
    return {"Sec-Fetch-Site": "same-origin", "Origin": server.url}


def opt_in_by_widget(server, token: str, field: str = "s.inspirations.email") -> httpx.Response:
    page = httpx.get(f"{server.url}/c/{CENTER}/preferences", params={"t": token, "lang": "fr"})
    assert page.status_code == 200
    fields = form_of(page.text)
    fields[field] = ["on"]
    return httpx.post(f"{server.url}/c/{CENTER}/preferences", data=fields, headers=same_site(server))


def confirm_link_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"(http://\S+/confirm\?t=\S+)", text).group(1)


def token_of(link: str) -> str:
    return link.partition("?t=")[2]


def test_an_opt_in_is_pending_until_the_mailed_link_is_confirmed_by_its_page(mail_server, store) -> None:
    server, inbox = mail_server
    subscriber = store.create_subscriber(CENTER, email="camille@example.org", locale="fr")
    token = server.app.state.signer.mint("manage", CENTER, subscriber, l="fr")
    saved = opt_in_by_widget(server, token)
    assert saved.status_code == 303
    assert store.get(CENTER, subscriber).preferences.state("inspirations", "email") == PENDING
    widget = httpx.get(f"{server.url}{saved.headers['location']}")
    assert "Consultez votre boîte de réception" in widget.text or "confirm" in widget.text

    [message] = inbox.wait(1)
    assert message["To"] == "camille@example.org" and message["Content-Language"] == "fr"
    assert message["List-Unsubscribe"].startswith(f"<{server.url}/c/{CENTER}/unsubscribe?t=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    assert "Bonjour" in text and '<html lang="fr" dir="ltr">' in html
    link = confirm_link_in(message)
    assert f'href="{link}"' in html.replace("&amp;", "&")

    # Opening the link (a scanner, or the person) confirms nothing.
    page = httpx.get(link)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert store.get(CENTER, subscriber).preferences.state("inspirations", "email") == PENDING
    events_before = len(store.events(subscriber))

    done = httpx.post(f"{server.url}/c/{CENTER}/confirm", data={"t": token_of(link), "lang": "fr"},
                      headers=same_site(server))
    assert done.status_code == 200
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("inspirations", "email") == OPTED_IN
    assert prefs.basis("inspirations", "email").legal_basis == "consent"
    [event] = store.events(subscriber)[events_before:]
    assert (event["source"], event["actor"]) == ("email_link", "subject")
    assert event["evidence"]["method"] == "double_opt_in"
    claims = confirm_links.read(server.app.state.signer, token_of(link), CENTER, store.clock())
    assert event["evidence"]["token_id"] == claims.token_id and event["evidence"]["confirmed_at"]
    assert store.verify_chain(subscriber).intact

    # A replay: the page says so, nothing changes.
    again = httpx.post(f"{server.url}/c/{CENTER}/confirm", data={"t": token_of(link), "lang": "fr"},
                       headers=same_site(server))
    assert again.status_code == 410 and len(store.events(subscriber)) == events_before + 1
    assert httpx.get(link).status_code == 410


def test_a_confirmation_mails_unsubscribe_button_withdraws_only_what_waits(mail_server, store) -> None:
    """One topic waits: its List-Unsubscribe is that topic's on e-mail, never "everything" (an
    earlier opt-in stays); several wait: no header, since no link stops several and nothing else."""
    server, inbox = mail_server
    subscriber = store.create_subscriber(CENTER, email="camille@example.org", locale="fr", preferences=Preferences(
        subscriptions={("offers", "sms"): OPTED_IN}), context=EventContext(source="web", actor="subject"))
    token = server.app.state.signer.mint("manage", CENTER, subscriber)
    fields = form_of(httpx.get(f"{server.url}/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.inspirations.email"] = ["on"]
    assert httpx.post(f"{server.url}/c/{CENTER}/preferences", data=fields, headers=same_site(server)).status_code == 303
    [message] = inbox.wait(1)
    clicked = httpx.post(message["List-Unsubscribe"].strip("<>"), data={"List-Unsubscribe": "One-Click"})
    assert clicked.status_code == 200
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("inspirations", "email") == "opted_out" and prefs.state("offers", "sms") == OPTED_IN
    assert not prefs.suppressed
    other = store.create_subscriber(CENTER, email="lou@example.org")
    token = server.app.state.signer.mint("manage", CENTER, other)
    fields = form_of(httpx.get(f"{server.url}/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.inspirations.email"] = fields["s.offers.email"] = ["on"]
    httpx.post(f"{server.url}/c/{CENTER}/preferences", data=fields, headers=same_site(server))
    second = inbox.wait(2)[-1]
    assert "List-Unsubscribe" not in second and second.get_body(("plain",)).get_content().count("\n- ") == 2


def test_a_wait_over_before_the_worker_marked_it_leaves_the_rest_its_mail(mail_server, store, clock) -> None:
    """A pending whose deadline passed a minute ago (not yet marked expired) and a new one: the
    mail is sent for the new one, not dropped."""
    server, inbox = mail_server
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    token = server.app.state.signer.mint("manage", CENTER, subscriber)
    fields = form_of(httpx.get(f"{server.url}/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.inspirations.email"] = ["on"]
    httpx.post(f"{server.url}/c/{CENTER}/preferences", data=fields, headers=same_site(server))
    inbox.wait(1)
    clock.advance(days=7, minutes=1)  # Inspirations' wait is over; the lifecycle worker has not run
    token = server.app.state.signer.mint("manage", CENTER, subscriber)
    fields = form_of(httpx.get(f"{server.url}/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.offers.email"] = ["on"]
    httpx.post(f"{server.url}/c/{CENTER}/preferences", data=fields, headers=same_site(server))
    latest = inbox.wait(2)[-1]
    lines = [line for line in latest.get_body(("plain",)).get_content().splitlines() if line.startswith("- ")]
    assert len(lines) == 1 and "Inspirations" not in lines[0]


def test_one_mail_per_write_however_many_went_pending(mail_server, store) -> None:
    server, inbox = mail_server
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    token = server.app.state.signer.mint("manage", CENTER, subscriber)
    page = httpx.get(f"{server.url}/c/{CENTER}/preferences", params={"t": token})
    fields = form_of(page.text)
    fields["s.inspirations.email"] = ["on"]
    fields["s.offers.email"] = ["on"]
    assert httpx.post(f"{server.url}/c/{CENTER}/preferences", data=fields, headers=same_site(server)).status_code == 303
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("inspirations", "email") == PENDING and prefs.state("offers", "email") == PENDING
    [message] = inbox.wait(1)
    text = message.get_body(("plain",)).get_content()
    assert text.count("\n- ") == 2
    time.sleep(0.5)
    assert len(inbox.messages) == 1


def test_bad_links_change_nothing(mail_server, store, clock) -> None:
    server, inbox = mail_server
    signer = server.app.state.signer
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    token = signer.mint("manage", CENTER, subscriber)
    assert opt_in_by_widget(server, token).status_code == 303
    link = confirm_link_in(inbox.wait(1)[0])
    good = token_of(link)
    before = store.get(CENTER, subscriber).preferences

    def post(t: str) -> httpx.Response:
        return httpx.post(f"{server.url}/c/{CENTER}/confirm", data={"t": t, "lang": "en"}, headers=same_site(server))

    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    assert post(tampered).status_code == 403
    assert httpx.get(f"{server.url}/c/{CENTER}/confirm", params={"t": tampered}).status_code == 403
    assert post(token).status_code == 403  # a widget link is not a confirmation link
    other_scope = signer.mint("unsubscribe", CENTER, subscriber)
    assert post(other_scope).status_code == 403
    no_purpose = signer.mint("confirm", CENTER, subscriber, j="x1", x=int((clock() + timedelta(days=1)).timestamp()))
    assert post(no_purpose).status_code == 403
    cross_site = httpx.post(f"{server.url}/c/{CENTER}/confirm", data={"t": good},
                            headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    renew_as_confirm, _ = confirm_links.mint(signer, CENTER, subscriber, confirm_links.RENEW,
                                             clock() + timedelta(days=1), topic="inspirations", channel="email")
    assert post(renew_as_confirm).status_code == 409  # nothing opted in to renew
    assert store.get(CENTER, subscriber).preferences == before

    short, _ = confirm_links.mint(signer, CENTER, subscriber, confirm_links.OPT_IN, clock() + timedelta(days=1))
    clock.advance(days=2)  # that link's end, not the pending's: a new link would help
    expired = post(short)
    assert expired.status_code == 401 and "/confirm/resend" in expired.text
    clock.advance(days=6)  # past the pending's 7 days: nothing waits any more, subscribing starts afresh
    expired = post(good)
    assert expired.status_code == 401 and "/confirm/resend" not in expired.text and "/link" in expired.text
    assert store.get(CENTER, subscriber).preferences == before


def test_resending_is_limited_and_answers_alike_with_or_without_an_address(mail_server, store) -> None:
    server, inbox = mail_server
    signer = server.app.state.signer
    with_address = store.create_subscriber(CENTER, email="camille@example.org")
    without = store.create_subscriber(CENTER)
    answers = []
    for subscriber in (with_address, without):
        token = signer.mint("manage", CENTER, subscriber)
        assert opt_in_by_widget(server, token).status_code == 303
        widget = httpx.get(f"{server.url}/c/{CENTER}/preferences", params={"t": token, "lang": "en"})
        answers.append(httpx.post(f"{server.url}/c/{CENTER}/confirm/resend", data={"t": token, "lang": "en"},
                                  headers=same_site(server)))
        if subscriber == without:
            assert "we have no e-mail address for you" in widget.text
        else:
            assert "Send me the confirmation e-mail again" in widget.text
    assert [a.status_code for a in answers] == [200, 200] and answers[0].text == answers[1].text
    assert len(inbox.wait(2)) == 2  # the write's mail and the resent one; none for nobody
    token = signer.mint("manage", CENTER, with_address)
    statuses = [httpx.post(f"{server.url}/c/{CENTER}/confirm/resend", data={"t": token},
                           headers=same_site(server)) for _ in range(3)]
    assert statuses[-1].status_code == 429 and int(statuses[-1].headers["retry-after"]) > 0


def test_a_write_made_outside_the_widget_queues_its_mail_in_its_transaction(store) -> None:
    """The store's hook: a save that makes an e-mail subscription pending queues exactly one row."""
    from sqlalchemy import select

    from widget_server.ledger import EventContext
    from widget_server.store.tables import mail_outbox

    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    desired = Preferences(version=0, subscriptions={("offers", "email"): PENDING, ("inspirations", "email"): PENDING})
    store.save(CENTER, subscriber, desired, base_version=0, context=EventContext(source="api", actor="key:test"))
    with store.engine.connect() as connection:
        rows = connection.execute(select(mail_outbox.c.kind, mail_outbox.c.subscriber_id)).all()
    assert rows == [("confirm", subscriber)]
    nobody = store.create_subscriber(CENTER)
    store.save(CENTER, nobody, desired, base_version=0, context=EventContext(source="api", actor="key:test"))
    with store.engine.connect() as connection:
        assert connection.execute(select(mail_outbox.c.id)).all().__len__() == 1  # no address: no mail


def test_a_batch_writer_queues_one_confirmation_per_subscriber_with_an_address(store) -> None:
    """``queue_confirmations``, for an import's batch: two statements, the ones without an address skipped."""
    from sqlalchemy import select

    from widget_server.store import confirmations
    from widget_server.store.tables import mail_outbox

    with_address = [store.create_subscriber(CENTER, email=f"p{n}@example.org") for n in range(3)]
    without = store.create_subscriber(CENTER)
    with store.writing() as connection:
        queued = confirmations.queue_confirmations(connection, store.lookup_key, CENTER,
                                                   {**{s: "fr" for s in with_address}, without: None}, store.clock())
    assert queued == 3
    with store.engine.connect() as connection:
        rows = connection.execute(select(mail_outbox.c.kind, mail_outbox.c.subscriber_id, mail_outbox.c.locale)).all()
    assert sorted(rows) == sorted(("confirm", s, "fr") for s in with_address)


def test_ticking_and_unticking_does_not_flood_the_mailbox(store, clock) -> None:
    """A confirmation still owed covers a new pending (the worker reads what is pending when it
    sends); past five an hour to one address, a write queues none, and is stored all the same."""
    from sqlalchemy import select, update

    from widget_server.ledger import EventContext
    from widget_server.preferences import OPTED_OUT
    from widget_server.store.tables import mail_outbox

    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    context = EventContext(source="web", actor="subject")

    def toggle() -> None:
        for state in (PENDING, OPTED_OUT):
            current = store.get(CENTER, subscriber).preferences
            store.save(CENTER, subscriber, Preferences(version=current.version,
                                                        subscriptions={("offers", "email"): state}),
                       base_version=current.version, context=context)

    def queued() -> int:
        with store.engine.connect() as connection:
            return len(connection.execute(select(mail_outbox.c.id)).all())

    toggle()
    toggle()
    assert queued() == 1  # the first is still owed: it will ask for whatever is pending then
    for _ in range(8):
        with store.engine.begin() as connection:  # as if sent
            connection.execute(update(mail_outbox).values(status="done", subscriber_id=None))
        toggle()
    assert queued() == 5
    assert len(store.events(subscriber)) == 20  # every write was stored
    clock.advance(hours=1, minutes=1)
    toggle()
    assert queued() == 6
