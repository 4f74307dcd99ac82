"""The preference widget: ``GET`` shows a subscriber's choices, ``POST`` saves them.

The same form serves htmx (answer: the re-rendered form, with a status message swapped
out of band) and plain browsers (answer: ``303`` back to the page). Identity travels
in the signed token (query string, then a hidden field), never in a cookie, so the
widget works inside third-party iframes.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from preference_sdk import TokenClaims, TokenSigner

from ...centers.model import Center
from ...changes import Changes
from ...errors import N_, BadForm, LinkInvalid
from ...i18n import Translator, format_day
from ...ledger import EventContext
from ...preferences import Preferences
from ...privacy_signals import GPC_EVIDENCE, gpc_sent, honour_gpc, sharing_topics
from ...store.store import Store, Subscriber, VersionConflict
from ...tokens import check_not_revoked, read_link
from ..dependencies import AppState, Clock, Origins
from ..embedding import THEME_OPTIONS, read_options, shown_topics
from ..form_wording import choices_context
from ..forms import desired_preferences, read_submission, read_version
from ..openapi import documented, pages
from ..pending_notice import pending_notice
from ..region_wording import country_field, region_notice
from ..rendering import page_context
from ..request_context import client_context
from .common import PREFERENCES_FORM, Message, embed_query, posted_form, visitor_locale


@dataclass(frozen=True)
class Visit:
    """Who is on the page and how they see it, carried from the request to the answer."""

    center: Center
    token: str
    locale: str
    options: dict[str, str] = field(default_factory=dict)  # see embedding.read_options
    #: The browser sends Global Privacy Control and the center has topics it applies to.
    gpc: bool = False

    @property
    def shown_topics(self) -> tuple[str, ...]:
        return shown_topics(self.center, self.options)


async def load_subscriber(store: Store, signer: TokenSigner, center: Center,
                          token: str | None) -> tuple[Subscriber, TokenClaims]:
    """The subscriber a visitor's link opens, or the right error for the link."""
    claims = read_link(signer, token, center)
    subscriber = await store.run_sync(store.get, center.id, claims.subscriber)
    if subscriber is None or subscriber.erased_at is not None:  # an erased record opens to no one
        raise LinkInvalid(center=center)
    check_not_revoked(claims, subscriber.valid_after, center)
    return subscriber, claims


#: A change staff made for the person, as their own page words it: where, never who.
STAFF_CHANGES = {
    "call_center": N_("Last changed by our service team on %(date)s"),
    "kiosk": N_("Last changed in one of our stores on %(date)s"),
}


def staff_change_note(subscriber: Subscriber, translator: Translator, locale: str, tz: str | None) -> str | None:
    """"Last changed by our service team on (date)" when the latest change was made for the
    person by staff (an agent on the phone, a shop's kiosk); else nothing.

    Read with the subscriber (``last_source``, in the same statement); the date is the
    subscriber's ``updated_at``, which every change sets to its event's time.
    """
    wording = STAFF_CHANGES.get(subscriber.last_source or "")
    if wording is None or subscriber.updated_at is None:
        return None
    return translator.get(locale).gettext(wording) % {"date": format_day(subscriber.updated_at, locale, tz)}


def form_context(request: Request, visit: Visit, prefs: Preferences, message: Message | None = None) -> dict[str, Any]:
    """Everything the preference form renders from; a new submission id each time."""
    center, locale, token = visit.center, visit.locale, visit.token
    state = AppState.of(request.app)
    theme_query = {k: v for k, v in visit.options.items() if k in THEME_OPTIONS}
    context = page_context(request, locale, center, query={"t": token, **visit.options}, theme_query=theme_query)
    context.update(choices_context(state, center, locale, prefs, visit.shown_topics, visit.options.get("tz")))
    context.update(
        token=token,
        submission=secrets.token_urlsafe(12),
        form_action=f"/c/{center.id}/preferences",
        history_url=f"/c/{center.id}/history?{urlencode({'t': token, 'lang': locale, **visit.options})}",
        options=visit.options,
        embed_origin=visit.options.get("embed_origin"),
        message=message,
        gpc_topics=sharing_topics(center) if visit.gpc else (),
        pending=pending_notice(request, center, locale, token, prefs, visit.options, state.clock()),
        country_field=country_field(center, locale, prefs),
        region_notice=region_notice(center, locale, prefs.country),
    )
    return context


async def honour_privacy_signal(request: Request, center: Center, subscriber: Subscriber, claims: TokenClaims,
                                locale: str, changes: Changes) -> tuple[Subscriber, bool]:
    """Opt the visitor out of the sharing topics when their browser sends Global Privacy
    Control (``privacy_signals``): recorded as their own choice, the signal as its evidence.
    Returns the subscriber as it now is, and whether anything was recorded."""
    if honour_gpc(center, subscriber.preferences) is subscriber.preferences:
        return subscriber, False
    context = EventContext(
        source="web", actor="subject", locale=locale, notice_version=center.notice_version,
        evidence={**GPC_EVIDENCE, "scope": claims.scope, "link_issued_at": claims.issued_at},
        context=client_context(request),
    )
    result = await changes.apply(center.id, subscriber, lambda prefs: honour_gpc(center, prefs), context)
    return replace(subscriber, preferences=result.preferences), result.outcome == "saved"


def unsaved_choices(visit: Visit, stored: Preferences, request: Request, now: datetime) -> tuple[Preferences, str]:
    """What the visitor had ticked before switching language, or the stored state.

    A draft made from an older version, or one that does not read, is dropped: the
    stored state is the safe thing to show. The pause choice stays a choice ("30 days")
    rather than becoming a date, so that saving later pauses from then.
    """
    fields = {key: request.query_params.getall(key) for key in request.query_params}
    pause = (fields.pop("pause", None) or ["keep"])[-1]
    try:
        if read_version(fields) != stored.version:
            return stored, "keep"
        return desired_preferences(visit.center, stored, fields, now, visit.shown_topics), pause
    except BadForm:
        return stored, "keep"


class WidgetController(Controller):
    path = "/preferences"  # under /c/{center_id}

    @get(media_type=MediaType.HTML, responses=pages(401, 403), operation_class=documented(parameters=embed_query()))
    async def show(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        translator: NamedDependency[Translator],
        clock: NamedDependency[Clock],
        changes: NamedDependency[Changes],
        t: FromQuery[str | None] = None,
        lang: FromQuery[str | None] = None,
        saved: FromQuery[bool] = False,
        switch_to: FromQuery[str | None] = None,
    ) -> Template | Response:
        """The widget. ``switch_to`` is the language switcher: the form itself, sent by GET,
        so the page comes back in another language with the unsaved choices still ticked."""
        if switch_to and request.htmx:
            # The whole page changes language, not just the form: let htmx load it fully. The
            # address is relative: never built from the request's Host, which anyone can set.
            here = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
            return Response(b"", media_type=MediaType.HTML, headers={"HX-Redirect": here, "Vary": "HX-Request"})
        subscriber, claims = await load_subscriber(store, signer, center, t)
        locale = request.state.locale = visitor_locale(request, center, claims.locale, switch_to or lang)
        _ = translator.get(locale).gettext
        message = Message("success", _("Your choices are saved.")) if saved else None
        gpc = gpc_sent(request.headers) and bool(sharing_topics(center))
        if gpc:
            subscriber, opted_out = await honour_privacy_signal(request, center, subscriber, claims, locale, changes)
            if opted_out:
                message = Message("success", _("Your browser asks websites not to sell or share your data (Global "
                                               "Privacy Control). We have switched off what involves sharing it."))
        visit = Visit(center, t or "", locale, read_options(center, request.query_params.get), gpc)
        prefs, pause_choice = subscriber.preferences, "keep"
        if switch_to:
            prefs, pause_choice = unsaved_choices(visit, prefs, request, clock())
        context = form_context(request, visit, prefs, message)
        context["pause_choice"] = pause_choice
        context["staff_change"] = staff_change_note(subscriber, translator, locale, visit.options.get("tz"))
        return Template("pages/preferences.html", context=context, headers={"Vary": "Accept-Language, HX-Request"})

    @post(media_type=MediaType.HTML, status_code=200, responses=pages(303, 401, 403, 409, 413, 422, 503),
          operation_class=documented(body=PREFERENCES_FORM))
    async def save(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        translator: NamedDependency[Translator],
        clock: NamedDependency[Clock],
        changes: NamedDependency[Changes],
        own_origins: NamedDependency[Origins],
    ) -> Template | Redirect:
        form, fields = await posted_form(request, own_origins)
        token = form.get("t")
        subscriber, claims = await load_subscriber(store, signer, center, token)
        locale = request.state.locale = visitor_locale(request, center, claims.locale, form.get("lang"))
        gpc = gpc_sent(request.headers) and bool(sharing_topics(center))
        visit = Visit(center, token or "", locale, read_options(center, form.get), gpc)
        _ = translator.get(locale).gettext
        is_htmx = bool(request.htmx)
        current = subscriber.preferences
        now = clock()
        base_version = read_version(fields)
        desired = desired_preferences(center, current, fields, now, visit.shown_topics)
        if gpc:  # while the browser sends the signal, the sharing topics stay off
            desired = honour_gpc(center, desired)
        if form.get("notice") != center.notice_version:
            return self._respond(request, visit, current, is_htmx, status=409, message=Message(
                "warning", _("Please review your choices and save again."),
                _("The wording of this page has been updated"),
            ))
        context = EventContext(
            source="web", actor="subject", locale=locale, notice_version=center.notice_version,
            evidence={"method": "signed_link", "scope": claims.scope, "link_issued_at": claims.issued_at,
                      **({"signal": GPC_EVIDENCE["signal"]} if gpc else {})},
            context=client_context(request),
        )
        try:
            result = await changes.save(center.id, subscriber, desired, base_version=base_version,
                                        context=context, submission_id=read_submission(fields))
        except VersionConflict as conflict:
            return self._respond(request, visit, conflict.current, is_htmx, status=409, message=Message(
                "warning", _("Your preferences were changed on another device or tab while you were editing. "
                "Below are the current ones: please review them and save again."),
                _("Nothing was saved"),
            ))
        if not is_htmx:
            query = {"t": token, "lang": locale, "saved": "1", **visit.options}
            return Redirect(f"/c/{center.id}/preferences?{urlencode(query)}", status_code=303)
        text = _("Your choices are saved.") if result.outcome != "unchanged" else _(
            "Nothing to save: your choices are unchanged.")
        saved = {"version": result.preferences.version, "changes": [c.path for c in result.changes]}
        return self._respond(request, visit, result.preferences, True, 200, Message("success", text),
                             event=("preferences:saved", saved))

    def _respond(self, request: Request, visit: Visit, prefs: Preferences, is_htmx: bool, status: int,
                 message: Message, event: tuple[str, dict] | None = None) -> Template:
        """The form again (htmx: the fragment, with the message out of band; else the page).

        For htmx, ``event`` (default: an error with the status) is raised in the page
        through ``HX-Trigger``, where ``widget.js`` passes it on to the embedding page.
        """
        context = form_context(request, visit, prefs, message)
        headers = {"Vary": "HX-Request, Accept-Language"}
        if is_htmx:
            name, detail = event or ("preferences:error", {"status": status})
            headers["HX-Trigger"] = json.dumps({name: detail})
            context["oob"] = True
            return Template("partials/_preferences_form.html", context=context, status_code=status, headers=headers)
        return Template("pages/preferences.html", context=context, status_code=status, headers=headers)
