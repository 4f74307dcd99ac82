"""The in-memory shape of a preference center, as loaded from its TOML file.

Everything here is frozen: a center is read once at start and shared by every request,
so nothing downstream may mutate it. Wording is kept per locale in plain dicts
(``{"fr": "...", "en": "..."}``); :func:`Center.text` picks the visitor's locale and
falls back to the center's default, which validation guarantees is always present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

#: Channels a topic may offer. Their labels are interface text (gettext), not center text.
CHANNELS: tuple[str, ...] = ("email", "sms", "push", "post", "phone", "whatsapp", "in_app")

#: Frequencies a topic may offer, from most to least frequent.
FREQUENCIES: tuple[str, ...] = ("realtime", "daily", "weekly", "monthly")

#: Topic kinds. ``required`` topics are transactional: shown, never switchable.
TOPIC_KINDS: tuple[str, ...] = ("marketing", "informational", "required")

Wording = Mapping[str, str]


def _frozen(mapping: Mapping[str, str] | None) -> Wording:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Topic:
    """A purpose: what messages are about, on which channels, how often."""

    id: str
    kind: str
    channels: tuple[str, ...]
    label: Wording
    description: Wording = field(default_factory=lambda: _frozen({}))
    frequencies: tuple[str, ...] = ()
    default_frequency: str | None = None
    special_category_reviewed: bool = False

    @property
    def switchable(self) -> bool:
        return self.kind != "required"


@dataclass(frozen=True)
class Interest:
    """One entry of the multi-select "what are you interested in" list."""

    id: str
    label: Wording
    special_category_reviewed: bool = False


@dataclass(frozen=True)
class Theme:
    """Colours and shape, written into CSS custom properties. Values are validated."""

    primary: str = "#1f4fbf"
    primary_text: str = "#ffffff"
    background: str = "#ffffff"
    text: str = "#1a1a1a"
    radius: str = "8px"
    spacing: str = "1rem"
    font: str = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
    #: The same roles in dark mode (the visitor's system setting, or an embed's choice).
    dark_primary: str = "#8ab4f8"
    dark_primary_text: str = "#0b1b33"
    dark_background: str = "#121417"
    dark_text: str = "#eceff1"

    def colours(self) -> dict[str, str]:
        """The colour roles by name (everything but radius and font)."""
        return {k: v for k, v in vars(self).items() if k not in ("radius", "spacing", "font")}


@dataclass(frozen=True)
class CallCenter:
    """What the agent console needs of a center: the script an agent reads out before
    changing a choice (versioned wording per locale), and who may frame the console."""

    script_version: str
    script: Wording
    allowed_origins: tuple[str, ...] = ()


#: Seconds without a touch before a kiosk returns to its welcome screen.
KIOSK_IDLE_SECONDS = 60


@dataclass(frozen=True)
class Center:
    """One preference center: a brand, a country site or a property."""

    id: str
    name: str
    default_locale: str
    locales: tuple[str, ...]
    notice_version: str
    topics: tuple[Topic, ...]
    interests: tuple[Interest, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    theme: Theme = field(default_factory=Theme)
    #: Center wording keyed by locale then by key (``title``, ``intro``, ``privacy_url``).
    wording: Mapping[str, Wording] = field(default_factory=lambda: MappingProxyType({}))
    source: str = ""
    #: Where a phone number typed without its country code is read (ISO 3166, ``FR``).
    phone_region: str | None = None
    kiosk_idle_seconds: int = KIOSK_IDLE_SECONDS
    #: None: no script, so the agent console can show choices but not change them.
    call_center: CallCenter | None = None

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    @property
    def switchable_topics(self) -> tuple[Topic, ...]:
        return tuple(t for t in self.topics if t.switchable)

    def locale_or_default(self, locale: str | None) -> str:
        return locale if locale in self.locales else self.default_locale

    def text(self, wording: Wording, locale: str) -> str:
        """The wording in ``locale``, else in the default locale."""
        return wording.get(locale) or wording.get(self.default_locale, "")

    def center_text(self, key: str, locale: str) -> str:
        """Center-level wording (``title``, ``intro``...) in ``locale``."""
        own = self.wording.get(locale, {})
        return own.get(key) or self.wording.get(self.default_locale, {}).get(key, "")
