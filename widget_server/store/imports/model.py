"""What an import batch is made of: its validated rows, and what it did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, NamedTuple

from ...preferences import Preferences


class Row(NamedTuple):
    """One validated row (``web/routes/api/import_rows.py``); rows with equal choices share their parts."""

    number: int
    external_id: str
    email: str | None
    locale: str | None
    choices: Any  # the row's write body, for ``patch``
    parts: tuple[Preferences, ...]  # its subscriptions, frequencies, interests: each alone on an empty state
    suppress: bool  # the row says "suppressed": true
    since: datetime  # the legacy date, else the import's time
    evidence: Mapping[str, Any]  # {"legacy_source": ..., "legacy_date": ...}
    country: str | None = None  # the row's country (ISO 3166 alpha-2), which picked its rules


#: ``patch(current, choices)``: the state a row asks for, from a subscriber's current one.
Patch = Callable[[Preferences, Any], Preferences]


@dataclass
class Outcome:
    """What a batch did (or, in a dry run, would do)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class Current:
    """A subscriber the batch matched by external id, as the store holds it."""

    id: str
    version: int
    locale: str | None
    last_hash: str | None
    preferences: Preferences
    has_email: bool = False
