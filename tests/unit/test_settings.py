"""Settings: one declaration, read from the environment, documented in the README."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT
from widget_server.settings import (
    SETTINGS,
    Settings,
    SettingsError,
    settings_from_env,
    settings_to_env,
)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [f"WIDGET_{f.name.upper()}" for f in SETTINGS if f"`WIDGET_{f.name.upper()}`" not in readme]
    assert not missing, f"document these settings in the README's settings table: {missing}"


def test_every_setting_has_help_text() -> None:
    assert all(f.metadata.get("help") for f in SETTINGS)


def test_environment_then_options() -> None:
    settings = settings_from_env(
        {"WIDGET_PORT": "9000", "WIDGET_SECRET_KEYS": "new, old", "WIDGET_SMTP_STARTTLS": "yes"}, host="0.0.0.0"
    )
    assert settings.port == 9000 and settings.host == "0.0.0.0"
    assert settings.secret_keys == ("new", "old") and settings.smtp_starttls is True
    assert settings_from_env({"WIDGET_PORT": "9000"}, port=8001).port == 8001


def test_round_trip_through_the_environment_for_worker_processes() -> None:
    settings = Settings(secret_keys=("a", "b"), port=8123, smtp_starttls=True)
    assert settings_from_env(settings_to_env(settings)) == settings


def test_a_bad_number_says_which_variable() -> None:
    with pytest.raises(SettingsError, match="WIDGET_PORT"):
        settings_from_env({"WIDGET_PORT": "eighty"})


def test_secrets_never_appear_in_the_repr() -> None:
    text = repr(Settings(secret_keys=("s3cret",), smtp_password="pw123", lookup_key="lk999"))
    assert "s3cret" not in text and "pw123" not in text and "lk999" not in text
