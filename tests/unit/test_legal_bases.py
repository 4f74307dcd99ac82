"""The legal basis a subscription gets (widget_server.legal_bases), on regions built in code:
the lifetime of the subscriber's region, for the reason where the law names one."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

import pytest

from widget_server.centers.model import ChannelRule, Consent, Region
from widget_server.legal_bases import BasisNotAllowed, basis_for, pending_basis
from widget_server.preferences import OPTED_IN, OPTED_OUT, Basis, Preferences, diff, settle_bases

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
CASL = ChannelRule(bases=("consent", "soft_opt_in"), remind_days_before=30, lifetime_days=MappingProxyType(
    {"soft_opt_in.purchase": 730, "soft_opt_in.inquiry": 183}))


@pytest.fixture
def center(centers):
    regions = (Region("CA", MappingProxyType({"email": CASL})), Region("default"))
    return replace(centers["maison-lumiere"], consent=Consent(pending_days=5, regions=regions))


def test_an_express_consent_lasts_until_withdrawn(center) -> None:
    assert basis_for(center, "CA", "offers", "email", since=NOW) == Basis("consent", NOW, None)


@pytest.mark.parametrize(("reason", "days"), [("purchase", 730), ("inquiry", 183)])
def test_an_implied_consent_lasts_as_its_reason_says(center, reason, days) -> None:
    basis = basis_for(center, "CA", "offers", "email", "soft_opt_in", reason, since=NOW)
    assert basis == Basis("soft_opt_in", NOW, NOW + timedelta(days=days), reason)


def test_a_basis_the_region_does_not_allow_is_refused(center) -> None:
    with pytest.raises(BasisNotAllowed, match=r"\(allowed: consent\)$"):
        basis_for(center, "FR", "offers", "email", "soft_opt_in", "purchase", since=NOW)


def test_a_pending_opt_in_waits_the_center_s_pending_days(center) -> None:
    assert pending_basis(center, NOW) == Basis("consent", NOW, NOW + timedelta(days=5))


def test_an_opt_out_keeps_the_basis_withdrawn_and_the_change_says_so() -> None:
    basis = Basis("soft_opt_in", NOW - timedelta(days=9), NOW + timedelta(days=700), "purchase")
    current = Preferences(subscriptions={("offers", "email"): OPTED_IN}, bases={("offers", "email"): basis})
    desired = settle_bases(current, replace(current, subscriptions={("offers", "email"): OPTED_OUT}), NOW)
    assert desired.bases[("offers", "email")] == Basis("soft_opt_in", NOW, None, "purchase")
    (change,) = diff(current, desired)
    assert change.as_dict()["basis"] == {"legal_basis": "soft_opt_in", "since": "2026-12-04T09:00:00.000Z",
                                         "until": None, "reason": "purchase"}
