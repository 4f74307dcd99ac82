"""The ``widget-server`` command: ``demo``, ``serve``, ``check-config``, ``api-key``, ``device``, ``agent-link``
and ``verify-chain``.

Every ``serve`` option also reads from ``WIDGET_<OPTION>`` (click's ``auto_envvar``),
and is then carried to worker processes as those same variables.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys

import click
import uvicorn

from .settings import Settings, SettingsError, settings_from_env, settings_to_env

#: Libraries that log every request's full URL at INFO: a webhook URL may carry the
#: receiver's secret in its query string, and no URL of ours belongs in a log line.
QUIET_LOGGERS = ("httpx", "httpcore")


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """An embeddable preference center."""


@main.command("check-config")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def check_config(paths: tuple[str, ...]) -> None:
    """Validate center files; print one line per problem (file:key.path: what is wrong)."""
    from .centers import check_paths

    problems = check_paths(list(paths))
    for problem in problems:
        click.echo(str(problem))
    if problems:
        sys.exit(1)
    click.echo(f"ok: {len(paths)} path(s) valid", err=True)


@main.command()
@click.option("--config", "config", help="Center file or folder of center files.")
@click.option("--database", help="sqlite:///path.db or postgresql://...")
@click.option("--host")
@click.option("--port", type=int)
@click.option("--workers", type=int)
def serve(**options: object) -> None:
    """Production start: listen on HOST:PORT with WORKERS processes."""
    from sqlalchemy.exc import SQLAlchemyError

    from .centers import CenterFileError

    try:
        settings = settings_from_env(None, **options)
        _preflight(settings)
    except (SettingsError, CenterFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc  # the driver's own error, when there is one
        raise click.ClickException(f"the database cannot be used: {type(exc).__name__}: {cause}"
                                   " (check --database / WIDGET_DATABASE)") from None
    _configure_logging(settings.log_level)
    os.environ.update(settings_to_env(settings))
    uvicorn.run(
        "widget_server.app:app_from_env", factory=True, host=settings.host, port=settings.port,
        workers=settings.workers, access_log=False, log_level=settings.log_level, proxy_headers=True,
        server_header=False,
    )


def _preflight(settings: Settings) -> None:
    """Fail before forking workers: bad centers, no secret, unreachable database."""
    from .app import create_app

    create_app(settings)


@main.group("api-key")
def api_key() -> None:
    """Create, list and revoke API keys (read --database / WIDGET_DATABASE like serve)."""


def _key_store(database: str | None, config: str | None = None):  # noqa: ANN202
    from .store.engine import make_engine
    from .store.migrate import upgrade

    settings = settings_from_env(database=database, config=config)
    engine = make_engine(settings.database)
    upgrade(engine, _chain_keys(settings))  # with the keys the server has, as its own start would
    return settings, engine


def _chain_keys(settings: Settings):  # noqa: ANN202
    """The server's chain keys, when its secrets are set (else None: nothing to key with)."""
    from .chain_keys import chain_keys
    from .tokens import lookup_key

    if not (settings.secret_keys or settings.lookup_key):
        return None
    return chain_keys(settings, lookup_key(settings))


def _short_name(value: str) -> str:
    if not 0 < len(value) <= 80:
        raise click.BadParameter("give 1 to 80 characters")
    return value


def _label(value: str) -> str:
    """A name people read (a store, a tablet, an agent): 1 to 80 printable characters, not only spaces."""
    if not 0 < len(value) <= 80 or not value.isprintable() or not value.strip():
        raise click.BadParameter("give 1 to 80 printable characters (not only spaces)")
    return value


def _known_center(settings: Settings, center: str):  # noqa: ANN202
    """The center named by --center, or an error naming the centers there are."""
    from .centers import CenterFileError, load_centers

    try:
        known = load_centers(settings.config)
    except CenterFileError as exc:
        raise click.ClickException(f"cannot read the center files to check --center: {exc}") from None
    if center not in known:
        raise click.ClickException(f"no center {center!r} in {settings.config} (known: {', '.join(sorted(known))})")
    return known[center]


@api_key.command("create")
@click.option("--center", required=True, help="The center the key belongs to.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(["read", "write", "admin"]),
              help="read, write (includes read), admin (includes write). Repeat for several.")
@click.option("--name", required=True, type=click.STRING, callback=lambda _c, _p, v: _short_name(v),
              help="What the key is for, e.g. crm-sync (at most 80 characters).")
@click.option("--database", help="sqlite:///path.db or postgresql://...")
@click.option("--config", help="Center file or folder, to check that the center exists.")
def api_key_create(center: str, scopes: tuple[str, ...], name: str, database: str | None, config: str | None) -> None:
    """Print a new key once: it is stored only as a hash."""
    from datetime import datetime, timezone

    from .store import api_keys

    settings, engine = _key_store(database, config)
    _known_center(settings, center)
    with engine.begin() as connection:
        key, full = api_keys.create(connection, center, name, list(scopes), datetime.now(timezone.utc))
    click.echo(full)
    click.echo(f"key {key.id} for {center}, scopes {','.join(sorted(key.scopes))}: store it now, "
               "it cannot be shown again", err=True)


@api_key.command("list")
@click.option("--center", help="Only this center's keys.")
@click.option("--database", help="sqlite:///path.db or postgresql://...")
def api_key_list(center: str | None, database: str | None) -> None:
    """One line per key: id, center, scopes, name, created, revoked."""
    from .store import api_keys

    _, engine = _key_store(database)
    with engine.connect() as connection:
        for key in api_keys.listing(connection, center):
            revoked = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "live"
            click.echo(f"{key.id}  {key.center}  {','.join(sorted(key.scopes))}  {key.name}  "
                       f"created {key.created_at:%Y-%m-%d}  {revoked}")


@api_key.command("revoke")
@click.argument("key_id")
@click.option("--database", help="sqlite:///path.db or postgresql://...")
def api_key_revoke(key_id: str, database: str | None) -> None:
    """Revoke a key at once (every request with it is then refused)."""
    from datetime import datetime, timezone

    from .store import api_keys

    _, engine = _key_store(database)
    key_id = key_id.removeprefix(api_keys.PREFIX).partition("_")[0]  # a whole key was given: never echo it
    with engine.begin() as connection:
        if not api_keys.revoke(connection, key_id, datetime.now(timezone.utc)):
            raise click.ClickException(f"no live key with id {key_id!r}")
    click.echo(f"revoked {key_id}", err=True)


@main.group("device")
def device() -> None:
    """Provision, list and revoke kiosk devices: the shop tablets (--database, --config as for api-key)."""


def _device_store(database: str | None, config: str | None = None):  # noqa: ANN202
    """The settings and the store, as the server opens them (its lookup key needs the signing secret)."""
    from .chain_keys import chain_keys
    from .store.store import Store
    from .tokens import lookup_key

    settings, engine = _key_store(database, config)
    if not settings.secret_keys:
        raise click.ClickException("no link-signing secret: set WIDGET_SECRET_KEYS as for serve "
                                   "(comma-separated, newest first)")
    key = lookup_key(settings)
    return settings, Store(engine, lookup_key=key, chain_keys=chain_keys(settings, key))


@device.command("create")
@click.option("--center", required=True, help="The center the kiosk belongs to.")
@click.option("--store", "location", required=True, callback=lambda _c, _p, v: _label(v),
              help="The store it stands in, e.g. \"Paris 9e\" (recorded with every change made on it).")
@click.option("--name", required=True, callback=lambda _c, _p, v: _label(v),
              help="The tablet's own name, e.g. \"Front desk tablet\".")
@click.option("--database", help="sqlite:///path.db or postgresql://...")
@click.option("--config", help="Center file or folder, to check that the center exists.")
def device_create(center: str, location: str, name: str, database: str | None, config: str | None) -> None:
    """Provision a tablet: print its kiosk link and its staff PIN, once (the link holds the device's
    token, which is not stored; of the PIN only a keyed hash is)."""
    from datetime import datetime, timezone

    from .store import devices
    from .tokens import kiosk_url, make_signer

    settings, store = _device_store(database, config)
    _known_center(settings, center)
    with store.writing() as connection:
        made, pin = devices.provision(connection, store.lookup_key, center, location, name,
                                      datetime.now(timezone.utc))
    click.echo(kiosk_url(settings.base_url, make_signer(settings), made.center, made.id, made.location))
    click.echo(f"staff PIN: {pin}")
    click.echo(f"device {made.id} for {center}, store {location!r}, name {name!r}: open this link on the tablet "
               f"now and give the staff PIN to the store's staff (they type it to confirm a customer's identity); "
               f"they cannot be shown again (a lost tablet or PIN: widget-server device revoke {made.id}, then "
               "create another)", err=True)
    if not settings.public_url:
        click.echo(f"the link starts with {settings.base_url}: set WIDGET_PUBLIC_URL to the address the tablets "
                   "reach", err=True)


@device.command("list")
@click.option("--center", help="Only this center's devices.")
@click.option("--database", help="sqlite:///path.db or postgresql://...")
def device_list(center: str | None, database: str | None) -> None:
    """The devices, oldest first: id, center, store, name, created, revoked (never a token)."""
    from .store import devices

    _, engine = _key_store(database)
    with engine.connect() as connection:
        rows = [(d.id, d.center, d.location, d.name, f"{d.created_at:%Y-%m-%d %H:%M}",
                 f"{d.revoked_at:%Y-%m-%d %H:%M}" if d.revoked_at else "live")
                for d in devices.listed(connection, center)]
    if not rows:
        click.echo("no devices" + (f" in {center}" if center else ""), err=True)
        return
    table = [("ID", "CENTER", "STORE", "NAME", "CREATED (UTC)", "REVOKED"), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        click.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]]))


@device.command("revoke")
@click.argument("device_id")
@click.option("--database", help="sqlite:///path.db or postgresql://...")
def device_revoke(device_id: str, database: str | None) -> None:
    """Revoke a device (a lost or stolen tablet): its kiosk refuses it at its next request."""
    from datetime import datetime, timezone

    from .store import devices

    _, engine = _key_store(database)
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        was = next((d for d in devices.listed(connection) if d.id == device_id), None)
        if was is None:
            raise click.ClickException(f"no device with id {device_id!r} (widget-server device list)")
        if not was.live:
            click.echo(f"{device_id} was already revoked on {was.revoked_at:%Y-%m-%d %H:%M} UTC", err=True)
            return
        devices.revoke(connection, device_id, now)
    click.echo(f"revoked {device_id} ({was.center}, store {was.location!r}, {was.name!r})", err=True)


@main.command("revoke-links")
@click.option("--center", required=True, help="The subscriber's center.")
@click.option("--subscriber", "subscriber_id", required=True, help="The subscriber's id (sub_...).")
@click.option("--database", help="sqlite:///path.db or postgresql://...")
def revoke_links(center: str, subscriber_id: str, database: str | None) -> None:
    """Sign out every link sent to a subscriber (a lost phone, a forwarded mail): links signed until
    now stop working; new ones work from the next second. The API's twin is
    POST /api/v1/centers/{center}/subscribers/{id}/revoke-links."""
    settings, store = _device_store(database)
    with store.writing() as connection:
        after = store.revoke_links_in(connection, subscriber_id, center)
    if after is None:
        raise click.ClickException(f"no subscriber {subscriber_id!r} in {center!r} (or erased)")
    click.echo(f"links of {subscriber_id} signed before {after:%Y-%m-%d %H:%M:%S} UTC no longer work", err=True)


@main.command("verify-chain")
@click.option("--center", help="Only this center's subscribers.")
@click.option("--database", help="sqlite:///path.db or postgresql://...")
@click.option("--config", help="Center file or folder, to check that --center exists.")
@click.option("--against", "against", type=click.Path(exists=True, dir_okay=False),
              help="A checkpoint written before (--checkpoint): also check that nothing it held is gone.")
@click.option("--checkpoint", "checkpoint", type=click.Path(dir_okay=False, writable=True),
              help="When all is intact, write a signed checkpoint of the ledger to this file: keep it outside "
                   "the database (publish it), to check later with --against.")
def verify_chain(center: str | None, database: str | None, config: str | None, against: str | None,
                 checkpoint: str | None) -> None:
    """Check every subscriber's consent-event chain under the server's keys (WIDGET_SECRET_KEYS,
    WIDGET_CHAIN_KEYS as for serve): one line per break (the subscriber, the event's id and
    version, what is wrong), then a summary. Exit status 1 on any break, 0 when all is intact.
    Reads only (but for --checkpoint's file): a database with migrations pending is refused."""
    import json
    from datetime import datetime, timezone
    from pathlib import Path

    from .receipt_signing import signer_for
    from .store import checkpoints, migrate
    from .store.engine import make_engine
    from .store.verification import Summary, check_ledger

    settings = settings_from_env(database=database, config=config)
    keys = _chain_keys(settings)
    if keys is None:
        raise click.ClickException("no secret to derive the chain keys from: set WIDGET_SECRET_KEYS "
                                   "(and WIDGET_CHAIN_KEYS, if set) as for serve")
    if center is not None and config is not None:
        _known_center(settings, center)
    engine = make_engine(settings.database)
    if migrate.pending(engine):
        raise click.ClickException("the database has migrations pending: start the server once (it migrates "
                                   "and seals the chains' anchors), then verify")
    summary = Summary()
    with engine.connect() as connection:
        for finding in check_ledger(connection, keys, center):
            summary.add(finding)
            for wrong in finding.report.breaks:
                where = "anchor" if wrong.event_id is None else f"event {wrong.event_id} (version {wrong.version})"
                click.echo(f"BROKEN {finding.subscriber_id} {where}: {wrong.reason}")
        lost = checkpoints.problems(connection, _checkpoint_file(against), signer_for(keys).jwks()) if against else []
        for problem in lost:
            click.echo(f"BROKEN ledger: {problem}")
        if checkpoint and summary.intact and not lost:
            made = checkpoints.make(connection, signer_for(keys), datetime.now(timezone.utc), center)
            Path(checkpoint).write_text(json.dumps(made, indent=2) + "\n")
            click.echo(f"checkpoint of {made['checkpoint']['events']} events written to {checkpoint}", err=True)
    scope = f" of {center}" if center else ""
    click.echo(f"checked {summary.subscribers} subscribers{scope} and {summary.events} events "
               f"({summary.legacy} legacy, unkeyed): "
               + ("all intact" if summary.intact else
                  f"{summary.broken} chains broken ({summary.breaks} breaks"
                  + (f", {summary.orphan_events} events of deleted subscribers" if summary.orphan_events else "")
                  + ")")
               + ("; the ledger does not hold all the checkpoint held" if lost else ""))
    if not summary.intact or lost:
        sys.exit(1)


def _checkpoint_file(path: str) -> dict:
    """A checkpoint file as --checkpoint wrote it, or a clear error."""
    import json
    from pathlib import Path

    try:
        saved = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise click.ClickException(f"cannot read the checkpoint {path}: {error}") from None
    if not isinstance(saved, dict):
        raise click.ClickException(f"{path} is not a checkpoint written by verify-chain --checkpoint")
    return saved


def _permissions(value: str) -> tuple[str, ...]:
    from preference_sdk import AGENT_PERMISSIONS

    given = tuple(p.strip() for p in value.split(",") if p.strip())
    unknown = sorted(set(given) - set(AGENT_PERMISSIONS))
    if unknown or not given:
        raise click.BadParameter(f"some of {','.join(AGENT_PERMISSIONS)}, comma-separated; "
                                 f"not {','.join(unknown) or 'none'}")
    return given


@main.command("agent-link")
@click.option("--center", required=True, help="The center the console opens.")
@click.option("--agent", "agent_id", required=True, callback=lambda _c, _p, v: _label(v),
              help="The agent's id, as your single sign-on names them (recorded as agent:<id> in every change).")
@click.option("--name", callback=lambda _c, _p, v: v if v is None else _label(v),
              help="The name the console shows (default: the agent's id); never shown to the customer.")
@click.option("--permissions", default="change,view", show_default=True, callback=lambda _c, _p, v: _permissions(v),
              help="view: search and read a customer; change: save on their behalf.")
@click.option("--locale", help="The console's language (one of the center's locales).")
@click.option("--config", help="Center file or folder, to check that the center exists.")
def agent_link(center: str, agent_id: str, name: str | None, permissions: tuple[str, ...], locale: str | None,
               config: str | None) -> None:
    """Print an agent console link for one shift (12 hours), for trials.

    In production, the host's single sign-on mints it with the SDK, one call:
    LinkMinter(base_url, secrets).agent_url(center, agent_id, name=..., permissions=...).
    """
    from preference_sdk import LinkMinter

    settings = settings_from_env(config=config)
    known = _known_center(settings, center)
    if locale is not None and locale not in known.locales:
        raise click.ClickException(f"{center} has no locale {locale!r} (it has {', '.join(known.locales)})")
    if not settings.secret_keys:
        raise click.ClickException("no link-signing secret: set WIDGET_SECRET_KEYS as for serve "
                                   "(comma-separated, newest first)")
    minter = LinkMinter(settings.base_url, settings.secret_keys)
    try:
        link = minter.agent_url(center, agent_id, name=name or agent_id, permissions=permissions, locale=locale)
    except ValueError as refused:  # an id or a name the console could not take: the SDK says which
        raise click.ClickException(str(refused)) from None
    click.echo(link)
    click.echo(f"agent console of {center} for agent:{agent_id} ({','.join(sorted(set(permissions)))}), valid "
               "12 hours", err=True)


@main.command()
@click.option("--port", type=int, default=8000, show_default=True, help="Port of the widget.")
@click.option("--host", default="127.0.0.1", show_default=True)
def demo(port: int, host: str) -> None:
    """Run everything on SQLite with the example centers, and print links to try."""
    from .app import create_app
    from .centers import load_centers
    from .demo import (
        agent_links,
        demo_api_keys,
        demo_kiosks,
        demo_settings,
        demo_tokens,
        embeddable_from,
        footer_tokens,
        host_app,
        regional_links,
        regional_visitors,
        seed,
        widget_links,
    )
    from .paths import EXAMPLES

    _require_free_ports(host, port, port + 1)
    settings = demo_settings(settings_from_env(host=host, port=port, config=str(EXAMPLES / "centers")))
    _configure_logging(settings.log_level)
    host_origin = f"http://{host}:{port + 1}"
    app = create_app(settings, centers=embeddable_from(load_centers(settings.config), host_origin))
    subscribers = seed(app.state.store, app.state.centers)
    tokens = demo_tokens(app.state.signer, subscribers)
    links = widget_links(settings, tokens)
    kiosks = demo_kiosks(app.state.store, app.state.centers, app.state.signer, settings.base_url)
    consoles = agent_links(settings, app.state.centers)
    regional = regional_links(settings, app.state.signer, regional_visitors(app.state.store, app.state.centers))
    click.echo("\nwidget-server demo is running. Open:\n")
    for center_id, link in links.items():
        click.echo(f"  {center_id}")
        click.echo(f"    widget (a visitor's link):  {link}")
        click.echo(f"    embedded in a host page:    {host_origin}/{center_id}")
        kiosk, pin = kiosks[center_id]
        click.echo(f"    kiosk (a shop's tablet):    {kiosk}")
        click.echo(f"    its staff PIN:              {pin}  (new at each start: the previous tablet is revoked)")
        click.echo(f"    agent console (Demo Agent): {consoles[center_id]}")
        for country, regional_link in regional.get(center_id, {}).items():
            label = f"a visitor in {country}:"
            click.echo(f"    {label:<28}{regional_link}  (never asked: {country}'s rules)")
    click.echo(f"\n  example host pages (script tag, app shell, email footer): {host_origin}/")
    keys = demo_api_keys(app.state.store, app.state.centers)
    first = next(iter(keys))
    click.echo(f"\n  JSON API (docs/API.md): an admin key per center is in var/api-keys.json, e.g.\n"
               f"    curl -H \"Authorization: Bearer <key of {first}>\" "
               f"{settings.base_url}/api/v1/centers/{first}/events")
    click.echo(f"  OpenAPI: {settings.base_url}/schema/openapi.json")
    click.echo(f"\n  mail (\"send me a new link\", kiosk codes) is written to {settings.mail_dir}/, "
               f"text messages to {settings.sms_dir}/\n  Ctrl+C stops.\n")
    footers = {**tokens, **footer_tokens(app.state.signer, subscribers,
                                         {cid: center.default_locale for cid, center in app.state.centers.items()})}
    asyncio.run(_serve_both(app, host_app(links, settings.base_url, footers), host, port))


def _require_free_ports(host: str, *ports: int) -> None:
    """Refuse to start, saying which port is taken, before anything is written.

    The demo needs two ports (the widget and, on the next one, a host site of another
    origin); finding the second one busy only after the first server is up would leave
    half a demo running.
    """
    for port in ports:
        try:
            family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        except socket.gaierror as error:
            raise click.ClickException(f"cannot listen on {host} ({error.strerror})") from None
        with socket.socket(family) as probe:  # IPv6 hosts (::1) too
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                probe.bind(address)
            except OSError as error:
                raise click.ClickException(
                    f"cannot listen on {host}:{port} ({error.strerror}); the demo uses --port and the "
                    f"port after it: choose another, e.g. --port {ports[0] + 10}"
                ) from None


async def _serve_both(app, host_site, host: str, port: int) -> None:  # noqa: ANN001
    """Serve the widget and the host site; when either stops (or cannot start), stop both."""
    servers = [
        uvicorn.Server(uvicorn.Config(app, host=host, port=port, access_log=False, log_level="warning")),
        uvicorn.Server(uvicorn.Config(host_site, host=host, port=port + 1, access_log=False, log_level="warning")),
    ]

    async def serve(server: uvicorn.Server) -> bool:
        try:
            await server.serve()
            return server.started
        except SystemExit:  # uvicorn's answer to a port it could not bind
            return False
        finally:
            for other in servers:
                other.should_exit = True

    if not all(await asyncio.gather(*(serve(server) for server in servers))):
        raise click.ClickException("the demo stopped: a server could not start (see above)")
