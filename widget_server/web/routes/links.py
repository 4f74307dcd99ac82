""""Send me a new link": the way back in when a link has expired or does not work.

The answer is the same whether or not we know the address, and so is the work behind
it: the request queues the mail under the address's keyed hash (``workers/mail.MailQueue``)
without asking whose it is, and the mail worker finds out, mints the link and sends, after
the answer. Neither the page, nor its timing, nor the row written tells who is a subscriber.
An expired link still proves who its holder was (its signature is intact), so it can ask
for a new link without typing anything.

Mails are limited per address and per client address, each per center, counted in the
database so that every process shares the count; over a limit the answer is the site's
error page, ``429`` with ``Retry-After``.

"Check your inbox" is not a dead end: it says how long a mail may take and where else to
look (the spam folder), shows the address typed (a typo is the likeliest cause of a mail
that never comes), sends again with the same fields (the same post, so the same limits)
and leads back to the form for another address. It holds what the visitor typed, so it is
never cached.
"""

from __future__ import annotations

from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template
from preference_sdk import TokenSigner

from ...centers.model import Center
from ...errors import LinkExpired, LinkInvalid
from ...tokens import WIDGET_SCOPES, read_link
from ...workers.mail import MailQueue
from ..dependencies import Origins
from ..openapi import documented, pages
from ..rendering import page_context
from .common import FRESH_LINK_FORM, posted_form, visitor_locale


def subscriber_of_link(signer: TokenSigner, center: Center, token: str) -> str | None:
    """Whose link this is, if authentic, expired or not (an old unsubscribe link counts too)."""
    try:
        return read_link(signer, token, center, scopes=(*WIDGET_SCOPES, "unsubscribe")).subscriber
    except LinkExpired as expired:
        claims = expired.extra.get("claims")
        return claims.subscriber if claims else None
    except LinkInvalid:
        return None


class FreshLinkController(Controller):
    path = "/link"  # under /c/{center_id}

    @get(media_type=MediaType.HTML, responses=pages())
    async def ask(
        self,
        request: Request,
        center: NamedDependency[Center],
        lang: FromQuery[str | None] = None,
    ) -> Template:
        locale = visitor_locale(request, center, None, lang)
        context = page_context(request, locale, center)
        return Template("pages/fresh_link.html", context=context)

    # Only this route is rate limited, by MailQueue: it sends mail.
    # Over a limit, LinkLimitReached: the one error handler's page, with Retry-After.
    @post(media_type=MediaType.HTML, status_code=200,
          responses=pages(403, 413, 429, 503), operation_class=documented(body=FRESH_LINK_FORM))
    async def send(
        self,
        request: Request,
        center: NamedDependency[Center],
        signer: NamedDependency[TokenSigner],
        mail_queue: NamedDependency[MailQueue],
        own_origins: NamedDependency[Origins],
    ) -> Template:
        form, _fields = await posted_form(request, own_origins)
        locale = request.state.locale = visitor_locale(request, center, None, form.get("lang"))
        client = request.client.host if request.client else None
        again: dict[str, str] = {}  # what "send it again" posts: the same fields
        if isinstance(token := form.get("t"), str) and token:
            again["t"] = token
            subscriber_id = subscriber_of_link(signer, center, token)
            if subscriber_id:
                await mail_queue.fresh_link(center.id, locale, client, subscriber_id=subscriber_id)
        elif isinstance(address := form.get("email"), str) and address.strip():
            again["email"] = address.strip()
            # Queued whoever the address is: who it belongs to is the worker's question.
            await mail_queue.fresh_link(center.id, locale, client, address=address)
        context = page_context(request, locale, center)
        context.update(again=again, typed_address=again.get("email"), another_address_url=f"/c/{center.id}/link?"
                       + urlencode({"lang": locale}))
        # The worker is woken once the answer is sent, so its work never delays the answer.
        return Template("pages/fresh_link_sent.html", context=context, background=BackgroundTask(mail_queue.wake),
                        headers={"Cache-Control": "no-store"})
