"""The one exception handler: every failure, as the page, fragment or problem it should be.

Any exception becomes a :class:`~widget_server.errors.WidgetError` (unexpected ones are
logged with an id and shown with it), then renders as an RFC 9457 problem (JSON) under
``/api/``, as a fragment into the page's message area for htmx, and as a full page
otherwise; always in the visitor's language, never with a stack trace.
"""

from __future__ import annotations

import json
import logging
import secrets
from html import escape
from typing import Any, Callable

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.htmx import HTMXDetails
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from ..errors import (
    ApiError,
    BadForm,
    BadRequest,
    InternalError,
    LinkExpired,
    MethodNotAllowed,
    NotFound,
    TooLarge,
    TooManyRequests,
    UnsupportedMediaType,
    WidgetError,
)
from ..i18n import negotiate, shipped_locales, text_direction
from .dependencies import AppState
from .rendering import page_context, static_url

log = logging.getLogger("widget_server.errors")

#: Problem members an error may add besides type, title, status, detail and code.
PROBLEM_EXTRAS = ("errors", "current_version", "subscriber_id", "retry_after", "error_id", "required_scope")

_HTTP_ERRORS = {404: NotFound, 405: NotFound, 429: TooManyRequests}
_API_ERRORS = {400: BadRequest, 405: MethodNotAllowed, 413: TooLarge, 415: UnsupportedMediaType}


def as_widget_error(exc: Exception, request: Request | None = None) -> WidgetError:
    """Any exception as a :class:`WidgetError`; unexpected ones are logged with an id.

    The log line names the id, the method and the path (never the query: it holds the
    token), so that the support finds the trace from the reference a visitor reads out.
    """
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
    where = f" ({request.method} {request.url.path})" if request is not None else ""
    log.error("unexpected error %s%s: %s", error_id, where, type(exc).__name__, exc_info=exc)
    return InternalError(error_id=error_id)


def _center_of(request: Request, error: WidgetError) -> Any:
    """The center an error happened in: the one the error names, else the one in the path."""
    if error.center is not None:
        return error.center
    center_id = request.path_params.get("center_id") if request.scope.get("path_params") else None
    return AppState.of(request.app).centers.get(center_id) if center_id else None


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
    error = as_widget_error(exc, request)
    if request.url.path.startswith("/api/"):
        return api_problem(request, error)
    error.center = _center_of(request, error)
    locale = error_locale(request, error)
    state = AppState.of(request.app)
    translate = state.translator.get(locale).gettext
    title, detail = translate(error.title), translate(error.detail)
    headers = {"Vary": "HX-Request, Accept-Language"}
    allow = {k.lower(): v for k, v in (error.extra.get("headers") or {}).items()}.get("allow")
    if allow:
        headers["Allow"] = allow
    if error.extra.get("retry_after") is not None:  # a 503 says when to try again, on a page too
        headers["Retry-After"] = str(error.extra["retry_after"])
    context = page_context(request, locale, error.center)
    context.update(
        error=error, title=title, detail=detail, error_id=error.extra.get("error_id"),
        expired_token=request.query_params.get("t") if isinstance(error, LinkExpired) else None,
        fresh_link_url=f"/c/{error.center.id}/link?lang={locale}" if error.center else None,
        retry_url=_retry_url(request) if isinstance(error, InternalError) else None,
    )
    template = "errors/error.html"
    if HTMXDetails(request):  # litestar-htmx's reading of HX-Request
        headers.update({"HX-Retarget": "#messages", "HX-Reswap": "innerHTML",
                        "HX-Trigger": json.dumps({"preferences:error": {"status": error.status}})})
        template = "partials/_error_message.html"
    # Rendered here, not lazily, so that a failure to render still ends in a page.
    try:
        body = state.jinja.get_template(template).render(context)
    except Exception as exc:  # logged with its traceback: the page must still be answered
        log.error("error page could not be rendered%s: %s", f" (error {error.extra['error_id']})"
                  if error.extra.get("error_id") else "", type(exc).__name__, exc_info=exc)
        body = fallback_page(error, locale, title, detail, translate)
    return Response(body, status_code=error.status, headers=headers, media_type=MediaType.HTML)


def _retry_url(request: Request) -> str | None:
    """Where "Try again" goes: the same address, for a page that was only read (a post is not repeated)."""
    if request.method != "GET":
        return None
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def fallback_page(error: WidgetError, locale: str, title: str, detail: str, translate: Callable[[str], str]) -> str:
    """The page when the error page itself cannot be rendered: still in the visitor's language and
    direction, with the widget's stylesheet and the reference, built without a template."""
    error_id = error.extra.get("error_id")
    reference = (f'<p class="hint">{escape(translate("Error reference: %(id)s") % {"id": error_id})}</p>'
                 if error_id else "")
    return FALLBACK_PAGE % {"lang": escape(locale.replace("_", "-")), "dir": text_direction(locale),
                            "title": escape(title), "detail": escape(detail), "reference": reference,
                            "css": escape(static_url("widget.css"))}


def api_problem(request: Request, error: WidgetError) -> Response:
    """An RFC 9457 problem for the JSON API, in the caller's ``Accept-Language`` (else English)."""
    if not isinstance(error, ApiError) and error.status in _API_ERRORS:
        error = _API_ERRORS[error.status](**error.extra)  # what Litestar answers itself, in API words
    locale = negotiate(sorted(shipped_locales()), "en", accept_language=request.headers.get("accept-language"))
    translate = AppState.of(request.app).translator.get(locale).gettext
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
    '<!doctype html><html lang="%(lang)s" dir="%(dir)s"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>%(title)s</title>'
    '<link rel="stylesheet" href="%(css)s"></head><body><main id="main"><div class="error-page">'
    "<h1>%(title)s</h1><p>%(detail)s</p>%(reference)s</div></main></body></html>"
)


exception_handlers: dict[int | type[Exception], Callable[[Request, Any], Response]] = {
    Exception: handle_error, HTTP_500_INTERNAL_SERVER_ERROR: handle_error,
}
