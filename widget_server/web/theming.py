"""A center's theme as CSS custom properties, light and dark, with an embed's overrides.

Served as a stylesheet, not an inline ``style``: the CSP forbids inline styles, and a
separate file is cached by browsers across every page of the center. Its URL carries a
version hash and the embed's options, so it changes whenever the result would.

An embed may choose the mode (``light``, ``dark``, ``auto`` follows the visitor's system)
and override the primary colour, the corner radius, the spacing and the font, within
bounds: a malformed value
or a colour that would fall below WCAG AA contrast is ignored, never written into CSS.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import lru_cache
from typing import Mapping

from ..centers import values
from ..centers.model import Theme
from .contrast import contrast_problems

MODES = ("auto", "light", "dark")

# Neutral roles that follow the mode; the center's file sets the branded ones.
_LIGHT = {"muted": "#4a4a4a", "border": "#767676", "surface": "#f5f6f8",
          "success": "#0f6b2f", "warning": "#7a4b00", "error": "#b3261e"}
_DARK = {"muted": "#c4c7c5", "border": "#8e918f", "surface": "#1e2124",
         "success": "#7fd99a", "warning": "#f3c26b", "error": "#ff8a80"}


def with_overrides(theme: Theme, options: Mapping[str, str]) -> Theme:
    """``theme`` with the embed's ``primary``, ``radius``, ``spacing`` and ``font``, where safe."""
    changes: dict[str, str] = {}
    primary = options.get("primary")
    if primary and values.colour_problem(primary) is None:
        for key in ("primary", "dark_primary"):
            trial = {**theme.colours(), key: primary}
            if not list(contrast_problems(trial)):
                changes[key] = primary
    for key, problem in (("radius", values.radius_problem), ("spacing", values.spacing_problem),
                         ("font", values.font_problem)):
        value = options.get(key)
        if value and problem(value) is None:
            changes[key] = value
    return replace(theme, **changes) if changes else theme


def _block(theme: Theme, dark: bool) -> str:
    prefix = "dark_" if dark else ""
    roles = {name: getattr(theme, prefix + name) for name in ("primary", "primary_text", "background", "text")}
    roles.update(_DARK if dark else _LIGHT)
    lines = [f"  --pc-{name.replace('_', '-')}: {value};" for name, value in roles.items()]
    lines.append(f"  color-scheme: {'dark' if dark else 'light'};")
    return "\n".join(lines)


@lru_cache(maxsize=512)
def theme_css(theme: Theme, mode: str = "auto") -> str:
    # Values are validated when loaded (center file or override): no ; { } < or url( here.
    shape = f"  --pc-radius: {theme.radius};\n  --pc-gap: {theme.spacing};\n  --pc-font: {theme.font};"
    if mode == "dark":
        return f":root {{\n{shape}\n{_block(theme, True)}\n}}\n"
    css = f":root {{\n{shape}\n{_block(theme, False)}\n}}\n"
    if mode == "auto":
        css += f"@media (prefers-color-scheme: dark) {{\n:root {{\n{_block(theme, True)}\n}}\n}}\n"
    return css


@lru_cache(maxsize=512)
def theme_version(theme: Theme) -> str:
    return hashlib.sha256(theme_css(theme).encode()).hexdigest()[:12]
