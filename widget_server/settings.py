"""Typed, frozen settings: built once from CLI options and ``WIDGET_*`` variables.

Every setting is declared once, in :data:`SETTINGS`, with its help text; the CLI, the
environment reader and the README table all come from that list, and a test fails when
a setting is missing from the README. Nothing reads the environment at import time:
:func:`settings_from_env` is called by the CLI and by the ASGI factory only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

ENV_PREFIX = "WIDGET_"


def _setting(default: Any, help: str, *, secret: bool = False) -> Any:
    return field(default=default, repr=not secret, metadata={"help": help, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know about its surroundings."""

    config: str = _setting("examples/centers", "Center file, or folder of center files (TOML).")
    database: str = _setting(
        "sqlite:///var/widget.db", "Database URL: `sqlite:///path.db` (default) or `postgresql://...`."
    )
    host: str = _setting("127.0.0.1", "Address to listen on.")
    port: int = _setting(8000, "Port to listen on.")
    workers: int = _setting(1, "Worker processes.")
    public_url: str = _setting(
        "", "Public base URL used in links and e-mails (default: `http://HOST:PORT`)."
    )
    secret_keys: tuple[str, ...] = _setting(
        (),
        "Link-signing secrets, comma-separated, newest first: the first signs, all verify.",
        secret=True,
    )
    lookup_key: str = _setting(
        "",
        "Secret for the keyed hash under which contact points are looked up "
        "(default: derived from the oldest signing secret).",
        secret=True,
    )
    chain_keys: tuple[str, ...] = _setting(
        (),
        "Secrets the consent-event chain is keyed under (HMAC), comma-separated, newest first: the first keys "
        "new events, all verify; keep every one ever used (default: derived from the lookup key).",
        secret=True,
    )
    smtp_host: str = _setting("", "SMTP server for outgoing mail; empty writes mail to `MAIL_DIR`.")
    smtp_port: int = _setting(25, "SMTP port.")
    smtp_username: str = _setting("", "SMTP user name, if the server needs one.")
    smtp_password: str = _setting("", "SMTP password.", secret=True)
    smtp_starttls: bool = _setting(False, "Upgrade the SMTP connection with STARTTLS (submission, usually port 587).")
    smtp_tls: bool = _setting(
        False, "Connect to the SMTP server over TLS from the start (SMTPS, usually port 465); not with `SMTP_STARTTLS`."
    )
    mail_from: str = _setting("preferences@localhost", "Sender address of outgoing mail.")
    mail_dir: str = _setting("var/mail", "Folder where mail is written when no SMTP server is set.")
    log_level: str = _setting("info", "Log level: debug, info, warning, error.")
    api_rate_limit: int = _setting(1200, "API requests a minute per API key (then `429` with `Retry-After`).")
    deliver_webhooks: bool = _setting(True, "Run the webhook worker in this process (sends the outbox).")
    webhook_first_retry_ms: int = _setting(
        5000, "Wait before the first retry of a failed webhook delivery; each further retry waits twice as long."
    )
    webhook_max_attempts: int = _setting(12, "Attempts before a webhook delivery is marked failed.")
    webhook_poll_ms: int = _setting(
        1000, "How often the webhook worker looks for due deliveries when nothing wakes it "
        "(a change made in this process wakes it at once; retries and other processes' changes wait for this)."
    )
    webhook_allow_private: bool = _setting(
        False, "Let webhooks reach loopback and private addresses, and plain http there (development only)."
    )
    link_limit_per_address: int = _setting(
        3, "New-link mails one e-mail address may be sent per window, per center, whether asked for by typing "
        "it or with an expired link (then `429` with `Retry-After`); counted in the database, so every "
        "process shares the count."
    )
    link_limit_per_client: int = _setting(
        20, "New-link requests one client address (an IPv4 address, an IPv6 /64) may make per window, per "
        "center (then `429` with `Retry-After`); counted in the database too."
    )
    link_limit_window_minutes: int = _setting(60, "The window of the two new-link limits, in minutes.")
    send_mail: bool = _setting(True, "Run the mail worker in this process (sends the mail outbox: new links).")
    run_lifecycle: bool = _setting(
        True, "Run the lifecycle worker in this process: records pending confirmations and legal bases whose time "
        "has passed as expired, and queues re-permission reminders (safe in several processes at once)."
    )
    lifecycle_poll_seconds: int = _setting(
        60, "How often the lifecycle worker looks for subscriptions whose time has passed (an expiry is recorded "
        "within this long of its time)."
    )
    mail_first_retry_ms: int = _setting(
        5000, "Wait before the first retry of a mail the SMTP server did not take; each further retry waits "
        "twice as long, eight attempts in all."
    )

    sms_url: str = _setting(
        "", "HTTPS endpoint of the host's SMS gateway: kiosk codes are POSTed to it as JSON (`to`, `text`), "
        "signed like webhooks with `SMS_SECRET`; empty writes each message to `SMS_DIR`."
    )
    sms_secret: str = _setting("", "Secret the SMS gateway verifies our requests with (`whsec_...`).", secret=True)
    sms_dir: str = _setting("var/sms", "Folder where SMS messages are written when no `SMS_URL` is set.")
    kiosk_codes_per_device: int = _setting(
        30, "Customers one kiosk may start per hour: one-time codes sent, staff attestations and wrong staff "
        "PINs alike (then the kiosk asks to wait)."
    )
    kiosk_codes_per_contact: int = _setting(
        3, "One-time codes one e-mail address, phone number or loyalty number may be sent per hour, per center."
    )
    agent_searches_per_hour: int = _setting(
        60, "Customer searches one call-center agent may make per hour (every search is audited)."
    )

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def with_options(self, **options: Any) -> "Settings":
        """A copy with the options that were given (``None`` means not given)."""
        given = {k: _coerce(k, v) for k, v in options.items() if v is not None}
        return replace(self, **given)


SETTINGS = tuple(fields(Settings))
SETTING_NAMES = frozenset(f.name for f in SETTINGS)


def _coerce(name: str, value: Any) -> Any:
    kind = next(f.type for f in SETTINGS if f.name == name)
    if not isinstance(value, str):
        return tuple(value) if kind.startswith("tuple") and not isinstance(value, tuple) else value
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be a whole number, not {value!r}") from None
    if kind == "bool":
        return value.strip().lower() in ("1", "true", "yes", "on")
    if kind.startswith("tuple"):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class SettingsError(ValueError):
    """A setting that cannot be used; the message says which and what to do."""


def settings_from_env(environ: Mapping[str, str] | None = None, **options: Any) -> Settings:
    """Settings from ``WIDGET_*`` variables, overridden by explicit ``options``."""
    environ = os.environ if environ is None else environ
    from_env = {
        f.name: environ[ENV_PREFIX + f.name.upper()]
        for f in SETTINGS
        if ENV_PREFIX + f.name.upper() in environ
    }
    return Settings().with_options(**from_env).with_options(**options)


def settings_to_env(settings: Settings) -> dict[str, str]:
    """The ``WIDGET_*`` variables that rebuild ``settings`` in a worker process."""
    env = {}
    for f in SETTINGS:
        value = getattr(settings, f.name)
        if isinstance(value, tuple):
            value = ",".join(value)
        env[ENV_PREFIX + f.name.upper()] = str(value)
    return env
