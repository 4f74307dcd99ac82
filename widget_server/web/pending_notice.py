"""The widget's word on a double opt-in waiting for its confirmation.

A subscription the person ticked that the center (or their region's law) asks to confirm
is ``pending`` until they follow the link mailed to them (``routes/confirm.py``). The
widget says so beside the form: what waits, until when, and a way to have the mail sent
again (``GET /c/{center}/confirm/resend``, a page whose button posts: a link opened by a
scanner sends nothing). When there is no address on file nobody can confirm: the widget
says that instead, since no mail was or will be sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request

from ..centers.model import Center
from ..i18n import format_day
from ..preferences import Preferences
from ..tokens import read_link
from .dependencies import AppState
from .labels import CHANNEL_LABELS
from .routes.confirm import pending_keys


def pending_notice(request: Request, center: Center, locale: str, token: str, prefs: Preferences,
                   options: dict[str, str], now: datetime) -> dict[str, Any] | None:
    """What ``partials/_pending_notice.html`` shows, or None when nothing waits for a confirmation."""
    keys = pending_keys(prefs, now)
    if not keys:
        return None
    state = AppState.of(request.app)
    gettext = state.translator.get(locale).gettext
    items = []
    for topic_id, channel in keys:
        topic = center.topic(topic_id)
        label = center.text(topic.label, locale) if topic else topic_id
        items.append(f"{label}: {gettext(CHANNEL_LABELS[channel])}" if channel in CHANNEL_LABELS else label)
    ends = [b.until for key in keys if (b := prefs.basis(*key)) is not None and b.until is not None]
    subscriber = read_link(state.signer, token, center).subscriber
    confirmable = state.store.contact(subscriber, "email") is not None
    return {
        "subjects": items,
        "until": format_day(min(ends), locale, options.get("tz")) if ends else None,
        "confirmable": confirmable,
        "resend_url": f"/c/{center.id}/confirm/resend?{urlencode({'t': token, 'lang': locale, **options})}",
    }
