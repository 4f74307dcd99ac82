"""WCAG 2.x contrast between theme colours, so no theme can make the widget unreadable.

Checked when a center file is loaded (a failing theme is a ``check-config`` problem) and
when an embed overrides a colour (a failing override is ignored).
"""

from __future__ import annotations

from typing import Iterator

#: WCAG 2.2 AA for normal text (1.4.3). Links and buttons carry text, so the same bar.
AA_TEXT = 4.5

#: (foreground, background) pairs the widget draws, per mode.
PAIRS = {
    "light": (("text", "background"), ("primary_text", "primary"), ("primary", "background")),
    "dark": (("dark_text", "dark_background"), ("dark_primary_text", "dark_primary"),
             ("dark_primary", "dark_background")),
}


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Relative luminance of ``#rgb`` or ``#rrggbb``."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    r, g, b = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def ratio(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def contrast_problems(colours: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(key, message) for each pair below AA; pairs with a missing colour are skipped."""
    for mode_pairs in PAIRS.values():
        for fg, bg in mode_pairs:
            if fg in colours and bg in colours:
                found = ratio(colours[fg], colours[bg])
                if found < AA_TEXT:
                    yield fg, (
                        f"'{colours[fg]}' on {bg} '{colours[bg]}' has a contrast of {found:.2f}:1; "
                        f"WCAG AA needs {AA_TEXT}:1: darken or lighten one of them"
                    )
