"""The consent part of a center file: ``[consent]``, ``[regions.CODE.CHANNEL]``, region notices and a
topic's ``double_opt_in`` / ``shares_personal_data``: loaded into the model, and every mistake
reported as ``file:key.path: message``."""

from __future__ import annotations

from pathlib import Path

import pytest

from widget_server.centers import check_paths, load_center
from widget_server.regions import needs_confirmation, rule_for

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests" / "fixtures" / "centers" / "valid.toml"

RULES = '''
[consent]
pending_days = 3
ask_country = true

[regions.default.email]
opt_in = "required"
double_opt_in = true

[regions.CA.email]
bases = ["consent", "soft_opt_in"]
lifetime_days = { consent = 3650, soft_opt_in = { purchase = 730, inquiry = 183 } }
remind_days_before = 30

[regions.US.email]
opt_in = "opt_out"
bases = ["consent", "legitimate_interest"]

[regions.US.text.en]
notice = "You can opt out at any time."
[regions.US.text.fr]
notice = "Vous pouvez vous désinscrire à tout moment."
'''


def center_file(tmp_path: Path, extra: str = RULES, replace: dict[str, str] | None = None) -> Path:
    text = VALID.read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "center.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def problems(tmp_path: Path, extra: str = RULES, replace: dict[str, str] | None = None) -> list[str]:
    path = center_file(tmp_path, extra, replace)
    return [f"{p.key_path}: {p.message}" for p in check_paths([str(path)])]


def test_the_rules_load_into_the_model(tmp_path) -> None:
    center = load_center(center_file(tmp_path, replace={'channels = ["email", "sms"]':
                                                        'channels = ["email", "sms"]\ndouble_opt_in = ["email"]\n'
                                                        'shares_personal_data = true'}))
    assert (center.consent.pending_days, center.consent.ask_country) == (3, True)
    assert [r.code for r in center.consent.regions] == ["default", "CA", "US"]
    canada = rule_for(center, "CA", "email")
    assert canada.bases == ("consent", "soft_opt_in") and canada.remind_days_before == 30
    assert (canada.lifetime("soft_opt_in", "purchase"), canada.lifetime("soft_opt_in", "inquiry")) == (730, 183)
    assert canada.lifetime("consent") == 3650 and canada.opt_in_required and not canada.double_opt_in
    us = rule_for(center, "US", "email")
    assert not us.opt_in_required and us.bases == ("consent", "legitimate_interest")
    assert rule_for(center, "FR", "email").double_opt_in  # the default region's
    topic = center.topics[0]
    assert topic.double_opt_in == ("email",) and topic.shares_personal_data
    # The topic's own double opt-in, even where the region asks none (the US: opt-out suffices).
    assert needs_confirmation(center, "US", topic.id, "email") and not needs_confirmation(center, "US", topic.id, "sms")
    assert center.consent.regions[2].text["fr"]["notice"].startswith("Vous pouvez")


def test_without_rules_a_center_has_the_defaults(tmp_path) -> None:
    center = load_center(center_file(tmp_path, extra=""))
    assert center.consent.regions == () and center.consent.pending_days == 7
    assert rule_for(center, "US", "email").opt_in_required


@pytest.mark.parametrize(("extra", "expected"), [
    ('[regions.XY.email]\nopt_in = "required"\n', "regions.XY: unknown region 'XY'"),
    ('[regions.ca.email]\nopt_in = "required"\n', "regions.ca: write region codes in capitals"),
    ('[regions.Default.email]\nopt_in = "required"\n', "regions.Default: unknown region 'Default' (did you mean"),
    ('[regions.FR.fax]\nopt_in = "required"\n', "regions.FR.fax: no topic offers the channel 'fax'"),
    ('[regions.FR.push]\nopt_in = "required"\n', "regions.FR.push: no topic offers the channel 'push'"),
    ('[regions.FR.email]\nopt_in = "optout"\n', "regions.FR.email.opt_in: unknown mode 'optout' (did you mean "
                                                "'opt_out'?)"),
    ('[regions.FR.email]\nopt_in = true\n', "regions.FR.email.opt_in: expected a string"),
    ('[regions.FR.email]\nbases = ["consent", "consnet"]\n', "regions.FR.email.bases[1]: unknown legal basis "
                                                             "'consnet' (did you mean 'consent'?)"),
    ('[regions.FR.email]\nbases = []\n', "regions.FR.email.bases: lists no basis"),
    ('[regions.US.email]\nopt_in = "opt_out"\n', "regions.US.email.bases: opt_in = \"opt_out\" needs a basis"),
    ('[regions.US.email]\nopt_in = "opt_out"\nbases = ["legitimate_interest"]\ndouble_opt_in = true\n',
     "regions.US.email.double_opt_in: a double opt-in confirms an opt-in"),
    ('[regions.CA.email]\nlifetime_days = { soft_opt_in = 730 }\n',
     "regions.CA.email.lifetime_days.soft_opt_in: a lifetime for 'soft_opt_in', which this rule does not allow"),
    ('[regions.CA.email]\nlifetime_days = { consent = 0 }\n',
     "regions.CA.email.lifetime_days.consent: must be between 1 and 3650 days, not 0"),
    ('[regions.CA.email]\nbases = ["soft_opt_in"]\nlifetime_days = { soft_opt_in = { purchase = "2y" } }\n',
     "regions.CA.email.lifetime_days.soft_opt_in.purchase: expected a whole number of days"),
    ('[regions.CA.email]\nremind_days_before = 30\n', "regions.CA.email.remind_days_before: nothing here expires"),
    ('[regions.CA.email]\nlifetime_days = { consent = 30 }\nremind_days_before = -1\n',
     "regions.CA.email.remind_days_before: must be a positive number of days, not -1"),
    ('[regions.CA.email]\nlifetime_days = { consent = 3000 }\nremind_days_before = 400\n',
     "regions.CA.email.remind_days_before: at most 365 days before the end, not 400"),
    ('[regions.CA.email]\nopt_inn = "required"\n', "regions.CA.email.opt_inn: unknown key 'opt_inn' (did you mean "
                                                  "'opt_in'?)"),
    ('[regions.CA.text.en]\nnotice = "Hi"\n', "regions.CA.text.fr: missing the 'fr' notice"),
    ('[regions.CA.text.en]\nnotice = "Hi"\n[regions.CA.text.fr]\nnotice = "Salut"\n[regions.CA.text.de]\n'
     'notice = "Hallo"\n', "regions.CA.text.de: 'de' is not in center.locales"),
    ('[regions.CA.text.en]\nnotic = "Hi"\n', "regions.CA.text.en.notic: unknown key 'notic'"),
    ("[consent]\npending_days = 0\n", "consent.pending_days: must be between 1 and 90 days, not 0"),
    ('[regions.default.sms]\ndouble_opt_in = true\n', "regions.default.sms.double_opt_in: a double opt-in on 'sms' "
                                                         "could never be confirmed"),
    ('[consent]\nask_country = "yes"\n', "consent.ask_country: expected true or false"),
    ("[regions]\nCA = 3\n", "regions.CA: expected a table"),
])
def test_each_mistake_is_named_where_it_is(tmp_path, extra, expected) -> None:
    found = problems(tmp_path, extra)
    assert any(p.startswith(expected) for p in found), found


def test_a_topic_s_double_opt_in_names_its_own_channels(tmp_path) -> None:
    found = problems(tmp_path, "", {'channels = ["email", "sms"]': 'channels = ["email", "sms"]\n'
                                                                   'double_opt_in = ["emial"]'})
    assert found == ["topics[0].double_opt_in[0]: this topic is not offered on 'emial' (did you mean 'email'?); "
                     "list some of: email, sms"]
    sms = problems(tmp_path, "", {'channels = ["email", "sms"]': 'channels = ["email", "sms"]\n'
                                                                 'double_opt_in = ["email", "sms"]'})
    assert sms == ["topics[0].double_opt_in[1]: a double opt-in on 'sms' could never be confirmed (confirmations are "
                   "mailed links, so only e-mail opt-ins can wait for one); remove it"]


def test_the_rules_themselves_are_valid(tmp_path) -> None:
    assert problems(tmp_path) == []
