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

#: Why a subscription may be used (docs: DOMAIN.md, "Legal basis").
LEGAL_BASES: tuple[str, ...] = ("consent", "soft_opt_in", "contract", "legitimate_interest")

#: Days a pending double opt-in waits for its confirmation, unless the center says otherwise.
PENDING_DAYS = 7

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
    #: Channels on which an opt-in to this topic waits for a confirmation (double opt-in),
    #: whatever the region says.
    double_opt_in: tuple[str, ...] = ()
    #: The topic involves selling or sharing personal data with partners: a browser sending
    #: Global Privacy Control (``Sec-GPC: 1``) is opted out of it.
    shares_personal_data: bool = False

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


@dataclass(frozen=True)
class ChannelRule:
    """What one region's law asks of one channel.

    ``opt_in_required`` False means opt-out suffices: a subscription never answered
    (``unknown``) may be used on a basis that needs no opt-in (``legitimate_interest``,
    ``soft_opt_in``) until the person opts out. ``lifetime_days`` is keyed by basis, or by
    ``basis.reason`` (``soft_opt_in.purchase``, ``soft_opt_in.inquiry``) where the law
    distinguishes them; a basis without a lifetime lasts until withdrawn.
    ``remind_days_before``: how long before an expiry the person is asked to renew
    (re-permission); None asks nothing.
    """

    opt_in_required: bool = True
    double_opt_in: bool = False
    bases: tuple[str, ...] = ("consent",)
    lifetime_days: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    remind_days_before: int | None = None

    def lifetime(self, basis: str, reason: str | None = None) -> int | None:
        """Days a basis lasts (for ``reason`` where the rule names one), None: until withdrawn."""
        if reason is not None and f"{basis}.{reason}" in self.lifetime_days:
            return self.lifetime_days[f"{basis}.{reason}"]
        return self.lifetime_days.get(basis)


#: The rule of a channel nobody wrote one for: opt-in, by consent, until withdrawn.
DEFAULT_RULE = ChannelRule()


@dataclass(frozen=True)
class Region:
    """The rules of one region: ``code`` is ``default``, a group (``EU``, ``EEA``) or an
    ISO 3166 country code (``FR``, ``CA``, ``US``). ``text`` is the wording the region
    requires in the widget, per locale (key ``notice``)."""

    code: str
    channels: Mapping[str, ChannelRule] = field(default_factory=lambda: MappingProxyType({}))
    text: Mapping[str, Wording] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Consent:
    """A center's consent lifecycle: how long a double opt-in waits, whether the widget asks
    the person's country, and the regions' rules (see :mod:`widget_server.regions`)."""

    pending_days: int = PENDING_DAYS
    ask_country: bool = False
    regions: tuple[Region, ...] = ()


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
    consent: Consent = field(default_factory=Consent)

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
