"""What every visitor-facing route shares: the visitor's language and the status message
a page shows. (The center a path names is a dependency: ``web/dependencies.py``.)"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import FormMultiDict
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import OpenAPIType, Parameter, Schema

from ...centers.model import Center
from ...i18n import negotiate
from ..embedding import OPTIONS as EMBED_OPTIONS
from ..forms import PAUSE_DAYS, SINGLE_FIELDS, Form, refuse_repeated
from ..openapi import form, query
from ..security import check_same_origin


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


async def posted_form(request: Request, own_origins: Collection[str]) -> tuple[FormMultiDict, Form]:
    """A visitor's post, read as every page's post is: the origin checked before anything is
    read (``403``), the form and its fields (a field that must come once, twice: ``400``), and
    its language kept for an error answered before the page's language is settled."""
    check_same_origin(request.headers, own_origins)
    form = await request.form()
    fields = fields_of(form)
    request.state.lang = form.get("lang")
    return form, fields


# -- what the OpenAPI document says of the pages that their signatures do not (web/openapi.py) ------

_EMBED_WHY = {
    "tz": "The visitor's IANA time zone, for dates",
    "embed_origin": "The host page's origin, to post events to (only one the center lists)",
    "topics": "A comma list of the topic ids to show",
    "mode": "light, dark or auto",
    "primary": "A brand colour (#rrggbb), kept only if readable",
    "radius": "A corner radius (0 to 32px, 0 to 2rem)",
    "spacing": "A spacing (8 to 32px, 0.5 to 2rem)",
    "font": "A font list (font names only)",
}
_STRING = Schema(type=OpenAPIType.STRING)


def embed_query(names: tuple[str, ...] = EMBED_OPTIONS) -> list[Parameter]:
    """The embed's options as query parameters: an invalid one is dropped, never refused."""
    return [query(name, _EMBED_WHY[name]) for name in names]


_EMBED_FIELDS = {name: Schema(type=OpenAPIType.STRING, description=why) for name, why in _EMBED_WHY.items()}
_LANG = Schema(type=OpenAPIType.STRING, description="The page's language, if the center has it")

#: The widget's form (web/forms.py), as its page posts it.
PREFERENCES_FORM = form({
    "t": Schema(type=OpenAPIType.STRING, description="The link's token"),
    "version": Schema(type=OpenAPIType.STRING, pattern="^[0-9]+$", description="The version the form shows"),
    "submission": Schema(type=OpenAPIType.STRING, description="The form's id: a repeat is saved once"),
    "notice": Schema(type=OpenAPIType.STRING, description="The notice version the page showed (another: 409)"),
    "lang": _LANG,
    "action": Schema(type=OpenAPIType.STRING, enum=["save", "unsubscribe_all"]),
    "pause": Schema(type=OpenAPIType.STRING, enum=["keep", "0", *map(str, PAUSE_DAYS)],
                    description="keep, 0 (end the pause) or a number of days"),
    "i": Schema(type=OpenAPIType.ARRAY, items=_STRING, description="The interests ticked"),
    **_EMBED_FIELDS,
}, pattern_properties={
    r"^s\.": Schema(type=OpenAPIType.STRING, enum=["on"], description="s.<topic>.<channel>: ticked"),
    r"^f\.": Schema(type=OpenAPIType.STRING, description="f.<topic>: the frequency chosen"),
})

#: The unsubscribe link's posts: RFC 8058's one-click (the token in the query), or a button of its page.
UNSUBSCRIBE_FORM = form({
    "List-Unsubscribe": Schema(type=OpenAPIType.STRING, enum=["One-Click"],
                               description="RFC 8058 one-click, as mail providers send it"),
    "action": Schema(type=OpenAPIType.STRING, enum=["confirm", "undo"], description="A button of the page"),
    "t": Schema(type=OpenAPIType.STRING, description="The link's token (the page's buttons)"),
    "event": Schema(type=OpenAPIType.STRING, description="undo: the version of the unsubscribe to undo"),
    "lang": _LANG,
    **_EMBED_FIELDS,
}, required=True, any_of=[Schema(required=["List-Unsubscribe"]), Schema(required=["action"])])
ONE_CLICK_TOKEN = query("t", "One-click (RFC 8058): the link's token")

#: "Send me a new link": an old link, or else an address.
FRESH_LINK_FORM = form({
    "t": Schema(type=OpenAPIType.STRING, description="A link, expired or not: a new one goes to its subscriber"),
    "email": Schema(type=OpenAPIType.STRING, description="Else an address: a new link goes to it, if known"),
    "lang": _LANG,
})
