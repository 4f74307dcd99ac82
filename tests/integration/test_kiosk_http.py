"""The kiosk over HTTP, the app in-process, on both engines: the device checks, the code
and its limits, the staff attestation, saves and their proof, and every bad case with
what is stored left as it was."""

from __future__ import annotations

import logging
import re
import time
from email.message import EmailMessage

import pytest
from markupsafe import escape
from sqlalchemy import select, update

from tests.helpers import ENGINES, form_of, same_origin, wait_for
from widget_server.errors import InvalidContact
from widget_server.kiosk import LOYALTY_SEND_DELAY
from widget_server.preferences import OPTED_IN, Preferences
from widget_server.store import contacts, devices
from widget_server.store.tables import contact_points, events, kiosk_sessions, subscribers
from widget_server.store.tables import devices as devices_table

CENTER = "maison-lumiere"
KIOSK = f"/c/{CENTER}/kiosk"
ADDRESS = "camille@example.org"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


class Mailbox:
    """The app's mailer, kept in memory: what the kiosk sent, and the code in it."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.messages.append(message)

    def code(self) -> str:
        return re.search(r"^(\d{6})$", self.messages[-1].get_body(("plain",)).get_content(), re.M).group(1)

    def holding(self, count: int) -> Mailbox:
        """Once ``count`` mails are here (a loyalty number's code is sent a moment after the answer)."""
        wait_for(lambda: len(self.messages) >= count, timeout=5)
        return self


class Phone:
    """An SMS sender kept in memory."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, text: str) -> None:
        self.sent.append((to, text))

    def code(self) -> str:
        return re.search(r"\b(\d{6})\b", self.sent[-1][1]).group(1)


class Kiosk:
    """A provisioned tablet of ``CENTER`` (with its staff PIN) and a client posting as its browser would."""

    def __init__(self, client, store, clock, mailbox: Mailbox, phone: Phone, location: str = "paris-opera") -> None:
        self.client, self.store, self.mailbox, self.phone = client, store, mailbox, phone
        with store.writing() as connection:
            self.device, self.pin = devices.provision(connection, store.lookup_key, CENTER, location, "Tablet 1",
                                                      clock())
        self.token = client.app.state.signer.mint("kiosk", CENTER, self.device.id, lc=location)

    def welcome(self, **query: str):
        return self.client.get(KIOSK, params={"t": self.token, **query})

    def post(self, action: str, fields: dict, *, htmx: bool = False, headers: dict | None = None):
        """Post as the kiosk's own page would (``headers``: instead of the same-origin ones)."""
        sent = {"t": self.token, "lang": "en", **fields}
        all_headers = {**(same_origin(self.client) if headers is None else headers),
                       **({"HX-Request": "true"} if htmx else {})}
        return self.client.post(f"{KIOSK}/{action}", data=sent, headers=all_headers)

    def identify(self, kind: str = "email", value: str = ADDRESS, *, htmx: bool = False, **fields):
        return self.post("identify", {"kind": kind, kind: value, "proof": "code", **fields}, htmx=htmx)

    def attest(self, kind: str = "email", value: str = ADDRESS, staff: str = "S-1042", *, htmx: bool = False,
               **fields):
        return self.post("identify", {"kind": kind, kind: value, "proof": "staff", "staff": staff,
                                      "checked": "yes", "staff_pin": self.pin, **fields}, htmx=htmx)

    def verify(self, response, code: str, **options):
        return self.post("verify", {"session": session_of(response.text), "code": code}, **options)

    def save(self, response, changes: dict, **options):
        fields = choices_form(response.text)
        fields.update(changes)
        return self.post("save", {k: v for k, v in fields.items() if v is not None}, **options)


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def phone() -> Phone:
    return Phone()


@pytest.fixture
def kiosk_for(client_for, store, clock, mailbox, phone, tmp_path):
    """``kiosk_for(**settings)``: a tablet on an app with those settings."""

    def make(**options) -> Kiosk:
        client = client_for(options={"sms_dir": str(tmp_path / "sms"), **options}, mailer=mailbox, sms_sender=phone)
        return Kiosk(client, store, clock, mailbox, phone)

    return make


@pytest.fixture
def kiosk(kiosk_for) -> Kiosk:
    return kiosk_for()


@pytest.fixture
def camille(store) -> str:
    """A known customer: offers by e-mail, an e-mail address, a phone number and a loyalty card."""
    subscriber = store.create_subscriber(
        CENTER, email=ADDRESS, preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}))
    with store.writing() as connection:
        contacts.add(connection, store.lookup_key, CENTER, subscriber, "phone", "+33612345678")
        contacts.add(connection, store.lookup_key, CENTER, subscriber, "loyalty", "ML-1001")
    return subscriber


def session_of(html: str) -> str:
    return re.search(r'name="session" value="([^"]+)"', html).group(1)


def choices_form(html: str) -> dict[str, list[str]]:
    return form_of(re.search(r'<form id="preferences".*?</form>', html, re.S).group(0))


def stored(store) -> dict[str, list]:
    """Everything a kiosk request could change."""
    with store.engine.connect() as connection:
        return {table.name: sorted(map(repr, connection.execute(select(table)).all()))
                for table in (subscribers, events, contact_points, kiosk_sessions)}


def text(kiosk: Kiosk, locale: str, message: str) -> str:
    return kiosk.client.app.state.translator.gettext(locale, message)


def assert_not_set_up(response, kiosk: Kiosk, locale: str = "en") -> None:
    assert response.status_code == 403
    assert f'<html lang="{locale}"' in response.text
    assert escape(text(kiosk, locale, "This kiosk is not set up")) in response.text
    assert escape(text(kiosk, locale, "This tablet cannot be used for preferences right now. Please ask your store "
                                      "manager to set it up again.")) in response.text
    assert 'name="session"' not in response.text


# -- the welcome screen and the device --------------------------------------------------------------------


def test_the_welcome_screen_is_built_for_a_shared_tablet(kiosk) -> None:
    response = kiosk.welcome(lang="en")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert "Maison Lumière" in html and 'data-idle-seconds="60"' in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html)), "no inline script"
    assert "kiosk.js" in html and "kiosk.css" in html
    identify = re.search(r'<form id="identify".*?</form>', html, re.S).group(0)
    assert 'autocomplete="off"' in identify.split(">", 1)[0]
    inputs = [tag for tag in re.findall(r"<input[^>]*>", identify) if 'type="hidden"' not in tag
              and 'type="radio"' not in tag and 'type="checkbox"' not in tag]
    assert len(inputs) == 5 and all('autocomplete="off"' in tag for tag in inputs)
    assert re.search(r'name="email" type="email" inputmode="email"', identify)
    assert re.search(r'name="phone" type="tel" inputmode="tel"', identify)
    assert re.search(r'name="loyalty" type="text" inputmode="text"', identify)
    assert 'name="proof" value="code"' in identify and 'name="proof" value="staff"' in identify
    assert 'name="checked" value="yes"' in identify and 'name="staff"' in identify
    assert re.search(r'name="staff_pin" type="password" inputmode="numeric" autocomplete="off"', identify)
    assert re.search(r'name="lang" value="fr" lang="fr"', html) and 'value="en" lang="en" aria-current="true"' in html
    french = kiosk.welcome(lang="fr").text
    assert '<html lang="fr"' in french and "Vos préférences" in french


def test_an_unknown_page_language_falls_back_to_the_center_s(kiosk) -> None:
    assert '<html lang="fr"' in kiosk.welcome(lang="xx").text  # maison-lumiere speaks French first


@pytest.mark.parametrize("token", ["", "not-a-token", "tampered"])
def test_a_missing_or_tampered_device_token_shows_the_clear_page(kiosk, store, token) -> None:
    if token == "tampered":
        token = kiosk.token[:-3] + ("AAA" if not kiosk.token.endswith("AAA") else "BBB")
    before = stored(store)
    assert_not_set_up(kiosk.client.get(KIOSK, params={"t": token, "lang": "en"}), kiosk)
    response = kiosk.client.post(f"{KIOSK}/identify", data={"t": token, "lang": "en", "kind": "email",
                                                            "email": ADDRESS, "proof": "code"},
                                 headers=same_origin(kiosk.client))
    assert_not_set_up(response, kiosk)
    assert stored(store) == before and kiosk.mailbox.messages == []


def test_another_center_s_or_another_scope_s_token_is_refused(kiosk, store, clock) -> None:
    signer = kiosk.client.app.state.signer
    with store.writing() as connection:
        voyago = devices.create(connection, "voyago", "roma", "Tablet", clock())
    for token in (signer.mint("kiosk", "voyago", voyago.id, lc="roma"),  # another center's kiosk
                  signer.mint("kiosk", CENTER, voyago.id, lc="roma"),  # its device, named in this center
                  signer.mint("manage", CENTER, kiosk.device.id),  # another scope
                  signer.mint("kiosk", CENTER, kiosk.device.id)):  # no location
        assert_not_set_up(kiosk.client.get(KIOSK, params={"t": token, "lang": "en"}), kiosk)


def test_revoking_a_device_takes_effect_at_its_next_request(kiosk, store, clock, camille) -> None:
    code_screen = kiosk.identify()
    assert code_screen.status_code == 200
    with store.writing() as connection:
        devices.revoke(connection, kiosk.device.id, clock())
    before = stored(store)
    assert_not_set_up(kiosk.verify(code_screen, kiosk.mailbox.code()), kiosk)
    assert_not_set_up(kiosk.welcome(lang="en"), kiosk)
    assert_not_set_up(kiosk.identify(), kiosk)
    assert stored(store) == before and len(kiosk.mailbox.messages) == 1


def test_an_expired_device_token_shows_the_clear_page_in_the_visitor_s_language(kiosk, clock) -> None:
    clock.advance(days=366)
    assert_not_set_up(kiosk.welcome(lang="fr"), kiosk, "fr")


def test_an_htmx_request_from_a_kiosk_no_longer_set_up_gets_the_message_in_place(kiosk, store, clock) -> None:
    with store.writing() as connection:
        devices.revoke(connection, kiosk.device.id, clock())
    response = kiosk.identify(htmx=True)
    assert response.status_code == 403 and response.headers["hx-retarget"] == "#messages"
    assert "This kiosk is not set up" in response.text and "<html" not in response.text


# -- identifying ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "value"), [("email", "camille@"), ("email", ""), ("phone", "12"),
                                             ("phone", "+1 555"), ("loyalty", "ML 10/01"), ("iban", "x")])
def test_a_bad_kind_or_value_is_a_422_page_in_the_visitor_s_language(kiosk, store, kind, value) -> None:
    before = stored(store)
    for locale in ("en", "fr"):
        response = kiosk.post("identify", {"kind": kind, kind: value, "proof": "code", "lang": locale})
        assert response.status_code == 422
        assert f'<html lang="{locale}"' in response.text
        detail = InvalidContact.DETAILS.get(kind, InvalidContact.detail)
        assert text(kiosk, locale, detail).replace("'", "&#39;") in response.text
        assert '<form id="identify"' in response.text  # the screen again, to type it again
    assert stored(store) == before and kiosk.mailbox.messages == [] and kiosk.phone.sent == []


def test_a_french_number_is_read_in_the_center_s_region(kiosk, camille) -> None:
    response = kiosk.identify("phone", "06 12 34 56 78")
    assert response.status_code == 200
    assert kiosk.phone.sent[-1][0] == "+33612345678"
    assert "+33•••••••78" in response.text


def test_an_unknown_contact_gets_the_same_screen_as_a_known_one(kiosk, camille, store) -> None:
    def screen(response, shown: str) -> str:
        body = response.text.replace(session_of(response.text), "SESSION")
        return body.replace(shown, "CONTACT")

    known = kiosk.identify("email", ADDRESS)
    unknown = kiosk.identify("email", "someone@example.org")
    assert known.status_code == unknown.status_code == 200
    assert "c…e@example.org" in known.text and "s…e@example.org" in unknown.text
    assert screen(known, "c…e@example.org") == screen(unknown, "s…e@example.org")
    assert [m["To"] for m in kiosk.mailbox.messages] == [ADDRESS, "someone@example.org"]  # both sent

    known_phone = kiosk.identify("phone", "+33612345678")
    unknown_phone = kiosk.identify("phone", "+33698765432")
    assert screen(known_phone, "+33•••••••78") == screen(unknown_phone, "+33•••••••32")

    known_card, unknown_card = kiosk.identify("loyalty", "ml-1001"), kiosk.identify("loyalty", "ML-9999")
    assert screen(known_card, "") == screen(unknown_card, "")
    assert "If this number is in our records, we sent a code to the contact saved with it." in known_card.text
    assert kiosk.mailbox.holding(3).messages[-1]["To"] == ADDRESS
    time.sleep(2 * LOYALTY_SEND_DELAY)
    assert len(kiosk.mailbox.messages) == 3  # unknown: nothing sent


def test_the_code_mail_is_in_the_customer_s_language(kiosk, camille) -> None:
    kiosk.identify(lang="fr")
    message = kiosk.mailbox.messages[-1]
    assert message["Subject"].startswith("Maison Lumière: ")
    assert message["Subject"] == "Maison Lumière: " + text(kiosk, "fr", "your code")
    assert text(kiosk, "fr", "Hello,") in message.get_body(("plain",)).get_content()


def test_nothing_of_the_customer_is_logged(kiosk, camille, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    response = kiosk.identify("phone", "+33612345678")
    kiosk.verify(response, kiosk.phone.code())
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "+33612345678" not in logged and kiosk.phone.code() not in logged and "612345678" not in logged


def test_codes_per_kiosk_are_limited_with_retry_after(kiosk_for, store) -> None:
    kiosk = kiosk_for(kiosk_codes_per_device=2)
    assert kiosk.identify("email", "a@example.org").status_code == 200
    assert kiosk.identify("email", "b@example.org").status_code == 200
    before = stored(store)
    response = kiosk.identify("email", "c@example.org")
    assert response.status_code == 429 and response.headers["retry-after"] == "3600"
    assert '<form id="identify"' in response.text
    htmx = kiosk.identify("email", "c@example.org", htmx=True)
    assert htmx.status_code == 429 and htmx.headers["retry-after"] == "3600"
    assert htmx.headers["hx-retarget"] == "#messages"
    assert stored(store) == before and len(kiosk.mailbox.messages) == 2


def test_codes_per_contact_are_limited_with_retry_after(kiosk, store, clock, camille) -> None:
    for _ in range(3):  # kiosk_codes_per_contact: 3 an hour
        assert kiosk.identify("email", "Camille@Example.org").status_code == 200
        clock.advance(minutes=1)
    assert kiosk.identify("loyalty", "ML-1001").status_code == 200  # another kind is another contact...
    before = stored(store)
    response = kiosk.identify("email", ADDRESS)  # ...but the same address is the same, however typed
    assert response.status_code == 429 and response.headers["retry-after"] == str(3600 - 180)
    assert stored(store) == before and len(kiosk.mailbox.holding(4).messages) == 4


def test_a_gateway_that_fails_is_a_503_and_the_session_ends(kiosk_for, store, phone, monkeypatch) -> None:
    kiosk = kiosk_for()

    async def refuse(to: str, text: str) -> None:
        raise OSError("gateway down")

    monkeypatch.setattr(phone, "send", refuse)
    response = kiosk.identify("phone", "+33612345678")
    assert response.status_code == 503
    assert text(kiosk, "en", "We could not send the code") in response.text
    with store.engine.connect() as connection:
        (row,) = connection.execute(select(kiosk_sessions)).all()
    assert row.status == "ended" and row.contact is None


# -- the code ----------------------------------------------------------------------------------------------


def test_three_wrong_codes_lock_and_the_right_one_is_then_refused(kiosk, store, camille) -> None:
    response = kiosk.identify()
    code = kiosk.mailbox.code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    before = stored(store)
    first = kiosk.verify(response, wrong)
    assert first.status_code == 422 and "You can try 2 more times." in first.text
    assert 'name="code"' in first.text  # the code screen again
    second = kiosk.verify(response, wrong, htmx=True)
    assert second.status_code == 422 and second.headers["hx-retarget"] == "#messages"
    assert "You can try 1 more time." in second.text
    third = kiosk.verify(response, wrong)
    assert third.status_code == 422 and "This code can no longer be used" in third.text
    refused = kiosk.verify(response, code)
    assert refused.status_code == 422 and "This code can no longer be used" in refused.text
    assert 'name="s.offers.email"' not in refused.text
    after = stored(store)
    assert after["subscribers"] == before["subscribers"] and after["events"] == before["events"]


def test_a_code_is_refused_after_ten_minutes(kiosk, clock, camille) -> None:
    response = kiosk.identify()
    clock.advance(minutes=10, seconds=1)
    refused = kiosk.verify(response, kiosk.mailbox.code())
    assert refused.status_code == 422 and "This code can no longer be used" in refused.text


def test_another_kiosk_cannot_use_a_session(kiosk, camille, store) -> None:
    response = kiosk.identify()
    other = Kiosk(kiosk.client, store, lambda: kiosk.device.created_at, kiosk.mailbox, kiosk.phone, "lyon")
    refused = other.verify(response, kiosk.mailbox.code())
    assert refused.status_code == 403 and 'name="s.offers.email"' not in refused.text
    assert kiosk.verify(response, kiosk.mailbox.code()).status_code == 200  # its own kiosk still can


# -- choices, saves and their proof ----------------------------------------------------------------------------


def test_a_known_customer_changes_their_choices_with_a_code(kiosk, store, camille) -> None:
    choices = kiosk.verify(kiosk.identify(), kiosk.mailbox.code())
    assert choices.status_code == 200
    assert 'name="s.offers.email" value="on" checked' in choices.text
    assert "I&#39;m done" in choices.text or "I'm done" in choices.text
    saved = kiosk.save(choices, {"s.offers.sms": ["on"], "f.offers": ["monthly"]})
    assert saved.status_code == 200 and "Your choices are saved." in saved.text
    prefs = store.get(CENTER, camille).preferences
    assert prefs.opted_in("offers", "sms") and prefs.frequencies == {"offers": "monthly"}
    event = store.last_event(camille)
    assert event["source"] == "kiosk" and event["actor"] == "subject"
    assert event["notice_version"] == "2026-11-01" and event["locale"] == "en"
    evidence, context = event["evidence"], event["context"]
    assert evidence == {"method": "one_time_code", "channel": "email", "device": kiosk.device.id,
                        "location": "paris-opera"}
    assert context["device"] == kiosk.device.id and context["location"] == "paris-opera"
    assert context["ip"] == "127.0.0.0" and "user_agent" in context


def test_a_code_mailed_to_the_customer_proves_their_address_so_no_confirmation_waits(kiosk, store, camille) -> None:
    """Maison Lumière confirms e-mail opt-ins (double opt-in), and its newsletter everywhere: a code
    mailed to the customer and typed back has confirmed the address; a code by SMS has not."""
    saved = kiosk.save(kiosk.verify(kiosk.identify(), kiosk.mailbox.code()), {"s.inspirations.email": ["on"]})
    assert saved.status_code == 200
    assert store.get(CENTER, camille).preferences.state("inspirations", "email") == "opted_in"
    kiosk.save(kiosk.verify(kiosk.identify("phone", "+33 6 12 34 56 78"), kiosk.phone.code()),
               {"s.inspirations.email": None})
    kiosk.save(kiosk.verify(kiosk.identify("phone", "+33 6 12 34 56 78"), kiosk.phone.code()),
               {"s.inspirations.email": ["on"]})
    assert store.get(CENTER, camille).preferences.state("inspirations", "email") == "pending"


def test_the_kiosk_asks_the_country_and_shows_its_region_s_notice(kiosk, store, camille) -> None:
    choices = kiosk.verify(kiosk.identify(), kiosk.mailbox.code())
    assert '<select id="country" name="country"' in choices.text
    saved = kiosk.save(choices, {"country": ["CA"]})
    assert saved.status_code == 200 and store.get(CENTER, camille).preferences.country == "CA"
    again = kiosk.verify(kiosk.identify(), kiosk.mailbox.code())
    assert "You may withdraw your consent at any time." in again.text


def test_a_code_by_sms_is_recorded_as_such(kiosk, store, camille) -> None:
    choices = kiosk.verify(kiosk.identify("phone", "+33 6 12 34 56 78"), kiosk.phone.code())
    kiosk.save(choices, {"s.offers.push": ["on"]})
    assert store.last_event(camille)["evidence"]["channel"] == "sms"


def test_a_loyalty_code_goes_to_the_address_on_file_and_is_recorded_so(kiosk, store, camille) -> None:
    choices = kiosk.verify(kiosk.identify("loyalty", " ml-1001 "), kiosk.mailbox.holding(1).code())
    kiosk.save(choices, {"s.offers.push": ["on"]})
    assert store.last_event(camille)["evidence"]["channel"] == "email"


def test_a_staff_attestation_is_recorded_with_the_staff_id(kiosk, store, camille) -> None:
    choices = kiosk.attest(staff="S-1042")
    assert choices.status_code == 200 and 'name="s.offers.email" value="on" checked' in choices.text
    assert kiosk.mailbox.messages == []
    kiosk.save(choices, {"s.offers.email": None})
    assert not store.get(CENTER, camille).preferences.opted_in("offers", "email")
    event = store.last_event(camille)
    assert event["actor"] == "staff:S-1042" and event["source"] == "kiosk"
    assert event["evidence"] == {"method": "staff_attestation", "staff": "S-1042", "device": kiosk.device.id,
                                 "location": "paris-opera"}


def test_an_attestation_without_a_staff_id_is_the_customer_s_own(kiosk, store, camille) -> None:
    kiosk.save(kiosk.attest(staff=""), {"s.offers.sms": ["on"]})
    event = store.last_event(camille)
    assert event["actor"] == "subject" and event["evidence"]["staff"] is None


def test_an_attestation_needs_its_tick_and_a_plain_staff_id(kiosk, store, camille) -> None:
    before = stored(store)
    for fields in ({"checked": ""}, {"checked": "no"}, {"staff": "S 1"}):
        response = kiosk.attest(**fields)
        assert response.status_code == 422 and '<form id="identify"' in response.text
    assert "Tick that you have checked this customer&#39;s identity in person" in kiosk.attest(checked="").text
    assert stored(store) == before


def wrong_pin(kiosk: Kiosk) -> str:
    return f"{(int(kiosk.pin) + 1) % 10**8:08d}"


def shown(kiosk: Kiosk, response, message: str) -> bool:
    return str(escape(text(kiosk, "en", message))) in response.text


def test_the_right_staff_pin_opens_the_customer_s_choices_and_is_recorded_as_an_attestation(kiosk, store,
                                                                                              camille) -> None:
    choices = kiosk.attest(staff_pin=f" {kiosk.pin[:4]} {kiosk.pin[4:]} ")  # typed with spaces
    assert choices.status_code == 200 and 'name="s.offers.email" value="on" checked' in choices.text
    with store.engine.connect() as connection:
        (row,) = connection.execute(select(kiosk_sessions)).all()
    assert (row.method, row.status, row.staff_id, row.subscriber_id) == ("attestation", "verified", "S-1042", camille)


def test_a_wrong_staff_pin_is_a_422_recorded_and_nothing_else_changes(kiosk, store, camille) -> None:
    before = stored(store)
    known = kiosk.attest(staff_pin=wrong_pin(kiosk))
    assert known.status_code == 422 and '<form id="identify"' in known.text
    assert shown(kiosk, known, "Please check the staff PIN")
    assert shown(kiosk, known, "This is not this tablet's staff PIN. Type it again, or send the customer a code "
                               "instead.")
    assert 'name="session"' not in known.text and 'name="s.offers.email"' not in known.text
    unknown = kiosk.attest("email", "nobody@example.org", staff_pin=wrong_pin(kiosk))
    assert unknown.text == known.text  # a wrong PIN tells nothing of the contact
    htmx = kiosk.attest(staff_pin="", htmx=True)
    assert htmx.status_code == 422 and htmx.headers["hx-retarget"] == "#messages"
    after = stored(store)
    assert {k: v for k, v in after.items() if k != "kiosk_sessions"} == {
        k: v for k, v in before.items() if k != "kiosk_sessions"}
    with store.engine.connect() as connection:
        tries = connection.execute(select(kiosk_sessions)).all()
    assert len(tries) == 2  # recorded, to be counted (the empty one was no try)
    assert all((t.status, t.method, t.contact, t.subscriber_id) == ("refused", "attestation", None, None)
               for t in tries)
    assert kiosk.attest().status_code == 200  # the right one still works


def test_five_wrong_staff_pins_in_an_hour_stop_attestations_on_that_tablet(kiosk, store, clock, camille) -> None:
    for _ in range(5):
        assert kiosk.attest(staff_pin=wrong_pin(kiosk)).status_code == 422
        clock.advance(minutes=1)
    before = stored(store)
    for pin in (kiosk.pin, wrong_pin(kiosk)):  # the right PIN too: it is no longer tried
        refused = kiosk.attest(staff_pin=pin)
        assert refused.status_code == 429 and refused.headers["retry-after"] == str(3600 - 5 * 60)
        assert '<form id="identify"' in refused.text and 'name="s.offers.email"' not in refused.text
        assert shown(kiosk, refused, "The staff PIN was typed wrong several times on this tablet. Please wait before "
                                     "trying again, or send the customer a code instead.")
    htmx = kiosk.attest(htmx=True)
    assert htmx.status_code == 429 and htmx.headers["retry-after"] == str(3600 - 5 * 60)
    assert stored(store) == before  # refused before the PIN is compared: nothing recorded
    other = Kiosk(kiosk.client, store, clock, kiosk.mailbox, kiosk.phone, "lyon")
    assert other.attest().status_code == 200  # another tablet is not stopped
    assert kiosk.identify().status_code == 200  # nor this one's codes
    clock.advance(minutes=55, seconds=1)  # the first wrong PIN leaves the hour
    assert kiosk.attest().status_code == 200


def test_a_device_without_a_staff_pin_cannot_attest(kiosk, store, clock, camille) -> None:
    with store.writing() as connection:
        old = devices.create(connection, CENTER, "paris-opera", "Old tablet", clock())
    kiosk.device, kiosk.token = old, kiosk.client.app.state.signer.mint("kiosk", CENTER, old.id, lc="paris-opera")
    before = stored(store)
    for pin in ("", "00000000", kiosk.pin):
        refused = kiosk.attest(staff_pin=pin)
        assert refused.status_code == 403 and '<form id="identify"' in refused.text
        assert shown(kiosk, refused, "Staff confirmation is not set up on this tablet")
    assert stored(store) == before
    assert kiosk.identify().status_code == 200  # codes still work


def test_the_staff_pin_is_never_stored_in_clear(kiosk, store, camille) -> None:
    from widget_server.store.tables import metadata

    kiosk.save(kiosk.attest(), {"s.offers.sms": ["on"]})
    kiosk.attest(staff_pin=wrong_pin(kiosk))
    with store.engine.connect() as connection:
        everything = {table.name: repr(connection.execute(select(table)).all()) for table in metadata.sorted_tables}
        (row,) = connection.execute(select(devices_table).where(devices_table.c.id == kiosk.device.id)).all()
    assert re.fullmatch(r"\d{8}", kiosk.pin)
    assert not [name for name, rows in everything.items() if kiosk.pin in rows]
    assert row.staff_pin_hash == devices.staff_pin_hash(store.lookup_key, kiosk.device.id, kiosk.pin)
    assert re.fullmatch(r"[0-9a-f]{64}", row.staff_pin_hash)


def test_attestations_count_toward_the_tablet_s_hourly_limit(kiosk_for, store, camille) -> None:
    kiosk = kiosk_for(kiosk_codes_per_device=3)
    assert kiosk.attest().status_code == 200
    assert kiosk.attest(staff_pin=wrong_pin(kiosk)).status_code == 422  # a wrong PIN is a try too
    assert kiosk.identify("email", "a@example.org").status_code == 200
    before = stored(store)
    busy = kiosk.attest()
    assert busy.status_code == 429 and busy.headers["retry-after"] == "3600"
    assert shown(kiosk, busy, "This tablet has been used many times in a short time. Please wait a little before "
                              "trying again.")
    assert kiosk.identify("email", "b@example.org").status_code == 429  # and codes after attestations
    assert stored(store) == before


def test_a_new_customer_ends_the_previous_customer_s_session(kiosk, store, camille) -> None:
    first = kiosk.attest()
    code_screen = kiosk.identify("email", "next@example.org")  # the next customer, by code
    assert code_screen.status_code == 200
    before = stored(store)
    assert kiosk.post("choices", {"session": session_of(first.text)}).status_code == 403
    assert kiosk.save(first, {"s.offers.sms": ["on"]}).status_code == 403
    assert stored(store) == before
    kiosk.attest("email", "third@example.org")  # and the pending code of the second ends too
    refused = kiosk.verify(code_screen, kiosk.mailbox.code())
    assert refused.status_code == 403 and 'name="s.offers' not in refused.text
    with store.engine.connect() as connection:
        statuses = {r.id: (r.status, r.contact) for r in connection.execute(select(kiosk_sessions))}
    assert statuses[session_of(first.text)] == statuses[session_of(code_screen.text)] == ("ended", None)
    assert sorted(status for status, _ in statuses.values()) == ["ended", "ended", "verified"]


BAD_SESSIONS = ["ks_" + "A" * 31 + "\x00", "\x00", "ks_" + "A" * 100, "x" * 1000, "ks_made_up", "é" * 35]


@pytest.mark.parametrize("bad", BAD_SESSIONS, ids=["nul-shaped", "nul", "long", "very-long", "short", "accents"])
def test_a_session_field_of_no_shape_the_kiosk_makes_is_a_403_never_a_500(kiosk, store, camille, bad) -> None:
    choices = kiosk.attest()
    before = stored(store)
    for action, fields in (("verify", {"session": bad, "code": "123456"}), ("choices", {"session": bad}),
                           ("save", {**choices_form(choices.text), "session": bad})):
        for htmx in (False, True):
            response = kiosk.post(action, fields, htmx=htmx)
            assert response.status_code == 403, (action, response.text)
    done = kiosk.post("done", {"session": bad})
    assert done.status_code == 200 and '<form id="identify"' in done.text
    assert kiosk.post("done", {}).status_code == 200  # none at all: the welcome screen too
    assert stored(store) == before


@pytest.mark.parametrize("bad", ["s" * 65, "abc\x00def", "a b", "é"], ids=["long", "nul", "space", "accent"])
def test_a_submission_id_of_no_shape_a_form_makes_is_a_422_never_a_500(kiosk, store, camille, bad) -> None:
    choices = kiosk.attest()
    before = stored(store)
    response = kiosk.save(choices, {"submission": [bad], "s.offers.sms": ["on"]})
    assert response.status_code == 422 and 'name="s.offers.email"' in response.text  # the choices again
    htmx = kiosk.save(choices, {"submission": [bad], "s.offers.sms": ["on"]}, htmx=True)
    assert htmx.status_code == 422 and htmx.headers["hx-retarget"] == "#messages"
    assert stored(store)["events"] == before["events"] and stored(store)["subscribers"] == before["subscribers"]
    assert kiosk.save(choices, {"submission": ["s" * 64], "s.offers.sms": ["on"]}).status_code == 200


def test_a_new_customer_subscribes_with_their_contact_point_and_the_store_as_origin(kiosk, store) -> None:
    choices = kiosk.verify(kiosk.identify("email", "New.Customer@example.org"), kiosk.mailbox.code())
    assert choices.status_code == 200 and 'checked' not in choices_form_html(choices.text)
    saved = kiosk.save(choices, {"s.offers.email": ["on"], "i": ["lighting"]})
    assert saved.status_code == 200 and "Your choices are saved." in saved.text
    subscriber = store.find_by_contact(CENTER, "email", "new.customer@example.org")
    assert subscriber is not None
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.opted_in("offers", "email") and prefs.interests == {"lighting"} and prefs.version == 1
    with store.engine.connect() as connection:
        row = connection.execute(select(subscribers).where(subscribers.c.id == subscriber)).one()
        session = connection.execute(select(kiosk_sessions)).one()
    assert row.origin == "kiosk:paris-opera" and row.locale == "en"
    assert session.subscriber_id == subscriber and session.contact is None
    (event,) = store.events(subscriber)
    assert event["source"] == "kiosk" and event["evidence"]["method"] == "one_time_code"
    assert {c["path"] for c in event["changes"]} >= {"offers.email", "interests"}
    again = kiosk.save(saved_choices(kiosk, saved), {"s.offers.sms": ["on"]})  # "change my choices again"
    assert again.status_code == 200 and store.get(CENTER, subscriber).preferences.opted_in("offers", "sms")


@pytest.mark.parametrize(("kind", "typed", "kept"), [("phone", "07 81 23 45 67", "+33781234567"),
                                                      ("loyalty", "ml-2002", "ML-2002")])
def test_a_new_customer_by_phone_or_card_gets_that_contact_point(kiosk, store, kind, typed, kept) -> None:
    choices = kiosk.attest(kind, typed)
    kiosk.save(choices, {"s.offers.email": ["on"]})
    subscriber = store.find_by_contact(CENTER, kind, kept)
    assert subscriber is not None and store.contact(subscriber, kind) == kept
    assert store.contact(subscriber, "email") is None


def test_a_new_customer_who_chooses_nothing_is_not_created(kiosk, store) -> None:
    choices = kiosk.attest("email", "nobody@example.org")
    saved = kiosk.save(choices, {})
    assert saved.status_code == 200 and "Nothing to save" in saved.text
    assert store.find_by_contact(CENTER, "email", "nobody@example.org") is None


def test_a_stale_form_shows_the_fresh_state_and_overwrites_nothing(kiosk, store, camille, client) -> None:
    choices = kiosk.attest()
    from widget_server.ledger import EventContext

    web = store.get(CENTER, camille)
    store.save(CENTER, camille, Preferences(subscriptions={("offers", "email"): OPTED_IN,
                                                           ("inspirations", "post"): OPTED_IN}),
               base_version=web.preferences.version, context=EventContext(source="web", actor="subject"))
    before = stored(store)
    response = kiosk.save(choices, {"s.offers.email": None, "s.offers.sms": ["on"]})
    assert response.status_code == 409
    assert "Nothing was saved" in response.text
    assert 'name="s.inspirations.post" value="on" checked' in response.text  # the fresh state
    assert stored(store)["events"] == before["events"] and stored(store)["subscribers"] == before["subscribers"]
    resaved = kiosk.save(response, {"s.offers.sms": ["on"]})  # decided again, on the fresh state
    assert resaved.status_code == 200 and store.get(CENTER, camille).preferences.opted_in("offers", "sms")


def test_a_form_of_an_older_notice_is_shown_again(kiosk, store, camille) -> None:
    choices = kiosk.attest()
    before = stored(store)
    response = kiosk.save(choices, {"notice": ["2020-01-01"], "s.offers.sms": ["on"]})
    assert response.status_code == 409 and stored(store)["events"] == before["events"]


def test_a_bad_choice_is_a_422_and_changes_nothing(kiosk, store, camille) -> None:
    choices = kiosk.attest()
    before = stored(store)
    for bad in ({"pause": ["12"]}, {"version": ["x"]}, {"f.offers": ["hourly"]}):
        response = kiosk.save(choices, bad)
        assert response.status_code in (400, 422), bad
    assert stored(store)["events"] == before["events"] and stored(store)["subscribers"] == before["subscribers"]


# -- the end of a visit --------------------------------------------------------------------------------------------


def test_i_m_done_ends_the_session_and_answers_the_welcome_screen(kiosk, store, camille) -> None:
    choices = kiosk.attest("email", "someone.new@example.org")
    session = session_of(choices.text)
    done = kiosk.post("done", {"session": session})
    assert done.status_code == 200 and '<form id="identify"' in done.text
    assert "someone" not in done.text and session not in done.text
    assert done.headers["cache-control"] == "no-store"
    with store.engine.connect() as connection:
        row = connection.execute(select(kiosk_sessions).where(kiosk_sessions.c.id == session)).one()
    assert row.status == "ended" and row.contact is None
    before = stored(store)
    refused = kiosk.save(choices, {"s.offers.email": ["on"]})
    assert refused.status_code == 403 and '<form id="identify"' in refused.text
    assert kiosk.post("choices", {"session": session}).status_code == 403
    assert stored(store) == before


def test_a_session_past_its_lifetime_saves_nothing(kiosk, store, camille, clock) -> None:
    choices = kiosk.attest()
    with store.writing() as connection:
        connection.execute(update(kiosk_sessions).values(expires_at=clock()))
    before = stored(store)
    assert kiosk.save(choices, {"s.offers.sms": ["on"]}).status_code == 403
    assert stored(store) == before


def test_a_cross_site_post_is_refused(kiosk, store, camille) -> None:
    choices = kiosk.attest()
    before = stored(store)
    session = session_of(choices.text)
    for action, fields in (("identify", {"kind": "email", "email": ADDRESS, "proof": "code"}),
                           ("verify", {"session": session, "code": "000000"}),
                           ("save", {**choices_form(choices.text), "s.offers.sms": ["on"]}),
                           ("choices", {"session": session}),
                           ("done", {"session": session})):
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                        {"Origin": "https://evil.example"}):
            response = kiosk.post(action, fields, headers=headers)
            assert response.status_code == 403, (action, headers)
            # refused before the form is read: in the browser's language, else the center's
            assert text(kiosk, "fr", "Request refused") in response.text
    assert stored(store) == before and kiosk.mailbox.messages == []


def test_every_answer_is_no_store(kiosk, camille) -> None:
    responses = [kiosk.welcome(), kiosk.identify(), kiosk.attest()]
    responses.append(kiosk.save(responses[-1], {"s.offers.sms": ["on"]}))
    assert all(r.headers["cache-control"] == "no-store" for r in responses)
    assert all("location" not in r.headers for r in responses)  # never an address with the customer in it


def choices_form_html(html: str) -> str:
    return re.search(r'<form id="preferences".*?</form>', html, re.S).group(0)


def saved_choices(kiosk: Kiosk, saved):
    return kiosk.post("choices", {"session": session_of(saved.text)})
