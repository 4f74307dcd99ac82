""""Send me a new link": the way back in when a link has expired or does not work.

The answer is the same whether or not we know the address, and the mail is sent after
the response, so neither the page nor its timing tells who is a subscriber. An expired
link still proves who its holder was (its signature is intact), so it can ask for a new
link without typing anything.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromQuery
from litestar.response import Template
from preference_sdk import TokenSigner

from ...centers.model import Center
from ...errors import LinkExpired, LinkInvalid
from ...mailer import build_message
from ...store.store import Store
from ...tokens import WIDGET_SCOPES, read_link
from ..dependencies import AppState, Origins
from ..rendering import page_context
from ..security import check_same_origin
from .common import fields_of, visitor_locale

log = logging.getLogger("widget_server.links")


def subscriber_of_link(signer: TokenSigner, center: Center, token: str) -> str | None:
    """Whose link this is, if authentic, expired or not (an old unsubscribe link counts too)."""
    try:
        return read_link(signer, token, center, scopes=(*WIDGET_SCOPES, "unsubscribe")).subscriber
    except LinkExpired as expired:
        claims = expired.extra.get("claims")
        return claims.subscriber if claims else None
    except LinkInvalid:
        return None


async def send_fresh_link(state: AppState, center: Center, subscriber_id: str, locale: str) -> None:
    """Mint a short-lived ``login`` link and mail it to the subscriber's address.

    It runs after the response (a background task), so it takes the app's state whole.
    """
    address = await state.store.run_sync(state.store.contact, subscriber_id, "email")
    if not address:
        return
    token = state.signer.mint("login", center.id, subscriber_id, l=locale)
    link = f"{state.settings.base_url}/c/{center.id}/preferences?{urlencode({'t': token})}"
    env = state.jinja
    translations = state.translator.get(locale)
    context = {"translations": translations, "center": center, "link": link, "locale": locale}
    subject = translations.gettext("Your link to manage your preferences")
    text = env.get_template("emails/fresh_link.txt").render(context)
    message = build_message(state.settings.mail_from, address, f"{center.name}: {subject}", text)
    try:
        await state.mailer.send(message)
    except Exception as exc:  # noqa: BLE001 - the visitor already has their answer
        log.error("fresh link mail for %s not sent: %s", center.id, type(exc).__name__)


class FreshLinkController(Controller):
    path = "/link"  # under /c/{center_id}

    @get(media_type=MediaType.HTML)
    async def ask(
        self,
        request: Request,
        center: NamedDependency[Center],
        lang: FromQuery[str | None] = None,
    ) -> Template:
        locale = visitor_locale(request, center, None, lang)
        context = page_context(request, locale, center)
        return Template("pages/fresh_link.html", context=context)

    # Only this route is rate limited: it sends mail.
    @post(media_type=MediaType.HTML, status_code=200, middleware=[RateLimitConfig(("minute", 10)).middleware])
    async def send(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        own_origins: NamedDependency[Origins],
    ) -> Template:
        check_same_origin(request.headers, own_origins)
        form = await request.form()
        fields_of(form)
        locale = request.state.locale = visitor_locale(request, center, None, form.get("lang"))
        subscriber_id = None
        if form.get("t"):
            subscriber_id = subscriber_of_link(signer, center, form["t"])
        elif form.get("email"):
            subscriber_id = await store.run_sync(store.find_by_contact, center.id, "email", form["email"])
        state = AppState.of(request.app)
        task = BackgroundTask(send_fresh_link, state, center, subscriber_id, locale) if subscriber_id else None
        context = page_context(request, locale, center)
        return Template("pages/fresh_link_sent.html", context=context, background=task)
