"""The pending rule and the bases, in the one place every surface goes through
(``choosing.apply``), on Maison Lumière's regions: EU and default confirm e-mail (double
opt-in), Canada allows a soft opt-in for 2 years after a purchase, the US e-mail is opt-out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from widget_server.choosing import Choices, Requested, Rules, apply
from widget_server.errors import InvalidValues
from widget_server.preferences import EXPIRED, OPTED_IN, OPTED_OUT, PENDING, Basis, Preferences, diff

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
RULES = Rules(now=NOW)


@pytest.fixture
def center(centers):
    return centers["maison-lumiere"]


def opt_in(center, country, topic="offers", channel="email", rules=RULES, current=None):
    current = current or Preferences(country=country)
    return apply(center, current, Choices(subscriptions={topic: {channel: OPTED_IN}}), rules=rules)


@pytest.mark.parametrize(("country", "state"), [("FR", PENDING), ("DE", PENDING), (None, PENDING),
                                                ("CA", OPTED_IN), ("US", OPTED_IN)])
def test_the_same_opt_in_follows_each_region(center, country, state) -> None:
    prefs = opt_in(center, country)
    assert prefs.state("offers", "email") == state
    if state == PENDING:  # consent asked now, waiting pending_days for its confirmation
        assert prefs.basis("offers", "email") == Basis("consent", NOW, NOW + timedelta(days=7))
    else:
        assert prefs.basis("offers", "email") == Basis("consent", NOW, None)


def test_a_topic_s_own_double_opt_in_applies_everywhere(center) -> None:
    assert opt_in(center, "US", "inspirations").state("inspirations", "email") == PENDING
    assert opt_in(center, "US", "inspirations", "post").state("inspirations", "post") == OPTED_IN


def test_an_address_proven_by_this_write_needs_no_confirmation(center) -> None:
    proven = Rules(now=NOW, confirmed=frozenset({"email"}))
    assert opt_in(center, "FR", rules=proven).state("offers", "email") == OPTED_IN


def test_an_import_without_its_double_opt_in_option_records_the_opt_in(center) -> None:
    assert opt_in(center, "FR", rules=Rules(now=NOW, pending=False)).state("offers", "email") == OPTED_IN


def test_opted_in_stays_and_pending_keeps_its_deadline(center) -> None:
    confirmed = Basis("consent", NOW - timedelta(days=40))
    current = Preferences(subscriptions={("offers", "email"): OPTED_IN}, bases={("offers", "email"): confirmed})
    assert diff(current, opt_in(center, "FR", current=current)) == []
    waiting = Basis("consent", NOW - timedelta(days=2), NOW + timedelta(days=5))
    current = Preferences(subscriptions={("offers", "email"): PENDING}, bases={("offers", "email"): waiting})
    assert opt_in(center, "FR", current=current).basis("offers", "email") == waiting


def test_the_country_given_with_the_choice_picks_the_rules(center) -> None:
    prefs = apply(center, Preferences(), Choices(subscriptions={"offers": {"email": OPTED_IN}}, country="CA"),
                  rules=RULES)
    assert (prefs.country, prefs.state("offers", "email")) == ("CA", OPTED_IN)
    with pytest.raises(InvalidValues) as refused:
        apply(center, Preferences(), Choices(country="ca"), rules=RULES)
    assert refused.value.extra["errors"] == [{"path": "country", "message": "write country codes in capitals: 'CA'"}]


def test_a_named_basis_gets_the_region_s_lifetime_or_a_422(center) -> None:
    purchase = NOW - timedelta(days=100)
    choices = Choices(subscriptions={"offers": {"email": OPTED_IN}},
                      bases={"offers": {"email": Requested("soft_opt_in", "purchase", purchase)}})
    prefs = apply(center, Preferences(country="CA"), choices, rules=RULES)
    assert prefs.basis("offers", "email") == Basis("soft_opt_in", purchase, purchase + timedelta(days=730), "purchase")
    with pytest.raises(InvalidValues) as refused:
        apply(center, Preferences(country="FR"), choices, rules=RULES)
    [error] = refused.value.extra["errors"]
    assert error["path"] == "subscriptions.offers.email.legal_basis" and "soft_opt_in" in error["message"]


def test_no_choice_sets_expired_and_an_opt_out_keeps_the_basis_withdrawn(center) -> None:
    with pytest.raises(InvalidValues) as refused:
        apply(center, Preferences(), Choices(subscriptions={"offers": {"email": EXPIRED}}), rules=RULES)
    assert refused.value.extra["errors"][0]["path"] == "subscriptions.offers.email"
    basis = Basis("soft_opt_in", NOW - timedelta(days=9), NOW + timedelta(days=700), "purchase")
    current = Preferences(subscriptions={("offers", "email"): OPTED_IN}, bases={("offers", "email"): basis})
    out = apply(center, current, Choices(subscriptions={"offers": {"email": OPTED_OUT}}), rules=RULES)
    assert out.basis("offers", "email") == Basis("soft_opt_in", NOW, None, "purchase")


def test_opting_in_again_after_an_expiry_starts_afresh(center) -> None:
    ended = Basis("soft_opt_in", NOW - timedelta(days=800), NOW - timedelta(days=70), "purchase")
    current = Preferences(country="CA", subscriptions={("offers", "email"): EXPIRED},
                          bases={("offers", "email"): ended})
    prefs = opt_in(center, "CA", current=current)
    assert (prefs.state("offers", "email"), prefs.basis("offers", "email")) == (OPTED_IN, Basis("consent", NOW))
