"""The exception tree every failure flows through, and the one place that renders it.

::

    WidgetError                      status, translatable title and detail
     ├── LinkProblem                 offers a fresh link
     │    ├── LinkExpired            401  authentic but too old, or revoked
     │    └── LinkInvalid            403  tampered, wrong scope, wrong center
     ├── KioskNotSetUp               403  a kiosk's device token that is not (or no longer) valid
     ├── AgentSignInRequired         401  an agent token expired, invalid, or another center's
     ├── NotAllowedHere              403  an agent without the permission, a kiosk session ended
     │    └── StaffPinNotSet         403  a tablet provisioned without a staff PIN: codes only
     ├── NotFound                    404  unknown center, subscriber or page
     ├── CrossSiteRequest            403  a state change posted from another site
     ├── BadForm                     422  a submitted value we cannot accept
     │    ├── WrongCode              422  a kiosk code that does not match (attempts left)
     │    ├── CodeLocked             422  a kiosk code tried three times, or expired: ask a new one
     │    ├── IdentityNotChecked     422  a staff attestation without its tick
     │    ├── StaffIdInvalid         422  a staff id that is not a badge number, initials or a login
     │    ├── StaffPinWrong          422  not the tablet's staff PIN (recorded, counted)
     │    ├── ConsentNotConfirmed    422  an agent's save without the customer's verbal agreement
     │    ├── RepeatedField          400  a field that must come once came twice
     │    └── InvalidContact         422  not an e-mail address, phone number or loyalty number
     ├── TooManyRequests             429
     │    ├── LinkLimitReached       429  "send me a new link" asked too often (Retry-After)
     │    ├── CodeLimitReached       429  kiosk codes asked too often, per device or per contact
     │    │    ├── StaffPinsLimitReached  five wrong staff PINs on a tablet within the hour
     │    │    └── KioskBusy          a tablet over its hourly limit of codes and attestations
     │    └── SearchLimitReached     429  an agent's searches over the hour's limit
     ├── InternalError               500  logged with an id, shown with that id
     ├── StorageUnavailable          503  the database cannot store a write now (Retry-After)
     ├── CodeNotSent                 503  the mail or SMS gateway did not take a kiosk code
     └── ApiError                         the JSON API's own (``code`` names each for programs)
          ├── BadRequest             400  unreadable body or parameter (``errors``)
          │    └── UnsupportedMediaType  415  a body of another type
          ├── MethodNotAllowed       405  (with Allow)
          ├── TooLarge               413  a body over the route's limit
          ├── Unauthenticated        401  no key, or not a live one
          ├── Forbidden              403  the key lacks the scope
          ├── CenterNotFound         404  a center not the key's, whether it exists or not
          ├── Conflict               409  an external id in use, an erased subscriber
          │    └── IdempotencyKeyInUse    a request with the same key still running
          ├── StaleVersion           412  If-Match does not name the current version
          ├── InvalidValues          422  values the center does not offer (``errors``)
          ├── IdempotencyKeyReused   422  the same key with another request
          └── VersionRequired        428  a replacing write without If-Match

The domain raises them; :mod:`widget_server.web.error_handler` is the one place that
renders them. Messages are gettext msgids.
"""

from __future__ import annotations

from typing import Any


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


class KioskNotSetUp(WidgetError):
    """A kiosk opened with a device token that is tampered, expired, another center's,
    or revoked: the page says to ask the store manager, never why in detail."""

    status = 403
    code = "kiosk_not_set_up"
    title = N_("This kiosk is not set up")
    detail = N_("This tablet cannot be used for preferences right now. Please ask your store manager "
                "to set it up again.")


class AgentSignInRequired(WidgetError):
    """An agent console opened with a token that is expired, invalid or another center's."""

    status = 401
    code = "agent_sign_in_required"
    title = N_("Please sign in again")
    detail = N_("Your console session has ended or is not valid for this preference center. "
                "Open the console again from your call-center screen.")


class NotAllowedHere(WidgetError):
    """Signed in, but not allowed this: an agent without the permission, a kiosk session
    that has ended (the customer's choices are no longer open on this screen)."""

    status = 403
    code = "not_allowed"
    title = N_("Not allowed")
    detail = N_("You cannot do this from this screen. Nothing was changed.")


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


class RepeatedField(BadForm):
    """A field that must come once (the token, the version, the submission id...) came twice.

    Which copy to believe is not ours to guess (a proxy may take the first, we the last),
    so the request is refused whole, before anything is read from it.
    """

    status = 400


class InvalidContact(BadForm):
    """What a customer typed to be found does not read as the kind they chose.

    ``kind`` (email, phone, loyalty, external_id) picks the detail the page shows.
    """

    title = N_("Please check what you typed")
    detail = N_("This does not look like an e-mail address, a phone number or a customer number. "
                "Please check it and try again.")
    DETAILS = {
        "email": N_("Please type a whole e-mail address, such as name@example.com."),
        "phone": N_("Please type a mobile phone number. If it is from another country, start with + and "
                    "its country code."),
        "loyalty": N_("Please type the customer number as printed on the card: letters and digits."),
        "external_id": N_("Please type the customer reference exactly as the CRM shows it."),
    }

    def __init__(self, *, kind: str, **extra: Any) -> None:
        super().__init__(self.DETAILS.get(kind), kind=kind, **extra)


class WrongCode(BadForm):
    """A one-time code that does not match; ``attempts_left`` more may be tried."""

    title = N_("This code is not right")
    detail = N_("Please check the code we sent and type it again.")


class CodeLocked(BadForm):
    """A one-time code that can no longer be used: tried three times, or older than ten minutes."""

    title = N_("This code can no longer be used")
    detail = N_("For your security, a code works for ten minutes and three tries. Please ask for a new one.")


class IdentityNotChecked(BadForm):
    """A staff attestation without its tick: the event would say what nobody said."""

    title = N_("Please confirm the customer's identity")
    detail = N_("Tick that you have checked this customer's identity in person, or send them a code instead.")


class StaffIdInvalid(BadForm):
    """A staff id the ledger could not write as ``staff:<id>`` (a badge number, initials, a login)."""

    title = N_("Please check the staff id")
    detail = N_("Type your staff id as on your badge: letters, digits, dots or dashes, or leave it empty.")


class ConsentNotConfirmed(BadForm):
    """An agent's save without ticking that the customer agreed to the script read out."""

    title = N_("Nothing was saved")
    detail = N_("Read the script to the customer, tick that they agreed, then save again.")


class TooManyRequests(WidgetError):
    status = 429
    code = "rate_limited"
    title = N_("Too many requests")
    detail = N_("Please wait a minute before trying again.")


class LinkLimitReached(TooManyRequests):
    """The new-link limits (per address, per client) are counted over an hour, not a minute."""

    detail = N_("You asked for several links in a short time. Please use the latest one we sent, "
                "or try again later.")


class CodeLimitReached(TooManyRequests):
    """Kiosk codes are counted per device and per contact over an hour."""

    detail = N_("Several codes were asked for in a short time. Please wait a little, or ask a member of "
                "staff to confirm who you are.")


class SearchLimitReached(TooManyRequests):
    """An agent's searches are counted over an hour (and every one is audited)."""

    detail = N_("You have made many searches in a short time. Please wait a little before searching again.")


class InternalError(WidgetError):
    status = 500


class StorageUnavailable(WidgetError):
    """A write the database cannot store now: the disk is full, the file or the database
    is read-only, the server cannot be reached.

    Raised by :meth:`~widget_server.store.store.Store.writing` (the store maps the engine's
    errors, in one place); the transaction rolled back, so nothing was changed and the
    same request can be sent again after ``Retry-After``. ``reason`` is the engine's
    word for the fault (never data), for the log and ``/readyz``, not for the visitor.
    """

    status = 503
    code = "storage_unavailable"
    title = N_("Cannot save right now")
    detail = N_("The service cannot store changes at the moment: nothing was changed. Please try again in a moment.")
    RETRY_AFTER = 5  # seconds: long enough not to hammer a full disk, short enough for a person

    def __init__(self, *, reason: str, retry_after: int = RETRY_AFTER, **extra: Any) -> None:
        super().__init__(retry_after=retry_after, **extra)
        self.reason = reason


class CodeNotSent(WidgetError):
    """The mailer or the SMS gateway did not take a kiosk's code: nothing was sent."""

    status = 503
    code = "code_not_sent"
    title = N_("We could not send the code")
    detail = N_("The code could not be sent just now. Please try again, or ask a member of staff to confirm "
                "who you are.")


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


class CenterNotFound(ApiError):
    """A center in the path that is not the key's own, whether another center or none at all.

    One answer for both, so that a key learns nothing of the other centers a server holds
    (not even that one exists), the way a private repository is a 404 to a stranger.
    """

    status = 404
    code = "not_found"
    title = N_("Preference center not found")
    detail = N_("This API key has no preference center with this id: a key works for its own center only. "
                "Check the center in the address.")


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


# -- the kiosk's staff PIN (kiosk.py) ------------------------------------------------------------


class StaffPinWrong(BadForm):
    """An attestation with a PIN that is not the tablet's: recorded, and counted against the device."""

    title = N_("Please check the staff PIN")
    detail = N_("This is not this tablet's staff PIN. Type it again, or send the customer a code instead.")


class StaffPinNotSet(NotAllowedHere):
    """A device provisioned without a staff PIN (before PINs existed): it takes codes only."""

    title = N_("Staff confirmation is not set up on this tablet")
    detail = N_("Please send the customer a code instead, or ask your store manager to set this tablet up again.")


class StaffPinsLimitReached(CodeLimitReached):
    """Five wrong PINs (``kiosk.STAFF_PIN_ATTEMPTS``) on a device within the hour: no attestation
    until the oldest leaves it."""

    detail = N_("The staff PIN was typed wrong several times on this tablet. Please wait before trying again, "
                "or send the customer a code instead.")


class KioskBusy(CodeLimitReached):
    """An attestation over the device's hourly limit (the code's wording would send them to the staff)."""

    detail = N_("This tablet has been used many times in a short time. Please wait a little before trying again.")
