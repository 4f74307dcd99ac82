"""The call-center console: ``/c/{center}/agent?t=AGENT_TOKEN``.

An agent on the phone finds the caller by what they say (an e-mail address, a phone
number, a CRM id: exact, through the keyed hash), sees their choices and recent history,
reads out the center's script and saves on their behalf. Who the agent is and what they
may do travels in the signed agent token (query string, then a hidden field), read again
at every request: ``view`` to search and read, ``change`` to save.

Every search is audited (``store/agent_searches``: the keyed hash of what was typed,
never the value) and counted for the per-agent hourly limit; the save form names the
agent's own search, never a subscriber id, so an agent changes only a customer their
search found, within the search's lifetime. A save goes through the one write path with
source ``call_center``, actor ``agent:<id>`` and the script's version and language as
evidence; a form made stale by the customer meanwhile is refused and shown fresh.

All screens are one document: each form posts into ``#console`` by htmx, and the same
forms post plainly without JavaScript (then the answer is the whole page, always ``200``
or the error's status: no redirect, so no contact point ever goes into an address).
The console speaks the agent's language; the script is in the customer's.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from math import ceil
from typing import Any, Mapping, Sequence

import anyio
from babel import Locale
from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from preference_sdk import TokenSigner

from ...centers.model import Center
from ...changes import Changes
from ...contact_input import AGENT_KINDS, normalise
from ...errors import N_, ConsentNotConfirmed, InvalidContact, NotAllowedHere, SearchLimitReached
from ...i18n import Translator, text_direction
from ...ledger import EventContext
from ...preferences import Preferences
from ...settings import Settings
from ...store import agent_searches
from ...store.agent_searches import Search
from ...store.store import Store, Subscriber, VersionConflict
from ...tokens import Agent, read_agent_token
from .. import history_words
from ..dependencies import AppState, Clock, Origins
from ..form_wording import choices_context
from ..forms import Form, desired_preferences, read_submission, read_version, refuse_repeated, single
from ..region_wording import country_field
from ..rendering import page_context
from ..request_context import client_context
from ..security import check_same_origin
from .common import Message, fields_of, visitor_locale

#: The window of the per-agent search limit (``settings.agent_searches_per_hour``).
SEARCH_WINDOW = timedelta(hours=1)
#: How many of a customer's latest changes the panel shows.
HISTORY_LENGTH = 10
#: What ``agent_searches.record`` names a search.
SEARCH_ID = re.compile(r"as_[A-Za-z0-9_-]{1,37}")
#: The console's own fields that must come once (besides the widget's: t, version, lang...).
CONSOLE_FIELDS = ("kind", "value", "search", "contact", "script_version", "script_locale", "agreed")

#: What an agent may search by (contact_input.AGENT_KINDS): its label, and its input's type.
SEARCH_KINDS = {
    "email": (N_("E-mail address"), "email"),
    "phone": (N_("Phone number"), "tel"),
    "external_id": (N_("CRM id"), "text"),
}

NOT_FOUND = {
    "email": N_("No customer has this e-mail address."),
    "phone": N_("No customer has this phone number."),
    "external_id": N_("No customer has this CRM id."),
}


@dataclass(frozen=True)
class Console:
    """Who is at the console and how it speaks to them, carried from the request to the answer."""

    center: Center
    agent: Agent
    token: str
    locale: str

    def gettext(self, request: Request, message: str) -> str:
        return AppState.of(request.app).translator.get(self.locale).gettext(message)


@dataclass(frozen=True)
class Found:
    """A customer an agent's search found: the search (its id is what the form names), the
    contact searched (the only one the console shows) and the subscriber as stored now."""

    search: Search
    contact: str
    subscriber: Subscriber


@dataclass(frozen=True)
class Script:
    """What the agent reads out: the center's current script in the customer's language."""

    version: str
    locale: str
    text: str


def sign_in(request: Request, center: Center, signer: TokenSigner, token: str | None, lang: str | None,
            permission: str = "view") -> Console:
    """The agent a request's token names, with ``permission``; the console's language."""
    agent = read_agent_token(signer, token, center)
    locale = request.state.locale = visitor_locale(request, center, agent.locale, lang)
    if not agent.may(permission):
        raise NotAllowedHere(center=center)
    return Console(center, agent, token or "", locale)


def customer_locale(center: Center, subscriber: Subscriber) -> str:
    return center.locale_or_default(subscriber.locale)


def script_for(center: Center, subscriber: Subscriber) -> Script | None:
    """The script to read to this customer, in their language if the center wrote it in it."""
    if center.call_center is None:
        return None
    wording = center.call_center.script
    locale = customer_locale(center, subscriber)
    if locale not in wording:
        locale = center.default_locale
    return Script(center.call_center.script_version, locale, wording.get(locale, ""))


def search_and_record(store: Store, settings: Settings, console: Console, kind: str, value: str,
                      now: datetime) -> tuple[Search, Subscriber | None]:
    """Count, look up and audit one search, in one write transaction (run in a thread).

    Over the hourly limit nothing is looked up or recorded. The lookup is exact, through
    the keyed hash (a CRM id: the host's reference, equal or not); an erased subscriber
    is found by no one. Found or not, the search is recorded, by the hash of ``value``.
    """
    center, agent = console.center, console.agent
    with store.writing() as connection:
        since = now - SEARCH_WINDOW
        made = agent_searches.count_since(connection, center.id, agent.id, since)
        limit = settings.agent_searches_per_hour
        if made >= limit:
            raise SearchLimitReached(center=center, retry_after=_retry_after(connection, console, since, now, made,
                                                                             limit))
        if kind == "external_id":
            subscriber_id = store.find_by_external_id_in(connection, center.id, value)
        else:
            subscriber_id = store.find_by_contact_in(connection, center.id, kind, value)
        subscriber = store.get_in(connection, center.id, subscriber_id) if subscriber_id else None
        if subscriber is not None and subscriber.erased_at is not None:
            subscriber = None
        search = agent_searches.record(connection, center.id, agent.id, kind, store.lookup_hash(center.id, kind, value),
                                       subscriber.id if subscriber else None, now)
    return search, subscriber


def _retry_after(connection: Any, console: Console, since: datetime, now: datetime, made: int, limit: int) -> int:
    """Seconds until one more search fits in the window: when the search that must age out does."""
    window = agent_searches.listed(connection, console.center.id, agent_id=console.agent.id, since=since, limit=made)
    ages_out = window[min(limit, len(window)) - 1].searched_at + SEARCH_WINDOW if window else now
    return max(1, ceil((ages_out - now).total_seconds()))


def open_search(store: Store, console: Console, search_id: str | None, now: datetime) -> Search:
    """The agent's own search, still open, that found someone: what a save may change; else 403.
    (A value that cannot be a search id is not looked up: PostgreSQL refuses a NUL in text.)"""
    search = None
    if search_id is not None and SEARCH_ID.fullmatch(search_id):
        with store.engine.connect() as connection:
            search = agent_searches.open_search(connection, console.center.id, console.agent.id, search_id, now)
    if search is None:
        raise NotAllowedHere(center=console.center)
    return search


def shown_contact(store: Store, center: Center, search: Search, posted: str | None) -> str:
    """The contact the form says was searched, if it is the one the search hashed (else none):
    the console shows what the agent typed, and nothing the form could be made to say."""
    try:
        value = normalise(search.kind, posted, center.phone_region)
    except InvalidContact:
        return ""
    return value if store.lookup_hash(center.id, search.kind, value) == search.query_hash else ""


# -- the history, in words ------------------------------------------------------------------------


def history_rows(state: AppState, console: Console, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each change as the agent reads it: when, by whom (in words), what (with the form's labels)."""
    _ = state.translator.get(console.locale).gettext
    return history_words.history_rows(history_words.CONSOLE, console.center, console.locale, _, rows)


# -- the screens ----------------------------------------------------------------------------------


def console_context(request: Request, console: Console, message: Message | None) -> dict[str, Any]:
    """What every screen renders from: the page's, the agent's, the forms' addresses."""
    center = console.center
    context = page_context(request, console.locale, center, query={})
    context.update(
        agent=console.agent, token=console.token, message=message,
        console_action=f"/c/{center.id}/agent",
        search_action=f"/c/{center.id}/agent/search",
        save_action=f"/c/{center.id}/agent/save",
        # One element takes the focus when a screen arrives: an alert, else the screen's start.
        focus_start=message is None or message.kind == "success",
    )
    return context


def search_context(request: Request, console: Console, message: Message | None = None, kind: str | None = None,
                   value: str = "", invalid: bool = False) -> dict[str, Any]:
    """The search screen: one small form per kind, each with its own input type, so each
    works without JavaScript and brings up the right on-screen keyboard."""
    _ = AppState.of(request.app).translator.get(console.locale).gettext
    region = console.center.phone_region
    country = Locale.parse(console.locale).territories.get(region) if region else None
    context = console_context(request, console, message)
    context.update(
        screen="partials/_agent_search.html",
        kinds=[(name, _(label), input_type) for name, (label, input_type) in SEARCH_KINDS.items()],
        searched_kind=kind, searched_value=value, invalid=invalid,
        phone_hint=_("A number without its country code is read as a number of %(country)s.") % {"country": country}
        if country else _("Type the number with + and its country code."),
    )
    return context


async def panel_context(request: Request, console: Console, store: Store, found: Found, prefs: Preferences,
                        message: Message | None = None, pause_choice: str = "keep") -> dict[str, Any]:
    """The customer panel: the contact searched, their choices as a form, their recent
    history, the script to read out and the confirmation (never ticked in advance: each
    save needs the customer's agreement to it)."""
    center, state = console.center, AppState.of(request.app)
    script = script_for(center, found.subscriber)
    rows = await store.run_sync(store.recent_events, found.subscriber.id, HISTORY_LENGTH)
    context = console_context(request, console, message)
    context.update(choices_context(state, center, console.locale, prefs))
    context.update(
        country_field=country_field(center, console.locale, prefs),
        screen="partials/_agent_panel.html",
        found=found, kind_label=console.gettext(request, SEARCH_KINDS[found.search.kind][0]),
        pause_choice=pause_choice, submission=secrets.token_urlsafe(12),
        script=script, script_dir=text_direction(script.locale) if script else "ltr",
        script_language=Locale.parse(script.locale).get_display_name(console.locale) if script else "",
        may_change=console.agent.may("change") and script is not None,
        read_only_note=console.gettext(request, (
            "This preference center has no script for agents to read, so changes cannot be made here. "
            "The customer can change their choices from the link in our e-mails.") if script is None else (
            "You can see this customer's choices but not change them.")),
        history=history_rows(state, console, rows),
    )
    return context


def render(request: HTMXRequest, context: dict[str, Any], status: int = 200) -> Template:
    """A screen: into ``#console`` for htmx, else the whole page around it."""
    headers = {"Vary": "HX-Request, Accept-Language"}
    if request.htmx:
        return Template(context["screen"], context=context, status_code=status, headers=headers)
    return Template("pages/agent.html", context=context, status_code=status, headers=headers)


class AgentController(Controller):
    path = "/agent"  # under /c/{center_id}
    include_in_schema = False  # staff screens, not part of the documented API or the visitor pages

    @get(media_type=MediaType.HTML)
    async def console(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        signer: NamedDependency[TokenSigner],
        t: FromQuery[str | None] = None,
        lang: FromQuery[str | None] = None,
    ) -> Template:
        """The console as an agent opens it (from their call-center screen): the search."""
        console = sign_in(request, center, signer, t, lang)
        return render(request, search_context(request, console))

    @post(media_type=MediaType.HTML, status_code=200)
    async def new_search(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        signer: NamedDependency[TokenSigner],
        own_origins: NamedDependency[Origins],
    ) -> Template:
        """"New search": the search screen again, with nothing of the last customer left."""
        console, fields = await self._posted(request, center, signer, own_origins)
        return render(request, search_context(request, console))

    @post("/search", media_type=MediaType.HTML, status_code=200)
    async def search(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        clock: NamedDependency[Clock],
        settings: NamedDependency[Settings],
        own_origins: NamedDependency[Origins],
    ) -> Template:
        """Find a customer by what they say, exactly; found or not, the search is audited."""
        console, fields = await self._posted(request, center, signer, own_origins)
        kind, typed = single(fields, "kind") or "", single(fields, "value") or ""
        _ = AppState.of(request.app).translator.get(console.locale).gettext
        try:
            if kind not in AGENT_KINDS:
                raise InvalidContact(kind="unknown")
            value = normalise(kind, typed, center.phone_region)
        except InvalidContact as error:
            message = Message("error", _(error.detail), _(error.title))
            return render(request, search_context(request, console, message, kind, typed, invalid=True), 422)
        search, subscriber = await anyio.to_thread.run_sync(
            search_and_record, store, settings, console, kind, value, clock())
        if subscriber is None:
            message = Message("warning", _("Check it with the customer, or search with something else."),
                              _(NOT_FOUND[kind]))
            return render(request, search_context(request, console, message, kind, typed))
        found = Found(search, value, subscriber)
        return render(request, await panel_context(request, console, store, found, subscriber.preferences))

    @post("/save", media_type=MediaType.HTML, status_code=200)
    async def save(
        self,
        request: HTMXRequest,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        clock: NamedDependency[Clock],
        changes: NamedDependency[Changes],
        translator: NamedDependency[Translator],
        own_origins: NamedDependency[Origins],
    ) -> Template:
        """Save the customer's choices on their behalf, once they agreed to the script read out."""
        console, fields = await self._posted(request, center, signer, own_origins, "change")
        if center.call_center is None:  # no script to read: no change can be made here
            raise NotAllowedHere(center=center)
        _ = translator.get(console.locale).gettext
        now = clock()
        search = await store.run_sync(open_search, store, console, single(fields, "search"), now)
        subscriber = await store.run_sync(store.get, center.id, search.subscriber_id or "")
        if subscriber is None or subscriber.erased_at is not None:
            raise NotAllowedHere(center=center)
        found = Found(search, shown_contact(store, center, search, single(fields, "contact")), subscriber)
        current = subscriber.preferences
        base_version = read_version(fields)
        desired = desired_preferences(center, current, fields, now)
        # Refused before saving: the agent's ticks are shown again, as they left them.
        kept = replace(desired, version=base_version, paused_until=current.paused_until)
        pause = single(fields, "pause") or "keep"
        if single(fields, "agreed") != "yes":
            message = Message("error", _(ConsentNotConfirmed.detail), _(ConsentNotConfirmed.title))
            return render(request, await panel_context(request, console, store, found, kept, message, pause), 422)
        script = script_for(center, subscriber)
        assert script is not None  # a center with [call_center]
        if (single(fields, "script_version"), single(fields, "script_locale")) != (script.version, script.locale):
            message = Message("warning", _("The script has changed. Read the new one below to the customer, "
                                           "tick that they agreed, then save again."), _("Nothing was saved"))
            return render(request, await panel_context(request, console, store, found, kept, message, pause), 409)
        context = EventContext(
            source="call_center", actor=console.agent.actor, locale=customer_locale(center, subscriber),
            notice_version=center.notice_version,
            evidence={"method": "verbal_consent", "script_version": script.version, "script_locale": script.locale},
            context=client_context(request),
        )
        try:
            result = await changes.save(center.id, subscriber, desired, base_version=base_version, context=context,
                                        submission_id=read_submission(fields))
        except VersionConflict as conflict:
            message = Message("warning", _(
                "The customer's choices were changed elsewhere (on the website, say) while you were editing. "
                "Below are the current ones: review them with the customer again, then save."), _("Nothing was saved"))
            return render(request, await panel_context(request, console, store, found, conflict.current, message), 409)
        text = _("Saved: the customer's choices are recorded.") if result.outcome != "unchanged" else _(
            "Nothing to save: the choices are unchanged.")
        return render(request, await panel_context(request, console, store, found, result.preferences,
                                                   Message("success", text)))

    @staticmethod
    async def _posted(request: Request, center: Center, signer: TokenSigner, own_origins: Origins,
                      permission: str = "view") -> tuple[Console, Form]:
        """What every post of the console checks first: from this site (403), the form (a field that
        must come once, twice: 400; its language noted for errors), then the agent and ``permission``."""
        check_same_origin(request.headers, own_origins)
        fields = fields_of(await request.form())
        refuse_repeated(fields, CONSOLE_FIELDS)
        request.state.lang = single(fields, "lang")
        return sign_in(request, center, signer, single(fields, "t"), single(fields, "lang"), permission), fields
