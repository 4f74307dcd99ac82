""""Erase my data" from the history page: a mail to confirm, its page showing what goes, the
erasure on its POST only (keeping only the proof), once; over HTTP, the app in-process, the
mail written to the mail folder as the demo's is."""

from __future__ import annotations

import email
import email.policy
import re
import time
from pathlib import Path

from tests.helpers import same_origin
from widget_server.preferences import OPTED_IN, Preferences

CENTER = "maison-lumiere"


def mail_in(folder: Path, timeout: float = 20.0) -> email.message.EmailMessage:
    deadline = time.monotonic() + timeout
    while not list(folder.glob("*.eml")) and time.monotonic() < deadline:
        time.sleep(0.05)
    [path] = folder.glob("*.eml")
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_an_erasure_asked_on_the_history_page_is_confirmed_by_mail(client, store, settings) -> None:
    subscriber = store.create_subscriber(CENTER, email="camille@example.org", locale="fr",
                                         preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}))
    token = client.app.state.signer.mint("manage", CENTER, subscriber, l="fr")
    history = client.get(f"/c/{CENTER}/history", params={"t": token})
    assert history.status_code == 200 and f'action="/c/{CENTER}/history/erase"' in history.text
    asked = client.post(f"/c/{CENTER}/history/erase", data={"t": token, "lang": "fr"}, headers=same_origin(client))
    assert asked.status_code == 200
    assert store.get(CENTER, subscriber).erased_at is None  # nothing is erased yet

    message = mail_in(Path(settings.mail_dir))
    assert message["To"] == "camille@example.org" and message["Content-Language"] == "fr"
    assert "List-Unsubscribe" not in message  # not marketing: no unsubscribe header
    assert '<html lang="fr" dir="ltr">' in message.get_body(("html",)).get_content()
    link = re.search(r"(http://\S+/confirm\?t=\S+)", message.get_body(("plain",)).get_content()).group(1)
    path = link.split("127.0.0.1:8000", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert store.get(CENTER, subscriber).erased_at is None  # the GET erases nothing

    erased = client.post(f"/c/{CENTER}/confirm", data={"t": path.partition("?t=")[2]}, headers=same_origin(client))
    assert erased.status_code == 200
    count = len(store.events(subscriber))
    after = store.get(CENTER, subscriber)
    assert after.erased_at is not None and store.contact(subscriber, "email") is None
    event = store.events(subscriber)[-1]
    assert event["source"] == "email_link" and event["evidence"]["method"] == "erasure_confirmed_by_email"
    assert {"path": "erasure", "from": False, "to": True} in event["changes"]
    assert store.verify_chain(subscriber).intact

    again = client.post(f"/c/{CENTER}/confirm", data={"t": path.partition("?t=")[2]}, headers=same_origin(client))
    assert again.status_code == 410 and len(store.events(subscriber)) == count
    assert client.get(path).status_code == 410


def test_without_an_address_the_history_page_says_how_instead(client, store) -> None:
    subscriber = store.create_subscriber(CENTER)
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    history = client.get(f"/c/{CENTER}/history", params={"t": token, "lang": "en"})
    assert "we have no e-mail address for you" in history.text and "/history/erase" not in history.text


def test_asking_from_another_site_or_with_a_bad_link_sends_nothing(client, store, settings) -> None:
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    cross = client.post(f"/c/{CENTER}/history/erase", data={"t": token},
                        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.post(f"/c/{CENTER}/history/erase", data={"t": token + "x"},
                       headers=same_origin(client)).status_code == 403
    time.sleep(0.3)
    assert not list(Path(settings.mail_dir).glob("*.eml"))
