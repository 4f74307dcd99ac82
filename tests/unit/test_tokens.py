"""Signed links: scope separation, expiry per scope, key rotation, tampering."""

from __future__ import annotations

import pytest
from preference_sdk import DEFAULT_LIFETIMES, TokenExpired, TokenInvalid, TokenSigner

from tests.helpers import Seconds


@pytest.fixture
def clock() -> Seconds:
    return Seconds()


@pytest.fixture
def signer(clock: Seconds) -> TokenSigner:
    return TokenSigner(["secret-new", "secret-old"], clock=clock)


def test_round_trip_carries_only_pseudonymous_claims(signer: TokenSigner) -> None:
    token = signer.mint("manage", "acme", "sub_abc", l="fr")
    claims = signer.read(token, "manage", center="acme")
    assert (claims.center, claims.subscriber, claims.scope, claims.locale) == ("acme", "sub_abc", "manage", "fr")
    assert "@" not in token


@pytest.mark.parametrize("scope", ["unsubscribe", "confirm", "login", "kiosk", "agent"])
def test_a_token_of_one_scope_never_opens_another(signer: TokenSigner, scope: str) -> None:
    token = signer.mint("manage", "acme", "sub_abc")
    with pytest.raises(TokenInvalid):
        signer.read(token, scope)


def test_a_token_of_another_center_is_refused(signer: TokenSigner) -> None:
    token = signer.mint("manage", "acme", "sub_abc")
    with pytest.raises(TokenInvalid):
        signer.read(token, "manage", center="other")


@pytest.mark.parametrize("scope", sorted(DEFAULT_LIFETIMES))
def test_each_scope_expires_after_its_own_lifetime(signer: TokenSigner, clock: Seconds, scope: str) -> None:
    token = signer.mint(scope, "acme", "sub_abc")
    clock.now += DEFAULT_LIFETIMES[scope] - 5
    assert signer.read(token, scope).subscriber == "sub_abc"
    clock.now += 10
    with pytest.raises(TokenExpired) as caught:
        signer.read(token, scope)
    assert caught.value.claims is not None and caught.value.claims.subscriber == "sub_abc"


def test_unsubscribe_links_outlive_the_sixty_days_rfc_8058_expects() -> None:
    assert DEFAULT_LIFETIMES["unsubscribe"] >= 60 * 86400
    assert DEFAULT_LIFETIMES["agent"] <= 24 * 3600
    assert DEFAULT_LIFETIMES["login"] <= 3600


def test_rotation_new_key_signs_old_keys_still_verify(clock: Seconds) -> None:
    before = TokenSigner(["secret-old"], clock=clock)
    old_token = before.mint("manage", "acme", "sub_abc")
    after = TokenSigner(["secret-new", "secret-old"], clock=clock)
    assert after.read(old_token, "manage").subscriber == "sub_abc"
    new_token = after.mint("manage", "acme", "sub_abc")
    assert TokenSigner(["secret-new"], clock=clock).read(new_token, "manage").subscriber == "sub_abc"
    with pytest.raises(TokenInvalid):
        before.read(new_token, "manage")


def test_a_retired_key_no_longer_verifies(clock: Seconds) -> None:
    old_token = TokenSigner(["secret-old"], clock=clock).mint("manage", "acme", "sub_abc")
    with pytest.raises(TokenInvalid):
        TokenSigner(["secret-new"], clock=clock).read(old_token, "manage")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # signature
        lambda t: "eyJ2IjoxLCJjIjoiYWNtZSIsInMiOiJzdWJfZXZpbCIsImsiOiJtYW5hZ2UifQ" + t[t.index("."):],  # payload
        lambda t: t.split(".")[0],  # truncated
        lambda t: "",
        lambda t: "not a token at all",
        lambda t: t + "." + t,
    ],
)
def test_tampered_tokens_are_invalid_not_errors(signer: TokenSigner, tamper) -> None:
    token = signer.mint("manage", "acme", "sub_abc")
    with pytest.raises(TokenInvalid):
        signer.read(tamper(token), "manage")


def test_an_expired_tampered_token_is_invalid_not_expired(signer: TokenSigner, clock: Seconds) -> None:
    token = signer.mint("login", "acme", "sub_abc")
    clock.now += 7200
    with pytest.raises(TokenInvalid):
        signer.read(token[:-3] + "xyz", "login")


def test_no_secret_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="secret"):
        TokenSigner([])
