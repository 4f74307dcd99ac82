"""The application factory: wiring only.

:func:`create_app` takes its collaborators (settings, centers, store, clock, mailer) as
arguments, so tests build the app with exactly what they need and nothing is read from
the environment at import time. :func:`app_from_env` is the ASGI factory the server
processes call.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import AsyncIterator, Callable, Mapping

import anyio
from litestar import Litestar, Request, Router
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from . import __version__
from .centers import Center, load_centers
from .chain_keys import chain_keys
from .changes import Changes
from .i18n import Translator
from .mailer import Mailer, make_mailer
from .paths import STATIC
from .settings import Settings, settings_from_env
from .sms import SmsSender, make_sms_sender
from .store.engine import make_engine
from .store.store import Store, utcnow
from .tokens import lookup_key, make_signer
from .web.access_log import access_log_middleware
from .web.dependencies import APP_DEPENDENCIES, CENTER_DEPENDENCIES, AppState
from .web.error_handler import exception_handlers
from .web.notice_wording import register_notice_texts
from .web.options import complete_allow
from .web.rendering import make_environment
from .web.routes.agent import AgentController
from .web.routes.api import SECURITY_COMPONENTS, SHAPE_SCHEMAS, api_router
from .web.routes.common import single_query_fields
from .web.routes.confirm import ConfirmController
from .web.routes.embed import embed_script
from .web.routes.favicon import favicon
from .web.routes.health import healthz, readyz
from .web.routes.history import ErasureRequest, HistoryController
from .web.routes.jwks import jwks
from .web.routes.kiosk import KioskController
from .web.routes.links import FreshLinkController
from .web.routes.theme import center_theme
from .web.routes.unsubscribe import UnsubscribeController
from .web.routes.widget import WidgetController
from .web.security import security_headers
from .webhook_addresses import Resolver
from .webhook_addresses import resolve as system_resolver
from .workers.delivery import DeliveryWorker
from .workers.lifecycle import LifecycleWorker
from .workers.mail import MailQueue, MailWorker, limits_of

MAX_BODY = 64 * 1024  # a preference form is a few hundred bytes


def own_origins_for(settings: Settings) -> Callable[[Request], tuple[str, ...]]:
    """The origins the widget's own pages are served from (configured, and as requested)."""

    def own_origins(request: Request) -> tuple[str, ...]:
        requested = f"{request.url.scheme}://{request.url.netloc}"
        return (settings.base_url, requested)

    return own_origins


def workers_lifespan(*workers: DeliveryWorker | MailWorker | LifecycleWorker | None):  # noqa: ANN201
    """Run the webhook and mail workers for as long as the app runs (those this process runs)."""

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        running = [worker for worker in workers if worker is not None]
        if not running:
            yield
            return
        async with anyio.create_task_group() as tasks:
            for worker in running:
                tasks.start_soon(worker.run)
            yield
            tasks.cancel_scope.cancel()

    return lifespan


def create_app(
    settings: Settings,
    *,
    centers: Mapping[str, Center] | None = None,
    store: Store | None = None,
    mailer: Mailer | None = None,
    sms_sender: SmsSender | None = None,
    clock: Callable[[], datetime] = utcnow,
    migrate: bool = True,
    webhook_transport=None,  # noqa: ANN001 - an httpx transport, for tests
    resolve: Resolver = system_resolver,  # webhook hosts' addresses, for registration and delivery alike
) -> Litestar:
    """Build the app. Missing collaborators are made from ``settings``."""
    centers = dict(centers if centers is not None else load_centers(settings.config))
    signer = make_signer(settings, clock=lambda: clock().timestamp())
    if store is None:
        key = lookup_key(settings)
        store = Store(make_engine(settings.database), lookup_key=key, clock=clock,
                      chain_keys=chain_keys(settings, key))
    if migrate:
        store.migrate()
    jinja = make_environment()
    worker = None
    if settings.deliver_webhooks:
        worker = DeliveryWorker(store, clock, first_retry=timedelta(milliseconds=settings.webhook_first_retry_ms),
                                max_attempts=settings.webhook_max_attempts, transport=webhook_transport,
                                poll_interval=settings.webhook_poll_ms / 1000,
                                allow_private=settings.webhook_allow_private, resolve=resolve)
    mailer = mailer or make_mailer(settings)
    sms = sms_sender or make_sms_sender(settings)  # the kiosk's codes by SMS
    translator = Translator.load()
    register_notice_texts(store, centers, translator, clock())  # the wording shown, kept once (store/notice_texts.py)
    mail_worker = None
    if settings.send_mail:
        mail_worker = MailWorker.build(settings, store, clock, mailer, centers=centers, signer=signer,
                                       translator=translator, jinja=jinja)
    state = AppState.build(
        settings=settings,
        centers=centers,
        store=store,
        signer=signer,
        clock=clock,
        mailer=mailer,
        sms=sms,
        translator=translator,
        jinja=jinja,
        own_origins=own_origins_for(settings),
        # The one write path: every surface writes through it, and it wakes the workers (a write
        # that made a subscription pending has queued its confirmation mail in its transaction).
        changes=Changes(store, _waking(worker, mail_worker)),
        # "Send me a new link": the limits and the mail outbox; the wake comes after the answer.
        mail_queue=MailQueue(store, clock, limits_of(settings), mail_worker.due.set if mail_worker else _no_worker),
        resolve=resolve,
    )
    lifecycle = None
    if settings.run_lifecycle:  # expiries through the one write path; reminders wake the mail worker
        lifecycle = LifecycleWorker(store, clock, state.changes, centers, poll_interval=settings.lifecycle_poll_seconds,
                                    wake_mail=mail_worker.due.set if mail_worker else _no_worker)
    return Litestar(
        route_handlers=[
            # The visitor's pages of one center: `center` is the one the path names, or a 404.
            Router("/c/{center_id:str}", dependencies=CENTER_DEPENDENCIES, guards=[single_query_fields],
                   route_handlers=[WidgetController, HistoryController, ErasureRequest, FreshLinkController,
                                   UnsubscribeController, ConfirmController, center_theme, KioskController,
                                   AgentController]),
            embed_script,
            favicon,
            jwks,  # the receipts' public keys
            healthz,
            readyz,
            api_router(settings.api_rate_limit),
            create_static_files_router(
                path="/static", directories=[STATIC], include_in_schema=False,
                # URLs carry a content hash (rendering.static_url): cache them for a year.
                cache_control=CacheControlHeader(public=True, max_age=31_536_000),
            ),
        ],
        state=state,
        dependencies=APP_DEPENDENCIES,
        plugins=[HTMXPlugin(), SHAPE_SCHEMAS],
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(jinja)),
        exception_handlers=exception_handlers,
        middleware=[access_log_middleware],
        # Every answer, routed or not (404, 405, 429), carries the security headers.
        before_send=[security_headers(centers), complete_allow],
        request_max_body_size=MAX_BODY,
        openapi_config=OpenAPIConfig(title="widget-server", version=__version__, path="/schema",
                                     components=[SECURITY_COMPONENTS]),
        lifespan=[workers_lifespan(worker, mail_worker, lifecycle)],
        # The whole first load of an embed (page, CSS, htmx, scripts) fits in 25 KB this way.
        compression_config=CompressionConfig(backend="gzip", minimum_size=512, gzip_compress_level=6),
        debug=False,
        logging_config=None,
    )


def _waking(*workers: DeliveryWorker | MailWorker | None) -> Callable[[], None]:
    """One wake-up for the workers this process runs (none: :func:`_no_worker`)."""
    events = [worker.due for worker in workers if worker is not None]
    if not events:
        return _no_worker
    if len(events) == 1:
        return events[0].set

    def wake() -> None:
        for event in events:
            event.set()

    return wake


def _no_worker() -> None:
    """The wake-up when this process does not deliver (or mail): another process polls the outbox."""


def app_from_env() -> Litestar:
    """ASGI factory for server processes: settings from ``WIDGET_*`` variables."""
    return create_app(settings_from_env())
