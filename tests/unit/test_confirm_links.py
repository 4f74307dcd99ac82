"""Confirmation links: each purpose reads as itself only, until its own end; anything else is
unreadable, and an outdated link still says whose it was (for a new one)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.helpers import Seconds
from widget_server import confirm_links
from widget_server.confirm_links import ERASE, OPT_IN, RENEW, LinkOutdated, LinkUnreadable
from widget_server.settings import Settings
from widget_server.tokens import make_signer

CENTER = "acme"


@pytest.fixture
def clock() -> Seconds:
    return Seconds()


@pytest.fixture
def signer(clock: Seconds):
    return make_signer(Settings(secret_keys=("secret-new", "secret-old")), clock=clock)


def now(clock: Seconds) -> datetime:
    return datetime.fromtimestamp(clock(), timezone.utc)


def test_a_link_reads_back_with_its_purpose_id_and_end(signer, clock) -> None:
    end = now(clock) + timedelta(days=30)
    token, token_id = confirm_links.mint(signer, CENTER, "sub_a", RENEW, end, locale="fr", topic="offers",
                                         channel="email")
    link = confirm_links.read(signer, token, CENTER, now(clock))
    assert (link.purpose, link.token_id, link.subscriber, link.locale) == (RENEW, token_id, "sub_a", "fr")
    assert (link.topic, link.channel) == ("offers", "email")
    assert link.expires_at == end.replace(microsecond=0)
    assert "@" not in token


def test_a_link_longer_than_the_sdk_default_of_seven_days_works_until_its_own_end(signer, clock) -> None:
    token, _ = confirm_links.mint(signer, CENTER, "sub_a", RENEW, now(clock) + timedelta(days=60),
                                  topic="offers", channel="email")
    clock.now += 59 * 86400
    assert confirm_links.read(signer, token, CENTER, now(clock)).subscriber == "sub_a"
    clock.now += 2 * 86400
    with pytest.raises(LinkOutdated) as outdated:
        confirm_links.read(signer, token, CENTER, now(clock))
    assert outdated.value.link.subscriber == "sub_a"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the signature
    lambda t: "x" + t,
    lambda t: "",
])
def test_a_tampered_link_is_unreadable(signer, clock, mangle) -> None:
    token, _ = confirm_links.mint(signer, CENTER, "sub_a", OPT_IN, now(clock) + timedelta(days=7))
    with pytest.raises(LinkUnreadable):
        confirm_links.read(signer, mangle(token), CENTER, now(clock))


def test_other_centers_scopes_and_shapes_are_unreadable(signer, clock) -> None:
    end = int((now(clock) + timedelta(days=7)).timestamp())
    token, _ = confirm_links.mint(signer, "other", "sub_a", OPT_IN, now(clock) + timedelta(days=7))
    bad = [
        token,  # another center's
        signer.mint("manage", CENTER, "sub_a"),  # another scope
        signer.mint("confirm", CENTER, "sub_a", j="id", x=end),  # no purpose
        signer.mint("confirm", CENTER, "sub_a", pu="delete_everything", j="id", x=end),  # an unknown one
        signer.mint("confirm", CENTER, "sub_a", pu=OPT_IN, x=end),  # no id
        signer.mint("confirm", CENTER, "sub_a", pu=OPT_IN, j="id", x="tomorrow"),  # no end
        signer.mint("confirm", CENTER, "sub_a", pu=RENEW, j="id", x=end),  # a renewal naming no subscription
    ]
    for each in bad:
        with pytest.raises(LinkUnreadable):
            confirm_links.read(signer, each, CENTER, now(clock))


def test_whose_names_the_holder_of_an_authentic_link_of_that_purpose_only(signer, clock) -> None:
    token, _ = confirm_links.mint(signer, CENTER, "sub_a", OPT_IN, now(clock) + timedelta(days=1))
    clock.now += 30 * 86400
    assert confirm_links.whose(signer, token, CENTER, OPT_IN) == "sub_a"
    assert confirm_links.whose(signer, token, CENTER, ERASE) is None
    assert confirm_links.whose(signer, token + "x", CENTER, OPT_IN) is None


def test_a_link_signed_before_the_subscriber_signed_out_is_outdated(signer, clock) -> None:
    token, _ = confirm_links.mint(signer, CENTER, "sub_a", ERASE, now(clock) + confirm_links.ERASE_LIFETIME)
    link = confirm_links.read(signer, token, CENTER, now(clock))
    assert not confirm_links.outdated(link, None)
    assert confirm_links.outdated(link, now(clock) + timedelta(seconds=1))
