"""A center's theme as CSS custom properties.

Served as a stylesheet, not an inline ``style``: the CSP forbids inline styles, and a
separate file is cached by browsers across every page of the center. The version hash
in its URL changes whenever the theme does.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from functools import lru_cache

from .centers.model import Theme


@lru_cache(maxsize=256)
def theme_css(theme: Theme) -> str:
    # Values are validated when the center file is loaded: no ; { } < or url( gets here.
    lines = [f"  --pc-{f.name.replace('_', '-')}: {getattr(theme, f.name)};" for f in fields(theme)]
    return ":root {\n" + "\n".join(lines) + "\n}\n"


@lru_cache(maxsize=256)
def theme_version(theme: Theme) -> str:
    return hashlib.sha256(theme_css(theme).encode()).hexdigest()[:12]
