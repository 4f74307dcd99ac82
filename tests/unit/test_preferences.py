"""What a subscriber chose, and what an event records of a change: ``Preferences``,
``suppress_all`` and ``diff``, called directly on the Maison Lumière example center."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from widget_server.ledger import Change
from widget_server.preferences import OPTED_IN, OPTED_OUT, PENDING, UNKNOWN, Preferences, diff, suppress_all

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def center(centers):
    return centers["maison-lumiere"]


# --- Preferences --------------------------------------------------------------------


def test_a_subscription_never_stored_is_unknown() -> None:
    prefs = Preferences(subscriptions={("offers", "email"): OPTED_OUT})
    assert prefs.state("offers", "sms") == UNKNOWN
    assert not prefs.opted_in("offers", "email")


@pytest.mark.parametrize("state", [OPTED_OUT, PENDING, UNKNOWN])
def test_only_opted_in_counts_as_opted_in(state: str) -> None:
    """Pending is awaiting confirmation: not yet a yes."""
    assert not Preferences(subscriptions={("offers", "email"): state}).opted_in("offers", "email")
    assert Preferences(subscriptions={("offers", "email"): OPTED_IN}).opted_in("offers", "email")


def test_the_frequency_is_the_choice_else_the_topic_default(center) -> None:
    assert Preferences(frequencies={"offers": "monthly"}).frequency(center, "offers") == "monthly"
    assert Preferences().frequency(center, "offers") == "weekly"


def test_a_frequency_the_topic_no_longer_offers_falls_back_to_the_default(center) -> None:
    """A center file may drop a frequency; a stored choice of it then reads as the default."""
    assert Preferences(frequencies={"offers": "daily"}).frequency(center, "offers") == "weekly"


@pytest.mark.parametrize("topic", ["loyalty", "orders", "atelier"])
def test_a_topic_without_frequencies_has_none(center, topic: str) -> None:
    assert Preferences(frequencies={topic: "weekly"}).frequency(center, topic) is None


def test_a_pause_lasts_until_its_end_and_not_at_it() -> None:
    prefs = Preferences(paused_until=NOW)
    assert prefs.paused(NOW - timedelta(seconds=1))
    assert not prefs.paused(NOW)
    assert not Preferences().paused(NOW)


def test_same_choices_ignores_only_the_version() -> None:
    prefs = Preferences(version=3, interests=frozenset({"garden"}))
    assert prefs.same_choices(Preferences(version=9, interests=frozenset({"garden"})))
    assert not prefs.same_choices(Preferences(version=3, interests=frozenset({"kids"})))


# --- suppress_all -------------------------------------------------------------------


def test_suppress_all_opts_out_every_switchable_channel_even_never_asked(center) -> None:
    """Staying off is the point: a channel left unknown could later be taken as "not refused"."""
    suppressed = suppress_all(center, Preferences(subscriptions={("offers", "email"): OPTED_IN}))
    assert suppressed.subscriptions == {
        ("offers", "email"): OPTED_OUT, ("offers", "sms"): OPTED_OUT, ("offers", "push"): OPTED_OUT,
        ("inspirations", "email"): OPTED_OUT, ("inspirations", "post"): OPTED_OUT,
        ("partners", "email"): OPTED_OUT, ("loyalty", "email"): OPTED_OUT, ("loyalty", "push"): OPTED_OUT,
    }
    assert suppressed.suppressed


def test_suppress_all_leaves_required_topics_alone(center) -> None:
    """Order updates are transactional: "unsubscribe from everything" does not reach them."""
    suppressed = suppress_all(center, Preferences(subscriptions={("orders", "email"): OPTED_IN}))
    assert suppressed.state("orders", "email") == OPTED_IN
    assert suppressed.state("orders", "sms") == UNKNOWN


def test_suppress_all_keeps_everything_else(center) -> None:
    prefs = Preferences(version=7, frequencies={"offers": "monthly"}, interests=frozenset({"garden"}),
                        paused_until=NOW)
    suppressed = suppress_all(center, prefs)
    assert (suppressed.version, suppressed.frequencies, suppressed.interests, suppressed.paused_until) == (
        7, {"offers": "monthly"}, frozenset({"garden"}), NOW)


def test_suppress_all_does_not_touch_its_input(center) -> None:
    prefs = Preferences(subscriptions={("offers", "email"): OPTED_IN})
    before = copy.deepcopy(prefs)
    suppress_all(center, prefs)
    assert prefs == before


def test_suppressing_twice_is_suppressing_once(center) -> None:
    once = suppress_all(center, Preferences())
    assert suppress_all(center, once) == once
    assert diff(once, suppress_all(center, once)) == []


# --- diff ---------------------------------------------------------------------------


def test_no_change_is_an_empty_diff() -> None:
    """An empty diff means "nothing to record": no event, no webhook."""
    prefs = Preferences(subscriptions={("offers", "email"): OPTED_IN}, frequencies={"offers": "monthly"},
                        interests=frozenset({"garden"}), paused_until=NOW, suppressed=True)
    assert diff(prefs, copy.deepcopy(prefs)) == []


def test_a_new_version_alone_is_no_change() -> None:
    assert diff(Preferences(version=1), Preferences(version=2)) == []


def test_an_explicit_unknown_is_the_same_as_none_stored() -> None:
    assert diff(Preferences(), Preferences(subscriptions={("offers", "email"): UNKNOWN})) == []


def test_subscribing_records_from_unknown_to_opted_in() -> None:
    after = Preferences(subscriptions={("offers", "email"): OPTED_IN})
    assert diff(Preferences(), after) == [Change("offers.email", UNKNOWN, OPTED_IN)]


def test_unsubscribing_records_what_it_was_before() -> None:
    """Saying no to something never asked is not withdrawing a yes: reports tell them apart."""
    out = Preferences(subscriptions={("offers", "email"): OPTED_OUT})
    was_in = Preferences(subscriptions={("offers", "email"): OPTED_IN})
    assert diff(Preferences(), out) == [Change("offers.email", UNKNOWN, OPTED_OUT)]
    assert diff(was_in, out) == [Change("offers.email", OPTED_IN, OPTED_OUT)]


def test_a_confirmed_double_opt_in_records_from_pending() -> None:
    before = Preferences(subscriptions={("offers", "email"): PENDING})
    after = Preferences(subscriptions={("offers", "email"): OPTED_IN})
    assert diff(before, after) == [Change("offers.email", PENDING, OPTED_IN)]


def test_a_frequency_change_records_the_stored_choices() -> None:
    assert diff(Preferences(), Preferences(frequencies={"offers": "monthly"})) == [
        Change("frequency.offers", None, "monthly")]
    assert diff(Preferences(frequencies={"offers": "monthly"}), Preferences(frequencies={"offers": "realtime"})) == [
        Change("frequency.offers", "monthly", "realtime")]


def test_interests_are_recorded_as_sorted_lists() -> None:
    """Sorted, so the same change always hashes the same in the event chain."""
    before = Preferences(interests=frozenset({"lighting", "garden"}))
    after = Preferences(interests=frozenset({"linen", "kids", "garden"}))
    assert diff(before, after) == [Change("interests", ["garden", "lighting"], ["garden", "kids", "linen"])]


def test_a_pause_is_recorded_as_iso_times_to_the_second() -> None:
    until = NOW + timedelta(days=30, microseconds=123)
    assert diff(Preferences(), Preferences(paused_until=until)) == [
        Change("pause", None, "2026-12-31T09:30:00+00:00")]
    assert diff(Preferences(paused_until=until), Preferences()) == [
        Change("pause", "2026-12-31T09:30:00+00:00", None)]


def test_suppression_is_recorded_both_ways() -> None:
    assert diff(Preferences(), Preferences(suppressed=True)) == [Change("suppression", False, True)]
    assert diff(Preferences(suppressed=True), Preferences()) == [Change("suppression", True, False)]


def test_the_changes_come_in_a_stable_order() -> None:
    """Subscriptions by topic then channel, frequencies by topic, then interests, pause,
    suppression: the same change lists the same way, whatever order the dicts were built in."""
    before = Preferences()
    after = Preferences(
        subscriptions={("offers", "sms"): OPTED_IN, ("inspirations", "post"): OPTED_OUT,
                       ("offers", "email"): OPTED_IN},
        frequencies={"offers": "monthly", "inspirations": "weekly"},
        interests=frozenset({"garden"}), paused_until=NOW, suppressed=True,
    )
    shuffled = Preferences(
        subscriptions=dict(reversed(list(after.subscriptions.items()))),
        frequencies=dict(reversed(list(after.frequencies.items()))),
        interests=after.interests, paused_until=NOW, suppressed=True,
    )
    paths = ["inspirations.post", "offers.email", "offers.sms", "frequency.inspirations", "frequency.offers",
             "interests", "pause", "suppression"]
    assert [c.path for c in diff(before, after)] == paths
    assert diff(before, shuffled) == diff(before, after)


def test_suppress_all_diffs_as_every_switchable_channel_then_suppression(center) -> None:
    changes = diff(Preferences(), suppress_all(center, Preferences()))
    assert [c.path for c in changes] == [
        "inspirations.email", "inspirations.post", "loyalty.email", "loyalty.push",
        "offers.email", "offers.push", "offers.sms", "partners.email", "suppression",
    ]
    assert {(c.before, c.after) for c in changes[:-1]} == {(UNKNOWN, OPTED_OUT)}
