"""A mapping's options, each checked for its shape, and its targets checked against a center.

The options are documented in :mod:`._import` and docs/IMPORT.md; what is wrong raises
:class:`ImportMappingError` before anything is read or sent.
"""

from __future__ import annotations

import codecs
from datetime import timezone
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._exceptions import PreferenceSDKError
from ._models import CenterInfo

_MAPPING_KEYS = {"format", "delimiter", "encoding", "legacy_source", "date_formats", "timezone", "separator",
                 "columns", "values"}
_FIELDS = ("external_id", "email", "locale", "country", "legacy_date", "legacy_source", "suppressed", "interests")


class ImportMappingError(PreferenceSDKError, ValueError):
    """The mapping cannot read this file, or names what the center does not offer. Nothing was sent."""


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ImportMappingError(f"{path.name}: say format = \"csv\" or \"jsonl\" in the mapping")


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ImportMappingError(f"{key} must be a non-empty string, not {value!r}")
    return value


def _texts(key: str, value: Any) -> tuple[str, ...]:
    """A list of strings (one string alone is a list of one, not of its characters)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise ImportMappingError(f"{key} must be a list of strings, not {value!r}")
    return tuple(_text(key, item) for item in items)


def _delimiter(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n\"":
        raise ImportMappingError(f"delimiter must be one character (like \",\", \";\" or \"\\t\"), not {value!r}")
    return value


def _encoding(value: Any) -> str:
    try:
        if not isinstance(value, str) or not getattr(codecs.lookup(value), "_is_text_encoding", True):
            raise LookupError
    except LookupError:
        raise ImportMappingError(f"encoding: {value!r} is not a text encoding Python knows "
                                 '(like "utf-8", "cp1252" or "latin-1")') from None
    return value


def _columns(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ImportMappingError(f"columns must be a table of field or path = column name, not {value!r}")
    for target, column in value.items():
        if not isinstance(target, str):
            raise ImportMappingError(f"columns: {target!r} is not a field or path name")
        if not isinstance(column, str) or not column:
            raise ImportMappingError(f"columns.{target} must be the name of a column (a string), not {column!r}")
    return dict(value)


def _values(value: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ImportMappingError("values must be a table of field or path = {the file's value = ours}")
    return {target: dict(values) for target, values in value.items()}


def _zone(name: Any) -> Any:
    if not isinstance(name, str):
        raise ImportMappingError(f"timezone must be a time zone name like \"Europe/Paris\", not {name!r}")
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ImportMappingError(f"timezone: no time zone named {name!r}") from exc


def _target_problem(center: CenterInfo, target: str) -> str | None:
    if target in _FIELDS:
        return None
    if target.startswith("frequency."):
        topic = center.topic(target.removeprefix("frequency."))
        return None if topic and topic.frequencies else f"{target}: this topic offers no frequency choice"
    topic_id, _, channel = target.partition(".")
    topic = center.topic(topic_id)
    if not channel:
        return f"{target}: not a field (known: {', '.join(_FIELDS)}) nor a <topic>.<channel> path"
    if topic is None:
        return f"{target}: no topic {topic_id!r} in this center"
    if channel not in topic.channels:
        return f"{target}: this topic is offered on {', '.join(topic.channels)}"
    return None


def _value_problems(center: CenterInfo, target: str, values: Mapping[str, Any]) -> list[str]:
    if target in ("states",) or (target.count(".") == 1 and not target.startswith("frequency.")):
        allowed: set[Any] = {"opted_in", "opted_out", "pending", "unknown"}
    elif target == "frequencies" or target.startswith("frequency."):
        topic = center.topic(target.removeprefix("frequency.")) if target != "frequencies" else None
        allowed = set(topic.frequencies) if topic else {f for t in center.topics for f in t.frequencies}
        allowed.add(None)
    elif target == "interests":
        allowed = set(center.interests)
    elif target == "locale":
        allowed = set(center.locales)
    elif target == "suppressed":
        allowed = {True, False}
    else:
        return []
    bad = sorted(repr(v) for v in values.values() if v not in allowed)
    return [f"values.{target}: {', '.join(bad)} not offered"] if bad else []
