"""Kiosk one-time codes: made by secrets, stored as a keyed hash bound to the session,
compared in constant time, ten minutes and three tries, limited per kiosk and per
contact over an hour; the tablets' staff PINs, made and kept the same way; the sessions
that carry them (on both engines)."""

from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta

import anyio
import pytest
from sqlalchemy import select, update

from tests.helpers import ENGINES
from widget_server import kiosk as kiosk_module
from widget_server.changes import Changes
from widget_server.errors import (
    CodeLimitReached,
    CodeLocked,
    KioskBusy,
    NotAllowedHere,
    StaffPinNotSet,
    StaffPinsLimitReached,
    StaffPinWrong,
    WrongCode,
)
from widget_server.kiosk import (
    CODE_LIFETIME,
    SESSION_LIFETIME,
    STAFF_PIN_ATTEMPTS,
    CodeLimits,
    Identity,
    Kiosk,
    check_staff_id,
    code_hash,
    code_matches,
    new_code,
)
from widget_server.preferences import OPTED_IN, Preferences
from widget_server.store import devices
from widget_server.store import kiosk_sessions as rows
from widget_server.store.tables import kiosk_sessions

CENTER = "maison-lumiere"
KEY = b"test-lookup-key"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


PINS: dict[str, str] = {}  # device id -> its staff PIN, as provisioning showed it


def provision(store, clock, location: str, name: str):
    with store.writing() as connection:
        device, pin = devices.provision(connection, store.lookup_key, CENTER, location, name, clock())
    PINS[device.id] = pin
    return device


@pytest.fixture
def device(store, clock):
    return provision(store, clock, "paris-opera", "Tablet 1")


@pytest.fixture
def other_device(store, clock):
    return provision(store, clock, "lyon", "Tablet 2")


def make_kiosk(store, clock, per_device: int = 30, per_contact: int = 3) -> Kiosk:
    return Kiosk(store, Changes(store, lambda: None), clock, CodeLimits(per_device, per_contact))


@pytest.fixture
def kiosk(store, clock) -> Kiosk:
    return make_kiosk(store, clock)


def row_of(store, session_id: str) -> dict:
    with store.engine.connect() as connection:
        return dict(connection.execute(select(kiosk_sessions).where(kiosk_sessions.c.id == session_id)).one()._mapping)


def all_rows(store) -> list[dict]:
    with store.engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(kiosk_sessions).order_by(kiosk_sessions.c.id))]


def start(kiosk: Kiosk, device, value: str = "camille@example.org", kind: str = "email"):
    return anyio.run(lambda: kiosk.start_with_code(device, Identity(kind, value)))


def verify(kiosk: Kiosk, device, session_id: str, code: str):
    return anyio.run(lambda: kiosk.verify(device, session_id, code))


def attest(kiosk: Kiosk, device, value: str = "camille@example.org", pin: str | None = None, staff: str = "S-1"):
    return anyio.run(lambda: kiosk.attest(device, Identity("email", value), staff,
                                          PINS.get(device.id, "") if pin is None else pin))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def wrong_pin(device) -> str:
    return f"{(int(PINS[device.id]) + 1) % 10**8:08d}"


# -- the code itself (no store) -----------------------------------------------------------------------


def test_a_code_is_six_digits_drawn_by_secrets(monkeypatch) -> None:
    codes = {new_code() for _ in range(200)}
    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes)
    assert len(codes) > 190  # not a counter, not a clock
    drawn = []
    monkeypatch.setattr(kiosk_module.secrets, "randbelow", lambda n: drawn.append(n) or 42)
    assert new_code() == "000042" and drawn == [1_000_000]


def test_the_stored_hash_is_keyed_and_bound_to_its_session() -> None:
    stored = code_hash(KEY, "ks_one", "123456")
    assert re.fullmatch(r"[0-9a-f]{64}", stored) and "123456" not in stored
    assert stored == code_hash(KEY, "ks_one", "123456")
    assert stored != code_hash(b"another key", "ks_one", "123456")
    assert stored != code_hash(KEY, "ks_two", "123456")  # the same code in another session
    assert stored != code_hash(KEY, "ks_one", "123457")


def test_codes_are_compared_in_constant_time(monkeypatch) -> None:
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(kiosk_module.hmac, "compare_digest", spy)
    stored = code_hash(KEY, "ks_one", "123456")
    assert code_matches(KEY, "ks_one", "123456", stored)
    assert code_matches(KEY, "ks_one", " 123 456 ", stored)  # typed with spaces
    assert not code_matches(KEY, "ks_one", "123457", stored)
    assert not code_matches(KEY, "ks_two", "123456", stored)
    assert not code_matches(KEY, "ks_one", "", stored)
    assert len(compared) == 5 and all(b == stored for _, b in compared)
    assert not code_matches(KEY, "ks_one", "123456", None)  # a session without a code (attested) never matches


def test_a_staff_id_is_optional_but_plain() -> None:
    assert check_staff_id("  ") is None and check_staff_id(None) is None
    assert check_staff_id(" S-1042 ") == "S-1042"
    from widget_server.errors import StaffIdInvalid

    for bad in ("a b", "x" * 65, "staff:1", "<b>"):
        with pytest.raises(StaffIdInvalid):
            check_staff_id(bad)


def test_a_staff_pin_is_eight_digits_drawn_by_secrets(monkeypatch) -> None:
    pins = {devices.new_staff_pin() for _ in range(200)}
    assert all(re.fullmatch(r"[0-9]{8}", pin) for pin in pins) and len(pins) > 195
    drawn = []
    monkeypatch.setattr(devices.secrets, "randbelow", lambda n: drawn.append(n) or 42)
    assert devices.new_staff_pin() == "00000042" and drawn == [10**8]


def test_a_staff_pin_s_hash_is_keyed_bound_to_its_device_and_compared_in_constant_time(monkeypatch) -> None:
    stored = devices.staff_pin_hash(KEY, "dev_one", "12345678")
    assert re.fullmatch(r"[0-9a-f]{64}", stored) and "12345678" not in stored
    assert stored != devices.staff_pin_hash(b"another key", "dev_one", "12345678")
    assert stored != devices.staff_pin_hash(KEY, "dev_two", "12345678")  # the same PIN on another tablet
    assert stored != code_hash(KEY, "dev_one", "12345678")  # nor is it a code's hash
    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(devices.hmac, "compare_digest", lambda a, b: compared.append(b) or real(a, b))
    one = devices.Device("dev_one", CENTER, "paris-opera", "Tablet", datetime.now(), staff_pin_hash=stored)
    assert devices.staff_pin_matches(KEY, one, "12345678") and devices.staff_pin_matches(KEY, one, "1234 5678")
    assert not devices.staff_pin_matches(KEY, one, "12345679")
    assert not devices.staff_pin_matches(KEY, one, "12345678\x00")
    assert compared == [stored] * 4
    without = devices.Device("dev_one", CENTER, "paris-opera", "Tablet", datetime.now())
    assert not devices.staff_pin_matches(KEY, without, "12345678")  # a device without a PIN matches nothing


def test_a_session_id_is_checked_for_its_shape() -> None:
    made = {rows.new_session_id() for _ in range(50)}
    assert all(rows.well_formed(session_id) for session_id in made)
    for bad in (None, "", "ks_", "ks_made_up", rows.new_session_id() + "A", rows.new_session_id()[:-1] + "\x00",
                rows.new_session_id()[:-1] + "é", "ks_" + "A" * 31 + "\n", "xx_" + "A" * 32):
        assert not rows.well_formed(bad), bad


# -- sessions on the store -----------------------------------------------------------------------------


def test_a_code_session_keeps_the_hash_never_the_code(store, kiosk, device, clock) -> None:
    session, code, destination = start(kiosk, device)
    row = row_of(store, session.id)
    assert code not in repr(row)
    assert row["code_hash"] == code_hash(store.lookup_key, session.id, code)
    assert row["contact_hash"] == store.lookup_hash(CENTER, "email", "camille@example.org")
    assert row["status"] == "pending" and row["attempts"] == 0 and row["method"] == "code"
    assert row["expires_at"] == clock() + CODE_LIFETIME
    assert destination is not None and (destination.channel, destination.address) == ("email", "camille@example.org")


def test_the_right_code_verifies_and_a_known_customer_s_contact_is_blanked(store, kiosk, device, clock) -> None:
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    session, code, _ = start(kiosk, device)
    assert session.subscriber_id == subscriber
    clock.advance(minutes=9)
    verified = verify(kiosk, device, session.id, code)
    assert verified.status == "verified" and verified.live(clock())
    row = row_of(store, session.id)
    assert row["contact"] is None and row["verified_at"] == clock()
    assert row["expires_at"] == clock() + SESSION_LIFETIME


def test_a_new_customer_s_contact_is_kept_until_they_subscribe_or_leave(store, kiosk, device) -> None:
    session, code, _ = start(kiosk, device, "new@example.org")
    assert session.subscriber_id is None
    verify(kiosk, device, session.id, code)
    assert row_of(store, session.id)["contact"] == "new@example.org"
    anyio.run(lambda: kiosk.end(device, session.id))
    row = row_of(store, session.id)
    assert row["contact"] is None and row["status"] == "ended"
    with pytest.raises(NotAllowedHere):
        anyio.run(lambda: kiosk.live(device, session.id))


def test_three_wrong_codes_lock_the_session_for_good(store, kiosk, device) -> None:
    session, code, _ = start(kiosk, device)
    for left in (2, 1):
        with pytest.raises(WrongCode) as tried:
            verify(kiosk, device, session.id, wrong(code))
        assert tried.value.extra["attempts_left"] == left
    with pytest.raises(CodeLocked):
        verify(kiosk, device, session.id, wrong(code))
    row = row_of(store, session.id)
    assert row["status"] == "locked" and row["attempts"] == 3 and row["contact"] is None
    with pytest.raises(CodeLocked):  # the right code, after the lock
        verify(kiosk, device, session.id, code)
    assert row_of(store, session.id)["status"] == "locked"


def test_a_code_expires_after_ten_minutes(store, kiosk, device, clock) -> None:
    session, code, _ = start(kiosk, device)
    clock.advance(minutes=10)
    with pytest.raises(CodeLocked):
        verify(kiosk, device, session.id, code)
    assert row_of(store, session.id)["status"] == "locked"
    clock.advance(seconds=-30)  # even were the clock to go back: locked stays locked
    with pytest.raises(CodeLocked):
        verify(kiosk, device, session.id, code)


def test_a_session_opens_on_its_own_kiosk_only(store, kiosk, device, other_device) -> None:
    session, code, _ = start(kiosk, device)
    with pytest.raises(NotAllowedHere):
        verify(kiosk, other_device, session.id, code)
    with pytest.raises(NotAllowedHere):
        verify(kiosk, device, "ks_made_up", code)
    assert row_of(store, session.id)["attempts"] == 0  # the other kiosk's try did not count against it
    verify(kiosk, device, session.id, code)
    with pytest.raises(NotAllowedHere):
        anyio.run(lambda: kiosk.live(other_device, session.id))


def test_codes_per_contact_are_limited_over_the_hour(store, device, other_device, clock) -> None:
    kiosk = make_kiosk(store, clock, per_device=30, per_contact=3)
    start(kiosk, device)
    clock.advance(minutes=20)
    start(kiosk, other_device, "CAMILLE@example.org".lower())
    start(kiosk, device)
    before = all_rows(store)
    clock.advance(minutes=10)
    with pytest.raises(CodeLimitReached) as limited:
        start(kiosk, other_device)  # another kiosk: the same person
    assert limited.value.extra["retry_after"] == 30 * 60  # when the first of the three leaves the hour
    assert all_rows(store) == before  # refused: nothing stored
    start(kiosk, device, "someone.else@example.org")  # another contact is not limited
    clock.advance(minutes=30)
    start(kiosk, device)  # an hour after the first


def test_codes_per_kiosk_are_limited_over_the_hour(store, device, other_device, clock) -> None:
    kiosk = make_kiosk(store, clock, per_device=2, per_contact=10)
    start(kiosk, device, "a@example.org")
    clock.advance(seconds=90)
    start(kiosk, device, "b@example.org")
    with pytest.raises(CodeLimitReached) as limited:
        start(kiosk, device, "c@example.org")
    assert limited.value.extra["retry_after"] == 3600 - 90
    start(kiosk, other_device, "c@example.org")  # another kiosk is not limited
    with pytest.raises(KioskBusy) as busy:  # a staff attestation is a session of the kiosk too
        attest(kiosk, device, "d@example.org")
    assert busy.value.extra["retry_after"] == 3600 - 90 and isinstance(busy.value, CodeLimitReached)
    attested = attest(kiosk, other_device, "d@example.org")
    assert attested.method == "attestation" and attested.status == "verified"
    with pytest.raises(CodeLimitReached):  # and counts there: 2 of 2
        start(kiosk, other_device, "e@example.org")


def test_the_count_and_the_insert_share_one_transaction(store, device, other_device, clock, monkeypatch) -> None:
    kiosk = make_kiosk(store, clock, per_device=1, per_contact=1)
    seen = []

    def spying(name: str) -> None:
        real = getattr(rows, name)

        def spy(connection, *args, **kwargs):
            seen.append((name, connection))
            return real(connection, *args, **kwargs)

        monkeypatch.setattr(rows, name, spy)

    for name in ("started_since", "codes_since", "refused_since", "end_others", "record"):
        spying(name)
    start(kiosk, device)
    assert [name for name, _ in seen] == ["started_since", "codes_since", "end_others", "record"]
    seen.clear()
    attest(kiosk, other_device)
    assert [name for name, _ in seen] == ["refused_since", "started_since", "end_others", "record"]
    assert len({id(connection) for _, connection in seen}) == 1


def test_an_attestation_needs_the_device_s_staff_pin(store, kiosk, device, clock) -> None:
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    for typed in ("", "   ", wrong_pin(device)):
        with pytest.raises(StaffPinWrong):
            attest(kiosk, device, pin=typed)
    refused = all_rows(store)
    assert len(refused) == 1  # the empty ones were no try
    assert (refused[0]["status"], refused[0]["subscriber_id"], refused[0]["contact"]) == ("refused", None, None)
    session = attest(kiosk, device, pin=f" {PINS[device.id]} ")
    assert (session.status, session.subscriber_id, session.method) == ("verified", subscriber, "attestation")
    with pytest.raises(NotAllowedHere):  # a refused row is no session
        anyio.run(lambda: kiosk.live(device, refused[0]["id"]))


def test_wrong_staff_pins_stop_attestations_for_the_hour(store, kiosk, device, other_device, clock) -> None:
    for _ in range(STAFF_PIN_ATTEMPTS):
        with pytest.raises(StaffPinWrong):
            attest(kiosk, device, pin=wrong_pin(device))
        clock.advance(minutes=10)
    before = all_rows(store)
    with pytest.raises(StaffPinsLimitReached) as limited:
        attest(kiosk, device)  # the right one: not even compared
    assert limited.value.extra["retry_after"] == 10 * 60 and limited.value.status == 429
    assert all_rows(store) == before
    attest(kiosk, other_device)  # another tablet is not stopped
    clock.advance(minutes=10, seconds=1)
    assert attest(kiosk, device).status == "verified"


def test_a_device_without_a_staff_pin_takes_no_attestation(store, kiosk, clock) -> None:
    with store.writing() as connection:
        old = devices.create(connection, CENTER, "paris-opera", "Old tablet", clock())
    assert old.staff_pin_hash is None
    for pin in ("", "12345678"):
        with pytest.raises(StaffPinNotSet) as refused:
            attest(kiosk, old, pin=pin)
        assert refused.value.status == 403 and isinstance(refused.value, NotAllowedHere)
    assert all_rows(store) == []


def test_a_new_session_ends_the_kiosk_s_others_in_its_transaction(store, kiosk, device, other_device) -> None:
    pending, _, _ = start(kiosk, device, "first@example.org")
    elsewhere, _, _ = start(kiosk, other_device, "elsewhere@example.org")
    verified = attest(kiosk, device, "second@example.org")
    assert (row_of(store, pending.id)["status"], row_of(store, pending.id)["contact"]) == ("ended", None)
    assert row_of(store, pending.id)["ended_at"] is not None
    assert row_of(store, elsewhere.id)["status"] == "pending"  # another kiosk's customer stays
    third, _, _ = start(kiosk, device, "third@example.org")
    assert row_of(store, verified.id)["status"] == "ended"
    with pytest.raises(NotAllowedHere):
        anyio.run(lambda: kiosk.live(device, verified.id))
    assert row_of(store, third.id)["status"] == "pending"


@pytest.mark.parametrize("bad", ["ks_" + "A" * 31 + "\x00", "\x00", "x" * 500, ""])
def test_a_malformed_session_id_is_refused_before_any_query(store, kiosk, device, centers, monkeypatch, bad) -> None:
    def no_query(*args, **kwargs):
        raise AssertionError("queried")

    monkeypatch.setattr(rows, "get", no_query)
    monkeypatch.setattr(rows, "live", no_query)
    monkeypatch.setattr(rows, "end", no_query)
    with pytest.raises(NotAllowedHere):
        verify(kiosk, device, bad, "123456")
    with pytest.raises(NotAllowedHere):
        anyio.run(lambda: kiosk.live(device, bad))
    with pytest.raises(NotAllowedHere):
        anyio.run(lambda: kiosk.save(device, centers[CENTER], bad, Preferences(), base_version=0, seen=None,
                                     submission_id=None, locale="fr", client={}))
    anyio.run(lambda: kiosk.end(device, bad))  # nothing to end


def test_a_loyalty_code_goes_to_the_contact_on_file(store, kiosk, device) -> None:
    from widget_server.store import contacts

    with_email = store.create_subscriber(CENTER, email="camille@example.org")
    with_phone = store.create_subscriber(CENTER)
    with store.writing() as connection:
        contacts.add(connection, store.lookup_key, CENTER, with_email, "loyalty", "ML-1001")
        contacts.add(connection, store.lookup_key, CENTER, with_email, "phone", "+33612345678")
        contacts.add(connection, store.lookup_key, CENTER, with_phone, "loyalty", "ML-1002")
        contacts.add(connection, store.lookup_key, CENTER, with_phone, "phone", "+33698765432")
    started = [start(kiosk, device, number, "loyalty") for number in ("ML-1001", "ML-1002", "ML-9999")]
    assert [typed_to for _, _, typed_to in started] == [None, None, None]  # the request sends to nobody yet
    first, second, unknown = (session for session, _, _ in started)
    to_first, to_second, to_nobody = (anyio.run(kiosk.saved_destination, s) for s in (first, second, unknown))
    assert (first.subscriber_id, to_first.channel, to_first.address) == (with_email, "email", "camille@example.org")
    assert (second.subscriber_id, to_second.channel, to_second.address) == (with_phone, "sms", "+33698765432")
    assert unknown.subscriber_id is None and to_nobody is None
    assert row_of(store, unknown.id)["code_hash"]  # a session like the others: counted, never verifiable by luck


def test_a_save_keeps_the_session_open_and_the_lifetime_ends_it(store, kiosk, device, clock, centers) -> None:
    center = centers[CENTER]
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    session, code, _ = start(kiosk, device)
    verify(kiosk, device, session.id, code)
    clock.advance(minutes=14)
    current = store.get(CENTER, subscriber).preferences
    desired = Preferences(subscriptions={("offers", "email"): OPTED_IN})
    result = anyio.run(lambda: kiosk.save(device, center, session.id, desired, base_version=current.version,
                                          seen=current, submission_id=None, locale="fr", client={}))
    assert result.outcome == "saved"
    assert row_of(store, session.id)["expires_at"] == clock() + SESSION_LIFETIME
    clock.advance(minutes=14)
    anyio.run(lambda: kiosk.live(device, session.id))  # still open: 14 minutes after the save
    clock.advance(minutes=1)
    with pytest.raises(NotAllowedHere):
        anyio.run(lambda: kiosk.live(device, session.id))


def test_old_sessions_are_forgotten_and_expired_ones_blanked(store, kiosk, device, clock) -> None:
    old, _, _ = start(kiosk, device, "old@example.org")
    clock.advance(hours=23)
    stale, _, _ = start(kiosk, device, "stale@example.org")  # pending, its code unused
    clock.advance(hours=1, seconds=1)
    fresh, _, _ = start(kiosk, device, "fresh@example.org")  # starting a session forgets the others
    ids = {row["id"]: row for row in all_rows(store)}
    assert old.id not in ids
    assert ids[stale.id]["contact"] is None and ids[fresh.id]["contact"] == "fresh@example.org"


def test_forget_keeps_a_day_of_rows(store, device, clock) -> None:
    now = clock()
    with store.writing() as connection:
        for hours in (25, 23):
            rows.start(connection, rows.KioskSession(
                id=rows.new_session_id(), center=CENTER, device_id=device.id, kind="email", contact_hash="h",
                contact=None, subscriber_id=None, method="code", staff_id=None, code_hash="x", attempts=0,
                status="pending", expires_at=now, verified_at=None, ended_at=None,
                created_at=now - timedelta(hours=hours)))
        rows.forget(connection, now)
        left = connection.execute(select(kiosk_sessions.c.created_at)).scalars().all()
    assert left == [now - timedelta(hours=23)]


def test_a_verified_session_takes_its_right_code_again_but_not_after_it_ends(store, kiosk, device) -> None:
    session, code, _ = start(kiosk, device)
    verify(kiosk, device, session.id, code)
    assert verify(kiosk, device, session.id, code).status == "verified"  # a form sent twice
    with pytest.raises(NotAllowedHere):
        verify(kiosk, device, session.id, wrong(code))
    anyio.run(lambda: kiosk.end(device, session.id))
    with pytest.raises(NotAllowedHere):
        verify(kiosk, device, session.id, code)


def test_an_expired_verified_session_no_longer_saves(store, kiosk, device, clock, centers) -> None:
    session, code, _ = start(kiosk, device, "new@example.org")
    verify(kiosk, device, session.id, code)
    with store.writing() as connection:  # as if its lifetime had passed
        connection.execute(update(kiosk_sessions).where(kiosk_sessions.c.id == session.id)
                           .values(expires_at=clock() - timedelta(seconds=1)))
    desired = Preferences(subscriptions={("offers", "email"): OPTED_IN})
    with pytest.raises(NotAllowedHere):
        anyio.run(lambda: kiosk.save(device, centers[CENTER], session.id, desired, base_version=0, seen=None,
                                     submission_id=None, locale="fr", client={}))
    assert store.find_by_contact(CENTER, "email", "new@example.org") is None


def test_datetimes_read_back_aware(store, kiosk, device) -> None:
    session, _, _ = start(kiosk, device)
    with store.engine.connect() as connection:
        _, oldest = rows.started_since(connection, session.created_at - timedelta(seconds=1), device.id)
    assert isinstance(oldest, datetime) and oldest.tzinfo is not None
