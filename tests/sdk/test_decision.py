"""can_contact: every rule of docs/API.md, and which one wins when several apply."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from preference_sdk._decision import REASONS, can_contact
from preference_sdk._models import CenterInfo, Decision, LegalBasis, Preferences

AT = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)

# As GET /api/v1/centers/{center} answers it: the server builds CenterInfo the same way.
CENTER = CenterInfo.from_json({
    "id": "acme", "name": "Acme", "locales": ["en"], "default_locale": "en", "notice_version": "2026-03",
    "topics": [
        {"id": "offers", "kind": "marketing", "channels": ["email", "sms"],
         "frequencies": ["realtime", "daily", "weekly", "monthly"], "default_frequency": "realtime"},
        {"id": "digest", "kind": "marketing", "channels": ["email"],
         "frequencies": ["weekly", "monthly"], "default_frequency": "weekly"},
        {"id": "news", "kind": "informational", "channels": ["email", "push"]},
        {"id": "orders", "kind": "required", "channels": ["email", "sms"],
         "frequencies": ["realtime", "daily"], "default_frequency": "realtime"},
        {"id": "novel", "kind": "sponsored", "channels": ["email"]},
    ],
    "interests": [],
    "consent": {"pending_days": 7, "ask_country": True, "regions": [
        {"code": "US", "countries": [], "channels": {
            "email": {"opt_in": "opt_out", "bases": ["consent", "legitimate_interest"]},
            "sms": {"opt_in": "required", "bases": ["consent"]}}},
        {"code": "EU", "countries": ["DE", "FR"], "channels": {"email": {"opt_in": "required", "double_opt_in": True}}},
        {"code": "CA", "countries": [], "channels": {"email": {"opt_in": "required",
                                                               "bases": ["consent", "soft_opt_in"]}}},
        {"code": "default", "countries": [], "channels": {"email": {"opt_in": "required"}}},
    ]},
})


def prefs(
    subscriptions: dict | None = None, *, suppressed: bool = False, paused_until: datetime | None = None,
    frequencies: dict | None = None, center: str = "acme", country: str | None = None,
    legal_bases: dict | None = None,
) -> Preferences:
    return Preferences(
        subscriber_id="sub_1", center=center, version=1, subscriptions=subscriptions or {},
        frequencies=frequencies or {}, paused_until=paused_until, suppressed=suppressed, country=country,
        legal_bases=legal_bases or {},
    )


def implied(until: datetime) -> dict:
    """A Canadian soft opt-in after a purchase, ending at ``until``."""
    return {"offers": {"email": LegalBasis("soft_opt_in", until - timedelta(days=730), until, "purchase")}}


def ask(p: Preferences, topic: str, channel: str = "email", **options) -> tuple[bool, str, str | None]:
    decision = can_contact(p, CENTER, topic, channel, **{"at": AT, **options})
    assert isinstance(decision, Decision) and bool(decision) is decision.allowed
    return decision.allowed, decision.reason, decision.frequency


IN, OUT, PENDING, UNKNOWN, EXPIRED = "opted_in", "opted_out", "pending", "unknown", "expired"
PAUSED = AT + timedelta(days=3)

# (preferences, topic, channel, digest, expected): one row per rule and per precedence.
TABLE = [
    # 1. not offered: whatever else holds
    (prefs({"offers": {"email": IN}}), "nope", "email", False, (False, "not_offered", None)),
    (prefs({"offers": {"push": IN}}), "offers", "push", False, (False, "not_offered", None)),
    (prefs(), "orders", "push", False, (False, "not_offered", None)),
    (prefs(suppressed=True), "news", "sms", False, (False, "not_offered", None)),
    # 2. required: yes, even when suppressed, paused or opted out, and never waits for a digest
    (prefs(), "orders", "email", False, (True, "required", "realtime")),
    (prefs({"orders": {"sms": OUT}}, suppressed=True), "orders", "sms", False, (True, "required", "realtime")),
    (prefs(paused_until=PAUSED), "orders", "email", False, (True, "required", "realtime")),
    (prefs(frequencies={"orders": "daily"}), "orders", "email", False, (True, "required", "daily")),
    # 3. suppressed beats an opt-in; paused beats an opt-in; suppressed is said before paused
    (prefs({"offers": {"email": IN}}, suppressed=True), "offers", "email", False, (False, "suppressed", "realtime")),
    (prefs({"news": {"email": IN}}, suppressed=True), "news", "email", False, (False, "suppressed", None)),
    (prefs({"offers": {"email": IN}}, paused_until=PAUSED), "offers", "email", False, (False, "paused", "realtime")),
    (prefs(paused_until=PAUSED), "news", "email", False, (False, "paused", None)),
    (prefs({"offers": {"email": IN}}, suppressed=True, paused_until=PAUSED), "offers", "email", False,
     (False, "suppressed", "realtime")),
    # 3 before 4: a pause is reported even without consent
    (prefs({"offers": {"email": OUT}}, paused_until=PAUSED), "offers", "email", False, (False, "paused", "realtime")),
    # 4. marketing: only opted_in
    (prefs({"offers": {"email": IN}}), "offers", "email", False, (True, "opted_in", "realtime")),
    (prefs({"offers": {"email": OUT}}), "offers", "email", False, (False, "no_consent", "realtime")),
    (prefs({"offers": {"email": PENDING}}), "offers", "email", False, (False, "no_consent", "realtime")),
    (prefs({"offers": {"email": UNKNOWN}}), "offers", "email", False, (False, "no_consent", "realtime")),
    (prefs({"offers": {"sms": IN}}), "offers", "email", False, (False, "no_consent", "realtime")),
    # a kind this SDK does not know needs consent like marketing
    (prefs(), "novel", "email", False, (False, "no_consent", None)),
    (prefs({"novel": {"email": IN}}), "novel", "email", False, (True, "opted_in", None)),
    # 4. informational: yes unless opted out or pending
    (prefs(), "news", "email", False, (True, "not_opted_out", None)),
    (prefs({"news": {"email": UNKNOWN}}), "news", "push", False, (True, "not_opted_out", None)),
    (prefs({"news": {"email": IN}}), "news", "email", False, (True, "opted_in", None)),
    (prefs({"news": {"email": OUT}}), "news", "email", False, (False, "opted_out", None)),
    (prefs({"news": {"email": PENDING}}), "news", "email", False, (False, "pending", None)),
    (prefs({"news": {"email": OUT}}), "news", "push", False, (True, "not_opted_out", None)),
    # 5. a digest frequency waits for the digest; a digest send goes
    (prefs({"offers": {"email": IN}}, frequencies={"offers": "weekly"}), "offers", "email", False,
     (False, "wait_for_digest", "weekly")),
    (prefs({"offers": {"email": IN}}, frequencies={"offers": "daily"}), "offers", "email", False,
     (False, "wait_for_digest", "daily")),
    (prefs({"offers": {"email": IN}}, frequencies={"offers": "monthly"}), "offers", "email", True,
     (True, "opted_in", "monthly")),
    (prefs({"offers": {"email": IN}}, frequencies={"offers": "realtime"}), "offers", "email", True,
     (True, "opted_in", "realtime")),
    (prefs({"digest": {"email": IN}}), "digest", "email", False, (False, "wait_for_digest", "weekly")),
    (prefs({"digest": {"email": IN}}), "digest", "email", True, (True, "opted_in", "weekly")),
    # a frequency the topic does not offer falls back to the topic's default
    (prefs({"offers": {"email": IN}}, frequencies={"offers": "hourly"}), "offers", "email", False,
     (True, "opted_in", "realtime")),
    (prefs({"digest": {"email": IN}}, frequencies={"digest": "realtime"}), "digest", "email", False,
     (False, "wait_for_digest", "weekly")),
    # 4. an expired basis: recorded as expired, or opted in past its until (before the server's worker ran)
    (prefs({"offers": {"email": EXPIRED}}), "offers", "email", False, (False, "expired", "realtime")),
    (prefs({"news": {"email": EXPIRED}}), "news", "email", False, (False, "expired", None)),
    (prefs({"offers": {"email": IN}}, legal_bases=implied(AT), country="CA"), "offers", "email", False,
     (False, "expired", "realtime")),
    (prefs({"offers": {"email": IN}}, legal_bases=implied(AT + timedelta(seconds=1)), country="CA"), "offers",
     "email", False, (True, "opted_in", "realtime")),
    # 4. a basis the region of where the person is now does not allow (a Canadian who moved to France, to
    # the US); consent holds everywhere
    (prefs({"offers": {"email": IN}}, legal_bases=implied(AT + timedelta(days=9)), country="FR"), "offers",
     "email", False, (False, "basis_not_allowed", "realtime")),
    (prefs({"offers": {"email": IN}}, legal_bases=implied(AT + timedelta(days=9)), country="US"), "offers",
     "email", False, (False, "basis_not_allowed", "realtime")),
    (prefs({"offers": {"email": IN}}, legal_bases={"offers": {"email": LegalBasis("consent", AT, None)}},
           country="US"), "offers", "email", False, (True, "opted_in", "realtime")),
    # 4. an opt-out region: never asked is usable on e-mail in the US, not on SMS, not in France
    (prefs(country="US"), "offers", "email", False, (True, "opt_out_region", "realtime")),
    (prefs(country="US"), "offers", "sms", False, (False, "no_consent", "realtime")),
    (prefs(country="FR"), "offers", "email", False, (False, "no_consent", "realtime")),
    (prefs({"offers": {"email": OUT}}, country="US"), "offers", "email", False, (False, "no_consent", "realtime")),
    (prefs({"offers": {"email": EXPIRED}}, country="US"), "offers", "email", False, (False, "expired", "realtime")),
    (prefs(country="US", suppressed=True), "offers", "email", False, (False, "suppressed", "realtime")),
    (prefs(country="US"), "digest", "email", False, (False, "wait_for_digest", "weekly")),
    # 4 before 5: no consent is said before "wait for the digest"
    (prefs({"digest": {"email": OUT}}), "digest", "email", False, (False, "no_consent", "weekly")),
    (prefs({"digest": {"email": IN}}, suppressed=True), "digest", "email", False, (False, "suppressed", "weekly")),
]


@pytest.mark.parametrize("preferences, topic, channel, digest, expected", TABLE)
def test_the_decision_table(preferences: Preferences, topic: str, channel: str, digest: bool, expected: tuple) -> None:
    assert ask(preferences, topic, channel, digest=digest) == expected


def test_the_table_gives_every_documented_reason() -> None:
    # ``erased`` is the server's answer alone (tests/integration/test_api.py): a synced copy deletes them.
    assert {row[-1][1] for row in TABLE} == set(REASONS) - {"erased"}


def test_an_allowed_send_names_the_basis_it_relies_on() -> None:
    assert can_contact(prefs(country="US"), CENTER, "offers", "email", at=AT).legal_basis == "legitimate_interest"
    soft = prefs({"offers": {"email": IN}}, legal_bases=implied(AT + timedelta(days=9)), country="CA")
    assert can_contact(soft, CENTER, "offers", "email", at=AT).legal_basis == "soft_opt_in"
    assert can_contact(prefs(country="FR"), CENTER, "offers", "email", at=AT).legal_basis is None


def test_a_region_is_the_country_s_then_its_group_s_then_default() -> None:
    assert CENTER.region_for("US").code == "US" and CENTER.region_for("fr").code == "EU"
    assert CENTER.region_for("BR").code == "default" and CENTER.region_for(None).code == "default"
    assert CENTER.rule_for("FR", "sms").opt_in_required  # no rule anywhere: opt-in, by consent


def test_a_pause_ends_at_its_instant() -> None:
    paused = prefs({"offers": {"email": IN}}, paused_until=AT)
    assert ask(paused, "offers", at=AT - timedelta(microseconds=1))[:2] == (False, "paused")
    assert ask(paused, "offers", at=AT)[:2] == (True, "opted_in")
    assert ask(paused, "offers", at=AT + timedelta(days=1))[:2] == (True, "opted_in")


def test_a_pause_is_one_instant_in_every_zone() -> None:
    paris = timezone(timedelta(hours=1))
    paused = prefs({"offers": {"email": IN}}, paused_until=datetime(2026, 11, 23, 15, 0, tzinfo=paris))  # 14:00Z
    assert ask(paused, "offers", at=datetime(2026, 11, 23, 13, 59, tzinfo=timezone.utc))[1] == "paused"
    assert ask(paused, "offers", at=datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=-5))))[1] == "opted_in"


def test_at_defaults_to_now() -> None:
    now = datetime.now(timezone.utc)
    later = prefs({"offers": {"email": IN}}, paused_until=now + timedelta(hours=1))
    earlier = prefs({"offers": {"email": IN}}, paused_until=now - timedelta(seconds=1))
    assert can_contact(later, CENTER, "offers", "email").reason == "paused"
    assert can_contact(earlier, CENTER, "offers", "email").reason == "opted_in"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        can_contact(prefs(), CENTER, "orders", "email", at=datetime(2026, 11, 23, 14, 0))
    with pytest.raises(ValueError, match="paused_until"):
        can_contact(prefs(paused_until=datetime(2026, 11, 30)), CENTER, "offers", "email", at=AT)


def test_preferences_of_another_center_are_refused() -> None:
    with pytest.raises(ValueError, match="center"):
        can_contact(prefs(center="other"), CENTER, "offers", "email", at=AT)


def test_a_document_from_the_api_decides_like_a_built_one() -> None:
    document = {
        "subscriber_id": "sub_1", "center": "acme", "version": 3, "locale": "fr",
        "subscriptions": {"offers": {"email": "opted_in", "sms": "opted_out"}, "news": {"email": "unknown"}},
        "frequencies": {"offers": "weekly"}, "interests": [], "paused_until": "2026-11-23T15:00:00Z",
        "suppressed": False, "updated_at": "2026-11-23T14:03:11.201Z",
    }
    p = Preferences.from_json(document)
    assert ask(p, "offers", at=AT)[:2] == (False, "paused")
    assert ask(p, "offers", at=AT + timedelta(hours=1)) == (False, "wait_for_digest", "weekly")
    assert ask(p, "offers", at=AT + timedelta(hours=1), digest=True) == (True, "opted_in", "weekly")
    assert ask(p, "offers", "sms", at=AT + timedelta(hours=1))[:2] == (False, "no_consent")
    assert ask(p, "news", at=AT + timedelta(hours=1)) == (True, "not_opted_out", None)
