"""The Jinja environment (with gettext) and the context every page shares.

Translations are looked up per render, from the ``translations`` the page context
carries, through context-aware gettext callables: one environment serves every locale
at once, with no global "current language" to leak between concurrent requests.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from litestar import Request

from ..centers.model import Center
from ..i18n import locale_display_name, text_direction
from ..paths import STATIC, TEMPLATES
from .dependencies import AppState
from .theming import theme_version


@pass_context
def _gettext(context, message: str) -> str:  # noqa: ANN001
    return context["translations"].gettext(message)


@pass_context
def _ngettext(context, singular: str, plural: str, n: int) -> str:  # noqa: ANN001
    return context["translations"].ngettext(singular, plural, n)


@pass_context
def _pgettext(context, ctx: str, message: str) -> str:  # noqa: ANN001
    return context["translations"].pgettext(ctx, message)


@pass_context
def _npgettext(context, ctx: str, singular: str, plural: str, n: int) -> str:  # noqa: ANN001
    return context["translations"].npgettext(ctx, singular, plural, n)


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
    )
    env.globals["static"] = static_url
    return env


@lru_cache(maxsize=None)
def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: cacheable for a year, never stale."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def theme_url(center: Center, options: dict[str, str] | None) -> str:
    """The center's stylesheet, versioned, with an embed's theme options."""
    return f"/c/{center.id}/theme.css?" + urlencode({"v": theme_version(center.theme), **(options or {})})


def page_context(
    request: Request, locale: str, center: Center | None, query: dict[str, str] | None = None,
    theme_query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What ``base.html`` needs: language, direction, theme, wording, switcher.

    ``query`` is what the language switcher's links keep (default: this page's query).
    """
    translator = AppState.of(request.app).translator
    if query is None:
        query = {k: v for k, v in request.query_params.items() if k not in ("lang", "saved")}
    return {
        "language_query": lambda code: urlencode({**query, "lang": code}),
        "translations": translator.get(locale),
        "locale": locale,
        "dir": text_direction(locale),
        "center": center,
        "theme_url": theme_url(center, theme_query) if center else None,
        "languages": [(code, locale_display_name(code)) for code in center.locales] if center else [],
    }
