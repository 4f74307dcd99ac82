"""How an embed asks to show the widget: options from the link or the loader, validated.

The loader (``/embed.js``) and plain links may pass, besides the token:

=============  ================================================================
``tz``         the visitor's IANA time zone, for dates
``embed_origin``  the host page's origin, to post events to: only a listed origin
``topics``     a comma list of topic ids to show (the others stay as they are)
``mode``       ``light``, ``dark`` or ``auto`` (the visitor's system setting)
``primary``    a brand colour override (``#rrggbb``), kept only if readable
``radius``     a corner radius override (``0`` to ``32px``, ``0`` to ``2rem``)
``spacing``    a spacing override (``8`` to ``32px``, ``0.5`` to ``2rem``)
``font``       a font list override (font names only)
=============  ================================================================

Anything invalid is dropped, not refused: the widget then shows as the center defines
it. The options travel on as hidden fields and in redirects, so the page keeps looking
the same after a save, with or without JavaScript.
"""

from __future__ import annotations

from typing import Callable

from ..centers import values
from ..centers.model import Center
from ..i18n import visitor_timezone
from .theming import MODES

OPTIONS = ("tz", "embed_origin", "topics", "mode", "primary", "radius", "spacing", "font")
THEME_OPTIONS = ("mode", "primary", "radius", "spacing", "font")


def _topics(center: Center, value: str) -> str | None:
    offered = [t.id for t in center.switchable_topics]
    wanted = [part.strip() for part in value.split(",") if part.strip()]
    shown = [t for t in offered if t in wanted]
    return ",".join(shown) if shown else None


def _check(center: Center, name: str, value: str) -> str | None:
    """The option's value to keep, or ``None`` to drop it."""
    if not value or len(value) > 200:
        return None
    if name == "tz":
        return value if visitor_timezone(value) else None
    if name == "embed_origin":
        return value if value in center.allowed_origins else None
    if name == "topics":
        return _topics(center, value)
    if name == "mode":
        return value if value in MODES else None
    if name == "primary":
        return value if values.colour_problem(value) is None else None
    if name == "radius":
        return value if values.radius_problem(value) is None else None
    if name == "spacing":
        return value if values.spacing_problem(value) is None else None
    if name == "font":
        return value if values.font_problem(value) is None else None
    return None


def read_options(center: Center, get: Callable[[str], str | None]) -> dict[str, str]:
    """The valid options among those given (``get`` reads a query string or a form)."""
    found = {name: _check(center, name, get(name) or "") for name in OPTIONS}
    return {name: value for name, value in found.items() if value is not None}


def shown_topics(center: Center, options: dict[str, str]) -> tuple[str, ...]:
    """Ids of the switchable topics this embed shows (all unless ``topics`` narrows them)."""
    if "topics" in options:
        return tuple(options["topics"].split(","))
    return tuple(t.id for t in center.switchable_topics)
