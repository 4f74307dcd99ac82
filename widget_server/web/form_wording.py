"""The preference form's wording for one center in one locale, worked out once.

A form shows dozens of labels (topics, channels, frequencies, interests, pause
choices); looking each one up and translating it on every request was most of a page's
rendering time. None of it depends on the subscriber, so it is built once per center
and locale and kept; only checked and selected states are decided per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Collection

from babel.support import NullTranslations

from ..centers.model import Center
from ..i18n import format_day
from ..preferences import OPTED_IN, PENDING, Preferences
from .forms import PAUSE_DAYS
from .labels import CHANNEL_LABELS, FREQUENCY_LABELS

if TYPE_CHECKING:
    from .dependencies import AppState


@dataclass(frozen=True)
class ChannelChoice:
    channel: str
    field: str  # the checkbox's name: s.<topic>.<channel>
    label: str


@dataclass(frozen=True)
class TopicView:
    id: str
    label: str
    description: str
    channels: tuple[ChannelChoice, ...]
    group_label: str
    frequencies: tuple[tuple[str, str], ...]  # (value, label)


@dataclass(frozen=True)
class FormView:
    topics: tuple[TopicView, ...]
    required: tuple[tuple[str, str], ...]  # (label, description)
    interests: tuple[tuple[str, str], ...]  # (id, label)
    pause_options: tuple[tuple[str, str], ...]  # (value, label)


def build_form_view(center: Center, locale: str, translations: NullTranslations) -> FormView:
    _ = translations.gettext

    def topic_view(topic) -> TopicView:  # noqa: ANN001
        label = center.text(topic.label, locale)
        return TopicView(
            id=topic.id,
            label=label,
            description=center.text(topic.description, locale),
            channels=tuple(
                ChannelChoice(c, f"s.{topic.id}.{c}", _(CHANNEL_LABELS[c])) for c in topic.channels
            ),
            group_label=_("Channels for %(topic)s") % {"topic": label},
            frequencies=tuple((f, _(FREQUENCY_LABELS[f])) for f in topic.frequencies),
        )

    return FormView(
        topics=tuple(topic_view(t) for t in center.switchable_topics),
        required=tuple(
            (center.text(t.label, locale), center.text(t.description, locale))
            for t in center.topics if not t.switchable
        ),
        interests=tuple((i.id, center.text(i.label, locale)) for i in center.interests),
        pause_options=tuple(
            (str(days), translations.ngettext("For %(num)d day", "For %(num)d days", days) % {"num": days})
            for days in PAUSE_DAYS
        ),
    )


def form_view(state: AppState, center: Center, locale: str) -> FormView:
    """The form's wording for this center and locale, built on first use."""
    key = (center.id, locale)
    view = state.form_views.get(key)
    if view is None:
        view = state.form_views[key] = build_form_view(center, locale, state.translator.get(locale))
    return view


def choices_context(state: AppState, center: Center, locale: str, prefs: Preferences,
                    shown: Collection[str] | None = None, tz: str | None = None) -> dict[str, Any]:
    """What ``partials/_choices.html`` renders from: the wording, and what ``prefs`` has
    ticked and selected. The widget, the kiosk and the agent console all show it.

    ``shown`` limits the topics (an embed's choice); ``tz`` is the zone a pause's end is
    written in.
    """
    view = form_view(state, center, locale)
    paused = prefs.paused_until if prefs.paused(state.clock()) else None
    return {
        "prefs": prefs,
        "view": view,
        "topics": [topic for topic in view.topics if shown is None or topic.id in shown],
        # A pending opt-in is the person's yes, awaiting its confirmation: shown ticked, so saving
        # the form again keeps it (unticking withdraws it). An expired one is shown unticked.
        "checked": {f"s.{topic}.{channel}" for (topic, channel), choice in prefs.subscriptions.items()
                    if choice in (OPTED_IN, PENDING)},
        "frequencies": {t.id: prefs.frequency(center, t.id) for t in center.switchable_topics},
        "paused_until": format_day(paused, locale, tz) if paused else None,
    }
