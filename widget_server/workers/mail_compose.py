"""Each kind of mail, rendered when it is sent: its link minted then, in the person's language.

Every mail has a text part and an HTML part (``templates/emails/<kind>.txt`` and
``.html``, the HTML one with the language's ``lang`` and ``dir`` and a real link styled as
a button, the address written out below it for a client that shows no button). A link is
minted at send time, never stored: ``fresh_link`` a ``login`` link (an hour); ``confirm``
a double opt-in's link (``confirm_links``, purpose ``opt_in``, working until the earliest
pending subscription expires); ``repermission`` a "keep me subscribed" (purpose
``renew``, until the basis ends); ``erasure`` the confirmation of an erasure asked for on
the history page (purpose ``erase``, a day).

The marketing-adjacent ones (``confirm``, ``repermission``) carry ``List-Unsubscribe``
and ``List-Unsubscribe-Post`` (RFC 2369, RFC 8058), made by the SDK's ``LinkMinter`` like
any host's footer: a mailbox provider's "unsubscribe" button then works on them too. The
one-click URL needs an ``https`` base URL (or a loopback one); without it the headers are
left out, and said once in the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import urlencode

from preference_sdk import LinkMinter, TokenSigner

from .. import confirm_links
from ..centers.model import Center
from ..errors import N_
from ..i18n import Translator, format_moment, text_direction
from ..mailer import build_message
from ..settings import Settings
from ..store.mail_outbox import CONFIRM, ERASURE, FRESH_LINK, REPERMISSION
from ..web.labels import CHANNEL_LABELS

if TYPE_CHECKING:
    from jinja2 import Environment

log = logging.getLogger("widget_server.workers.mail")

#: Each kind's subject (a msgid; the center's name goes before it).
SUBJECTS = {
    FRESH_LINK: N_("Your link to manage your preferences"),
    CONFIRM: N_("Please confirm your subscription"),
    REPERMISSION: N_("Do you want to keep hearing from us?"),
    ERASURE: N_("Confirm that we should erase your data"),
}
#: The kinds a mailbox provider's unsubscribe button should work on.
MARKETING_ADJACENT = frozenset({CONFIRM, REPERMISSION})


@dataclass(frozen=True)
class About:
    """One subscription a mail is about, and when its wait or its basis ends."""

    topic: str
    channel: str
    until: datetime | None


@dataclass(frozen=True)
class Claimed:
    id: int
    lease: datetime
    attempts: int  # before this one
    center: str
    kind: str
    locale: str | None
    recipient: tuple[str, str] | None  # (subscriber id, address); None: nobody, nothing to send
    about: tuple[About, ...] = ()  # confirm: what is pending; repermission: what ends


class MailComposer:
    """A row's mail, rendered when it is sent (see the module's docstring)."""

    def __init__(self, settings: Settings, centers: Mapping[str, Center], signer: TokenSigner,
                 translator: Translator, jinja: Environment,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.settings, self.centers, self.signer = settings, centers, signer
        self.translator, self.jinja, self.clock = translator, jinja, clock
        self._minter: LinkMinter | None = None
        try:
            minter = LinkMinter(settings.base_url, settings.secret_keys, clock=lambda: self.clock().timestamp())
            minter.list_unsubscribe_headers("probe", "sub_probe")
            self._minter = minter
        except ValueError as why:
            log.warning("mails go without List-Unsubscribe headers: %s", why)

    def compose(self, mail: Claimed) -> EmailMessage | None:
        """The message to send, or None when there is none to send (nobody, a center gone,
        nothing pending or ending any more)."""
        center = self.centers.get(mail.center)
        if mail.recipient is None or center is None or mail.kind not in SUBJECTS:
            return None
        subscriber_id, address = mail.recipient
        locale = mail.locale if mail.locale in center.locales else center.default_locale
        live = self._live(mail)  # what is over is left out; the rest is still owed its mail
        made = self._link(center, mail, subscriber_id, locale, live)
        if made is None:
            return None
        link, extra = made
        translations = self.translator.get(locale)
        subject = f"{center.name}: {translations.gettext(SUBJECTS[mail.kind])}"
        context = {"translations": translations, "center": center, "link": link, "locale": locale,
                   "dir": text_direction(locale), "subject": subject, **extra}
        text = self.jinja.get_template(f"emails/{mail.kind}.txt").render(context)
        html = self.jinja.get_template(f"emails/{mail.kind}.html").render(context)
        message = build_message(self.settings.mail_from, address, subject, text, html)
        message["Content-Language"] = locale.replace("_", "-")
        target = self._unsubscribe_target(mail, live)
        if target is not None and self._minter is not None:
            topic, channel = target
            headers = self._minter.list_unsubscribe_headers(center.id, subscriber_id, topic=topic, channel=channel,
                                                            locale=locale)
            for name, value in headers.items():
                message[name] = value
        return message

    def _unsubscribe_target(self, mail: Claimed, live: list[About]) -> tuple[str, str] | None:
        """What the mail's List-Unsubscribe switches off: exactly the subscription a mail is about.

        A re-permission mail is about one subscription (its topic on its channel: an SMS's
        reminder must not stop e-mail); a confirmation, about what waits on e-mail, so its
        header is the topic's on e-mail when one topic waits, and none when several do (no
        link stops several topics and nothing else; not confirming already subscribes to
        nothing). "Unsubscribe from everything" is never what such a button means.
        """
        if mail.kind not in MARKETING_ADJACENT or not live:
            return None
        if mail.kind == REPERMISSION:
            return live[0].topic, live[0].channel
        topics = {(a.topic, a.channel) for a in live}
        return next(iter(topics)) if len(topics) == 1 else None

    def _live(self, mail: Claimed) -> list[About]:
        """What the mail is about and still waits (a pending, a basis still running), now."""
        now = self.clock()
        return [a for a in mail.about if a.until is not None and a.until > now]

    def _link(self, center: Center, mail: Claimed, subscriber_id: str, locale: str,
              live: list[About]) -> tuple[str, dict[str, Any]] | None:
        """The mail's link and what its template shows besides; None when it has nothing to ask
        (``live``: what it is about that still waits: a pending's deadline may have passed before
        the lifecycle worker marked it)."""
        base = f"{self.settings.base_url}/c/{center.id}"
        if mail.kind == FRESH_LINK:
            token = self.signer.mint("login", center.id, subscriber_id, l=locale)
            return f"{base}/preferences?{urlencode({'t': token})}", {}
        now = self.clock()
        if mail.kind == ERASURE:
            token, _ = confirm_links.mint(self.signer, center.id, subscriber_id, confirm_links.ERASE,
                                          now + confirm_links.ERASE_LIFETIME, locale=locale)
            return f"{base}/confirm?{urlencode({'t': token})}", {}
        if not live:
            return None
        until = min(a.until for a in live if a.until is not None)
        shown = {"items": self._items(center, tuple(live), locale), "until": format_moment(until, locale)}
        if mail.kind == CONFIRM:
            token, _ = confirm_links.mint(self.signer, center.id, subscriber_id, confirm_links.OPT_IN, until,
                                          locale=locale)
        else:
            about = live[0]
            token, _ = confirm_links.mint(self.signer, center.id, subscriber_id, confirm_links.RENEW, until,
                                          locale=locale, topic=about.topic, channel=about.channel)
        return f"{base}/confirm?{urlencode({'t': token})}", shown

    def _items(self, center: Center, about: tuple[About, ...], locale: str) -> list[str]:
        """"Offers: E-mail", in the mail's language, for each subscription it is about."""
        gettext = self.translator.get(locale).gettext
        items = []
        for each in about:
            topic = center.topic(each.topic)
            label = center.text(topic.label, locale) if topic else each.topic
            channel = CHANNEL_LABELS.get(each.channel)
            items.append(f"{label}: {gettext(channel)}" if channel else label)
        return items


def wait_until(about: About, pending_days: int, since: datetime) -> About:
    """A pending subscription stored without its end (written before ends were kept): its
    center's ``pending_days`` after it was asked."""
    if about.until is not None:
        return about
    return About(about.topic, about.channel, since + timedelta(days=pending_days))
