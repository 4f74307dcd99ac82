"""What every visitor-facing route shares: the center a path names, the visitor's
language, and the status message a page shows."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request
from litestar.datastructures import State

from ...centers.model import Center
from ...errors import NotFound
from ...i18n import negotiate


@dataclass(frozen=True)
class Message:
    kind: str  # success, error, warning
    text: str
    title: str = ""


def center_or_404(state: State, center_id: str) -> Center:
    center = state.centers.get(center_id)
    if center is None:
        raise NotFound()
    return center


def visitor_locale(request: Request, center: Center, token_locale: str | None, explicit: str | None) -> str:
    return negotiate(
        center.locales, center.default_locale,
        explicit=explicit, from_token=token_locale,
        accept_language=request.headers.get("accept-language"),
    )
