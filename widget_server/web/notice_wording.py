"""The notice text a center's surfaces show in one locale, as a document to keep
(``store/notice_texts.py``): what the person read, word for word.

It is made from the very wording the form renders (``form_wording.build_form_view``:
topic labels and descriptions, channel and frequency names as translated, interests,
the topics that cannot be switched off) plus the page's title, intro and privacy link,
so what is kept cannot drift from what is shown. The widget, the kiosk and the agent
console render that same view; the unsubscribe and confirmation pages name its topics
and channels. Built once per center and locale at start.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, Mapping

from babel.support import NullTranslations
from sqlalchemy.exc import DBAPIError

from ..centers.model import Center
from ..errors import StorageUnavailable
from ..i18n import Translator
from ..regions import region_for
from ..store.store import Store
from .form_wording import build_form_view
from .region_wording import region_notice

log = logging.getLogger("widget_server.notice_texts")


def notice_document(center: Center, locale: str, translations: NullTranslations) -> dict[str, Any]:
    """The text of ``center``'s current notice version in ``locale``, as shown."""
    view = build_form_view(center, locale, translations)
    return {
        "center": center.id,
        "notice_version": center.notice_version,
        "locale": locale,
        "title": center.center_text("title", locale),
        "intro": center.center_text("intro", locale),
        "privacy_url": center.center_text("privacy_url", locale) or None,
        "topics": [
            {"id": t.id, "label": t.label, "description": t.description,
             "channels": [{"id": c.channel, "label": c.label} for c in t.channels],
             "frequencies": [{"id": value, "label": label} for value, label in t.frequencies]}
            for t in view.topics
        ],
        "always_sent": [{"label": label, "description": description} for label, description in view.required],
        "interests": [{"id": interest, "label": label} for interest, label in view.interests],
    }


def region_documents(center: Center, locale: str, base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The text with each region's notice, as the widget adds it near the save (``region_wording``):
    (region code, document) for each region that has one in ``locale`` or the default locale."""
    documents = []
    for region in center.consent.regions:
        wording = region.text.get(locale) or region.text.get(center.default_locale) or {}
        if wording.get("notice"):
            documents.append((region.code, {**base, "region": region.code, "region_notice": wording["notice"]}))
    return documents


def region_of(center: Center) -> Callable[[str | None, str], str]:
    """Which region's text a subscriber of ``country`` was shown in ``locale`` ("" for none)."""

    def of(country: str | None, locale: str) -> str:
        region = region_for(center, country)
        return region.code if region is not None and region_notice(center, locale, country) else ""

    return of


def register_notice_texts(store: Store, centers: Mapping[str, Center], translator: Translator, now: datetime) -> None:
    """Every center's text in each of its locales, and with each region's notice: hashes kept for
    the events, stored if missing.

    A database that cannot take them now (not migrated yet, or not writable: ``/readyz``
    says which) does not stop the start: the first event naming a text stores it.
    """
    documents = []
    for center in centers.values():
        store.notice_texts.regions[center.id] = region_of(center)
        for locale in center.locales:
            base = notice_document(center, locale, translator.get(locale))
            documents.append((center.id, center.notice_version, locale, "", base))
            documents += [(center.id, center.notice_version, locale, code, document)
                          for code, document in region_documents(center, locale, base)]
    store.notice_texts.prepare(documents, now)
    try:
        with store.writing() as connection:
            store.notice_texts.store(connection)
    except (DBAPIError, StorageUnavailable) as error:
        log.warning("notice texts not stored at start (%s): each is stored with the first event naming it",
                    type(error).__name__)
