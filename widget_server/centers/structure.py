"""The shape of a center file: which keys exist, what type each holds, which are required.

This is the one declaration of the format's keys. :func:`check_structure` walks a
parsed TOML document against it and reports unknown keys (with a "did you mean"),
missing required keys and values of the wrong type, so the later checks in
:mod:`.validate` can trust the types of whatever they read and only judge meaning.

A finding is a ``(key_path, message)`` pair; the caller adds the file name.
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Finding = tuple[str, str]


@dataclass(frozen=True)
class Key:
    """One key of a table: the type of its value, whether it must be there, an example.

    ``kind`` is one of ``string``, ``strings`` (a list of strings), ``bool``, ``integer``,
    ``wording`` (a table of locale = text), ``table`` (checked against
    ``fields``), ``tables`` (an array of tables, each checked against ``fields``),
    ``per_locale`` (a table of locale = table, each checked against ``fields``),
    ``keyed`` (a table of name = value, each value checked against ``entry``, except the
    names in ``fields``, checked as those keys: ``[regions.CA.email]`` beside
    ``[regions.CA.text.en]``) or ``lifetimes`` (a table of basis = days, or basis = a
    table of reason = days).
    """

    kind: str
    required: bool = False
    example: str = ""
    fields: Mapping[str, Key] = field(default_factory=dict)
    entry: Key | None = None


CENTER_TEXT = {
    "title": Key("string", True, 'title = "Your communication preferences"'),
    "intro": Key("string", True, 'intro = "Choose what we send you, and how often."'),
    "privacy_url": Key("string", False, 'privacy_url = "https://www.example.com/privacy"'),
}

CENTER = {
    "id": Key("string", True, 'id = "my-brand"'),
    "name": Key("string", True, 'name = "My Brand"'),
    "default_locale": Key("string", True, 'default_locale = "en"'),
    "locales": Key("strings", True, 'locales = ["en", "fr"]'),
    "notice_version": Key("string", True, 'notice_version = "2026-11-01"'),
    "allowed_origins": Key("strings", False, 'allowed_origins = ["https://www.example.com"]'),
    "phone_region": Key("string", False, 'phone_region = "FR"'),
    "text": Key("per_locale", True, "[center.text.en] with title and intro", CENTER_TEXT),
}

THEME = {
    name: Key("string", False, f'{name} = "{example}"')
    for name, example in (
        ("primary", "#1f4fbf"),
        ("primary_text", "#ffffff"),
        ("background", "#ffffff"),
        ("text", "#1a1a1a"),
        ("radius", "8px"),
        ("spacing", "1rem"),
        ("font", "Georgia, serif"),
        ("dark_primary", "#8ab4f8"),
        ("dark_primary_text", "#0b1b33"),
        ("dark_background", "#121417"),
        ("dark_text", "#eceff1"),
    )
}

TOPIC = {
    "id": Key("string", True, 'id = "offers"'),
    "kind": Key("string", True, 'kind = "marketing"'),
    "channels": Key("strings", True, 'channels = ["email"]'),
    "frequencies": Key("strings", False, 'frequencies = ["weekly", "monthly"]'),
    "default_frequency": Key("string", False, 'default_frequency = "weekly"'),
    "special_category_reviewed": Key("bool", False, "special_category_reviewed = true"),
    "double_opt_in": Key("strings", False, 'double_opt_in = ["email"]'),
    "shares_personal_data": Key("bool", False, "shares_personal_data = true"),
    "label": Key("wording", True, '[topics.label] with one line per locale, en = "Offers"'),
    "description": Key("wording", False, '[topics.description] with en = "..."'),
}

INTEREST = {
    "id": Key("string", True, 'id = "garden"'),
    "special_category_reviewed": Key("bool", False, "special_category_reviewed = true"),
    "label": Key("wording", True, '[interests.label] with one line per locale, en = "Garden"'),
}

KIOSK = {
    "idle_seconds": Key("integer", False, "idle_seconds = 60"),
}

CALL_CENTER = {
    "script_version": Key("string", True, 'script_version = "2026-11-01"'),
    "script": Key("wording", True, '[call_center.script] with one line per locale, en = "..."'),
    "allowed_origins": Key("strings", False, 'allowed_origins = ["https://crm.example.com"]'),
}

CONSENT = {
    "pending_days": Key("integer", False, "pending_days = 7"),
    "ask_country": Key("bool", False, "ask_country = true"),
}

CHANNEL_RULE = {
    "opt_in": Key("string", False, 'opt_in = "required"'),
    "double_opt_in": Key("bool", False, "double_opt_in = true"),
    "bases": Key("strings", False, 'bases = ["consent", "soft_opt_in"]'),
    "lifetime_days": Key("lifetimes", False, "lifetime_days = { soft_opt_in = { purchase = 730 } }"),
    "remind_days_before": Key("integer", False, "remind_days_before = 30"),
}

REGION_TEXT = {
    "notice": Key("string", True, 'notice = "..."'),
}

REGION = Key("keyed", False, "[regions.CA.email] with opt_in, bases...", {
    "text": Key("per_locale", False, '[regions.CA.text.en] with notice = "..."', REGION_TEXT),
}, entry=Key("table", False, '[regions.CA.email] with opt_in = "required"', CHANNEL_RULE))

DOCUMENT = {
    "center": Key("table", True, "[center] with id, name, locales...", CENTER),
    "theme": Key("table", False, "[theme]", THEME),
    "topics": Key("tables", True, "[[topics]] with id, kind, channels and label", TOPIC),
    "interests": Key("tables", False, "[[interests]] with id and label", INTEREST),
    "kiosk": Key("table", False, "[kiosk] with idle_seconds", KIOSK),
    "call_center": Key("table", False, "[call_center] with script_version and a script", CALL_CENTER),
    "consent": Key("table", False, "[consent] with pending_days", CONSENT),
    "regions": Key("keyed", False, "[regions.CA.email] with opt_in = \"required\"", entry=REGION),
}

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def check_structure(document: Mapping[str, Any]) -> Iterator[Finding]:
    """Unknown keys, missing required keys and wrong types, anywhere in the file."""
    yield from _check_table(document, DOCUMENT, "")


def join(path: str, key: str | int) -> str:
    """``topics`` + 2 -> ``topics[2]``; ``center`` + ``id`` -> ``center.id``.

    Keys that TOML would need to quote are quoted, so the path can be read back.
    """
    if isinstance(key, int):
        return f"{path}[{key}]"
    name = key if _BARE_KEY.match(key) else '"' + key.replace('"', '\\"') + '"'
    return f"{path}.{name}" if path else name


def describe(value: object) -> str:
    """What a TOML value is, in the words a person editing the file would use."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime.datetime):
        return "a date-time"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, datetime.time):
        return "a time"
    return type(value).__name__


def _check_table(
    table: Mapping[str, Any], schema: Mapping[str, Key], path: str
) -> Iterator[Finding]:
    for name in table:
        if name not in schema:
            yield join(path, name), _unknown_key(name, schema)
    for name, key in schema.items():
        if name in table:
            yield from _check_value(table[name], key, join(path, name))
        elif key.required:
            yield join(path, name), f"missing required key '{name}'; add {key.example}"


def _unknown_key(name: str, schema: Mapping[str, Key]) -> str:
    close = difflib.get_close_matches(name, list(schema), n=1)
    if close:
        return f"unknown key '{name}' (did you mean '{close[0]}'?)"
    return f"unknown key '{name}'; remove it (known keys here: {', '.join(schema)})"


def _check_value(value: Any, key: Key, path: str) -> Iterator[Finding]:
    if key.kind == "string":
        yield from _check_string(value, key, path)
    elif key.kind == "strings":
        yield from _check_strings(value, key, path)
    elif key.kind == "bool":
        if not isinstance(value, bool):
            yield path, _wrong_type("true or false", value, f"write {key.example} (no quotes)")
    elif key.kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            yield path, _wrong_type("a whole number", value, f"write {key.example} (no quotes)")
    elif key.kind == "wording":
        yield from _check_wording(value, key, path)
    elif key.kind == "table":
        if not isinstance(value, dict):
            yield path, _wrong_type("a table", value, f"write it as {key.example}")
        else:
            yield from _check_table(value, key.fields, path)
    elif key.kind == "tables":
        yield from _check_tables(value, key, path)
    elif key.kind == "per_locale":
        yield from _check_per_locale(value, key, path)
    elif key.kind == "keyed":
        yield from _check_keyed(value, key, path)
    elif key.kind == "lifetimes":
        yield from _check_lifetimes(value, key, path)
    else:  # pragma: no cover - a mistake in the schema above, not in a file
        raise ValueError(f"unknown key kind {key.kind!r}")


def _check_string(value: Any, key: Key, path: str) -> Iterator[Finding]:
    if not isinstance(value, str):
        scalar = not isinstance(value, (list, dict))
        fix = f"put the value in quotes, e.g. {key.example}" if scalar else f"write {key.example}"
        yield path, _wrong_type("a string", value, fix)
    elif not value.strip():
        or_remove = "" if key.required else " or remove the key"
        yield path, f"is empty; write {key.example}{or_remove}"


def _check_strings(value: Any, key: Key, path: str) -> Iterator[Finding]:
    if not isinstance(value, list):
        yield path, _wrong_type("a list of strings", value, f"write {key.example}")
        return
    for index, item in enumerate(value):
        if not isinstance(item, str):
            yield join(path, index), _wrong_type("a string", item, "put the value in quotes")
        elif not item.strip():
            yield join(path, index), "is an empty string; remove it from the list"


def _check_wording(value: Any, key: Key, path: str) -> Iterator[Finding]:
    if not isinstance(value, dict):
        yield path, _wrong_type("a table of locale = text", value, f"write {key.example}")
        return
    for locale, text in value.items():
        if not isinstance(text, str):
            yield join(path, locale), _wrong_type("a string", text, "put the text in quotes")
        elif not text.strip():
            yield join(path, locale), f"the '{locale}' text is empty; write it, or remove the line"


def _check_tables(value: Any, key: Key, path: str) -> Iterator[Finding]:
    if not isinstance(value, list):
        yield path, _wrong_type(
            "an array of tables", value, f"start each entry with its own [[{path}]] header"
        )
        return
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            yield join(path, index), _wrong_type("a table", item, f"write it as {key.example}")
        else:
            yield from _check_table(item, key.fields, join(path, index))


def _check_per_locale(value: Any, key: Key, path: str) -> Iterator[Finding]:
    if not isinstance(value, dict):
        yield path, _wrong_type("a table per locale", value, f"write {key.example}")
        return
    for locale, table in value.items():
        if not isinstance(table, dict):
            yield join(path, locale), _wrong_type("a table", table, f"write {key.example}")
        else:
            yield from _check_table(table, key.fields, join(path, locale))


def _check_keyed(value: Any, key: Key, path: str) -> Iterator[Finding]:
    """A table whose names are the file's own (region codes, channels): each value against
    ``entry``; whether a name is right is a meaning check (:mod:`.validate`)."""
    if not isinstance(value, dict):
        yield path, _wrong_type("a table", value, f"write {key.example}")
        return
    assert key.entry is not None  # the schema above gives every keyed key an entry
    for name, item in value.items():
        if name in key.fields:
            yield from _check_value(item, key.fields[name], join(path, name))
        else:
            yield from _check_value(item, key.entry, join(path, name))


def _check_lifetimes(value: Any, key: Key, path: str) -> Iterator[Finding]:
    if not isinstance(value, dict):
        yield path, _wrong_type("a table of basis = days", value, f"write {key.example}")
        return
    for basis, days in value.items():
        if isinstance(days, dict):
            for reason, reason_days in days.items():
                if isinstance(reason_days, bool) or not isinstance(reason_days, int):
                    yield join(join(path, basis), reason), _wrong_type(
                        "a whole number of days", reason_days, f"write {reason} = 730 (no quotes)")
        elif isinstance(days, bool) or not isinstance(days, int):
            yield join(path, basis), _wrong_type(
                "a whole number of days, or a table of reason = days", days,
                f"write {basis} = 730, or {basis} = {{ purchase = 730, inquiry = 183 }}")


def _wrong_type(expected: str, value: Any, fix: str) -> str:
    return f"expected {expected}, got {describe(value)}; {fix}"
