"""What every visitor-facing route shares: the visitor's language and the status message
a page shows. (The center a path names is a dependency: ``web/dependencies.py``.)"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request

from ...centers.model import Center
from ...i18n import negotiate


@dataclass(frozen=True)
class Message:
    kind: str  # success, error, warning
    text: str
    title: str = ""


def visitor_locale(request: Request, center: Center, token_locale: str | None, explicit: str | None) -> str:
    return negotiate(
        center.locales, center.default_locale,
        explicit=explicit, from_token=token_locale,
        accept_language=request.headers.get("accept-language"),
    )
