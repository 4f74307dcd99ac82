""""Check your inbox" after "send me a new link": a resend within the same limits, a way back, the spam hint."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from tests.helpers import form_of
from widget_server.store.tables import mail_outbox

CENTER = "maison-lumiere"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
PER_ADDRESS = 3  # settings.py: link_limit_per_address


@pytest.fixture
def site(client_for):
    """The app in-process, without a mail worker: the outbox rows are the mails asked for."""
    return client_for(options={"send_mail": False, "deliver_webhooks": False})


def queued(store) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(mail_outbox)).scalar_one()


def resend_form(page: str) -> dict[str, list[str]]:
    """The fields of the page's "send it again" form."""
    form = re.search(r'<form method="post" action="/c/[^"]+/link">(.*?)</form>', page, re.S)
    assert form, page
    return form_of(form.group(1))


def test_the_page_says_where_to_look_and_offers_a_resend_and_a_way_back(site, store) -> None:
    sent = site.post(f"/c/{CENTER}/link", data={"email": " ines@example.org ", "lang": "en"}, headers=SAME_ORIGIN)
    assert sent.status_code == 200
    page = html.unescape(sent.text)
    assert "Check your inbox" in page and "spam or junk folder" in page
    assert "The address you typed: ines@example.org" in page  # a typo shows
    assert resend_form(sent.text) == {"lang": ["en"], "email": ["ines@example.org"]}
    assert f'href="/c/{CENTER}/link?lang=en"' in sent.text  # another address: back to the form
    assert sent.headers["cache-control"] == "no-store"  # it holds what was typed
    assert queued(store) == 1


def test_send_it_again_is_the_same_request_so_the_same_limits(site, store) -> None:
    first = site.post(f"/c/{CENTER}/link", data={"email": "ines@example.org", "lang": "fr"}, headers=SAME_ORIGIN)
    again = resend_form(first.text)
    for sent in range(2, PER_ADDRESS + 1):
        answer = site.post(f"/c/{CENTER}/link", data=again, headers=SAME_ORIGIN)
        assert answer.status_code == 200 and queued(store) == sent
        again = resend_form(answer.text)
    over = site.post(f"/c/{CENTER}/link", data=again, headers=SAME_ORIGIN)
    assert over.status_code == 429 and 0 < int(over.headers["Retry-After"]) <= 3600
    assert '<html lang="fr"' in over.text and queued(store) == PER_ADDRESS


def test_an_expired_links_resend_carries_the_link_not_an_address(site, store, clock) -> None:
    subscriber = store.create_subscriber(CENTER, email="ines@example.org")
    token = site.app.state.signer.mint("manage", CENTER, subscriber)
    sent = site.post(f"/c/{CENTER}/link", data={"t": token, "lang": "en"}, headers=SAME_ORIGIN)
    assert sent.status_code == 200
    assert resend_form(sent.text) == {"lang": ["en"], "t": [token]}
    assert "The address you typed" not in html.unescape(sent.text) and "example.org" not in sent.text
    assert site.post(f"/c/{CENTER}/link", data=resend_form(sent.text), headers=SAME_ORIGIN).status_code == 200
    assert queued(store) == 2


def test_a_tampered_link_gets_the_same_page_and_its_resend(site, store) -> None:
    """The page never tells a working link from a forged one: same words, same resend."""
    sent = site.post(f"/c/{CENTER}/link", data={"t": "forged.token.value", "lang": "en"}, headers=SAME_ORIGIN)
    assert sent.status_code == 200 and resend_form(sent.text) == {"lang": ["en"], "t": ["forged.token.value"]}
    assert queued(store) == 0


def test_nothing_typed_offers_no_resend_but_the_way_back(site) -> None:
    sent = site.post(f"/c/{CENTER}/link", data={"email": "  ", "lang": "en"}, headers=SAME_ORIGIN)
    assert sent.status_code == 200 and 'action="/c/' not in sent.text
    assert f'href="/c/{CENTER}/link?lang=en"' in sent.text


def test_a_cross_site_resend_is_refused(site, store) -> None:
    answer = site.post(f"/c/{CENTER}/link", data={"email": "ines@example.org", "lang": "en"},
                       headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403 and queued(store) == 0


def test_a_typed_address_is_escaped(site) -> None:
    sent = site.post(f"/c/{CENTER}/link", data={"email": '"><script>x</script>@example.org', "lang": "en"},
                     headers=SAME_ORIGIN)
    assert "<script>x" not in sent.text
