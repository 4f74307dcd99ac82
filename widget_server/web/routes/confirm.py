"""``/c/{center}/confirm``: the page behind every confirmation link, and the button that acts.

A double opt-in's link, a re-permission's "keep me subscribed" and an erasure's
confirmation are all ``confirm`` tokens (``confirm_links``: the token says which, when it
stops working, and its id). ``GET`` shows what the button will do and changes nothing:
mail security scanners open every link of a message, and a confirmation they could
trigger would prove nothing. Only the page's ``POST`` (same-origin, like every form post
here) acts, through the one write path, with the link as the event's evidence:

* ``opt_in``: every pending email subscription becomes ``opted_in``, consent since now
  and until the region's lifetime (``legal_bases.basis_for``); evidence
  ``{"method": "double_opt_in", "token_id", "confirmed_at"}``;
* ``renew``: the subscription it names gets a fresh consent, since now (evidence
  ``{"method": "repermission", ...}``), while it is still opted in;
* ``erase``: the erasure of ``store/gdpr.erase``, which keeps only the proof.

A link works once (``store/confirmations.use``, in the change's transaction). Whatever
goes wrong is a page in the visitor's language with its status and nothing changed:
tampered ``403``, past its end or revoked ``401`` (with a button to send a new one when
there is something left to confirm), used already ``410``, nothing left to do ``409``.

``POST /c/{center}/confirm/resend`` sends a double opt-in's mail again, from the widget's
"pending" message (its link) or the expired page (the old link): within the new-link
limits (``429`` with ``Retry-After`` over them), and the same answer whether or not
there is an address to send it to.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromQuery
from litestar.response import Template
from preference_sdk import TokenSigner
from sqlalchemy import Connection

from ... import confirm_links
from ...centers.model import Center
from ...changes import Changes
from ...confirm_links import ERASE, OPT_IN, RENEW, ConfirmLink, LinkOutdated, LinkUnreadable
from ...errors import N_, LinkInvalid, WidgetError
from ...i18n import Translator, format_moment
from ...ledger import EventContext
from ...legal_bases import CONSENT, BasisNotAllowed, basis_for
from ...preferences import OPTED_IN, PENDING, Preferences, suppress_all
from ...store import confirmations, gdpr
from ...store.confirmations import EMAIL, AlreadyUsed
from ...store.mail_outbox import CONFIRM
from ...store.store import Store, Subscriber, UnknownSubscriber
from ...tokens import WIDGET_SCOPES, read_link
from ...workers.mail import MailQueue
from ..dependencies import Clock, Origins
from ..embedding import THEME_OPTIONS, read_options
from ..labels import CHANNEL_LABELS
from ..openapi import documented, form, pages
from ..rendering import page_context
from ..request_context import client_context
from .common import posted_form, visitor_locale

CONFIRM_FORM = form({
    "t": Schema(type=OpenAPIType.STRING, description="The confirmation link's token"),
    "lang": Schema(type=OpenAPIType.STRING, description="The page's language, if the center has it"),
})
RESEND_FORM = form({
    "t": Schema(type=OpenAPIType.STRING, description="The widget's link, or the expired confirmation link"),
    "lang": Schema(type=OpenAPIType.STRING, description="The page's language, if the center has it"),
})

#: What each purpose's page says: its title, its question, its button, and its result.
WORDING = {
    OPT_IN: (N_("Confirm your subscription"), N_("Press the button to confirm that you want to receive:"),
             N_("Confirm my subscription"), N_("Thank you: your subscription is confirmed.")),
    RENEW: (N_("Keep receiving our messages"), N_("Press the button to keep receiving:"),
            N_("Keep me subscribed"), N_("Thank you: you will keep receiving these messages.")),
    ERASE: (N_("Erase your data"), N_("Once you press the button, we erase:"),
            N_("Erase my data"), N_("Your data is erased.")),
}
#: What an erasure deletes and keeps, in the person's words (store/gdpr.py's DELETED and KEPT).
ERASED = (N_("your e-mail address and every other way to contact you"), N_("your choices and interests"),
          N_("our reference to you in our customer records"))
ERASURE_KEEPS = N_("We keep only the record that you gave and withdrew your consent, which names no one once "
                   "your contact details are erased: the law asks us to be able to prove it.")


class ConfirmProblem(Exception):
    """What a confirmation link cannot do, as a page of its own (it says what to do next).
    ``title`` and ``detail`` are msgids; ``resend``: the page offers to send a new link."""

    def __init__(self, status: int, title: str, detail: str, *, resend: bool = False) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.resend = status, title, detail, resend


class NothingToDo(Exception):
    """The link is valid, but what it would confirm is no longer there (raised in the transaction)."""


@dataclass(frozen=True)
class Opened:
    """A confirmation link that reads, its subscriber, and the page's language."""

    center: Center
    link: ConfirmLink
    subscriber: Subscriber
    locale: str


def _opened(request: Request, store: Store, signer: TokenSigner, center: Center, token: str | None,
            lang: str | None, now: datetime) -> Opened:
    """The link and its subscriber, or the page that says why not (nothing is changed)."""
    try:
        link = confirm_links.read(signer, token, center.id, now)
    except LinkUnreadable:
        raise LinkInvalid(center=center) from None
    except LinkOutdated as stale:
        request.state.locale = visitor_locale(request, center, stale.link.locale, lang)
        subscriber = store.get(center.id, stale.link.subscriber)
        live = subscriber is not None and subscriber.erased_at is None
        # A new link only helps while something still waits: a pending whose own time is over
        # has expired with it, and subscribing again starts afresh from the preferences.
        if stale.link.purpose == OPT_IN and live and subscriber and pending_keys(subscriber.preferences, now):
            raise ConfirmProblem(401, N_("This link has expired"), N_(
                "Confirmation links work for a limited time. We can send you a new one."), resend=True) from None
        if stale.link.purpose == OPT_IN:
            raise ConfirmProblem(401, N_("This link has expired"), N_(
                "The time to confirm has passed, so nothing was subscribed. To subscribe, choose again in your "
                "preferences: we can send you a link to them.")) from None
        raise ConfirmProblem(401, N_("This link has expired"), N_(
            "Confirmation links work for a limited time.")) from None
    subscriber = store.get(center.id, link.subscriber)
    locale = request.state.locale = visitor_locale(request, center, link.locale, lang)
    if subscriber is not None and subscriber.erased_at is not None and link.purpose == ERASE:
        raise ConfirmProblem(410, N_("This link has already been used"), N_("Your data was erased."))
    if subscriber is None or subscriber.erased_at is not None:  # an erased record opens to no one
        raise LinkInvalid(center=center)
    if confirm_links.outdated(link, subscriber.valid_after):
        raise ConfirmProblem(401, N_("This link has expired"), N_(
            "You signed out every link we sent you, this one too. We can send you a new one.")
            if link.purpose == OPT_IN else N_("You signed out every link we sent you, this one too."),
            resend=link.purpose == OPT_IN)
    return Opened(center, link, subscriber, locale)


def _items(center: Center, locale: str, translator: Translator, keys: list[tuple[str, str]]) -> list[str]:
    """"Offers: E-mail" for each subscription, in the page's language."""
    gettext = translator.get(locale).gettext
    shown = []
    for topic_id, channel in keys:
        topic = center.topic(topic_id)
        label = center.text(topic.label, locale) if topic else topic_id
        shown.append(f"{label}: {gettext(CHANNEL_LABELS[channel])}" if channel in CHANNEL_LABELS else label)
    return shown


def pending_keys(prefs: Preferences, now: datetime) -> list[tuple[str, str]]:
    """The email subscriptions waiting for a confirmation whose wait is not over."""
    return sorted(key for key, state in prefs.subscriptions.items()
                  if state == PENDING and key[1] == EMAIL
                  and not ((basis := prefs.basis(*key)) is not None and basis.expired(now)))


def what_it_does(opened: Opened, now: datetime) -> list[tuple[str, str]]:
    """The subscriptions the link would change now (an erasure: none named); empty: nothing to do."""
    prefs = opened.subscriber.preferences
    if opened.link.purpose == OPT_IN:
        return pending_keys(prefs, now)
    if opened.link.purpose == RENEW:
        key = (opened.link.topic or "", opened.link.channel or "")
        return [key] if prefs.state(*key) == OPTED_IN else []
    return []


def manage_url(signer: TokenSigner, center: Center, subscriber_id: str, locale: str) -> str:
    """A fresh, short-lived ``login`` link to the widget: never the confirmation token itself."""
    login = signer.mint("login", center.id, subscriber_id, l=locale)
    return f"/c/{center.id}/preferences?{urlencode({'t': login, 'lang': locale})}"


def _page(request: Request, center: Center, locale: str, template: str, status: int = 200,
          background: BackgroundTask | None = None, theme_query: dict[str, str] | None = None,
          **extra: Any) -> Template:
    """One of the confirmation pages; the language switcher keeps the link (only the link), and
    a page reached from the widget's frame keeps its theme."""
    token = extra.get("token")
    context = page_context(request, locale, center, query={"t": token} if token else {}, theme_query=theme_query)
    context.update(extra)
    return Template(template, context=context, status_code=status, headers={"Vary": "Accept-Language"},
                    background=background)


class ConfirmController(Controller):
    path = "/confirm"  # under /c/{center_id}

    @get(media_type=MediaType.HTML, responses=pages(401, 403, 409, 410))
    async def show(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        translator: NamedDependency[Translator],
        clock: NamedDependency[Clock],
        t: FromQuery[str | None] = None,
        lang: FromQuery[str | None] = None,
    ) -> Template:
        """What the button will do. Opening this page changes nothing."""
        now = clock()
        try:
            opened = await store.run_sync(_opened, request, store, signer, center, t, lang, now)
        except ConfirmProblem as problem:
            return self._problem(request, center, problem, t)
        used = await store.run_sync(self._used, store, opened.link.token_id)
        if used:
            return self._problem(request, center, self._already_used(opened), t)
        keys = what_it_does(opened, now)
        if opened.link.purpose != ERASE and not keys:
            return self._problem(request, center, self._nothing_left(opened), t)
        title, question, button, _result = WORDING[opened.link.purpose]
        if opened.link.purpose == ERASE:
            gettext = translator.get(opened.locale).gettext
            items = [gettext(each) for each in ERASED]
        else:
            items = _items(center, opened.locale, translator, keys)
        return _page(request, center, opened.locale, "pages/confirm.html", token=t or "", purpose=opened.link.purpose,
                     title=title, question=question, button=button, items=items,
                     keeps=ERASURE_KEEPS if opened.link.purpose == ERASE else None,
                     action=f"/c/{center.id}/confirm", until=format_moment(opened.link.expires_at, opened.locale))

    @post(media_type=MediaType.HTML, status_code=200, responses=pages(401, 403, 409, 410, 413, 503),
          operation_class=documented(body=CONFIRM_FORM))
    async def confirm(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        translator: NamedDependency[Translator],
        clock: NamedDependency[Clock],
        changes: NamedDependency[Changes],
        own_origins: NamedDependency[Origins],
    ) -> Template:
        """Do what the link asks, once, through the one write path; then say it is done."""
        posted, _fields = await posted_form(request, own_origins)
        token, lang = posted.get("t"), posted.get("lang")
        now = clock()
        try:
            opened = await store.run_sync(_opened, request, store, signer, center, token, lang, now)
        except ConfirmProblem as problem:
            return self._problem(request, center, problem, token)
        context = self._context(request, opened, now)
        try:
            await changes.write(lambda connection: self._act(connection, store, opened, context, now))
        except AlreadyUsed:
            return self._problem(request, center, self._already_used(opened), token)
        except (NothingToDo, UnknownSubscriber):
            return self._problem(request, center, self._nothing_left(opened), token)
        _title, _question, _button, result = WORDING[opened.link.purpose]
        manage = None if opened.link.purpose == ERASE else manage_url(signer, center, opened.subscriber.id,
                                                                     opened.locale)
        return _page(request, center, opened.locale, "pages/confirm_done.html", purpose=opened.link.purpose,
                     result=result, manage_url=manage)

    @get("/resend", media_type=MediaType.HTML, responses=pages(401, 403))
    async def ask_resend(
        self,
        request: Request,
        center: NamedDependency[Center],
        signer: NamedDependency[TokenSigner],
        t: FromQuery[str | None] = None,
        lang: FromQuery[str | None] = None,
    ) -> Template:
        """The widget's "send me the confirmation e-mail again": a page whose button posts (a
        link opened by a scanner sends nothing)."""
        subscriber_id, token_locale = _resend_for(signer, center, t)
        if subscriber_id is None:
            raise LinkInvalid(center=center)
        locale = request.state.locale = visitor_locale(request, center, token_locale, lang)
        options = read_options(center, request.query_params.get)  # opened in the widget's frame: its look
        back = f"/c/{center.id}/preferences?{urlencode({'t': t or '', 'lang': locale, **options})}"
        return _page(request, center, locale, "pages/confirm_resend.html", token=t or "", back_url=back,
                     options=options, resend_action=f"/c/{center.id}/confirm/resend",
                     theme_query={k: v for k, v in options.items() if k in THEME_OPTIONS})

    @post("/resend", media_type=MediaType.HTML, status_code=200, responses=pages(403, 413, 429, 503),
          operation_class=documented(body=RESEND_FORM))
    async def resend(
        self,
        request: Request,
        center: NamedDependency[Center],
        signer: NamedDependency[TokenSigner],
        mail_queue: NamedDependency[MailQueue],
        own_origins: NamedDependency[Origins],
    ) -> Template:
        """Send the confirmation mail again (within the limits); the same answer either way."""
        posted, _fields = await posted_form(request, own_origins)
        token = posted.get("t")
        subscriber_id, token_locale = _resend_for(signer, center, token)
        locale = request.state.locale = visitor_locale(request, center, token_locale, posted.get("lang"))
        if subscriber_id is None:
            raise LinkInvalid(center=center)
        client = request.client.host if request.client else None
        await mail_queue.for_subscriber(CONFIRM, center.id, locale, client, subscriber_id)
        back, options = None, read_options(center, posted.get)
        if token and posted.get("from") == "widget":  # the way back to the widget the button was on
            back = f"/c/{center.id}/preferences?{urlencode({'t': token, 'lang': locale, **options})}"
        # The worker is woken once the answer is sent, so its work never delays the answer.
        return _page(request, center, locale, "pages/confirm_sent.html", back_url=back,
                     background=BackgroundTask(mail_queue.wake),
                     theme_query={k: v for k, v in options.items() if k in THEME_OPTIONS})

    # -- the work and its pages --------------------------------------------------------------

    @staticmethod
    def _used(store: Store, token_id: str) -> bool:
        with store.engine.connect() as connection:
            return confirmations.used(connection, token_id)

    @staticmethod
    def _context(request: Request, opened: Opened, now: datetime) -> EventContext:
        link = opened.link
        method = {OPT_IN: "double_opt_in", RENEW: "repermission", ERASE: "erasure_confirmed_by_email"}[link.purpose]
        return EventContext(
            source="email_link", actor="subject", locale=opened.locale, notice_version=opened.center.notice_version,
            evidence={"method": method, "token_id": link.token_id, "confirmed_at": now.isoformat(timespec="seconds"),
                      "link_issued_at": link.issued_at},
            context=client_context(request),
        )

    @staticmethod
    def _act(connection: Connection, store: Store, opened: Opened, context: EventContext, now: datetime) -> None:
        """In the write transaction: the link is used, and its change written, or neither."""
        link, center = opened.link, opened.center
        confirmations.use(connection, link.token_id, center.id, link.subscriber, link.purpose, now)
        current = store.get_in(connection, center.id, link.subscriber)
        if current is None or current.erased_at is not None:
            raise NothingToDo()
        prefs = current.preferences
        if link.purpose == ERASE:
            withdrawn = suppress_all(center, replace(Preferences(version=prefs.version),
                                                     subscriptions=prefs.subscriptions))
            gdpr.erase(store, connection, center.id, link.subscriber, withdrawn, context, now)
            return
        keys = what_it_does(replace(opened, subscriber=current), now)
        if not keys:
            raise NothingToDo()
        states, bases = dict(prefs.subscriptions), dict(prefs.bases)
        for topic, channel in keys:
            states[(topic, channel)] = OPTED_IN
            try:
                bases[(topic, channel)] = basis_for(center, prefs.country, topic, channel, CONSENT, since=now)
            except BasisNotAllowed:  # the region's rule changed since: consent no longer serves there
                raise NothingToDo() from None
        desired = replace(prefs, subscriptions=states, bases=bases)
        store.save_in(connection, center.id, link.subscriber, desired, base_version=prefs.version, context=context,
                      seen=prefs)

    @staticmethod
    def _already_used(opened: Opened) -> ConfirmProblem:
        if opened.link.purpose == ERASE:
            return ConfirmProblem(410, N_("This link has already been used"), N_("Your data was erased."))
        return ConfirmProblem(410, N_("This link has already been used"),
                              N_("It was confirmed already: there is nothing more to do."))

    @staticmethod
    def _nothing_left(opened: Opened) -> ConfirmProblem:
        if opened.link.purpose == RENEW:
            return ConfirmProblem(409, N_("Nothing to renew"), N_(
                "This subscription is no longer active, so it cannot be renewed. You can subscribe again in your "
                "preferences."))
        return ConfirmProblem(409, N_("Nothing to confirm"), N_(
            "There is no subscription waiting for a confirmation any more: it was confirmed, changed, or its time "
            "to confirm has passed. You can choose again in your preferences."))

    def _problem(self, request: Request, center: Center, problem: ConfirmProblem, token: str | None) -> Template:
        locale = getattr(request.state, "locale", None) or visitor_locale(request, center, None, None)
        # The token stays in the language switcher's links: the page in another language says the same.
        return _page(request, center, locale, "pages/confirm_problem.html", status=problem.status,
                     title=problem.title, detail=problem.detail, resend_token=token if problem.resend else None,
                     resend_action=f"/c/{center.id}/confirm/resend", token=token or None)


def _resend_for(signer: TokenSigner, center: Center, token: str | None) -> tuple[str | None, str | None]:
    """Whose confirmation to send again: a widget link's holder (a revoked or expired link is
    refused as the widget refuses it), or an authentic double opt-in link's, expired or not."""
    try:
        claims = read_link(signer, token, center, WIDGET_SCOPES)
        return claims.subscriber, claims.locale
    except WidgetError:
        pass
    return confirm_links.whose(signer, token, center.id, OPT_IN), None
