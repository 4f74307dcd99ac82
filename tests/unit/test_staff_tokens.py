"""The tokens staff screens open with: a kiosk's device token and an agent's shift token."""

from __future__ import annotations

import pytest
from preference_sdk import AGENT_ID_MAX, LinkMinter, TokenSigner

from tests.helpers import EXAMPLE_CENTERS, Seconds
from widget_server.centers import load_centers
from widget_server.errors import AgentSignInRequired, KioskNotSetUp
from widget_server.tokens import read_agent_token, read_device_token

CENTERS = load_centers(EXAMPLE_CENTERS)
SHOP, OTHER = CENTERS["maison-lumiere"], CENTERS["voyago"]


@pytest.fixture
def clock() -> Seconds:
    return Seconds()


@pytest.fixture
def signer(clock: Seconds) -> TokenSigner:
    return TokenSigner(["secret-new", "secret-old"], clock=clock)


def test_a_device_token_names_the_device_and_its_store(signer: TokenSigner) -> None:
    device = read_device_token(signer, signer.mint("kiosk", SHOP.id, "dev_1", lc="Lyon Part-Dieu"), SHOP)
    assert (device.id, device.center, device.location) == ("dev_1", SHOP.id, "Lyon Part-Dieu")


@pytest.mark.parametrize("token", ["", None, "garbage", "x.y.z"])
def test_a_missing_or_tampered_device_token_is_a_kiosk_not_set_up(signer: TokenSigner, token: str | None) -> None:
    with pytest.raises(KioskNotSetUp):
        read_device_token(signer, token, SHOP)


def test_a_device_token_is_refused_elsewhere_and_when_old(signer: TokenSigner, clock: Seconds) -> None:
    token = signer.mint("kiosk", SHOP.id, "dev_1", lc="Lyon")
    with pytest.raises(KioskNotSetUp):
        read_device_token(signer, token, OTHER)  # another center's
    with pytest.raises(KioskNotSetUp):
        read_device_token(signer, signer.mint("manage", SHOP.id, "dev_1", lc="Lyon"), SHOP)  # another scope
    with pytest.raises(KioskNotSetUp):
        read_device_token(signer, signer.mint("kiosk", SHOP.id, "dev_1"), SHOP)  # no store named
    clock.now += 366 * 86400
    with pytest.raises(KioskNotSetUp):
        read_device_token(signer, token, SHOP)


def test_an_agent_link_from_the_sdk_opens_the_console_for_a_shift(clock: Seconds) -> None:
    minter = LinkMinter("https://prefs.example.com", ["secret-new"], clock=clock)
    url = minter.agent_url(SHOP.id, "u-42", name="Sam Martin", permissions=("view",), locale="en")
    assert url.startswith("https://prefs.example.com/c/maison-lumiere/agent?t=")
    signer = TokenSigner(["secret-new"], clock=clock)
    agent = read_agent_token(signer, url.split("t=", 1)[1], SHOP)
    assert (agent.id, agent.name, agent.actor, agent.locale) == ("u-42", "Sam Martin", "agent:u-42", "en")
    assert agent.may("view") and not agent.may("change")
    with pytest.raises(AgentSignInRequired):
        read_agent_token(signer, url.split("t=", 1)[1], OTHER)
    clock.now += 12 * 3600 + 1
    with pytest.raises(AgentSignInRequired) as expired:
        read_agent_token(signer, url.split("t=", 1)[1], SHOP)
    assert expired.value.extra["expired"] is True


def test_an_agent_token_without_a_name_or_permissions_is_refused(signer: TokenSigner) -> None:
    for extra in ({}, {"n": "Sam"}, {"p": "view"}):
        with pytest.raises(AgentSignInRequired):
            read_agent_token(signer, signer.mint("agent", SHOP.id, "u-42", **extra), SHOP)


def test_an_agent_id_the_ledger_could_not_record_is_refused(signer: TokenSigner, clock: Seconds) -> None:
    """``agent:<id>`` is the event's actor, 80 characters at most: a longer id never signs in."""
    minter = LinkMinter("https://prefs.example.com", ["secret-new"], clock=clock)
    assert minter.agent_url(SHOP.id, "a" * AGENT_ID_MAX, name="Sam")
    for bad in ("a" * (AGENT_ID_MAX + 1), "sam\x00", "sam\n"):
        with pytest.raises(ValueError):
            minter.agent_url(SHOP.id, bad, name="Sam")
        with pytest.raises(AgentSignInRequired):  # minted by hand, past the SDK's check
            read_agent_token(signer, signer.mint("agent", SHOP.id, bad, n="Sam", p="view"), SHOP)
