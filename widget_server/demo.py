"""``widget-server demo``: the whole product on a laptop, in one command.

It keeps its state in ``./var/`` (SQLite file, signing secret, mail folder), seeds one
demo subscriber per example center the first time, and serves a host page from a
second origin (the next port) that embeds the widget in an iframe, as a brand's
website would, and the example host pages of ``examples/hosts/`` (script tag, strict
CSP, app shell, email footers) filled in for the demo subscribers. Each center also gets
a shop tablet (a kiosk device with its staff PIN, provisioned afresh at each start) and a
call-center agent's console link; a center with regional rules, a visitor per region.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import replace
from html import escape
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

from litestar import Litestar, MediaType, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from preference_sdk import LinkMinter

from .centers import Center
from .ledger import EventContext
from .paths import EXAMPLES
from .preferences import OPTED_IN, Preferences
from .regions import DEFAULT, region_for
from .settings import Settings
from .store.store import Store

VAR = Path("var")


def demo_settings(settings: Settings) -> Settings:
    """Fill in what a demo needs and a production start must be told."""
    VAR.mkdir(exist_ok=True)
    secret_file = VAR / "secret.key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
    return settings.with_options(
        secret_keys=settings.secret_keys or (secret_file.read_text().strip(),),
        database=settings.database if settings.database != Settings.database else f"sqlite:///{VAR}/demo.db",
        mail_dir=str(VAR / "mail"),
        sms_dir=str(VAR / "sms"),  # the kiosk's codes by SMS, with no gateway set
        webhook_allow_private=True,  # a demo's webhook receiver runs on this machine
    )


def demo_api_keys(store: Store, centers: dict[str, Center]) -> dict[str, str]:
    """An admin API key per center, kept in ``var/api-keys.json`` so a restart reuses it.

    Only the demo keeps full keys on disk; ``widget-server api-key create`` shows a key once.
    """
    from datetime import datetime, timezone

    from .store import api_keys

    saved_file = VAR / "api-keys.json"
    saved = json.loads(saved_file.read_text()) if saved_file.exists() else {}
    keys = {}
    with store.engine.begin() as connection:
        for center_id in centers:
            key = saved.get(center_id)
            if not key or api_keys.authenticate(connection, key) is None:
                key = api_keys.create(connection, center_id, "demo", ["admin"], datetime.now(timezone.utc))[1]
            keys[center_id] = key
    saved_file.write_text(json.dumps(keys, indent=2))
    saved_file.chmod(0o600)
    return keys


#: The demo's tablet in each center, found again on a restart by these names.
DEMO_STORE, DEMO_DEVICE = "Demo store", "Front desk tablet"
#: The demo's call-center agent (a host's single sign-on would give these).
DEMO_AGENT, DEMO_AGENT_NAME = "demo-agent", "Demo Agent"


def demo_kiosks(store: Store, centers: dict[str, Center], signer,  # noqa: ANN001
                base_url: str) -> dict[str, tuple[str, str]]:
    """A kiosk link and its staff PIN per center, for a demo tablet ("Front desk tablet" of "Demo store").

    The tablet is provisioned afresh at each start, as ``widget-server device create`` does,
    and the previous start's is revoked: a PIN is shown once and stored only as a hash, so a
    tablet found again could be printed without its PIN only, and the demo would need it kept
    in clear on disk instead.
    """
    from .store import devices
    from .tokens import kiosk_url

    links = {}
    with store.writing() as connection:
        now = store.clock()
        for center_id in centers:
            for previous in devices.listed(connection, center_id):
                if previous.live and (previous.location, previous.name) == (DEMO_STORE, DEMO_DEVICE):
                    devices.revoke(connection, previous.id, now)
            tablet, pin = devices.provision(connection, store.lookup_key, center_id, DEMO_STORE, DEMO_DEVICE, now)
            links[center_id] = (kiosk_url(base_url, signer, tablet.center, tablet.id, tablet.location), pin)
    return links


def agent_links(settings: Settings, centers: dict[str, Center]) -> dict[str, str]:
    """An agent console link per center for the demo agent's shift (12 hours), minted as a host's SSO
    mints it: one call of the SDK."""
    minter = LinkMinter(settings.base_url, settings.secret_keys)
    return {center_id: minter.agent_url(center_id, DEMO_AGENT, name=DEMO_AGENT_NAME, permissions=("change", "view"))
            for center_id in centers}


def embeddable_from(centers: dict[str, Center], host_origin: str) -> dict[str, Center]:
    """The centers, each also allowing the demo host site (whatever port it is on)."""
    return {
        cid: replace(center, allowed_origins=tuple(dict.fromkeys((*center.allowed_origins, host_origin))))
        for cid, center in centers.items()
    }


def demo_preferences(center: Center) -> Preferences:
    """A plausible starting point: the first topic on its first channel, one interest."""
    topic = center.switchable_topics[0]
    interests = frozenset(i.id for i in center.interests[:1])
    return Preferences(subscriptions={(topic.id, topic.channels[0]): OPTED_IN}, interests=interests)


def seed(store: Store, centers: dict[str, Center]) -> dict[str, str]:
    """One demo subscriber per center, created once and remembered in ``var/``."""
    seeds_file = VAR / "demo-subscribers.json"
    known = json.loads(seeds_file.read_text()) if seeds_file.exists() else {}
    for center in centers.values():
        if center.id in known and store.get(center.id, known[center.id]):
            continue
        known[center.id] = store.create_subscriber(
            center.id,
            locale=center.default_locale,
            preferences=demo_preferences(center),
            email=f"demo+{center.id}@example.com",
            context=EventContext(source="import", actor="system", evidence={"legacy_source": "demo seed"}),
        )
    seeds_file.write_text(json.dumps(known, indent=2))
    return known


#: The countries the demo shows each center's regional rules for, when the center has a region for them.
REGION_DEMO_COUNTRIES = ("FR", "CA", "US")


def regional_visitors(store: Store, centers: dict[str, Center]) -> dict[str, dict[str, str]]:
    """Per center that declares regions, one never-asked visitor per country whose region is
    not the default (``REGION_DEMO_COUNTRIES``): the same widget then behaves as each law asks
    (France: e-mail confirmed by double opt-in; Canada: CASL; the US: e-mail opt-out, SMS opt-in).
    Created once and remembered in ``var/``, as the demo subscribers are."""
    visitors_file = VAR / "demo-regional-visitors.json"
    known: dict[str, dict[str, str]] = json.loads(visitors_file.read_text()) if visitors_file.exists() else {}
    for center in centers.values():
        countries = [c for c in REGION_DEMO_COUNTRIES
                     if (region := region_for(center, c)) is not None and region.code != DEFAULT]
        mine = known.setdefault(center.id, {})
        for country in countries:
            if country in mine and store.get(center.id, mine[country]):
                continue
            mine[country] = store.create_subscriber(
                center.id, locale=center.default_locale, email=f"demo+{center.id}-{country.lower()}@example.com",
                preferences=Preferences(country=country),
                context=EventContext(source="import", actor="system", evidence={"legacy_source": "demo seed"}),
            )
        if not mine:
            del known[center.id]
    visitors_file.write_text(json.dumps(known, indent=2))
    return known


def regional_links(settings: Settings, signer, regional: dict[str, dict[str, str]]  # noqa: ANN001
                   ) -> dict[str, dict[str, str]]:
    """The widget link of each regional visitor (center -> country -> link)."""
    return {center_id: {country: f"{settings.base_url}/c/{center_id}/preferences?"
                        + urlencode({"t": signer.mint("manage", center_id, subscriber)})
                        for country, subscriber in visitors.items()}
            for center_id, visitors in regional.items()}


def demo_tokens(signer, subscribers: dict[str, str]) -> dict[str, str]:  # noqa: ANN001
    """A manage token per center for its demo subscriber."""
    return {center_id: signer.mint("manage", center_id, sub) for center_id, sub in subscribers.items()}


def footer_tokens(signer, subscribers: dict[str, str],  # noqa: ANN001
                  locales: dict[str, str] | None = None) -> dict[str, str]:
    """What an email footer carries besides the manage token: an unsubscribe token per center
    (``"unsubscribe:<center>"``), as a sender mints it for the footer's link, in the mail's
    language (``locales``: center id -> locale) so that the page it opens speaks it too."""
    locales = locales or {}
    return {f"unsubscribe:{center_id}": signer.mint("unsubscribe", center_id, sub, l=locales.get(center_id))
            for center_id, sub in subscribers.items()}


def widget_links(settings: Settings, tokens: dict[str, str]) -> dict[str, str]:
    """The widget link of each center's demo subscriber, from its token."""
    return {
        center_id: f"{settings.base_url}/c/{center_id}/preferences?" + urlencode({"t": token})
        for center_id, token in tokens.items()
    }


HOST_EXAMPLES = EXAMPLES / "hosts"
EXAMPLE_NAME = re.compile(r"^[a-z0-9-]+\.(html|js|css)$")
EXAMPLE_TYPES = {"html": "text/html", "js": "text/javascript", "css": "text/css"}
VIEWPORT = "<meta name='viewport' content='width=device-width, initial-scale=1'>"
PLACEHOLDER = re.compile(r"\{\{(WIDGET|TOKEN_[a-z0-9-]+|UNSUBSCRIBE_TOKEN_[a-z0-9-]+)\}\}")


def fill_example(text: str, widget_origin: str, tokens: dict[str, str]) -> str:
    """An example host page with ``{{WIDGET}}``, ``{{TOKEN_<center>}}`` (manage) and
    ``{{UNSUBSCRIBE_TOKEN_<center>}}`` filled in."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "WIDGET":
            return escape(widget_origin)
        if name.startswith("UNSUBSCRIBE_TOKEN_"):
            return escape(tokens.get("unsubscribe:" + name.removeprefix("UNSUBSCRIBE_TOKEN_"), ""))
        return escape(tokens.get(name.removeprefix("TOKEN_"), ""))

    return PLACEHOLDER.sub(value, text)


def host_app(links: dict[str, str], widget_origin: str | Callable[[], str],
             tokens: dict[str, str] | None = None) -> Litestar:
    """A stand-in for a brand's website on another origin, embedding each widget.

    ``/<center>`` is an account page that embeds the widget of ``tokens[center]`` with the
    script-tag loader (``/embed.js``), which sizes the frame to the widget as it changes: what
    the demo prints as "embedded in a host page". ``/frame/<center>`` puts any page of the
    widget server, ``links[center]`` (the widget with options, an unsubscribe page, the agent
    console of a call-center screen), in a plain iframe, as a host without script would: the
    browser tests' frame. ``/examples/<name>`` serves the example host pages of
    ``examples/hosts/`` for the widget at ``widget_origin`` and the subscribers of ``tokens``
    (center id -> manage token; ``"unsubscribe:<center>"`` -> unsubscribe token). Both dicts
    are read at each request, and ``widget_origin`` too when it is a function: the tests
    change them as they go.
    """
    tokens = {} if tokens is None else tokens
    examples = sorted(p.name for p in HOST_EXAMPLES.glob("*.html"))

    def origin() -> str:
        return widget_origin() if callable(widget_origin) else widget_origin

    @get("/", media_type=MediaType.HTML)
    async def index() -> str:
        centers = sorted({*links, *(cid for cid in tokens if ":" not in cid)})
        items = "".join(f'<li><a href="/{escape(cid)}">{escape(cid)}: an account page (the script tag)</a></li>'
                        for cid in centers)
        items += "".join(f'<li><a href="/examples/{name}">examples/{name}</a></li>' for name in examples)
        return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{VIEWPORT}<title>Demo host site</title>"
                "<style>li { margin-block: 0.5rem }</style>"  # 24 px between the links' centres (WCAG 2.5.8)
                f"</head><body><main><h1>Demo host site</h1><ul>{items}</ul></main></body></html>")

    @get("/{center_id:str}", media_type=MediaType.HTML)
    async def page(center_id: FromPath[str]) -> str:
        token = tokens.get(center_id)
        if not token or ":" in center_id:
            raise NotFoundException()
        widget = escape(origin())
        return (
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{VIEWPORT}"
            f"<title>{escape(center_id)}: account page</title></head><body><main>"
            f"<h1>My account</h1><p>Your communication preferences, from {widget}:</p>"
            # The loader makes the frame and sets its height from the widget's own messages.
            f"<div id='prefs' style='max-width:46rem'></div><script src='{widget}/embed.js' "
            f"data-center='{escape(center_id)}' data-token='{escape(token)}' data-target='#prefs' async></script>"
            "</main></body></html>"
        )

    @get("/frame/{center_id:str}", media_type=MediaType.HTML)
    async def frame(center_id: FromPath[str]) -> str:
        src = escape(links.get(center_id, ""))
        return (
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{VIEWPORT}"
            f"<title>{escape(center_id)}: a plain frame</title></head><body><main>"
            f"<h1>A page of {escape(origin())} in a plain iframe</h1>"
            f"<iframe id='widget' name='widget' title='Communication preferences' src='{src}' "
            "style='width:100%;max-width:46rem;height:1400px;border:0'></iframe>"
            "</main></body></html>"
        )

    @get("/examples/{name:str}")
    async def example(name: FromPath[str]) -> Response[str]:
        path = HOST_EXAMPLES / name
        if not EXAMPLE_NAME.match(name) or not path.is_file():
            raise NotFoundException()
        text = path.read_text(encoding="utf-8")
        if name.endswith(".html"):
            text = fill_example(text, origin(), tokens)
        media_type = EXAMPLE_TYPES[name.rsplit(".", 1)[1]]  # Litestar adds the charset
        return Response(text, media_type=media_type, headers={"Cache-Control": "no-store"})

    return Litestar(route_handlers=[index, page, frame, example], debug=False)
