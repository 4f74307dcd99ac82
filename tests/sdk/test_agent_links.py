"""``LinkMinter.agent_url``: the one call a host's single sign-on makes to open the agent console."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from preference_sdk import AGENT_PERMISSIONS, TokenExpired, TokenInvalid, TokenSigner
from preference_sdk._links import LinkMinter

from tests.helpers import Seconds

BASE = "https://prefs.example.com"
SECRETS = ["secret-new", "secret-old"]
CENTER = "maison-lumiere"


@pytest.fixture
def clock() -> Seconds:
    return Seconds()


@pytest.fixture
def minter(clock: Seconds) -> LinkMinter:
    return LinkMinter(BASE, SECRETS, clock=clock)


@pytest.fixture
def reader(clock: Seconds) -> TokenSigner:
    return TokenSigner(SECRETS, clock=clock)


def token_of(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/c/{CENTER}/agent"
    assert parts.query.startswith("t=") and "&" not in parts.query
    return parts.query[2:]


def test_the_console_link_names_the_agent_their_name_permissions_and_language(minter, reader) -> None:
    url = minter.agent_url(CENTER, "a.martin", name="Alice Martin", permissions=("view", "change"), locale="fr")
    claims = reader.read(token_of(url), "agent", center=CENTER)
    assert (claims.center, claims.subscriber, claims.scope) == (CENTER, "a.martin", "agent")
    assert claims.extra == {"n": "Alice Martin", "p": "change,view", "l": "fr"}  # permissions sorted, once each
    assert claims.locale == "fr"


def test_by_default_an_agent_may_view_and_change_and_no_language_is_named(minter, reader) -> None:
    claims = reader.read(token_of(minter.agent_url(CENTER, "b.durand", name="  Bruno  ")), "agent", center=CENTER)
    assert claims.extra == {"n": "Bruno", "p": ",".join(sorted(AGENT_PERMISSIONS))}  # the name trimmed
    view_only = minter.agent_url(CENTER, "b.durand", name="Bruno", permissions=["view", "view"])
    assert reader.read(token_of(view_only), "agent", center=CENTER).extra["p"] == "view"


def test_the_link_lasts_one_shift(minter, reader, clock) -> None:
    token = token_of(minter.agent_url(CENTER, "a.martin", name="Alice"))
    clock.now += 12 * 3600
    assert reader.read(token, "agent", center=CENTER).subscriber == "a.martin"
    clock.now += 1
    with pytest.raises(TokenExpired):
        reader.read(token, "agent", center=CENTER)


def test_the_token_opens_only_the_console_of_its_center(minter, reader) -> None:
    token = token_of(minter.agent_url(CENTER, "a.martin", name="Alice"))
    with pytest.raises(TokenInvalid):
        reader.read(token, "agent", center="voyago")
    for scope in ("manage", "kiosk", "login"):
        with pytest.raises(TokenInvalid):
            reader.read(token, scope, center=CENTER)


def test_the_tokens_are_those_token_signer_mints(minter, reader) -> None:
    url = minter.agent_url(CENTER, "a.martin", name="Alice Martin", locale="en")
    assert token_of(url) == reader.mint("agent", CENTER, "a.martin", n="Alice Martin", p="change,view", l="en")


@pytest.mark.parametrize("permissions", [(), ("delete",), ("view", "export"), ("View",)])
def test_unknown_or_no_permissions_are_refused(minter, permissions) -> None:
    with pytest.raises(ValueError, match="change, view"):
        minter.agent_url(CENTER, "a.martin", name="Alice", permissions=permissions)


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, None, 7])
def test_a_missing_or_overlong_display_name_is_refused(minter, name) -> None:
    with pytest.raises(ValueError, match="1 to 80"):
        minter.agent_url(CENTER, "a.martin", name=name)


@pytest.mark.parametrize("center, agent_id, locale", [("", "a.martin", None), (CENTER, "", None),
                                                      (CENTER, "a.martin", "")])
def test_an_empty_center_agent_id_or_locale_is_refused(minter, center, agent_id, locale) -> None:
    with pytest.raises(ValueError):
        minter.agent_url(center, agent_id, name="Alice", locale=locale)


def test_a_center_id_is_one_path_segment(minter, reader) -> None:
    url = minter.agent_url("odd/center", "a.martin", name="Alice")
    assert url.startswith(f"{BASE}/c/odd%2Fcenter/agent?t=")
    assert reader.read(url.partition("?t=")[2], "agent", center="odd/center").subscriber == "a.martin"
