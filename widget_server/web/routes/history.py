"""The person's own view: ``/c/{center}/history``, opened with the widget's links.

Their history in plain words (where each change was made, never who), their data as the
same document the API's export answers, and "sign out every link I was sent", which
revokes every link signed until now, the one in use included. The link's token travels
as the widget's does: in the query string, then a hidden field; never a cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromQuery
from litestar.response import Template
from preference_sdk import TokenSigner

from ...centers.model import Center
from ...errors import NotFound
from ...i18n import Translator
from ...store import gdpr
from ...store.mail_outbox import ERASURE
from ...store.store import Store, Subscriber
from ...workers.mail import MailQueue
from .. import history_words
from ..dependencies import Clock, Origins
from ..embedding import THEME_OPTIONS, read_options
from ..openapi import documented, form, pages
from ..rendering import page_context
from .common import posted_form, visitor_locale
from .widget import load_subscriber

#: How many of the latest changes the page shows.
HISTORY_PAGE = 50

#: The sign-out form, as the history page posts it.
SIGN_OUT_FORM = form({
    "t": Schema(type=OpenAPIType.STRING, description="The link's token"),
    "lang": Schema(type=OpenAPIType.STRING, description="The page's language, if the center has it"),
})


class HistoryController(Controller):
    path = "/history"  # under /c/{center_id}

    @get(media_type=MediaType.HTML, responses=pages(401, 403))
    async def show(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        translator: NamedDependency[Translator],
        t: FromQuery[str | None] = None,
        lang: FromQuery[str | None] = None,
        before: FromQuery[int | None] = None,
    ) -> Template:
        """Their latest changes in words, newest first, :data:`HISTORY_PAGE` at a time (``before``:
        the changes older than that version, from the "older changes" link), with the download and
        the sign-out."""
        subscriber, claims = await load_subscriber(store, signer, center, t)
        locale = request.state.locale = visitor_locale(request, center, claims.locale, lang)
        _ = translator.get(locale).gettext
        if before is not None and before < 2:  # nothing is older than the first change: the newest then
            before = None
        rows = await store.run_sync(store.recent_events, subscriber.id, HISTORY_PAGE + 1, before)
        options = read_options(center, request.query_params.get)
        context = history_context(request, center, locale, t or "", options)
        shown = rows[:HISTORY_PAGE]
        context["history"] = history_words.history_rows(history_words.OWN, center, locale, _, shown, options.get("tz"))
        if len(rows) > HISTORY_PAGE:
            older = urlencode({"t": t or "", "lang": locale, **options, "before": shown[-1]["version"]})
            context["older_url"] = f"/c/{center.id}/history?{older}#history-title"
        if before is not None:
            context["newest_url"] = f"/c/{center.id}/history?{urlencode({'t': t or '', 'lang': locale, **options})}"
        # An erasure is confirmed from a mail: offered when there is an address to send it to.
        context["erase_by_mail"] = await store.run_sync(store.contact, subscriber.id, "email") is not None
        return Template("pages/history.html", context=context, headers={"Vary": "Accept-Language"})

    @get("/data", media_type=MediaType.JSON, responses=pages(401, 403))
    async def data(
        self,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        clock: NamedDependency[Clock],
        t: FromQuery[str | None] = None,
    ) -> Response[dict[str, Any]]:
        """Everything held about them: the API's export document, as a file to keep."""
        subscriber, _claims = await load_subscriber(store, signer, center, t)
        document = await store.run_sync(gdpr.export_document, store, center, subscriber.id, clock(), large=True)
        if document is None:  # erased between the two reads
            raise NotFound(center=center)
        return Response(document, media_type=MediaType.JSON,
                        headers={"Content-Disposition": 'attachment; filename="my-data.json"'})

    @post(media_type=MediaType.HTML, status_code=200, responses=pages(401, 403, 413),
          operation_class=documented(body=SIGN_OUT_FORM))
    async def sign_out(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        own_origins: NamedDependency[Origins],
    ) -> Template:
        """Every link signed until now stops working, this one too; the page offers a new one."""
        person = await posted_person(request, center, store, signer, own_origins)
        await store.run_sync(store.revoke_links, person.subscriber.id)
        return Template("pages/history_signed_out.html", context=person.context)


class ErasureRequest(Controller):
    """"Erase my data" on the history page: a mail to confirm it, never the erasure itself.

    Whoever holds a link (a forwarded mail, a shared device) could otherwise erase the
    person; the mail goes to the address on file, and its link's page (``routes/confirm.py``,
    purpose ``erase``) shows what will go and erases on its POST, through ``store/gdpr.erase``,
    which keeps only the proof. Limited like every mail a visitor can ask for (``429``).
    """

    path = "/history/erase"  # under /c/{center_id}

    @post(media_type=MediaType.HTML, status_code=200, responses=pages(401, 403, 413, 429, 503),
          operation_class=documented(body=SIGN_OUT_FORM))
    async def ask(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        signer: NamedDependency[TokenSigner],
        mail_queue: NamedDependency[MailQueue],
        own_origins: NamedDependency[Origins],
    ) -> Template:
        person = await posted_person(request, center, store, signer, own_origins)
        client = request.client.host if request.client else None
        await mail_queue.for_subscriber(ERASURE, center.id, person.locale, client, person.subscriber.id)
        # The worker is woken once the answer is sent, so its work never delays the answer.
        return Template("pages/erasure_requested.html", context=person.context,
                        background=BackgroundTask(mail_queue.wake))


@dataclass(frozen=True)
class PostedPerson:
    """Who posted one of the history page's forms, and the page context to answer them in."""

    subscriber: Subscriber
    locale: str
    context: dict[str, Any]


async def posted_person(request: Request, center: Center, store: Store, signer: TokenSigner,
                        own_origins: Origins) -> PostedPerson:
    """The history page's posts' shared first steps: same origin, the form read once, the link's
    subscriber and their language (set for errors before it is settled), the page's context."""
    posted, _fields = await posted_form(request, own_origins)
    token = posted.get("t")
    subscriber, claims = await load_subscriber(store, signer, center, token)
    locale = request.state.locale = visitor_locale(request, center, claims.locale, posted.get("lang"))
    context = history_context(request, center, locale, token or "", read_options(center, posted.get))
    return PostedPerson(subscriber, locale, context)


def history_context(request: Request, center: Center, locale: str, token: str,
                    options: dict[str, str]) -> dict[str, Any]:
    """What the history pages render from: the page's, and the addresses that carry the token
    and, opened inside an embed, its options (theme, embed_origin), so the way back is the embed's."""
    theme_query = {k: v for k, v in options.items() if k in THEME_OPTIONS}
    context = page_context(request, locale, center, query={"t": token, **options}, theme_query=theme_query)
    link_query = urlencode({"t": token, "lang": locale, **options})
    context.update(
        token=token,
        options=options,
        embed_origin=options.get("embed_origin"),
        preferences_url=f"/c/{center.id}/preferences?{link_query}",
        data_url=f"/c/{center.id}/history/data?{urlencode({'t': token})}",
        sign_out_action=f"/c/{center.id}/history",
        erase_action=f"/c/{center.id}/history/erase",
        fresh_link_url=f"/c/{center.id}/link?{urlencode({'lang': locale})}",
    )
    return context
