"""The shop tablet: ``/c/{center}/kiosk?t=DEVICE_TOKEN``.

One page, several screens: welcome (language, who are you, how do you prove it), the
code, the customer's choices, "saved". With JavaScript every screen after the first is
swapped into ``#kiosk`` by htmx, so the address never changes and no history entry ever
holds a customer (``static/kiosk.js`` then ends with ``location.replace`` of the welcome
screen: "I'm done", or the idle reset). Without it each is a plain form post answered
with a whole ``200`` page, never a redirect to an address with personal data in it.

Every request reads the device token *and* asks the store whether the device is still
live, so revoking a kiosk takes effect at its next request. The customer's session id
travels in a hidden field of the screen, never in the address or a cookie; one of another
shape than the kiosk makes is refused (403) before any query, as a session that has ended.

Errors are the app's (``errors.py``, :mod:`widget_server.kiosk`): to htmx the one
handler answers them into the screen's ``#messages``; to a plain post this module shows
the screen again with the same message and status (the handler's whole error page would
leave a tablet without a way back, since kiosk browsers have no back button).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from preference_sdk import TokenSigner

from ...centers.model import Center
from ...changes import Changes
from ...contact_input import KIOSK_KINDS, masked, normalise
from ...errors import (
    BadForm,
    CodeLimitReached,
    CodeLocked,
    CodeNotSent,
    IdentityNotChecked,
    InvalidContact,
    KioskNotSetUp,
    NotAllowedHere,
    WidgetError,
    WrongCode,
)
from ...i18n import Translator
from ...kiosk import CodeLimits, CodeSender, Identity, Kiosk, check_staff_id
from ...preferences import Preferences
from ...settings import Settings
from ...sms import SmsSender
from ...store import devices
from ...store.devices import Device
from ...store.kiosk_sessions import CODE, KioskSession
from ...store.store import SaveResult, Store, VersionConflict
from ...tokens import read_device_token
from ..dependencies import AppState, Clock, Origins
from ..form_wording import choices_context
from ..forms import Form, desired_preferences, read_submission, read_version, single
from ..region_wording import country_field, region_notice
from ..rendering import page_context
from ..request_context import client_context
from ..security import check_same_origin
from .common import Message, fields_of, visitor_locale

PROOFS = ("code", "staff")

#: What a plain post shows again, with its message, rather than a page with no way back.
RECOVERABLE = (BadForm, CodeLimitReached, CodeNotSent, NotAllowedHere)


@dataclass(frozen=True)
class Visit:
    """The kiosk a request comes from, in the language its screen is in."""

    center: Center
    device: Device
    token: str
    locale: str

    def url(self, action: str = "") -> str:
        return f"/c/{self.center.id}/kiosk" + (f"/{action}" if action else "")

    @property
    def welcome_url(self) -> str:
        """The first screen, in the center's language: where every customer's visit ends."""
        return self.url() + "?" + urlencode({"t": self.token})


async def open_kiosk(store: Store, signer: TokenSigner, center: Center, token: str | None) -> Device:
    """The device the token names, if it is still a live kiosk of this center; else KioskNotSetUp."""
    claimed = read_device_token(signer, token, center)

    def read() -> Device | None:
        with store.engine.connect() as connection:
            return devices.get(connection, center.id, claimed.id)

    device = await store.run_sync(read)
    if device is None or not device.live:
        raise KioskNotSetUp(center=center)
    return device


def provide_kiosk(store: NamedDependency[Store], changes: NamedDependency[Changes], clock: NamedDependency[Clock],
                  settings: NamedDependency[Settings]) -> Kiosk:
    return Kiosk(store, changes, clock, CodeLimits.of(settings))


def provide_code_sender(request: Request, sms: NamedDependency[SmsSender], translator: NamedDependency[Translator],
                        settings: NamedDependency[Settings]) -> CodeSender:
    # The mailer and the Jinja environment from the state: Litestar checks a named dependency's
    # value against its type, which a Protocol (Mailer) that is not runtime-checkable cannot pass.
    state = AppState.of(request.app)
    return CodeSender(state.mailer, sms, state.jinja, translator, settings.mail_from)


class KioskController(Controller):
    path = "/kiosk"  # under /c/{center_id}
    dependencies = {"kiosk": Provide(provide_kiosk, sync_to_thread=False),
                    "code_sender": Provide(provide_code_sender, sync_to_thread=False)}

    @get(media_type=MediaType.HTML, include_in_schema=False)
    async def welcome(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        t: FromQuery[str | None] = None,
        lang: FromQuery[str | None] = None,
    ) -> Template:
        """The first screen; ``lang`` is its language buttons' choice."""
        device = await open_kiosk(store, signer, center, t)
        locale = request.state.locale = visitor_locale(request, center, None, lang)
        return screen(request, Visit(center, device, t or "", locale), "welcome")

    @post("/identify", media_type=MediaType.HTML, status_code=200, include_in_schema=False)
    async def identify(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        own_origins: NamedDependency[Origins],
        kiosk: NamedDependency[Kiosk],
        code_sender: NamedDependency[CodeSender],
    ) -> Template:
        """Who the customer is, and how they prove it: a code sent to them, or a member of staff
        (the tick, and the tablet's staff PIN, which is what tells staff from whoever holds the tablet)."""
        visit, fields = await read_visit(request, center, store, signer, own_origins)
        try:
            kind = single(fields, "kind") or ""
            if kind not in KIOSK_KINDS:
                raise InvalidContact(kind="unknown")
            identity = Identity(kind, normalise(kind, single(fields, kind), center.phone_region))
            proof = single(fields, "proof", "code")
            if proof == "staff":
                if single(fields, "checked") != "yes":
                    raise IdentityNotChecked()
                session = await kiosk.attest(visit.device, identity, check_staff_id(single(fields, "staff")),
                                             single(fields, "staff_pin") or "")
                return await choices_screen(request, visit, store, session)
            if proof != "code":
                raise BadForm()
            session, code, destination = await kiosk.start_with_code(visit.device, identity)
            if destination is not None:  # sent to what they typed, known or not
                try:
                    await code_sender.send(destination, code, center, visit.locale)
                except CodeNotSent:
                    await kiosk.end(visit.device, session.id)
                    raise
        except RECOVERABLE as error:
            return again(request, visit, error, "welcome")
        if identity.kind != "loyalty":
            return screen(request, visit, "code", session=session.id, kind=identity.kind,
                          sent_to=masked(identity.kind, identity.value))
        # A loyalty number's code goes to the contact saved with it, looked up and sent after the
        # answer: a number we know and one we do not are answered alike, in words and in time.
        answer = screen(request, visit, "code", session=session.id, kind=identity.kind, sent_to=None)
        answer.background = BackgroundTask(code_sender.later, kiosk, session, code, center, visit.locale)
        return answer

    @post("/verify", media_type=MediaType.HTML, status_code=200, include_in_schema=False)
    async def verify(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        own_origins: NamedDependency[Origins],
        kiosk: NamedDependency[Kiosk],
        translator: NamedDependency[Translator],
    ) -> Template:
        """The code the customer typed: their choices, or what is wrong with it."""
        visit, fields = await read_visit(request, center, store, signer, own_origins)
        session_id = single(fields, "session") or ""
        try:
            session = await kiosk.verify(visit.device, session_id, single(fields, "code") or "")
        except WrongCode as wrong:
            left = wrong.extra["attempts_left"]
            wrong.detail = translator.get(visit.locale).ngettext(
                "Please check the code we sent and type it again. You can try %(n)s more time.",
                "Please check the code we sent and type it again. You can try %(n)s more times.", left) % {"n": left}
            return again(request, visit, wrong, "code", session=session_id)
        except CodeLocked as locked:
            return again(request, visit, locked, "code", session=session_id)
        except NotAllowedHere as gone:
            return again(request, visit, gone, "welcome")
        return await choices_screen(request, visit, store, session)

    @post("/choices", media_type=MediaType.HTML, status_code=200, include_in_schema=False)
    async def choices(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        own_origins: NamedDependency[Origins],
        kiosk: NamedDependency[Kiosk],
    ) -> Template:
        """The choices again, after a save ("change something else")."""
        visit, fields = await read_visit(request, center, store, signer, own_origins)
        try:
            session = await kiosk.live(visit.device, single(fields, "session"))
        except NotAllowedHere as gone:
            return again(request, visit, gone, "welcome")
        return await choices_screen(request, visit, store, session)

    @post("/save", media_type=MediaType.HTML, status_code=200, include_in_schema=False)
    async def save(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        own_origins: NamedDependency[Origins],
        kiosk: NamedDependency[Kiosk],
        translator: NamedDependency[Translator],
        clock: NamedDependency[Clock],
    ) -> Template:
        """Save the customer's choices (a new customer: subscribe them), with the kiosk's proof."""
        visit, fields = await read_visit(request, center, store, signer, own_origins)
        _ = translator.get(visit.locale).gettext
        try:
            session = await kiosk.live(visit.device, single(fields, "session"))
        except NotAllowedHere as gone:
            return again(request, visit, gone, "welcome")
        current = await current_choices(store, center, session)
        try:
            base_version = read_version(fields)
            submission_id = read_submission(fields)
            desired = desired_preferences(center, current, fields, clock(),
                                          confirmed=await proven_channels(kiosk, session))
        except BadForm as bad:
            return again(request, visit, bad, "choices", **await choices_of(request, visit, store, session))
        if single(fields, "notice") != center.notice_version:
            return await choices_screen(request, visit, store, session, status=409, message=Message(
                "warning", _("Please review your choices and save again."),
                _("The wording of this page has been updated")))
        try:
            result = await kiosk.save(
                visit.device, center, session.id, desired, base_version=base_version,
                seen=current if session.subscriber_id else None, submission_id=submission_id,
                locale=visit.locale, client=client_context(request))
        except VersionConflict as conflict:
            return await choices_screen(request, visit, store, session, status=409, prefs=conflict.current,
                                        message=Message("warning", _(
                                            "Your preferences were changed on another device or tab while you were "
                                            "editing. Below are the current ones: please review them and save again."),
                                            _("Nothing was saved")))
        except NotAllowedHere as gone:
            return again(request, visit, gone, "welcome")
        return saved_screen(request, visit, session, result, _)

    @post("/done", media_type=MediaType.HTML, status_code=200, include_in_schema=False)
    async def done(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        own_origins: NamedDependency[Origins],
        kiosk: NamedDependency[Kiosk],
    ) -> Template:
        """ "I'm done" (and the idle reset): the session ends, its contact is blanked, the welcome screen
        (whatever the form's session field holds: none, a malformed one, one already ended)."""
        visit, fields = await read_visit(request, center, store, signer, own_origins)
        await kiosk.end(visit.device, single(fields, "session"))
        return screen(request, visit, "welcome")


# -- reading a post, and the screens -------------------------------------------------------------------------


async def read_visit(request: Request, center: Center, store: Store, signer: TokenSigner,
                     own_origins: Origins) -> tuple[Visit, Form]:
    """A post's kiosk and fields: refused if sent from another site, or from a kiosk no longer set up."""
    check_same_origin(request.headers, own_origins)
    fields = fields_of(await request.form())
    request.state.lang = single(fields, "lang")  # for an error before the language is settled
    token = single(fields, "t")
    device = await open_kiosk(store, signer, center, token)
    locale = request.state.locale = visitor_locale(request, center, None, single(fields, "lang"))
    return Visit(center, device, token or "", locale), fields


def screen(request: Request, visit: Visit, name: str, *, status: int = 200, message: Message | None = None,
           error: WidgetError | None = None, headers: dict[str, str] | None = None, **extra: Any) -> Template:
    """A screen: to htmx the fragment that goes into ``#kiosk``, otherwise the whole page."""
    context = page_context(request, visit.locale, visit.center, query={})
    context.update(kiosk=visit, screen=name, message=message, error=error, **extra)
    answer_headers = {"Vary": "HX-Request, Accept-Language", **(headers or {})}
    htmx = bool(getattr(request, "htmx", False))
    template = f"partials/_kiosk_{name}.html" if htmx else "pages/kiosk.html"
    return Template(template, context=context, status_code=status, headers=answer_headers)


def again(request: Request, visit: Visit, error: WidgetError, name: str, **extra: Any) -> Template:
    """An error: to htmx, raised for the one handler (a message in ``#messages``); to a plain
    post, the screen ``name`` again with that message, status and Retry-After."""
    if getattr(request, "htmx", False):
        raise error
    translate = AppState.of(request.app).translator.get(visit.locale).gettext
    headers = {}
    if error.extra.get("retry_after") is not None:
        headers["Retry-After"] = str(error.extra["retry_after"])
    return screen(request, visit, name, status=error.status, error=error, headers=headers,
                  title=translate(error.title), detail=translate(error.detail), **extra)


async def current_choices(store: Store, center: Center, session: KioskSession) -> Preferences:
    """What the session's customer has chosen; a customer we do not know yet has chosen nothing."""
    if session.subscriber_id is None:
        return Preferences()
    subscriber = await store.run_sync(store.get, center.id, session.subscriber_id)
    return subscriber.preferences if subscriber is not None and subscriber.erased_at is None else Preferences()


async def proven_channels(kiosk: Kiosk, session: KioskSession) -> frozenset[str]:
    """A customer who typed the one-time code mailed to their address has proven that address
    (the event's evidence says so: ``one_time_code`` by ``email``), so no double opt-in waits on
    e-mail then; a code by SMS, or a staff attestation, proves no mailbox."""
    if session.method != CODE:
        return frozenset()
    if session.kind == "email":
        return frozenset({"email"})
    if session.kind == "loyalty":  # the code went to the contact saved with the card
        sent_to = await kiosk.saved_destination(session)
        if sent_to is not None and sent_to.channel == "email":
            return frozenset({"email"})
    return frozenset()


async def choices_of(request: Request, visit: Visit, store: Store, session: KioskSession,
                     prefs: Preferences | None = None) -> dict[str, Any]:
    """The choices screen's context: the partial's, and the kiosk form's own fields."""
    if prefs is None:
        prefs = await current_choices(store, visit.center, session)
    state = AppState.of(request.app)
    return {**choices_context(state, visit.center, visit.locale, prefs), "session": session.id,
            "known": session.subscriber_id is not None, "submission": secrets.token_urlsafe(12),
            "pause_choice": "keep", "country_field": country_field(visit.center, visit.locale, prefs),
            "region_notice": region_notice(visit.center, visit.locale, prefs.country)}


async def choices_screen(request: Request, visit: Visit, store: Store, session: KioskSession, *,
                         status: int = 200, message: Message | None = None,
                         prefs: Preferences | None = None) -> Template:
    return screen(request, visit, "choices", status=status, message=message,
                  **await choices_of(request, visit, store, session, prefs))


def saved_screen(request: Request, visit: Visit, session: KioskSession, result: SaveResult, _: Any) -> Template:
    text = _("Your choices are saved.") if result.outcome == "saved" else _(
        "Nothing to save: your choices are unchanged.")
    return screen(request, visit, "saved", session=session.id, saved=text)
