"""What every visitor-facing route shares: the visitor's language and the status message
a page shows. (The center a path names is a dependency: ``web/dependencies.py``.)"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import FormMultiDict
from litestar.handlers import BaseRouteHandler

from ...centers.model import Center
from ...i18n import negotiate
from ..forms import SINGLE_FIELDS, Form, refuse_repeated


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


def single_query_fields(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The visitor routes' guard: a query string that repeats a field that must come once
    (``t=a&t=b``) is a ``400`` before anything is read from it."""
    query = connection.query_params
    refuse_repeated({name: query.getall(name) for name in SINGLE_FIELDS if name in query})


def fields_of(form: FormMultiDict) -> Form:
    """A posted form's fields, every value of each, refused (``400``) if one that must come once came twice."""
    fields = {key: form.getall(key) for key in form.keys()}
    refuse_repeated(fields)
    return fields
