"""What a route handler may ask for by name, and the one typed object they come from.

:func:`~widget_server.app.create_app` builds an :class:`AppState` once: the app's
collaborators (store, clock, signer, translator...), each with its type. Handlers never
reach into it: they name what they need as parameters (``store: Store``,
``clock: Clock``, ``center: Center``) and Litestar calls the provider registered under
that name. :data:`APP_DEPENDENCIES` is registered on the app; :data:`CENTER_DEPENDENCIES`
on the routers whose path starts with a center (``/c/{center_id}`` and the API's
``/api/v1/centers/{center_id}``), where ``center`` is the center the path names or a
``404``. A test, or a later surface, swaps a collaborator by building the app with
another one, never by patching a module.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Callable, Mapping, cast

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import FromPath
from preference_sdk import TokenSigner

from ..centers.model import Center
from ..changes import Changes
from ..errors import NotFound
from ..i18n import Translator
from ..mailer import Mailer
from ..settings import Settings
from ..sms import SmsSender
from ..store.store import Store
from ..webhook_addresses import Resolver
from ..workers.mail import MailQueue

if TYPE_CHECKING:
    from jinja2 import Environment

    from .form_wording import FormView

Clock = Callable[[], datetime]
Origins = tuple[str, ...]
OwnOrigins = Callable[[Request], Origins]


class AppState(State):
    """The app's collaborators, typed. Made once by ``create_app``; read by the providers.

    It is Litestar's ``State`` (so ``app.state.store`` keeps working for tests and the
    CLI) with each key declared here, so a type checker knows what every one holds.
    """

    settings: Settings
    centers: Mapping[str, Center]
    store: Store
    signer: TokenSigner
    clock: Clock
    mailer: Mailer
    sms: SmsSender  # the kiosk's codes by SMS: the host's gateway, or a folder
    translator: Translator
    jinja: Environment
    own_origins: OwnOrigins
    changes: Changes
    mail_queue: MailQueue  # "send me a new link": the limits, the outbox, the mail worker's wake
    resolve: Resolver  # webhook hosts' addresses: the delivery worker's resolver too
    form_views: dict[tuple[str, str], FormView]  # (center id, locale) -> wording, built on first use

    @classmethod
    def build(cls, *, settings: Settings, centers: Mapping[str, Center], store: Store, signer: TokenSigner,
              clock: Clock, mailer: Mailer, sms: SmsSender, translator: Translator, jinja: Environment,
              own_origins: OwnOrigins, changes: Changes, mail_queue: MailQueue, resolve: Resolver) -> AppState:
        """The state, from keyword arguments only, so that none is forgotten or misnamed."""
        return cls({"settings": settings, "centers": centers, "store": store, "signer": signer, "clock": clock,
                    "mailer": mailer, "sms": sms, "translator": translator, "jinja": jinja,
                    "own_origins": own_origins, "changes": changes, "mail_queue": mail_queue, "resolve": resolve,
                    "form_views": {}})

    @staticmethod
    def of(app: Litestar) -> AppState:
        """The app's state, typed (``create_app`` made it an :class:`AppState`)."""
        return cast(AppState, app.state)


def app_state(request: Request) -> AppState:
    return AppState.of(request.app)


def provide_settings(request: Request) -> Settings:
    return app_state(request).settings


def provide_store(request: Request) -> Store:
    return app_state(request).store


def provide_clock(request: Request) -> Clock:
    return app_state(request).clock


def provide_signer(request: Request) -> TokenSigner:
    return app_state(request).signer


def provide_translator(request: Request) -> Translator:
    return app_state(request).translator


def provide_changes(request: Request) -> Changes:
    return app_state(request).changes


def provide_mailer(request: Request) -> Mailer:
    return app_state(request).mailer


def provide_sms(request: Request) -> SmsSender:
    return app_state(request).sms


def provide_resolve(request: Request) -> Resolver:
    return app_state(request).resolve


def provide_mail_queue(request: Request) -> MailQueue:
    return app_state(request).mail_queue


def provide_own_origins(request: Request) -> Origins:
    """The origins this request may be posted from (see ``security.check_same_origin``)."""
    return app_state(request).own_origins(request)


def provide_center(request: Request, center_id: FromPath[str]) -> Center:
    """The center the path names; an unknown one is a ``404`` before the handler runs."""
    center = app_state(request).centers.get(center_id)
    if center is None:
        raise NotFound()
    return center


def _provide(fn: Callable) -> Provide:
    return Provide(fn, sync_to_thread=False)


APP_DEPENDENCIES = {
    "settings": _provide(provide_settings),
    "store": _provide(provide_store),
    "clock": _provide(provide_clock),
    "signer": _provide(provide_signer),
    "translator": _provide(provide_translator),
    "changes": _provide(provide_changes),
    "mailer": _provide(provide_mailer),
    "sms": _provide(provide_sms),
    "mail_queue": _provide(provide_mail_queue),
    "own_origins": _provide(provide_own_origins),
    "resolve": _provide(provide_resolve),
}

CENTER_DEPENDENCIES = {"center": _provide(provide_center)}
