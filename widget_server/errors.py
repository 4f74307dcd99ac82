"""The exception tree every failure flows through, and the one place that renders it.

::

    WidgetError                      status, translatable title and detail
     ├── LinkProblem                 offers a fresh link
     │    ├── LinkExpired            401  authentic but too old, or revoked
     │    └── LinkInvalid            403  tampered, wrong scope, wrong center
     ├── NotFound                    404  unknown center, subscriber or page
     ├── CrossSiteRequest            403  a state change posted from another site
     ├── BadForm                     422  a submitted value we cannot accept
     ├── TooManyRequests             429
     ├── InternalError               500  logged with an id, shown with that id
     └── ApiError                         the JSON API's own (``code`` names each for programs)
          ├── BadRequest             400  unreadable body or parameter (``errors``)
          │    └── UnsupportedMediaType  415  a body of another type
          ├── MethodNotAllowed       405  (with Allow)
          ├── TooLarge               413  a body over the route's limit
          ├── Unauthenticated        401  no key, or not a live one
          ├── Forbidden              403  the key lacks the scope, or is another center's
          ├── Conflict               409  an external id in use, an erased subscriber
          │    └── IdempotencyKeyInUse    a request with the same key still running
          ├── StaleVersion           412  If-Match does not name the current version
          ├── InvalidValues          422  values the center does not offer (``errors``)
          ├── IdempotencyKeyReused   422  the same key with another request
          └── VersionRequired        428  a replacing write without If-Match

One handler renders any of them as an RFC 9457 problem (JSON) under ``/api/``, as a
fragment into the page's message area for htmx, and as a full page otherwise; always in
the visitor's language, never with a stack trace. Messages are gettext msgids.
"""

from __future__ import annotations

import json
import logging
import secrets
from html import escape
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from .i18n import negotiate, shipped_locales
from .rendering import page_context

log = logging.getLogger("widget_server.errors")

# Marks a string for extraction by pybabel without translating it at import time.
def N_(message: str) -> str:  # noqa: N802
    return message


class WidgetError(Exception):
    status = 500
    code = "internal"
    title = N_("Something went wrong")
    detail = N_("Please try again in a moment.")
    problem_type = "about:blank"

    def __init__(self, detail: str | None = None, *, center: Any = None, **extra: Any) -> None:
        super().__init__(detail or self.detail)
        if detail:
            self.detail = detail
        self.center = center
        self.extra = extra


class LinkProblem(WidgetError):
    """A link that cannot be honoured; the page offers to e-mail a fresh one."""

    offer_fresh_link = True


class LinkExpired(LinkProblem):
    status = 401
    title = N_("This link has expired")
    detail = N_("For your security, links to your preferences work for a limited time.")


class LinkInvalid(LinkProblem):
    status = 403
    title = N_("This link does not work")
    detail = N_("The link may be incomplete or altered. Please use the latest link we sent you.")


class NotFound(WidgetError):
    status = 404
    code = "not_found"
    title = N_("Page not found")
    detail = N_("Please check the web address, or use the link from your latest e-mail.")


class CrossSiteRequest(WidgetError):
    status = 403
    title = N_("Request refused")
    detail = N_("Your preferences can only be changed from the preference page itself.")


class BadForm(WidgetError):
    status = 422
    code = "invalid"
    title = N_("We could not save your choices")
    detail = N_("Part of the form could not be processed. Nothing was changed; please try again.")


class TooManyRequests(WidgetError):
    status = 429
    code = "rate_limited"
    title = N_("Too many requests")
    detail = N_("Please wait a minute before trying again.")


class InternalError(WidgetError):
    status = 500


class ApiError(WidgetError):
    """Errors of the JSON API; ``extra`` members (``errors``...) go into the problem."""


class BadRequest(ApiError):
    status = 400
    code = "bad_request"
    title = N_("Bad request")
    detail = N_("The request could not be read. The errors member says what is wrong.")


class UnsupportedMediaType(BadRequest):
    status = 415
    code = "unsupported_media_type"
    title = N_("Unsupported media type")
    detail = N_("Send the body as JSON (Content-Type: application/json), or as JSON Lines for an import.")


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"
    title = N_("Method not allowed")
    detail = N_("This address does not accept this method. The Allow header lists the ones it accepts.")


class TooLarge(ApiError):
    status = 413
    code = "too_large"
    title = N_("Request too large")
    detail = N_("The body is larger than this address accepts. Send less at a time.")


class Unauthenticated(ApiError):
    status = 401
    code = "unauthenticated"
    title = N_("Authentication required")
    detail = N_("Send a valid API key in the Authorization header: Bearer followed by the key.")


class Forbidden(ApiError):
    status = 403
    code = "forbidden"
    title = N_("Not allowed")
    detail = N_("This API key may not do this in this preference center.")


class Conflict(ApiError):
    status = 409
    code = "conflict"
    title = N_("Conflict")
    detail = N_("This conflicts with what is already stored. Nothing was changed.")


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    title = N_("Request in progress")
    detail = N_("A request with this Idempotency-Key is still running. Retry in a moment.")


class StaleVersion(ApiError):
    status = 412
    code = "stale_version"
    title = N_("Stale version")
    detail = N_("The preferences changed since you read them. Read them again, then retry.")


class InvalidValues(ApiError):
    status = 422
    code = "invalid"
    title = N_("Invalid values")
    detail = N_("Some values are not offered by this preference center. Nothing was changed.")


class IdempotencyKeyReused(ApiError):
    status = 422
    code = "idempotency_key_reused"
    title = N_("Idempotency key reused")
    detail = N_("This Idempotency-Key was already used for another request. Use a new key for a new request.")


class VersionRequired(ApiError):
    status = 428
    code = "version_required"
    title = N_("Version required")
    detail = N_("Send If-Match with the version you read (its ETag).")


#: Problem members an error may add besides type, title, status, detail and code.
PROBLEM_EXTRAS = ("errors", "current_version", "subscriber_id", "retry_after", "error_id", "required_scope")

_HTTP_ERRORS = {404: NotFound, 405: NotFound, 429: TooManyRequests}
_API_ERRORS = {400: BadRequest, 405: MethodNotAllowed, 413: TooLarge, 415: UnsupportedMediaType}


def as_widget_error(exc: Exception) -> WidgetError:
    """Any exception as a :class:`WidgetError`; unexpected ones are logged with an id."""
    if isinstance(exc, WidgetError):
        return exc
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        error = _HTTP_ERRORS.get(exc.status_code, BadForm)()
        error.status = exc.status_code
        error.extra["headers"] = dict(exc.headers or {})
        if exc.status_code == 400 and isinstance(exc.extra, list) and exc.extra:
            error.extra["errors"] = [{"path": e.get("key"), "message": e.get("message")}
                                     for e in exc.extra if isinstance(e, dict)]
        elif exc.status_code == 400:  # e.g. a missing query parameter: Litestar says which in its detail
            error.extra["errors"] = [{"path": None, "message": str(exc.detail)}]
        return error
    if isinstance(exc, RecursionError):  # a JSON body nested thousands deep
        return BadRequest(errors=[{"path": "body", "message": "nested too deeply"}])
    error_id = secrets.token_hex(6)
    log.error("unexpected error %s: %s", error_id, type(exc).__name__, exc_info=exc)
    return InternalError(error_id=error_id)


def _center_of(request: Request, error: WidgetError) -> Any:
    """The center an error happened in: the one the error names, else the one in the path."""
    if error.center is not None:
        return error.center
    center_id = request.path_params.get("center_id") if request.scope.get("path_params") else None
    return request.app.state.centers.get(center_id) if center_id else None


def error_locale(request: Request, error: WidgetError) -> str:
    """The visitor's language for an error page: the center's if known, else any shipped."""
    center = error.center
    available = center.locales if center else sorted(shipped_locales())
    default = center.default_locale if center else "en"
    # A route that already chose the page's language (or read a form's) says so in
    # request.state, so an error shows in the language the page was in.
    chosen = request.state.get("locale") or request.query_params.get("lang") or request.state.get("lang")
    claims = error.extra.get("claims")  # an expired link still says its holder's language
    return negotiate(available, default, explicit=chosen, from_token=getattr(claims, "locale", None),
                     accept_language=request.headers.get("accept-language"))


def handle_error(request: Request, exc: Exception) -> Response:
    """The one exception handler of the app."""
    error = as_widget_error(exc)
    if request.url.path.startswith("/api/"):
        return api_problem(request, error)
    error.center = _center_of(request, error)
    locale = error_locale(request, error)
    translate = request.app.state.translator.get(locale).gettext
    title, detail = translate(error.title), translate(error.detail)
    headers = {"Vary": "HX-Request, Accept-Language"}
    allow = {k.lower(): v for k, v in (error.extra.get("headers") or {}).items()}.get("allow")
    if allow:
        headers["Allow"] = allow
    context = page_context(request, locale, error.center)
    context.update(
        error=error, title=title, detail=detail, error_id=error.extra.get("error_id"),
        expired_token=request.query_params.get("t") if isinstance(error, LinkExpired) else None,
        fresh_link_url=f"/c/{error.center.id}/link?lang={locale}" if error.center else None,
    )
    template = "errors/error.html"
    if request.headers.get("hx-request") == "true":
        headers.update({"HX-Retarget": "#messages", "HX-Reswap": "innerHTML",
                        "HX-Trigger": json.dumps({"preferences:error": {"status": error.status}})})
        template = "partials/_error_message.html"
    # Rendered here, not lazily, so that a failure to render still ends in a page.
    try:
        body = request.app.state.jinja.get_template(template).render(context)
    except Exception as exc:  # noqa: BLE001
        log.error("error page could not be rendered: %s", type(exc).__name__, exc_info=exc)
        body = FALLBACK_PAGE % {"status": error.status, "title": escape(title)}
    return Response(body, status_code=error.status, headers=headers, media_type=MediaType.HTML)


def api_problem(request: Request, error: WidgetError) -> Response:
    """An RFC 9457 problem for the JSON API, in the caller's ``Accept-Language`` (else English)."""
    if not isinstance(error, ApiError) and error.status in _API_ERRORS:
        error = _API_ERRORS[error.status](**error.extra)  # what Litestar answers itself, in API words
    locale = negotiate(sorted(shipped_locales()), "en", accept_language=request.headers.get("accept-language"))
    translate = request.app.state.translator.get(locale).gettext
    headers = {"Vary": "Accept-Language", "Content-Language": locale}
    return problem(error, translate(error.title), translate(error.detail), headers)


def problem(error: WidgetError, title: str, detail: str, headers: dict[str, str]) -> Response:
    """An RFC 9457 problem document."""
    body = {"type": error.problem_type, "title": title, "status": error.status, "detail": detail,
            "code": error.code}
    body.update({k: v for k, v in error.extra.items() if k in PROBLEM_EXTRAS})
    # When to come back: the error's own word, else Litestar's rate-limit headers, else a minute for a 429.
    told = {k.lower(): v for k, v in (error.extra.get("headers") or {}).items()}
    retry = error.extra.get("retry_after", told.get("retry-after", told.get("ratelimit-reset")))
    if retry is None and error.status == 429:
        retry = 60
    if retry is not None:
        headers["Retry-After"] = str(retry)
        body["retry_after"] = int(retry)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="widget-server"'
    if "allow" in told:  # a 405 says what the address does accept (RFC 9110 §15.5.6)
        headers["Allow"] = told["allow"]
    return Response(body, status_code=error.status, media_type="application/problem+json", headers=headers)


FALLBACK_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>%(status)s</title></head>"
    "<body><main><h1>%(title)s</h1></main></body></html>"
)


exception_handlers = {Exception: handle_error, HTTP_500_INTERNAL_SERVER_ERROR: handle_error}
