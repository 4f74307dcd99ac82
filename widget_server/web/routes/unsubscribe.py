"""Unsubscribe links: RFC 8058 one-click, and the human page behind the same link.

``POST /c/{center}/unsubscribe?t=TOKEN`` with the body ``List-Unsubscribe=One-Click`` is
what a mail provider sends from its own servers when someone presses "Unsubscribe"
next to the sender's name: no cookie, no ``Origin`` worth checking, no one to redirect.
The token is the authority, and the action only ever reduces contact, so it is honoured
as it comes and answered ``200`` with a few words.

``GET`` on the same link is the page a person sees when they click it in the message.
It changes nothing, since link scanners fetch every link of a message: it says what
will stop and asks to confirm. The confirmation, and an undo right after it, are plain
same-origin form posts (``303`` back to the page), so the page works without
JavaScript and inside the widget's iframe alike.

An unsubscribe must always be honoured: the link keeps working after its subscriber
revoked their links. What it must not do, once revoked, is open more than it did: the
"manage my preferences" link (a fresh ``login`` token) and the undo, which both can add
contact, are only offered while the link is not revoked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from preference_sdk import TokenClaims, TokenSigner

from ...centers.model import Center
from ...changes import Changes
from ...errors import BadForm, LinkInvalid
from ...i18n import Translator
from ...ledger import EventContext
from ...store.store import Store, Subscriber, VersionConflict
from ...tokens import read_link, revoked
from ...unsubscribing import SCOPE, CannotUnsubscribe, Target, target_of, undoable_event, undone
from ..dependencies import Clock, Origins
from ..embedding import THEME_OPTIONS, read_options
from ..labels import CHANNEL_LABELS
from ..openapi import documented, pages
from ..rendering import page_context
from ..request_context import client_context
from ..security import check_same_origin
from .common import ONE_CLICK_TOKEN, UNSUBSCRIBE_FORM, Message, embed_query, fields_of, visitor_locale

ONE_CLICK = "One-Click"  # RFC 8058: the body is exactly List-Unsubscribe=One-Click


class NotOneClick(BadForm):
    """A post that is neither RFC 8058's one-click body nor the page's confirmation."""

    status = 400


@dataclass(frozen=True)
class Link:
    """An opened unsubscribe link: whose, what for, in which language and frame."""

    center: Center
    token: str
    claims: TokenClaims
    subscriber: Subscriber
    locale: str
    options: dict[str, str]

    @property
    def trusted(self) -> bool:
        """Not revoked: may also lead to the widget, or undo."""
        return not revoked(self.claims, self.subscriber.valid_after)

    def page_url(self, **flags: str) -> str:
        query = {"t": self.token, "lang": self.locale, **self.options, **flags}
        return f"/c/{self.center.id}/unsubscribe?{urlencode(query)}"

    def context(self, method: str, request: Request, **evidence: Any) -> EventContext:
        """How the event records this link's change: its source, method and client."""
        return EventContext(
            source="email_link", actor="subject", locale=self.locale, notice_version=self.center.notice_version,
            evidence={"method": method, "scope": SCOPE, "link_issued_at": self.claims.issued_at, **evidence},
            context=client_context(request),
        )


async def open_link(request: Request, store: Store, signer: TokenSigner, center: Center, token: str | None,
                    lang: str | None, options_from: Callable[[str], str | None]) -> Link:
    """The link's subscriber and claims, or the right error: expired ``401``, bad ``403``.

    Revocation is deliberately not checked here (see the module's docstring).
    """
    claims = read_link(signer, token, center, scopes=(SCOPE,))
    subscriber = await store.run_sync(store.get, center.id, claims.subscriber)
    if subscriber is None or subscriber.erased_at is not None:  # an erased record opens to no one
        raise LinkInvalid(center=center)
    locale = request.state.locale = visitor_locale(request, center, claims.locale, lang)
    return Link(center, token or "", claims, subscriber, locale, read_options(center, options_from))


def manage_url(signer: TokenSigner, link: Link) -> str | None:
    """A fresh, short-lived ``login`` link to the widget: never the unsubscribe token itself."""
    if not link.trusted:
        return None
    login = signer.mint("login", link.center.id, link.subscriber.id, l=link.locale)
    return f"/c/{link.center.id}/preferences?{urlencode({'t': login, **link.options})}"


def page(request: Request, translator: Translator, signer: TokenSigner, link: Link, template: str,
         target: Target | None, status: int = 200, **extra: Any) -> Template:
    """One of the unsubscribe pages, in the link's language and the embed's theme."""
    center, locale = link.center, link.locale
    theme_query = {k: v for k, v in link.options.items() if k in THEME_OPTIONS}
    context = page_context(request, locale, center, theme_query=theme_query)
    _ = translator.get(locale).gettext
    topic = target.topic if target else None
    context.update(
        token=link.token,
        options=link.options,
        embed_origin=link.options.get("embed_origin"),
        action=f"/c/{center.id}/unsubscribe",
        topic_label=center.text(topic.label, locale) if topic else None,
        channel_label=_(CHANNEL_LABELS[target.channel]) if target and target.channel else None,
        has_required=any(not t.switchable for t in center.topics),
        manage_url=manage_url(signer, link),
        fresh_link_url=f"/c/{center.id}/link?{urlencode({'lang': locale})}",
        **extra,
    )
    return Template(template, context=context, status_code=status, headers={"Vary": "Accept-Language"})


class UnsubscribeController(Controller):
    path = "/unsubscribe"  # under /c/{center_id}

    @get(media_type=MediaType.HTML, responses=pages(401, 403, 422),
         operation_class=documented(parameters=embed_query()))
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
        done: FromQuery[bool] = False,
        undone: FromQuery[bool] = False,
    ) -> Template:
        """What the link will switch off, and a button to confirm; or, once it is off,
        that it is done (with an undo for a while). Reading this page changes nothing."""
        link = await open_link(request, store, signer, center, t, lang, request.query_params.get)
        _ = translator.get(link.locale).gettext
        try:
            target = target_of(center, link.claims)
        except CannotUnsubscribe as problem:
            return page(request, translator, signer, link, "pages/unsubscribe_unavailable.html", None,
                        problem.status, title=_(problem.title), detail=_(problem.detail))
        prefs = link.subscriber.preferences
        if target.pending(center, prefs):
            message = Message("success", _("You are subscribed again.")) if undone else None
            return page(request, translator, signer, link, "pages/unsubscribe.html", target, message=message)
        event = None
        if link.trusted:
            event = await store.run_sync(undoable_event, store, link.subscriber.id, clock(), link.claims.issued_at)
        return page(request, translator, signer, link, "pages/unsubscribe_done.html", target, just_done=done,
                    undo_event=event)

    @post(media_type=MediaType.HTML, status_code=200, responses=pages(303, 401, 403, 409, 413, 422, 503),
          operation_class=documented(parameters=[ONE_CLICK_TOKEN], body=UNSUBSCRIBE_FORM,
                                     also={"200": {"text/plain": Schema(type=OpenAPIType.STRING)}}))
    async def unsubscribe(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        translator: NamedDependency[Translator],
        clock: NamedDependency[Clock],
        changes: NamedDependency[Changes],
        own_origins: NamedDependency[Origins],
    ) -> Response | Redirect | Template:
        """RFC 8058's one-click (told apart by its body), or one of the page's two buttons."""
        form = await request.form()
        fields_of(form)
        if form.get("List-Unsubscribe") == ONE_CLICK:
            link = await open_link(request, store, signer, center, request.query_params.get("t"), None,
                                   lambda _: None)
            return await one_click(request, translator, changes, link)
        request.state.lang = form.get("lang")  # for errors before the language is settled
        action = form.get("action")
        if action not in ("confirm", "undo"):
            raise NotOneClick(center=center)
        check_same_origin(request.headers, own_origins)
        link = await open_link(request, store, signer, center, form.get("t"), form.get("lang"), form.get)
        if action == "undo":
            return await undo(request, store, signer, translator, clock, changes, link, form.get("event"))
        target = target_of(center, link.claims)
        context = link.context("confirmed_on_page", request)
        await changes.apply(center.id, link.subscriber, lambda p: target.apply(center, p), context)
        return Redirect(link.page_url(done="1"), status_code=303)


async def one_click(request: Request, translator: Translator, changes: Changes, link: Link) -> Response:
    """RFC 8058: the token in the query, applied at once; a repeat records nothing."""
    center = link.center
    target = target_of(center, link.claims)
    context = link.context("one_click", request)
    await changes.apply(center.id, link.subscriber, lambda p: target.apply(center, p), context)
    text = translator.get(link.locale).gettext("You are unsubscribed")
    return Response(text + "\n", status_code=200, media_type=MediaType.TEXT,
                    headers={"Content-Language": link.locale})


async def undo(request: Request, store: Store, signer: TokenSigner, translator: Translator, clock: Clock,
               changes: Changes, link: Link, version: str | None) -> Template | Redirect:
    """Put back what the unsubscribe just switched off, as its own event.

    Only the latest event, only if it is an unsubscribe, only for a while after it,
    and only with a link that is not revoked: anything else is answered ``409`` with
    the page as it stands.
    """
    center = link.center
    target = target_of(center, link.claims)
    event = None
    if link.trusted:
        event = await store.run_sync(undoable_event, store, link.subscriber.id, clock(), link.claims.issued_at)
    if event is not None and str(event["version"]) == version:
        context = link.context("undo_on_page", request, undoes_version=event["version"])
        current = link.subscriber.preferences
        try:
            await changes.save(center.id, link.subscriber, undone(event, current),
                               base_version=current.version, context=context)
        except VersionConflict:
            pass  # something else was saved meanwhile: that is newer than the undo
        else:
            return Redirect(link.page_url(undone="1"), status_code=303)
    _ = translator.get(link.locale).gettext
    message = Message("warning", _("This can no longer be undone here. You can still change everything "
                                   "in your preferences."), _("Nothing was saved"))
    fresh = await store.run_sync(store.get, center.id, link.subscriber.id)
    link = replace(link, subscriber=fresh or link.subscriber)
    template = "pages/unsubscribe.html" if target.pending(center, link.subscriber.preferences) else \
        "pages/unsubscribe_done.html"
    return page(request, translator, signer, link, template, target, 409, message=message, undo_event=None)
