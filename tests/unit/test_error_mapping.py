"""Every failure as a :class:`WidgetError` (``as_widget_error``), and a WidgetError as an
RFC 9457 problem (``problem``): called directly, the response inspected, no server."""

from __future__ import annotations

import json
import logging
import re

import pytest
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    TooManyRequestsException,
    ValidationException,
)

from widget_server.errors import (
    BadForm,
    BadRequest,
    Conflict,
    IdempotencyKeyInUse,
    InternalError,
    InvalidValues,
    LinkExpired,
    MethodNotAllowed,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from widget_server.web.error_handler import as_widget_error, problem

SECRET = "jeanne.martin@example.com could not be parsed"  # what an exception's text may hold


# --- as_widget_error ----------------------------------------------------------------


def test_a_widget_error_passes_through_as_it_is() -> None:
    error = LinkExpired(center="maison-lumiere")
    assert as_widget_error(error) is error


def test_litestar_not_found_is_our_not_found() -> None:
    error = as_widget_error(NotFoundException())
    assert (type(error), error.status, error.extra["headers"]) == (NotFound, 404, {})


def test_litestar_method_not_allowed_keeps_its_status_and_allow_header() -> None:
    """A page shows it as not found; the API turns it into MethodNotAllowed by its status."""
    error = as_widget_error(MethodNotAllowedException(headers={"Allow": "GET, POST"}))
    assert (type(error), error.status, error.extra["headers"]) == (NotFound, 405, {"Allow": "GET, POST"})


def test_mapping_a_405_does_not_change_what_not_found_means() -> None:
    """The status is set on the instance: the next 404 must still be a 404."""
    as_widget_error(MethodNotAllowedException())
    assert NotFound.status == 404
    assert as_widget_error(NotFoundException()).status == 404


def test_litestar_rate_limit_keeps_its_headers() -> None:
    headers = {"RateLimit-Limit": "10", "RateLimit-Reset": "42"}
    error = as_widget_error(TooManyRequestsException(headers=headers))
    assert (type(error), error.status, error.extra["headers"]) == (TooManyRequests, 429, headers)


def test_a_validation_error_lists_what_is_wrong_by_path() -> None:
    exc = ValidationException(extra=[{"key": "limit", "message": "Expected `int`", "source": "query"},
                                     {"message": "no key"}, "not a dict"])
    error = as_widget_error(exc)
    assert (type(error), error.status) == (BadForm, 400)
    assert error.extra["errors"] == [{"path": "limit", "message": "Expected `int`"},
                                     {"path": None, "message": "no key"}]


def test_a_bare_400_says_litestar_detail() -> None:
    """E.g. a missing query parameter: Litestar names it only in its detail."""
    error = as_widget_error(HTTPException(status_code=400, detail="Missing required query parameter 'cursor'"))
    assert error.extra["errors"] == [{"path": None, "message": "Missing required query parameter 'cursor'"}]


@pytest.mark.parametrize(("exc", "status"), [
    (NotAuthorizedException(), 401),
    (HTTPException(status_code=413), 413),
    (HTTPException(status_code=415), 415),
])
def test_other_client_errors_become_bad_form_with_their_status(exc: HTTPException, status: int) -> None:
    error = as_widget_error(exc)
    assert (type(error), error.status) == (BadForm, status)
    assert "errors" not in error.extra


def test_a_body_nested_too_deeply_is_a_bad_request() -> None:
    error = as_widget_error(RecursionError("maximum recursion depth exceeded"))
    assert type(error) is BadRequest
    assert error.extra["errors"] == [{"path": "body", "message": "nested too deeply"}]


@pytest.mark.parametrize("exc", [ValueError(SECRET), KeyError(SECRET), HTTPException(status_code=503, detail=SECRET)])
def test_anything_else_is_an_internal_error_with_an_id(exc: Exception, caplog: pytest.LogCaptureFixture) -> None:
    """The visitor gets an id to quote; the log line names the id, and the text stays out."""
    with caplog.at_level(logging.ERROR, logger="widget_server.errors"):
        error = as_widget_error(exc)
    assert type(error) is InternalError and error.status == 500
    error_id = error.extra["error_id"]
    assert re.fullmatch(r"[0-9a-f]{12}", error_id)
    [record] = caplog.records
    assert record.getMessage() == f"unexpected error {error_id}: {type(exc).__name__}"
    assert record.exc_info[1] is exc  # the traceback is for the log only
    response = problem(error, error.title, error.detail, {})
    assert SECRET not in json.dumps(response.content) + str(error)
    assert response.content["error_id"] == error_id


def test_each_unexpected_error_gets_its_own_id() -> None:
    ids = {as_widget_error(ValueError()).extra["error_id"] for _ in range(20)}
    assert len(ids) == 20


# --- problem ------------------------------------------------------------------------


def test_a_problem_has_the_rfc_9457_members_and_our_code() -> None:
    response = problem(Conflict(), "Conflict", "Already stored.", {"Vary": "Accept-Language"})
    assert response.status_code == 409
    assert response.media_type == "application/problem+json"
    assert response.content == {"type": "about:blank", "title": "Conflict", "status": 409,
                                "detail": "Already stored.", "code": "conflict"}
    assert response.headers == {"Vary": "Accept-Language"}


def test_only_the_known_extras_become_members() -> None:
    """Headers, claims or a center given to an error are for us, not for the caller."""
    errors = [{"path": "subscriptions.offers.fax", "message": "this topic is offered on email, sms"}]
    error = InvalidValues(center="maison-lumiere", errors=errors, headers={"X-Debug": "1"}, claims="c")
    body = problem(error, "t", "d", {}).content
    assert body["errors"] == errors
    assert not {"headers", "claims", "center"} & set(body)


def test_the_error_own_retry_after_is_used() -> None:
    response = problem(IdempotencyKeyInUse(retry_after=1), "t", "d", {})
    assert (response.headers["Retry-After"], response.content["retry_after"]) == ("1", 1)


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"Retry-After": "30"}, 30),
    ({"retry-after": "30"}, 30),
    ({"RateLimit-Reset": "17", "RateLimit-Limit": "1200"}, 17),
    ({"Retry-After": "30", "RateLimit-Reset": "17"}, 30),
])
def test_retry_after_comes_from_the_headers_given(headers: dict[str, str], seconds: int) -> None:
    response = problem(TooManyRequests(headers=headers), "t", "d", {})
    assert (response.headers["Retry-After"], response.content["retry_after"]) == (str(seconds), seconds)


def test_the_error_own_retry_after_beats_the_headers() -> None:
    response = problem(TooManyRequests(retry_after=5, headers={"Retry-After": "30"}), "t", "d", {})
    assert response.headers["Retry-After"] == "5"


def test_a_429_without_a_word_on_when_says_a_minute() -> None:
    response = problem(TooManyRequests(), "t", "d", {})
    assert (response.headers["Retry-After"], response.content["retry_after"]) == ("60", 60)


def test_other_errors_say_nothing_of_retrying() -> None:
    response = problem(Conflict(), "t", "d", {})
    assert "Retry-After" not in response.headers and "retry_after" not in response.content


def test_a_401_says_how_to_authenticate() -> None:
    response = problem(Unauthenticated(), "t", "d", {})
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="widget-server"'
    assert "WWW-Authenticate" not in problem(Conflict(), "t", "d", {}).headers


def test_a_405_says_what_is_allowed() -> None:
    response = problem(MethodNotAllowed(headers={"allow": "GET, PUT"}), "t", "d", {})
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, PUT")
    assert "Allow" not in problem(MethodNotAllowed(), "t", "d", {}).headers


def test_litestar_405_as_a_problem_keeps_status_and_allow() -> None:
    error = as_widget_error(MethodNotAllowedException(headers={"Allow": "GET"}))
    response = problem(error, "t", "d", {})
    assert (response.status_code, response.content["status"], response.headers["Allow"]) == (405, 405, "GET")
