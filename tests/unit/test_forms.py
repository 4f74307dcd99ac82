"""The preference form read into desired :class:`Preferences`, or refused with :class:`BadForm`.

Pure calls of :mod:`widget_server.web.forms` on the Maison Lumière example center:
``offers`` (email, sms, push; realtime, weekly, monthly; weekly by default),
``inspirations`` (email, post; weekly, monthly), ``orders`` (required) and ``loyalty``
(informational, no frequencies).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from widget_server.errors import BadForm, RepeatedField
from widget_server.preferences import OPTED_IN, OPTED_OUT, PENDING, UNKNOWN, Preferences, suppress_all
from widget_server.web.forms import desired_preferences, read_action, read_version

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
LATER = NOW + timedelta(days=3)


@pytest.fixture
def center(centers):
    return centers["maison-lumiere"]


def stored(**changes) -> Preferences:
    """A subscriber with some history: in to offers by email, out of inspirations by post."""
    base = Preferences(
        version=4,
        subscriptions={("offers", "email"): OPTED_IN, ("inspirations", "post"): OPTED_OUT},
        frequencies={"offers": "monthly"},
        interests=frozenset({"lighting"}),
    )
    return replace(base, **changes)


def read(center, current: Preferences, form: dict[str, list[str]], shown=None) -> Preferences:
    return desired_preferences(center, current, form, NOW, shown)


# --- ticking and unticking -----------------------------------------------------------


def test_a_ticked_box_opts_in(center) -> None:
    desired = read(center, Preferences(), {"s.offers.sms": ["on"]})
    assert desired.state("offers", "sms") == OPTED_IN


@pytest.mark.parametrize("before", [OPTED_IN, PENDING])
def test_an_unticked_box_opts_out_what_was_in_or_pending(center, before: str) -> None:
    desired = read(center, Preferences(subscriptions={("offers", "sms"): before}), {})
    assert desired.state("offers", "sms") == OPTED_OUT


def test_an_unticked_box_never_asked_about_stays_unknown(center) -> None:
    """Not ticking a box nobody asked about is not a refusal: reports keep the difference."""
    desired = read(center, Preferences(), {"s.offers.sms": ["on"]})
    assert desired.subscriptions == {("offers", "sms"): OPTED_IN}
    assert desired.state("loyalty", "push") == UNKNOWN


def test_an_opted_out_box_left_unticked_stays_opted_out(center) -> None:
    desired = read(center, stored(), {"s.offers.email": ["on"]})
    assert desired.state("inspirations", "post") == OPTED_OUT


def test_the_whole_form_saved_unchanged_gives_the_same_choices(center) -> None:
    """What the page shows, sent back untouched, must record nothing."""
    current = stored()
    form = {"s.offers.email": ["on"], "f.offers": ["monthly"], "i": ["lighting"], "pause": ["keep"]}
    assert read(center, current, form).same_choices(current)


def test_only_the_shown_topics_are_touched(center) -> None:
    """An embed showing only offers must not switch off inspirations, which it never showed."""
    current = Preferences(subscriptions={("inspirations", "email"): OPTED_IN, ("offers", "push"): OPTED_IN})
    desired = read(center, current, {"s.inspirations.post": ["on"]}, shown=("offers",))
    assert desired.subscriptions == {("inspirations", "email"): OPTED_IN, ("offers", "push"): OPTED_OUT}


def test_a_frequency_of_a_topic_not_shown_is_not_read(center) -> None:
    desired = read(center, stored(), {"f.inspirations": ["nonsense"]}, shown=("offers",))
    assert "inspirations" not in desired.frequencies


def test_a_required_topic_is_left_as_stored(center) -> None:
    """Required topics are shown, never switched: a missing box does not opt out."""
    current = Preferences(subscriptions={("orders", "email"): OPTED_IN})
    assert read(center, current, {}).state("orders", "email") == OPTED_IN
    assert read(center, Preferences(), {"s.orders.sms": ["on"]}).state("orders", "sms") == UNKNOWN


@pytest.mark.parametrize("field", [
    "s.atelier.email",  # no such topic
    "s.offers.post",  # a channel offers does not offer
    "s.offers.fax",  # no such channel at all
    "f.atelier",  # frequency of no such topic
    "f.loyalty",  # a topic without frequencies
])
def test_fields_for_what_the_center_does_not_offer_are_ignored(center, field: str) -> None:
    """The form reads only the fields of the topics it offers: a stale or stray one changes
    nothing. It is not refused either, whatever the module docstring says of "anything"."""
    current = stored(interests=frozenset())
    assert read(center, current, {"s.offers.email": ["on"], field: ["weekly"]}).same_choices(current)


# --- frequencies, interests, pause --------------------------------------------------


def test_a_chosen_frequency_is_kept(center) -> None:
    desired = read(center, Preferences(), {"f.inspirations": ["weekly"]})
    assert desired.frequencies == {"inspirations": "weekly"}


def test_the_default_frequency_is_not_stored_as_a_choice(center) -> None:
    """Left at the default, a topic follows the center's default if it changes later."""
    desired = read(center, Preferences(), {"f.offers": ["weekly"]})
    assert desired.frequencies == {}


def test_a_frequency_changes_from_one_choice_to_another(center) -> None:
    assert read(center, stored(), {"f.offers": ["realtime"]}).frequencies == {"offers": "realtime"}


def test_a_missing_frequency_field_keeps_the_stored_one(center) -> None:
    assert read(center, stored(), {}).frequencies == {"offers": "monthly"}


def test_interests_are_the_ticked_ones(center) -> None:
    desired = read(center, stored(), {"i": ["garden", "kids"]})
    assert desired.interests == frozenset({"garden", "kids"})


def test_no_interest_ticked_clears_them(center) -> None:
    assert read(center, stored(), {}).interests == frozenset()


def test_pause_keep_leaves_the_pause_as_it_is(center) -> None:
    current = stored(paused_until=LATER)
    assert read(center, current, {"pause": ["keep"]}).paused_until == LATER
    assert read(center, current, {}).paused_until == LATER


def test_pause_zero_ends_the_pause(center) -> None:
    assert read(center, stored(paused_until=LATER), {"pause": ["0"]}).paused_until is None


@pytest.mark.parametrize("days", [7, 30, 90])
def test_pause_for_some_days_counts_from_now(center, days: int) -> None:
    desired = read(center, stored(paused_until=LATER), {"pause": [str(days)]})
    assert desired.paused_until == NOW + timedelta(days=days)


@pytest.mark.parametrize("form", [
    {"f.offers": ["realtime", "monthly"]},
    {"pause": ["bogus", "7"]},
    {"pause": ["7", "7"]},  # even the same value twice: a form never sends it so
    {"action": ["save", "unsubscribe_all"]},
])
def test_a_repeated_single_valued_field_is_refused(center, form: dict[str, list[str]]) -> None:
    """Which copy to believe is not ours to guess: a 400, whichever came first."""
    with pytest.raises(RepeatedField):
        read(center, Preferences(), form)


def test_a_repeated_version_is_refused() -> None:
    with pytest.raises(RepeatedField):
        read_version({"version": ["3", "3"]})


# --- suppression and "unsubscribe from everything" ---------------------------------


def test_unsubscribe_all_suppresses_whatever_is_ticked(center) -> None:
    current = stored()
    form = {"action": ["unsubscribe_all"], "s.offers.sms": ["on"], "i": ["garden"]}
    assert read(center, current, form) == suppress_all(center, current)


def test_unsubscribe_all_ignores_which_topics_are_shown(center) -> None:
    """"Unsubscribe from everything" still means everything, even from a narrowed embed."""
    desired = read(center, stored(), {"action": ["unsubscribe_all"]}, shown=("offers",))
    assert desired.state("inspirations", "email") == OPTED_OUT
    assert desired.suppressed


def test_ticking_a_box_after_suppression_is_a_comeback(center) -> None:
    current = suppress_all(center, Preferences())
    assert not read(center, current, {"s.loyalty.email": ["on"]}).suppressed


def test_saving_nothing_ticked_keeps_the_suppression(center) -> None:
    current = suppress_all(center, Preferences())
    assert read(center, current, {"i": ["garden"]}).suppressed


@pytest.mark.parametrize("key", [
    ("orders", "email"),  # e.g. a topic made required in the center file after it was opted in to
    ("atelier", "email"),  # a topic since removed from the center file
])
def test_an_opt_in_nobody_ticked_does_not_lift_the_suppression(center, key: tuple[str, str]) -> None:
    """Only ticking a box is a comeback; suppress_all leaves these opt-ins as they are,
    so counting them lifts the suppression at the next save of anything."""
    current = suppress_all(center, Preferences(subscriptions={key: OPTED_IN}))
    assert read(center, current, {"i": ["garden"]}).suppressed


# --- what is refused ----------------------------------------------------------------


@pytest.mark.parametrize("form", [
    {"f.offers": ["daily"]},  # a frequency the center knows, but offers does not offer
    {"f.inspirations": ["realtime"]},  # offered by another topic only
    {"f.offers": ["hourly"]},  # no such frequency
    {"f.offers": [""]},
    {"i": ["garden", "beach"]},  # beach is Voyago's interest
    {"i": ["Garden"]},
    {"pause": ["14"]},  # not one of the choices
    {"pause": ["-7"]},
    {"pause": ["7.0"]},
    {"pause": [" 7"]},
    {"pause": ["forever"]},
    {"pause": [""]},
    {"action": ["delete"]},
    {"action": [""]},
])
def test_a_value_we_cannot_honour_is_refused_and_nothing_changes(center, form: dict[str, list[str]]) -> None:
    current = stored(paused_until=LATER)
    before = copy.deepcopy(current)
    with pytest.raises(BadForm):
        read(center, current, {"s.offers.sms": ["on"], **form})
    assert current == before


def test_a_superscript_pause_is_refused_as_a_bad_form(center) -> None:
    """A forged pause value must be a 422, not a 500."""
    with pytest.raises(BadForm):
        read(center, stored(), {"pause": ["²"]})


def test_a_good_form_leaves_the_stored_preferences_untouched(center) -> None:
    """The desired state is a new object: the stored one may still be compared with it."""
    current = stored()
    before = copy.deepcopy(current)
    read(center, current, {"s.offers.sms": ["on"], "f.offers": ["realtime"], "i": ["garden"], "pause": ["7"]})
    assert current == before


# --- version and action -------------------------------------------------------------


@pytest.mark.parametrize(("values", "version"), [(["0"], 0), (["12"], 12)])
def test_the_version_is_the_number_the_form_carries(values: list[str], version: int) -> None:
    assert read_version({"version": values}) == version


@pytest.mark.parametrize("values", [[], [""], ["abc"], ["-1"], ["1.5"], ["0x10"], ["5", "x"]])
def test_a_missing_or_malformed_version_is_refused(values: list[str]) -> None:
    """Without the version it was made from, a form could overwrite a newer choice."""
    with pytest.raises(BadForm):
        read_version({"version": values})


def test_a_form_without_a_version_field_is_refused() -> None:
    with pytest.raises(BadForm):
        read_version({})


def test_the_action_is_save_unless_told_otherwise() -> None:
    assert read_action({}) == "save"
    assert read_action({"action": ["unsubscribe_all"]}) == "unsubscribe_all"
