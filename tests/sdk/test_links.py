"""Offline links: the same tokens as TokenSigner, the URLs, and RFC 2369/8058 headers."""

from __future__ import annotations

import random
import re
from urllib.parse import unquote, urlsplit

import pytest
from preference_sdk import TokenInvalid, TokenSigner
from preference_sdk._links import LinkMinter, _FastSigner
from preference_sdk._tokens import SCOPES

from tests.helpers import Seconds

BASE = "https://prefs.example.com"
SECRETS = ["secret-new", "secret-old"]
TOKEN = r"[A-Za-z0-9_\-.]+"


@pytest.fixture
def clock() -> Seconds:
    return Seconds(1_800_000_000.25)  # a fraction: tokens carry whole seconds


@pytest.fixture
def minter(clock: Seconds) -> LinkMinter:
    return LinkMinter(BASE, SECRETS, clock=clock)


@pytest.fixture
def reference(clock: Seconds) -> TokenSigner:
    return TokenSigner(SECRETS, clock=clock)


def token_of(url: str) -> str:
    query = urlsplit(url).query
    assert re.fullmatch(rf"t={TOKEN}", query), query
    return query[2:]


# -- the fast path makes TokenSigner's tokens, byte for byte ---------------------------------------------------

ODD_TEXT = [
    "maison-lumiere", "é", "日本語", "quote\"back\\slash", "tab\tnl\n\x00\x1f", "emoji 🎉", "</script>", "a" * 300,
]


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(ODD_TEXT)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))


def random_extra(rng: random.Random) -> dict:
    extra: dict = {}
    for key in rng.sample(["l", "tp", "ch", "j"], rng.randint(0, 4)):
        extra[key] = rng.choice([random_text(rng), None, 7, True, ["x", 1], {"n": None}])
    return extra


def test_the_fast_path_is_in_use(minter: LinkMinter) -> None:
    assert minter.fast is True


def test_fast_tokens_equal_token_signer_tokens_for_many_payloads(
    minter: LinkMinter, reference: TokenSigner, clock: Seconds
) -> None:
    rng = random.Random(8058)
    compressed = plain = 0
    for _ in range(3000):
        scope, center, subscriber = rng.choice(SCOPES), random_text(rng), random_text(rng)
        extra = random_extra(rng)
        clock.now += rng.choice([0, 0, 0.4, 1, 3600])
        token = minter.mint(scope, center, subscriber, **extra)
        assert token == reference.mint(scope, center, subscriber, **extra)
        claims = reference.read(token, scope, center=center)
        assert (claims.subscriber, claims.issued_at) == (subscriber, int(clock.now))
        assert dict(claims.extra) == {k: v for k, v in extra.items() if v is not None}
        compressed += token.startswith(".")
        plain += not token.startswith(".")
    assert compressed > 100 and plain > 100  # both of itsdangerous' encodings were compared


def test_an_extra_named_like_a_base_key_overrides_it_as_token_signer_does(
    minter: LinkMinter, reference: TokenSigner
) -> None:
    token = minter.mint("manage", "acme", "sub_1", k="unsubscribe")
    assert token == reference.mint("manage", "acme", "sub_1", k="unsubscribe")
    with pytest.raises(TokenInvalid):
        reference.read(token, "manage")
    assert minter.mint("manage", "a", "s", c="other", v=2) == reference.mint("manage", "a", "s", c="other", v=2)


def test_the_newest_secret_signs_and_every_secret_verifies(minter: LinkMinter, clock: Seconds) -> None:
    token = minter.mint("manage", "acme", "sub_1")
    assert TokenSigner(["secret-new"], clock=clock).read(token, "manage").subscriber == "sub_1"
    assert TokenSigner(["secret-newer", "secret-new"], clock=clock).read(token, "manage").subscriber == "sub_1"
    with pytest.raises(TokenInvalid):
        TokenSigner(["secret-old"], clock=clock).read(token, "manage")


def test_bytes_secrets_sign_like_their_text(clock: Seconds) -> None:
    assert LinkMinter(BASE, [b"secret-new"], clock=clock).manage_url("acme", "sub_1") == LinkMinter(
        BASE, ["secret-new"], clock=clock
    ).manage_url("acme", "sub_1")


@pytest.mark.parametrize("secret", ["secret-new", b"secret-new"])
def test_one_secret_as_a_string_is_one_secret_not_its_characters(clock: Seconds, secret: str | bytes) -> None:
    one = LinkMinter(BASE, secret, clock=clock)
    listed = TokenSigner(["secret-new"], clock=clock)
    token = one.mint("manage", "acme", "sub_1", l="fr")
    assert token == listed.mint("manage", "acme", "sub_1", l="fr") and one.fast
    assert TokenSigner(secret, clock=clock).read(token, "manage").subscriber == "sub_1"
    assert TokenSigner(secret, clock=clock).mint("login", "acme", "sub_1") == listed.mint("login", "acme", "sub_1")
    with pytest.raises(TokenInvalid):  # what a str taken as a list signed with: its first character
        TokenSigner(["s"], clock=clock).read(token, "manage")


def test_a_list_still_rotates_newest_first(clock: Seconds) -> None:
    rotated = LinkMinter(BASE, ["secret-newer", "secret-new"], clock=clock)
    token = rotated.mint("manage", "acme", "sub_1")
    assert token == TokenSigner("secret-newer", clock=clock).mint("manage", "acme", "sub_1")
    old = TokenSigner("secret-new", clock=clock).mint("manage", "acme", "sub_1")
    assert rotated.signer.read(old, "manage").subscriber == "sub_1"  # the older secret still verifies
    with pytest.raises(TokenInvalid):
        TokenSigner("secret-new", clock=clock).read(token, "manage")


@pytest.mark.parametrize("secrets", ["", b"", [], [""], [None], [7]])
def test_an_empty_or_odd_secret_is_refused(secrets) -> None:
    with pytest.raises(ValueError, match="non-empty secret"):
        LinkMinter(BASE, secrets)
    with pytest.raises(ValueError, match="non-empty secret"):
        TokenSigner(secrets)


def test_a_signer_with_another_key_fails_its_self_check() -> None:
    assert _FastSigner("secret-new").agrees_with(SECRETS) is True
    assert _FastSigner("another-secret").agrees_with(SECRETS) is False


def test_without_the_fast_path_tokens_are_the_same(minter: LinkMinter, reference: TokenSigner) -> None:
    fast = minter.mint("unsubscribe", "acme", "sub_1", tp="offers")
    minter._fast = None  # as when the self-check fails
    assert minter.mint("unsubscribe", "acme", "sub_1", tp="offers") == fast == reference.mint(
        "unsubscribe", "acme", "sub_1", tp="offers"
    )


def test_an_unknown_scope_is_refused(minter: LinkMinter) -> None:
    with pytest.raises(ValueError, match="unknown token scope"):
        minter.mint("admin", "acme", "sub_1")


@pytest.mark.parametrize("center, subscriber", [("", "sub_1"), ("acme", ""), ("acme", None), (None, "sub_1")])
def test_empty_ids_are_refused(minter: LinkMinter, center, subscriber) -> None:
    with pytest.raises(ValueError):
        minter.manage_url(center, subscriber)


# -- URLs --------------------------------------------------------------------------------------------------------


def test_manage_url(minter: LinkMinter, reference: TokenSigner) -> None:
    url = minter.manage_url("maison-lumiere", "sub_1Xh3", locale="fr")
    assert re.fullmatch(rf"https://prefs\.example\.com/c/maison-lumiere/preferences\?t={TOKEN}", url)
    claims = reference.read(token_of(url), "manage", center="maison-lumiere")
    assert (claims.subscriber, claims.locale, dict(claims.extra)) == ("sub_1Xh3", "fr", {"l": "fr"})


def test_manage_url_without_locale_carries_no_extra(minter: LinkMinter, reference: TokenSigner) -> None:
    claims = reference.read(token_of(minter.manage_url("acme", "sub_1")), "manage")
    assert dict(claims.extra) == {}


def test_unsubscribe_url_carries_topic_channel_and_locale_in_the_token(
    minter: LinkMinter, reference: TokenSigner
) -> None:
    url = minter.unsubscribe_url("acme", "sub_1", topic="offers", channel="sms", locale="de")
    assert url.startswith(f"{BASE}/c/acme/unsubscribe?t=")
    claims = reference.read(token_of(url), "unsubscribe", center="acme")
    assert dict(claims.extra) == {"tp": "offers", "ch": "sms", "l": "de"}
    assert claims.topic == "offers"


def test_unsubscribe_url_without_topic_carries_neither_topic_nor_channel(
    minter: LinkMinter, reference: TokenSigner
) -> None:
    claims = reference.read(token_of(minter.unsubscribe_url("acme", "sub_1")), "unsubscribe")
    assert claims.topic is None and "ch" not in claims.extra


def test_a_link_of_one_scope_is_refused_by_the_other(minter: LinkMinter, reference: TokenSigner) -> None:
    with pytest.raises(TokenInvalid):
        reference.read(token_of(minter.manage_url("acme", "sub_1")), "unsubscribe")
    with pytest.raises(TokenInvalid):
        reference.read(token_of(minter.unsubscribe_url("acme", "sub_1")), "manage")


def test_a_link_of_another_center_is_refused(minter: LinkMinter, reference: TokenSigner) -> None:
    with pytest.raises(TokenInvalid):
        reference.read(token_of(minter.manage_url("acme", "sub_1")), "manage", center="other")


def test_the_center_id_is_escaped_in_the_path(minter: LinkMinter) -> None:
    url = minter.manage_url("a b/c?", "sub_1")
    assert url.startswith(f"{BASE}/c/a%20b%2Fc%3F/preferences?t=")


@pytest.mark.parametrize("topic", ["", 3])
def test_a_topic_must_be_a_non_empty_string(minter: LinkMinter, topic) -> None:
    with pytest.raises(ValueError):
        minter.unsubscribe_url("acme", "sub_1", topic=topic)


@pytest.mark.parametrize(
    "base, expected",
    [
        ("https://prefs.example.com/", "https://prefs.example.com"),
        ("https://example.com/prefs/", "https://example.com/prefs"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_the_base_url_loses_its_trailing_slash(base: str, expected: str) -> None:
    assert LinkMinter(base, SECRETS).manage_url("acme", "s").startswith(f"{expected}/c/acme/preferences?t=")


@pytest.mark.parametrize(
    "base", ["prefs.example.com", "ftp://example.com", "https://", "https://x.com/?a=1", "https://x.com/#f", "https://u:p@x.com"]
)
def test_a_base_url_that_cannot_prefix_a_link_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        LinkMinter(base, SECRETS)


def test_no_secret_no_minter() -> None:
    with pytest.raises(ValueError):
        LinkMinter(BASE, [])


# -- List-Unsubscribe (RFC 2369) and one-click (RFC 8058) -------------------------------------------------------


def test_headers_are_exactly_rfc_2369_and_8058(minter: LinkMinter, reference: TokenSigner) -> None:
    headers = minter.list_unsubscribe_headers("acme", "sub_1", topic="offers")
    assert list(headers) == ["List-Unsubscribe", "List-Unsubscribe-Post"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    uri = rf"https://prefs\.example\.com/c/acme/unsubscribe\?t=({TOKEN})"
    match = re.fullmatch(rf"<({uri})>", headers["List-Unsubscribe"])
    assert match, headers["List-Unsubscribe"]
    claims = reference.read(match.group(2), "unsubscribe", center="acme")
    assert (claims.subscriber, dict(claims.extra)) == ("sub_1", {"tp": "offers", "ch": "email"})


def test_headers_offer_the_lists_mailbox_after_the_https_uri(minter: LinkMinter) -> None:
    value = minter.list_unsubscribe_headers("acme", "sub_1", mailto="unsubscribe@example.com")["List-Unsubscribe"]
    assert re.fullmatch(rf"<https://prefs\.example\.com/c/acme/unsubscribe\?t={TOKEN}>, "
                        r"<mailto:unsubscribe@example\.com\?subject=unsubscribe>", value), value


def test_headers_without_topic_carry_no_topic(minter: LinkMinter, reference: TokenSigner) -> None:
    value = minter.list_unsubscribe_headers("acme", "sub_1")["List-Unsubscribe"]
    claims = reference.read(value[1:-1].split("?t=")[1], "unsubscribe")
    assert dict(claims.extra) == {"ch": "email"}
    value = minter.list_unsubscribe_headers("acme", "sub_1", channel=None)["List-Unsubscribe"]
    assert dict(reference.read(value[1:-1].split("?t=")[1], "unsubscribe").extra) == {}


def test_headers_may_carry_the_locale_of_the_page_a_browser_would_show(
    minter: LinkMinter, reference: TokenSigner
) -> None:
    value = minter.list_unsubscribe_headers("acme", "sub_1", topic="offers", locale="fr")["List-Unsubscribe"]
    claims = reference.read(value[1:-1].split("?t=")[1], "unsubscribe")
    assert dict(claims.extra) == {"tp": "offers", "ch": "email", "l": "fr"}


def test_nothing_in_the_headers_names_the_person(minter: LinkMinter, reference: TokenSigner) -> None:
    value = minter.list_unsubscribe_headers("acme", "sub_1", mailto="list@example.com")["List-Unsubscribe"]
    assert value.count("@") == 1 and "list@example.com" in value
    claims = reference.read(re.search(rf"\?t=({TOKEN})>", value).group(1), "unsubscribe")
    assert set(dict(claims.extra)) | {claims.center, claims.subscriber} == {"ch", "acme", "sub_1"}


@pytest.mark.parametrize(
    "address, uri",
    [
        ("list+unsub@example.com", "mailto:list+unsub@example.com?subject=unsubscribe"),
        ("mailto:u@example.com", "mailto:u@example.com?subject=unsubscribe"),
        ("a&b=c@example.com", "mailto:a%26b%3Dc@example.com?subject=unsubscribe"),
        ("a,b@example.com", "mailto:a%2Cb@example.com?subject=unsubscribe"),
        ("a?x#y%@example.com", "mailto:a%3Fx%23y%25@example.com?subject=unsubscribe"),
        ('"a.b"@example.com', "mailto:%22a.b%22@example.com?subject=unsubscribe"),
        ("ü@example.com", "mailto:%C3%BC@example.com?subject=unsubscribe"),
    ],
)
def test_mailto_is_escaped_per_rfc_6068(minter: LinkMinter, address: str, uri: str) -> None:
    value = minter.list_unsubscribe_headers("acme", "sub_1", mailto=address)["List-Unsubscribe"]
    assert value.endswith(f", <{uri}>")
    assert unquote(uri.split(":", 1)[1].split("?")[0]) == address.removeprefix("mailto:")


@pytest.mark.parametrize(
    "address", ["no-at-sign", "@example.com", "u@", "u@example.com\r\nBcc: x@y.z", "<u@example.com>", "u @x.com"]
)
def test_a_mailto_that_is_not_one_address_is_refused(minter: LinkMinter, address: str) -> None:
    with pytest.raises(ValueError, match="mailto"):
        minter.list_unsubscribe_headers("acme", "sub_1", mailto=address)


@pytest.mark.parametrize("base", ["http://prefs.example.com", "http://10.0.0.1:8000"])
def test_one_click_needs_https(base: str) -> None:
    minter = LinkMinter(base, SECRETS)
    assert minter.manage_url("acme", "sub_1").startswith(f"{base}/c/acme/preferences?t=")
    with pytest.raises(ValueError, match="https"):
        minter.list_unsubscribe_headers("acme", "sub_1")


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"])
def test_one_click_over_http_is_accepted_on_this_machine_only(base: str) -> None:
    value = LinkMinter(base, SECRETS).list_unsubscribe_headers("acme", "sub_1")["List-Unsubscribe"]
    assert value.startswith(f"<{base}/c/acme/unsubscribe?t=")
