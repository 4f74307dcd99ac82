"""Center files: the examples load, and every mistake is reported as ``file:key.path: message``.

Each broken fixture in ``tests/fixtures/centers/`` differs from ``valid.toml`` by one
mistake (its first line says which), so each must produce exactly one problem.
"""

from __future__ import annotations

import shutil
import types
from pathlib import Path

import pytest

import widget_server.centers as centers
from widget_server.centers import (
    CenterFileError,
    Problem,
    check_paths,
    load_center,
    load_centers,
)
from widget_server.centers.special_categories import find_special_categories

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "centers"
FIXTURES = ROOT / "tests" / "fixtures" / "centers"


def problems_in(name: str, **options) -> list[Problem]:
    return check_paths([str(FIXTURES / name)], **options)


def write_center(folder: Path, name: str, replacements: dict[str, str]) -> Path:
    """A copy of valid.toml with some text replaced, for one-off variations."""
    text = (FIXTURES / "valid.toml").read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the examples ------------------------------------------------------------------


def test_examples_load_without_problems():
    assert check_paths([str(EXAMPLES)]) == []
    loaded = load_centers(EXAMPLES)
    assert set(loaded) == {"maison-lumiere", "voyago"}


def test_maison_lumiere_matches_its_brief():
    center = load_center(EXAMPLES / "maison-lumiere.toml")
    assert (center.default_locale, center.locales) == ("fr", ("fr", "en"))
    assert [(t.id, t.kind) for t in center.topics] == [
        ("offers", "marketing"),
        ("inspirations", "marketing"),
        ("partners", "marketing"),
        ("orders", "required"),
        ("loyalty", "informational"),
    ]
    offers = center.topic("offers")
    assert offers.channels == ("email", "sms", "push")
    assert offers.frequencies == ("realtime", "weekly", "monthly")
    assert offers.default_frequency == "weekly"
    assert 6 <= len(center.interests) <= 8
    assert "http://127.0.0.1:8001" in center.allowed_origins
    assert center.center_text("title", "en") == "Your communication preferences"
    assert center.source == str(EXAMPLES / "maison-lumiere.toml")


def test_voyago_matches_its_brief():
    center = load_center(EXAMPLES / "voyago.toml")
    assert (center.default_locale, center.locales) == ("en", ("en", "de", "es", "fr", "it", "nl", "pt", "pl", "ar"))
    assert center.topic("deals").channels == ("email", "sms", "push", "phone")
    assert center.topic("deals").frequencies == ("realtime", "daily", "weekly")
    assert center.topic("bookings").kind == "required"
    assert not center.topic("bookings").switchable
    assert center.text(center.topic("trip-alerts").label, "es") == "Avisos sobre tu viaje"
    assert center.text(center.topic("trip-alerts").label, "ar") == "تنبيهات الرحلة"
    assert center.text(center.topic("trip-alerts").label, "ja") == "Trip alerts"  # not offered: the default


def test_loaded_center_is_read_only():
    center = load_center(EXAMPLES / "voyago.toml")
    with pytest.raises(TypeError):
        center.topics[0].label["en"] = "changed"  # type: ignore[index]
    with pytest.raises(TypeError):
        center.wording["en"]["title"] = "changed"  # type: ignore[index]


def test_valid_fixture_loads_with_defaults_for_optional_parts():
    center = load_center(FIXTURES / "valid.toml")
    assert center.theme == centers.Theme()
    assert center.topic("orders").frequencies == ()
    assert center.topic("orders").default_frequency is None
    assert center.wording["fr"].get("privacy_url") is None


# --- one mistake, one line ---------------------------------------------------------

ONE_MISTAKE = [
    ("syntax-error.toml", "-", "TOML syntax error at line 4, column 8"),
    ("missing-key.toml", "center.name", "missing required key 'name'; add name ="),
    ("unknown-key.toml", "topics[0].descripton",
     "unknown key 'descripton' (did you mean 'description'?)"),
    ("wrong-type.toml", "center.notice_version",
     "expected a string, got a date; put the value in quotes"),
    ("bad-id.toml", "topics[0].id",
     "'Offers & Deals' is not a valid id; use 1 to 63 lower-case letters"),
    ("duplicate-topic-ids.toml", "topics[1].id",
     "duplicate topic id 'offers' (already used at topics[0].id)"),
    ("duplicate-interest-ids.toml", "interests[1].id", "duplicate interest id 'garden'"),
    ("unknown-channel.toml", "topics[0].channels[1]",
     "unknown channel 'mail' (did you mean 'email'?); use one of: email, sms, push, post, phone"),
    ("unknown-frequency.toml", "topics[0].frequencies[1]",
     "unknown frequency 'fortnightly'; use one of: realtime, daily, weekly, monthly"),
    ("unknown-kind.toml", "topics[1].kind",
     "unknown kind 'transactional' (did you mean 'required'?)"),
    ("default-frequency-not-offered.toml", "topics[0].default_frequency",
     "'daily' is not one of this topic's frequencies (weekly, monthly)"),
    ("missing-default-frequency.toml", "topics[0].default_frequency",
     "this topic offers frequencies, so set default_frequency"),
    ("frequencies-on-required.toml", "topics[1].frequencies",
     "a required topic cannot offer frequencies"),
    ("default-locale-not-listed.toml", "center.default_locale",
     "'de' is not in center.locales (en, fr)"),
    ("locale-not-shipped.toml", "center.locales[2]", "the interface is not translated into 'sw'"),
    ("malformed-locale.toml", "center.locales[1]", "'fr_FR' is not a locale code; write 'fr-FR'"),
    ("missing-translation.toml", "topics[0].label.fr", "missing the 'fr' translation; add fr ="),
    ("extra-translation.toml", "interests[0].label.de", "'de' is not in center.locales"),
    ("low-contrast-theme.toml", "theme.primary_text", "has a contrast of 1.92:1; WCAG AA needs 4.5:1"),
    ("bad-origin.toml", "center.allowed_origins[0]",
     "'https://Shop.example/' is not an origin; write scheme://host[:port] with no path and "
     "no trailing slash, e.g. 'https://shop.example'"),
    ("bad-privacy-url.toml", "center.text.en.privacy_url", "is not a web address"),
    ("bad-theme-colour.toml", "theme.primary", "'blue' is not a colour; write #rgb or #rrggbb"),
    ("bad-theme-radius.toml", "theme.radius", "'48px' is too large"),
    ("bad-theme-spacing.toml", "theme.spacing", "'2px' is out of bounds; keep it within 8 to 32px"),
    ("bad-theme-font.toml", "theme.font", "contains ';'"),
    ("no-switchable-topic.toml", "topics", "no topic can be switched on or off"),
    ("special-category.toml", "interests[1]", "may reveal health data"),
]


@pytest.mark.parametrize(
    ("fixture", "key_path", "fragment"), ONE_MISTAKE, ids=[m[0] for m in ONE_MISTAKE]
)
def test_each_mistake_is_one_line_naming_file_and_key(fixture, key_path, fragment):
    problems = problems_in(fixture)
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = problems[0]
    assert (problem.file, problem.key_path) == (str(FIXTURES / fixture), key_path)
    assert fragment in problem.message
    assert str(problem) == f"{FIXTURES / fixture}:{key_path}: {problem.message}"


def test_every_broken_fixture_is_covered():
    tested = {fixture for fixture, _, _ in ONE_MISTAKE}
    broken = {p.name for p in FIXTURES.glob("*.toml")} - {"valid.toml", "many-problems.toml"}
    assert broken == tested


def test_load_center_raises_with_the_same_lines():
    with pytest.raises(CenterFileError) as caught:
        load_center(FIXTURES / "unknown-channel.toml")
    assert caught.value.problems == problems_in("unknown-channel.toml")
    assert str(caught.value) == str(caught.value.problems[0])


def test_all_problems_are_reported_at_once():
    problems = problems_in("many-problems.toml")
    assert [p.key_path for p in problems] == [
        "center.default_locale",
        "center.allowed_origins[0]",
        "topics[0].chanels",
        "topics[0].channels",
        "topics[1].kind",
        "interests[0].label.fr",
    ]
    assert "unknown key 'chanels' (did you mean 'channels'?)" in problems[2].message
    with pytest.raises(CenterFileError) as caught:
        load_center(FIXTURES / "many-problems.toml")
    assert len(str(caught.value).splitlines()) == len(problems)


def test_an_interest_may_share_its_id_with_a_topic():
    problems = problems_in("duplicate-interest-ids.toml")
    assert [p.key_path for p in problems] == ["interests[1].id"]  # not interests[2], 'offers'


def test_shipped_locales_are_the_callers_choice():
    assert problems_in("locale-not-shipped.toml", shipped_locales={"en", "fr", "sw"}) == []
    center = load_center(FIXTURES / "locale-not-shipped.toml", shipped_locales={"en", "fr", "sw"})
    assert center.locales == ("en", "fr", "sw")


def test_a_regional_locale_uses_its_language_interface(tmp_path):
    path = write_center(tmp_path, "regional.toml", {
        '"en", "fr"]': '"en", "fr-CA"]',
        "[center.text.fr]": "[center.text.fr-CA]",
        'fr = "Offres"': '"fr-CA" = "Offres"',
        'fr = "Suivi de commande"': '"fr-CA" = "Suivi de commande"',
        'fr = "Jardin"': '"fr-CA" = "Jardin"',
    })
    assert check_paths([str(path)]) == []


@pytest.mark.parametrize(("source", "expected"), [
    ("notice_version = 3", "expected a string, got a number"),
    ("locales = \"en\"", "expected a list of strings, got a string"),
])
def test_wrong_types_are_problems_not_exceptions(tmp_path, source, expected):
    key = source.split(" = ")[0]
    original = {"notice_version": 'notice_version = "1"', "locales": 'locales = ["en", "fr"]'}[key]
    path = write_center(tmp_path, "typed.toml", {original: source})
    problems = check_paths([str(path)])
    assert [p.key_path for p in problems] == [f"center.{key}"]
    assert expected in problems[0].message


def test_topics_written_as_a_single_table(tmp_path):
    valid = (FIXTURES / "valid.toml").read_text(encoding="utf-8")
    center_part = valid.split("[[topics]]")[0]
    path = tmp_path / "single.toml"
    path.write_text(center_part + '[topics]\nid = "offers"\n', encoding="utf-8")
    problems = check_paths([str(path)])
    assert [p.key_path for p in problems] == ["topics"]
    assert "expected an array of tables, got a table" in problems[0].message


def test_unreadable_files_are_problems(tmp_path):
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[center]\nname = "Lumière"\n'.encode("latin-1"))
    missing = tmp_path / "missing.toml"
    problems = check_paths([str(latin1), str(missing)])
    assert [(p.file, p.key_path) for p in problems] == [(str(latin1), "-"), (str(missing), "-")]
    assert "UTF-8" in problems[0].message
    assert "no such file" in problems[1].message


# --- folders -----------------------------------------------------------------------


def test_duplicate_center_ids_in_a_folder():
    folder = FIXTURES / "duplicate-ids"
    problems = check_paths([str(folder)])
    assert [str(p) for p in problems] == [
        f"{folder / 'b.toml'}:center.id: center id 'fixture' is already used by "
        f"{folder / 'a.toml'}; give each center its own id"
    ]
    with pytest.raises(CenterFileError):
        load_centers(folder)


def test_load_centers_reports_problems_of_every_file(tmp_path):
    for name in ("unknown-kind.toml", "bad-origin.toml", "valid.toml"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a center")
    (tmp_path / "nested").mkdir()
    shutil.copy(FIXTURES / "syntax-error.toml", tmp_path / "nested" / "ignored.toml")
    with pytest.raises(CenterFileError) as caught:
        load_centers(tmp_path)
    assert [(Path(p.file).name, p.key_path) for p in caught.value.problems] == [
        ("bad-origin.toml", "center.allowed_origins[0]"),  # files in sorted order
        ("unknown-kind.toml", "topics[1].kind"),
    ]


def test_load_centers_accepts_a_single_file():
    assert list(load_centers(FIXTURES / "valid.toml")) == ["fixture"]


def test_an_empty_folder_is_a_problem(tmp_path):
    problems = check_paths([str(tmp_path)])
    assert [(p.file, p.key_path) for p in problems] == [(str(tmp_path), "-")]
    assert "no center files" in problems[0].message


def test_check_paths_does_not_compare_ids_across_paths(tmp_path):
    copy = tmp_path / "valid.toml"
    shutil.copy(FIXTURES / "valid.toml", copy)
    assert check_paths([str(FIXTURES / "valid.toml"), str(copy)]) == []


# --- special categories ------------------------------------------------------------


@pytest.mark.parametrize(("wording", "category"), [
    ("Health & Beauty", "health"),
    ("Santé et beauté", "health"),
    ("Sante", "health"),
    ("SANTÉ", "health"),
    ("Gesundheit & Wellness", "health"),
    ("Kindergesundheit", "health"),
    ("Salud y belleza", "health"),
    ("Salute e benessere", "health"),
    ("Gezondheid", "health"),
    ("Saúde", "health"),
    ("Zdrowie i uroda", "health"),
    ("Mode de grossesse", "health"),
    ("Maternity wear", "health"),
    ("Religious holidays", "religion"),
    ("Voyages religieux", "religion"),
    ("Pilgerreisen der Kirche", "religion"),
    ("Halal food", "religion"),
    ("Political news", "politics"),
    ("Actualité politique", "politics"),
    ("Politische Bildung", "politics"),
    ("Origine ethnique", "ethnic_origin"),
    ("LGBTQ+ travel", "sex_life"),
    ("Orientación sexual", "sex_life"),
    ("Trade-union members", "trade_union"),
    ("Offres syndicales", "trade_union"),
    ("Gewerkschaftsmitglieder", "trade_union"),
    ("Związek zawodowy", "trade_union"),
    ("Genetic testing", "genetic"),
    ("Test génétique", "genetic"),
    ("Fingerprint login", "biometric"),
    ("Reconnaissance faciale", "biometric"),
])
def test_special_category_words_in_several_languages(wording, category):
    assert category in {hit.category for hit in find_special_categories(wording)}


@pytest.mark.parametrize("wording", [
    "Wealth management",
    "Unhealthy habits to break",
    "Christmas gifts",
    "Hospitality awards",
    "These messages are essential, so they cannot be disabled",
    "Voir notre politique de confidentialité",
    "Consulta nuestra política de privacidad",
    "Race day running shoes",
    "It's in our brand DNA",
    "Schwarztee und Spirituosen",
    "European Union shipping",
    "Unisex sneakers",
    "Selection of the week",
])
def test_no_special_category_in_innocent_wording(wording):
    assert find_special_categories(wording) == []


def test_the_examples_wording_is_innocent():
    for path in EXAMPLES.glob("*.toml"):
        center = load_center(path)
        for item in (*center.topics, *center.interests):
            texts = [item.id, *item.label.values(), *getattr(item, "description", {}).values()]
            assert not item.special_category_reviewed
            assert [find_special_categories(t) for t in texts if find_special_categories(t)] == []


def test_special_category_message_names_category_and_fix():
    (problem,) = problems_in("special-category.toml")
    assert "health data" in problem.message
    assert "GDPR Art. 9" in problem.message
    assert "'Health' in label.en" in problem.message
    assert "'Santé' in label.fr" in problem.message
    assert "special_category_reviewed = true" in problem.message


def test_reviewed_flag_silences_special_categories(tmp_path):
    path = write_center(tmp_path, "topic.toml", {'en = "Offers"': 'en = "Health offers"'})
    assert [p.key_path for p in check_paths([str(path)])] == ["topics[0]"]
    reviewed = write_center(tmp_path, "reviewed.toml", {
        'en = "Offers"': 'en = "Health offers"',
        'default_frequency = "weekly"':
            'default_frequency = "weekly"\nspecial_category_reviewed = true',
    })
    assert check_paths([str(reviewed)]) == []
    assert load_center(reviewed).topics[0].special_category_reviewed is True


def test_special_categories_in_ids_and_descriptions(tmp_path):
    path = write_center(tmp_path, "ids.toml", {
        'id = "garden"': 'id = "mental_health"',
        'fr = "Offres"\n':
            'fr = "Offres"\n[topics.description]\nen = "Deals"\n'
            'fr = "Idées de voyages religieux"\n',
    })
    problems = check_paths([str(path)])
    assert [(p.key_path, "'religieux' in description.fr" in p.message) for p in problems] == [
        ("topics[0]", True),
        ("interests[0]", False),
    ]
    assert problems[1].message.startswith("interest 'mental_health' may reveal health data")
    assert "(found 'health' in id)" in problems[1].message


# --- the package surface -----------------------------------------------------------


def test_public_names_are_exactly_all():
    assert centers.__all__ == sorted(centers.__all__)
    public = {
        name for name, value in vars(centers).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(centers.__all__)


def test_the_default_theme_and_the_examples_are_readable_in_light_and_dark():
    from widget_server.centers import Theme
    from widget_server.web.contrast import contrast_problems

    assert list(contrast_problems(Theme().colours())) == []
    for name in ("maison-lumiere.toml", "voyago.toml"):
        assert list(contrast_problems(load_center(EXAMPLES / name).theme.colours())) == []


# --- the kiosk and the call center -------------------------------------------------

KIOSK_AND_SCRIPT = """
[kiosk]
idle_seconds = IDLE

[call_center]
script_version = "2026-11-01"
allowed_origins = ["ORIGIN"]

[call_center.script]
en = "Do you agree that we record these choices on your behalf?"
fr = "Acceptez-vous que nous enregistrions ces choix en votre nom ?"
"""


def with_kiosk(folder: Path, *, region: str = "GB", idle: str = "60", origin: str = "https://crm.example.com",
               script_locales: str = "") -> Path:
    path = write_center(folder, "kiosk.toml", {'[center.text.en]': f'phone_region = "{region}"\n\n[center.text.en]'})
    extra = KIOSK_AND_SCRIPT.replace("IDLE", idle).replace("ORIGIN", origin) + script_locales
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def test_kiosk_and_call_center_settings_load(tmp_path):
    center = load_center(with_kiosk(tmp_path, idle="90"))
    assert (center.phone_region, center.kiosk_idle_seconds) == ("GB", 90)
    assert center.call_center.script_version == "2026-11-01"
    assert center.call_center.allowed_origins == ("https://crm.example.com",)
    assert center.text(center.call_center.script, "en").startswith("Do you agree")


def test_without_them_the_kiosk_idles_a_minute_and_agents_cannot_save():
    center = load_center(FIXTURES / "valid.toml")
    assert (center.phone_region, center.kiosk_idle_seconds, center.call_center) == (None, 60, None)


@pytest.mark.parametrize(("options", "key_path", "fragment"), [
    ({"region": "France"}, "center.phone_region", "two-letter ISO 3166"),
    ({"region": "fr"}, "center.phone_region", "in capitals"),
    ({"idle": "5"}, "kiosk.idle_seconds", "between 20 and 600"),
    ({"idle": '"60"'}, "kiosk.idle_seconds", "expected a whole number"),
    ({"origin": "https://crm.example.com/"}, "call_center.allowed_origins[0]", "trailing"),
    ({"script_locales": 'xx = "?"\n'}, "call_center.script.xx", "not in center.locales"),
])
def test_kiosk_and_call_center_mistakes_name_their_key(tmp_path, options, key_path, fragment):
    problems = check_paths([str(with_kiosk(tmp_path, **options))])
    assert [(p.key_path, fragment in p.message) for p in problems] == [(key_path, True)], problems
