"""A type-tolerant, read-only view of a parsed center file, for the checks.

The structure check (:mod:`.schema`) reports every value of the wrong type. The
meaning checks (:mod:`.validate`) then read the document through this view, where
such a value simply reads as absent: a second, confused message about a value
already reported would only add noise, and no check has to guard against types.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .structure import join
from .values import locale_key


class Document:
    """The parsed file, read through accessors that ignore values of the wrong type."""

    def __init__(self, raw: Mapping[str, Any], shipped_locales: Iterable[str]) -> None:
        self.raw = raw
        self.shipped_locales = frozenset(locale_key(code) for code in shipped_locales)

    @property
    def center(self) -> Mapping[str, Any]:
        return _table(self.raw.get("center"))

    @property
    def locales(self) -> list[str] | None:
        """The center's locales, or None when unusable (missing, wrong type, empty)."""
        listed = [code for _, code in strings(self.center, "locales")]
        return listed or None

    @property
    def topics(self) -> list[tuple[str, Mapping[str, Any]]]:
        return _entries(self.raw, "topics")

    @property
    def interests(self) -> list[tuple[str, Mapping[str, Any]]]:
        return _entries(self.raw, "interests")

    def wordings(self) -> Iterator[tuple[str, Mapping[str, Any], str]]:
        """Every table keyed by locale: its path, itself, and where a fix goes."""
        if isinstance(self.center.get("text"), dict):
            fix = "a [center.text.LOCALE] table with title and intro"
            yield "center.text", self.center["text"], fix
        for path, topic in self.topics:
            for key in ("label", "description"):
                if isinstance(topic.get(key), dict):
                    fix = f'LOCALE = "..." to the {key} of topic {name_of(topic)}'
                    yield join(path, key), topic[key], fix
        for path, interest in self.interests:
            if isinstance(interest.get("label"), dict):
                fix = f'LOCALE = "..." to the label of interest {name_of(interest)}'
                yield join(path, "label"), interest["label"], fix
        if isinstance(self.call_center.get("script"), dict):
            yield "call_center.script", self.call_center["script"], 'LOCALE = "..." to [call_center.script]'

    @property
    def kiosk(self) -> Mapping[str, Any]:
        return _table(self.raw.get("kiosk"))

    @property
    def call_center(self) -> Mapping[str, Any]:
        return _table(self.raw.get("call_center"))

    @property
    def consent(self) -> Mapping[str, Any]:
        return _table(self.raw.get("consent"))

    @property
    def regions(self) -> list[tuple[str, str, Mapping[str, Any]]]:
        """Each ``[regions.CODE]`` table: its path, its code, itself."""
        return [(join("regions", code), code, table) for code, table in _table(self.raw.get("regions")).items()
                if isinstance(table, dict)]

    def channel_rules(self) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
        """Each ``[regions.CODE.CHANNEL]`` table: its path, the region's code, the channel, itself."""
        for path, code, region in self.regions:
            for channel, rule in region.items():
                if channel != "text" and isinstance(rule, dict):
                    yield join(path, channel), code, channel, rule


def text(table: Mapping[str, Any], key: str) -> str | None:
    """A non-empty string value, or None."""
    value = table.get(key)
    return value if isinstance(value, str) and value.strip() else None


def strings(table: Mapping[str, Any], key: str) -> list[tuple[int, str]]:
    """The non-empty string items of a list value, with their indexes."""
    value = table.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, str) and item.strip()]


def name_of(item: Mapping[str, Any]) -> str:
    """How a topic or interest is named in messages: its id, quoted."""
    return f"'{text(item, 'id')}'" if text(item, "id") else "(no id)"


def _table(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _entries(raw: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
    value = raw.get(key)
    if not isinstance(value, list):
        return []
    return [(join(key, i), item) for i, item in enumerate(value) if isinstance(item, dict)]
