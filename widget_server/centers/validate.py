"""Checks on a parsed center file, each returning problems instead of raising.

A person fixing a center file wants every problem at once, each pointing at a
key and saying what to do, so nothing here stops at the first mistake. The
structure (keys, types) is checked by :mod:`.schema`; the checks below judge
meaning, reading the file through :class:`.document.Document` (where a value of
the wrong type reads as absent) and judging single values with :mod:`.values`.

Each check is a function of a :class:`Document` yielding ``(key_path, message)``
findings; :func:`check_document` runs them all and adds the file name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import countries
from ..web.contrast import contrast_problems
from . import values
from .document import Document, name_of, strings, text
from .model import CHANNELS, FREQUENCIES, LEGAL_BASES, TOPIC_KINDS, Theme
from .special_categories import CATEGORY_NAMES, find_special_categories
from .structure import DOCUMENT, Finding, check_structure, join

_KIND_ALIASES = {"transactional": "required", "service": "required", "promotional": "marketing"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a center file, printed as ``file:key.path: message``.

    ``key_path`` is ``-`` when the problem concerns the whole file (a TOML syntax
    error, a file that cannot be read). Array indexes count from 0.
    """

    file: str
    key_path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.key_path}: {self.message}"


def check_document(
    raw: Mapping[str, Any], file: str, shipped_locales: Iterable[str]
) -> list[Problem]:
    """Every problem in one parsed file, grouped in file order (center, theme, topics...).

    ``shipped_locales`` are the interface languages: a center may only list those.
    """
    findings = list(check_structure(raw))
    document = Document(raw, shipped_locales)
    for check in CHECKS:
        findings.extend(check(document))
    findings.sort(key=lambda finding: _file_order(finding[0]))
    return [Problem(file, path, message) for path, message in findings]


# --- ids ---------------------------------------------------------------------------


def check_id_format(doc: Document) -> Iterator[Finding]:
    """Ids end up in URLs, event paths (``offers.email``) and CSS: keep them slugs."""
    items = [("center", doc.center), *doc.topics, *doc.interests]
    for path, item in items:
        value = text(item, "id")
        problem = values.id_problem(value) if value is not None else None
        if problem:
            yield join(path, "id"), problem


def check_duplicate_topic_ids(doc: Document) -> Iterator[Finding]:
    """Two topics with one id would share one subscription: the second is unreachable."""
    yield from _duplicate_ids(doc.topics, "topic")


def check_duplicate_interest_ids(doc: Document) -> Iterator[Finding]:
    """Interests are stored as a set of ids. An interest may share an id with a topic."""
    yield from _duplicate_ids(doc.interests, "interest")


def _duplicate_ids(items: list[tuple[str, Mapping[str, Any]]], what: str) -> Iterator[Finding]:
    first_seen: dict[str, str] = {}
    for path, item in items:
        value = text(item, "id")
        if value is None:
            continue
        if value in first_seen:
            yield join(path, "id"), (
                f"duplicate {what} id '{value}' (already used at {first_seen[value]}); "
                f"give each {what} its own id"
            )
        else:
            first_seen[value] = join(path, "id")


# --- locales -----------------------------------------------------------------------


def check_locale_list(doc: Document) -> Iterator[Finding]:
    """An empty list leaves nothing to show; a repeat is a typo waiting to confuse."""
    locales = doc.center.get("locales")
    if isinstance(locales, list) and not locales:
        yield "center.locales", 'is empty; list the locales the center speaks, e.g. ["en"]'
    yield from _repeats(strings(doc.center, "locales"), "center.locales", "locale")


def check_locale_codes(doc: Document) -> Iterator[Finding]:
    """Locale codes are compared with the visitor's Accept-Language: one spelling only."""
    for index, code in strings(doc.center, "locales"):
        problem = values.locale_problem(code)
        if problem:
            yield join("center.locales", index), problem


def check_default_locale(doc: Document) -> Iterator[Finding]:
    """The default locale is the fallback for every text, so it must be one the center has."""
    default, locales = text(doc.center, "default_locale"), doc.locales
    if default is not None and locales is not None and default not in locales:
        yield "center.default_locale", (
            f"'{default}' is not in center.locales ({', '.join(locales)}); "
            f"add it to center.locales or pick one of them"
        )


def check_shipped_locales(doc: Document) -> Iterator[Finding]:
    """A center locale needs the interface (buttons, errors) translated too.

    A regional code is accepted when its language ships: ``fr-CA`` uses ``fr``.
    """
    shipped = ", ".join(sorted(doc.shipped_locales))
    for index, code in strings(doc.center, "locales"):
        if values.locale_problem(code):
            continue  # reported by check_locale_codes
        candidates = {values.locale_key(code), values.locale_key(code.split("-")[0])}
        if not candidates & doc.shipped_locales:
            yield join("center.locales", index), (
                f"the interface is not translated into '{code}' (shipped: {shipped}); "
                f"remove it from center.locales, or ship an interface translation first"
            )


def check_missing_translations(doc: Document) -> Iterator[Finding]:
    """Every text must exist in every locale the center lists, or a visitor sees a gap."""
    locales = doc.locales
    if locales is None:
        return
    for path, wording, fix in doc.wordings():
        for locale in locales:
            if locale not in wording:
                yield join(path, locale), (
                    f"missing the '{locale}' translation; add {fix.replace('LOCALE', locale)}, "
                    f"or remove '{locale}' from center.locales"
                )


def check_extra_translations(doc: Document) -> Iterator[Finding]:
    """A translation for an unlisted locale is never shown: usually a typo in the code."""
    locales = doc.locales
    if locales is None:
        return
    for path, wording, _ in doc.wordings():
        for locale in wording:
            if locale not in locales:
                yield join(path, locale), (
                    f"'{locale}' is not in center.locales ({', '.join(locales)}); "
                    f"add it there, or remove this translation"
                )


# --- topics ------------------------------------------------------------------------


def check_topic_kinds(doc: Document) -> Iterator[Finding]:
    """The kind decides whether a topic can be switched off: no guessing."""
    for path, topic in doc.topics:
        kind = text(topic, "kind")
        if kind is not None and kind not in TOPIC_KINDS:
            yield join(path, "kind"), (
                f"unknown kind '{kind}'{_did_you_mean(kind, TOPIC_KINDS, _KIND_ALIASES)}; "
                f"use one of: {', '.join(TOPIC_KINDS)}"
            )


def check_channels(doc: Document) -> Iterator[Finding]:
    """Channels are a closed list: each has delivery code and translated labels."""
    known = ", ".join(CHANNELS)
    for path, topic in doc.topics:
        channels = topic.get("channels")
        if isinstance(channels, list) and not channels:
            yield join(path, "channels"), f"lists no channel; list at least one of: {known}"
        yield from _unknown_values(topic, path, "channels", "channel", CHANNELS)


def check_frequencies(doc: Document) -> Iterator[Finding]:
    """Frequencies are a closed list, like channels. Required topics are judged apart."""
    for path, topic in doc.topics:
        if text(topic, "kind") != "required":
            yield from _unknown_values(topic, path, "frequencies", "frequency", FREQUENCIES)


def check_default_frequency(doc: Document) -> Iterator[Finding]:
    """A topic offering frequencies must say which one applies until the person chooses."""
    for path, topic in doc.topics:
        if text(topic, "kind") == "required":
            continue  # check_required_topic_frequencies
        offered = [value for _, value in strings(topic, "frequencies")]
        default = text(topic, "default_frequency")
        where = join(path, "default_frequency")
        if offered and default is None and "default_frequency" not in topic:
            yield where, (
                f"missing; this topic offers frequencies, so set default_frequency "
                f"to one of them ({', '.join(offered)})"
            )
        elif default is not None and not offered:
            yield where, "is set but the topic offers no frequencies; add frequencies or remove it"
        elif default is not None and default not in offered:
            yield where, (
                f"'{default}' is not one of this topic's frequencies ({', '.join(offered)}); "
                f"pick one of them, or add it to frequencies"
            )


def check_required_topic_frequencies(doc: Document) -> Iterator[Finding]:
    """Required messages (order updates) go out when due: there is nothing to choose."""
    for path, topic in doc.topics:
        if text(topic, "kind") != "required":
            continue
        if strings(topic, "frequencies"):
            yield join(path, "frequencies"), (
                "a required topic cannot offer frequencies, its messages go out when due; "
                "remove frequencies and default_frequency, or change the kind"
            )
        elif "default_frequency" in topic:
            yield join(path, "default_frequency"), (
                "a required topic has no frequency; remove default_frequency"
            )


def check_switchable_topic(doc: Document) -> Iterator[Finding]:
    """A center where nothing can be switched on or off offers no choice at all."""
    if not isinstance(doc.raw.get("topics"), list):
        return  # missing or mistyped: reported by the structure check
    kinds = [text(topic, "kind") for _, topic in doc.topics]
    if all(kind == "required" for kind in kinds):
        yield "topics", (
            "no topic can be switched on or off; add at least one topic "
            "of kind 'marketing' or 'informational'"
        )


def _unknown_values(
    topic: Mapping[str, Any], path: str, key: str, what: str, known: tuple[str, ...]
) -> Iterator[Finding]:
    listed = strings(topic, key)
    for index, value in listed:
        if value not in known:
            yield join(join(path, key), index), (
                f"unknown {what} '{value}'{_did_you_mean(value, known)}; "
                f"use one of: {', '.join(known)}"
            )
    yield from _repeats(listed, join(path, key), what)


def _repeats(listed: list[tuple[int, str]], path: str, what: str) -> Iterator[Finding]:
    seen: set[str] = set()
    for index, value in listed:
        if value in seen:
            yield join(path, index), f"{what} '{value}' is listed twice; remove the repeat"
        seen.add(value)


def _did_you_mean(
    value: str, known: Iterable[str], aliases: Mapping[str, str] | None = None
) -> str:
    guess = (aliases or {}).get(value.lower()) or next(
        iter(difflib.get_close_matches(value.lower(), list(known), n=1)), None
    )
    return f" (did you mean '{guess}'?)" if guess else ""


# --- embedding and look ------------------------------------------------------------


def check_origins(doc: Document) -> Iterator[Finding]:
    """Only the exact form a browser sends in its Origin header can ever match."""
    for table, path in ((doc.center, "center.allowed_origins"), (doc.call_center, "call_center.allowed_origins")):
        listed = strings(table, "allowed_origins")
        for index, origin in listed:
            problem = values.origin_problem(origin)
            if problem:
                yield join(path, index), problem
        yield from _repeats(listed, path, "origin")


def check_phone_region(doc: Document) -> Iterator[Finding]:
    """Phone numbers typed without their country code are read in this region."""
    region = text(doc.center, "phone_region")
    if region is not None and not values.phone_region_known(region):
        yield "center.phone_region", (
            f"'{region}' is not a region phone numbers are known for; write a two-letter "
            f"ISO 3166 code in capitals, e.g. phone_region = \"FR\""
        )


def check_kiosk(doc: Document) -> Iterator[Finding]:
    """The kiosk's idle reset: long enough to read a screen, short enough for a shared tablet."""
    idle = doc.kiosk.get("idle_seconds")
    if isinstance(idle, int) and not isinstance(idle, bool) and not 20 <= idle <= 600:
        yield "kiosk.idle_seconds", f"must be between 20 and 600 seconds, not {idle}"


def check_privacy_urls(doc: Document) -> Iterator[Finding]:
    """The privacy link is shown to visitors: it must be a full web address."""
    wording = doc.center.get("text")
    if not isinstance(wording, dict):
        return
    for locale, table in wording.items():
        url = text(table, "privacy_url") if isinstance(table, dict) else None
        problem = values.url_problem(url) if url is not None else None
        if problem:
            yield join(join("center.text", locale), "privacy_url"), problem


def check_theme(doc: Document) -> Iterator[Finding]:
    """Theme values are written into CSS: only values that cannot break out of it."""
    theme = doc.raw.get("theme")
    if not isinstance(theme, dict):
        return
    colours = ("primary", "primary_text", "background", "text",
               "dark_primary", "dark_primary_text", "dark_background", "dark_text")
    judges = {key: values.colour_problem for key in colours}
    judges.update(radius=values.radius_problem, spacing=values.spacing_problem, font=values.font_problem)
    for key, judge in judges.items():
        value = text(theme, key)
        problem = judge(value) if value is not None else None
        if problem:
            yield join("theme", key), problem
    yield from check_theme_contrast(theme)


def check_theme_contrast(theme: Mapping[str, Any]) -> Iterator[Finding]:
    """Text must stay readable: every colour pair the widget draws meets WCAG AA."""
    given = {k: v for k, v in theme.items() if isinstance(v, str) and values.colour_problem(v) is None}
    defaults = Theme().colours()
    merged = {**defaults, **{k: v for k, v in given.items() if k in defaults}}
    for key, message in contrast_problems(merged):
        yield join("theme", key), message


# --- sensitive wording -------------------------------------------------------------


def check_special_categories(doc: Document) -> Iterator[Finding]:
    """A choice worded around health, religion... makes the preference itself sensitive.

    See :mod:`.special_categories`. A human review, recorded with
    ``special_category_reviewed = true``, silences the check for that entry.
    """
    entries = [(path, item, "topic") for path, item in doc.topics]
    entries += [(path, item, "interest") for path, item in doc.interests]
    for path, item, what in entries:
        if item.get("special_category_reviewed") is True:
            continue
        for category, places in _special_hits(item).items():
            found = ", ".join(f"'{word}' in {where}" for word, where in places[:3])
            yield path, (
                f"{what} {name_of(item)} may reveal {CATEGORY_NAMES[category]}, "
                f"a special category of personal data under GDPR Art. 9 (found {found}); "
                f"such choices need explicit consent: have the wording reviewed, then add "
                f"special_category_reviewed = true to this {what}"
            )


def _special_hits(item: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Category -> [(word as written, where)], first place first."""
    texts = [("id", text(item, "id") or "")]
    for key in ("label", "description"):
        wording = item.get(key)
        if isinstance(wording, dict):
            texts += [(f"{key}.{loc}", v) for loc, v in wording.items() if isinstance(v, str)]
    hits: dict[str, list[tuple[str, str]]] = {}
    for where, value in texts:
        for hit in find_special_categories(value):
            hits.setdefault(hit.category, []).append((hit.word, where))
    return hits


# --- consent and regions ------------------------------------------------------------

#: Region codes besides countries: the fallback and the groups of regions.py (restated, not
#: imported: regions and legal_bases import the center model, which loads this module).
REGION_GROUPS = ("default", "EU", "EEA")
OPT_IN_MODES = ("required", "opt_out")
#: The bases that need no opt-in (legal_bases.WITHOUT_OPT_IN).
_WITHOUT_OPT_IN = ("legitimate_interest", "soft_opt_in")
#: Longer than this is surely a typo (a year of days for a pending double opt-in, 10 years of a basis).
_MAX_PENDING_DAYS, _MAX_LIFETIME_DAYS = 90, 3650
#: A reminder's "keep me subscribed" link lasts until the consent ends, and a confirm link 400 days at most.
_MAX_REMIND_DAYS = 365
#: The channels a double opt-in can be confirmed on today: a link mailed to the address.
CONFIRMABLE_CHANNELS = ("email",)
_UNCONFIRMABLE = ("a double opt-in on '{channel}' could never be confirmed (confirmations are mailed links, "
                  "so only e-mail opt-ins can wait for one); remove it")


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_consent(doc: Document) -> Iterator[Finding]:
    """How long a double opt-in waits: at least a day, a mail can take that long to be read."""
    days = doc.consent.get("pending_days")
    if isinstance(days, int) and not isinstance(days, bool) and not 1 <= days <= _MAX_PENDING_DAYS:
        yield "consent.pending_days", f"must be between 1 and {_MAX_PENDING_DAYS} days, not {days}"


def check_region_codes(doc: Document) -> Iterator[Finding]:
    """A region code is matched against a subscriber's country: one that no country can
    have would never apply, silently."""
    for path, code, _ in doc.regions:
        if code in REGION_GROUPS or countries.known(code):
            continue
        if code.lower() == "default":
            yield path, f"unknown region '{code}' (did you mean 'default'?); write [regions.default.CHANNEL]"
        elif countries.known(code.upper()) or code.upper() in REGION_GROUPS:
            yield path, f"write region codes in capitals: [regions.{code.upper()}...]"
        else:
            yield path, (f"unknown region '{code}'; use default, EU, EEA or an ISO 3166 alpha-2 country code "
                         f"(FR, CA, US)")


def check_region_channels(doc: Document) -> Iterator[Finding]:
    """A rule for a channel no topic offers is never applied: usually a typo."""
    offered = sorted({channel for _, topic in doc.topics for _, channel in strings(topic, "channels")})
    for path, _, channel, _ in doc.channel_rules():
        if channel not in offered:
            yield path, (f"no topic offers the channel '{channel}'{_did_you_mean(channel, offered)}; "
                         f"write rules for one of: {', '.join(offered)}")


def check_channel_rules(doc: Document) -> Iterator[Finding]:
    """Each rule's meaning: a known mode and bases, a lifetime only for a basis the rule allows,
    no double opt-in where opt-out suffices, positive days."""
    for path, _, channel, rule in doc.channel_rules():
        yield from _rule_problems(path, rule)
        if rule.get("double_opt_in") is True and channel not in CONFIRMABLE_CHANNELS:
            yield join(path, "double_opt_in"), _UNCONFIRMABLE.format(channel=channel)


def _rule_problems(path: str, rule: Mapping[str, Any]) -> Iterator[Finding]:
    mode = text(rule, "opt_in")
    if mode is not None and mode not in OPT_IN_MODES:
        yield join(path, "opt_in"), (f"unknown mode '{mode}'{_did_you_mean(mode, OPT_IN_MODES)}; write "
                                     f"opt_in = \"required\" (the person must opt in) or \"opt_out\" "
                                     f"(usable until they opt out)")
    bases = [basis for _, basis in strings(rule, "bases")]
    if isinstance(rule.get("bases"), list) and not rule["bases"]:
        yield join(path, "bases"), 'lists no basis; list at least one, e.g. bases = ["consent"]'
    yield from _unknown_values(rule, path, "bases", "legal basis", LEGAL_BASES)
    allowed = bases or ["consent"]
    known = all(basis in LEGAL_BASES for basis in allowed)  # a typo is reported once, above
    if mode == "opt_out" and known and not set(allowed) & set(_WITHOUT_OPT_IN):  # else opt-out means nothing
        yield join(path, "bases"), ('opt_in = "opt_out" needs a basis that needs no opt-in; add '
                                    '"legitimate_interest" or "soft_opt_in" to bases')
    if mode == "opt_out" and rule.get("double_opt_in") is True:
        yield join(path, "double_opt_in"), ('a double opt-in confirms an opt-in, and opt_in = "opt_out" asks '
                                            'none; remove double_opt_in, or write opt_in = "required"')
    yield from _lifetime_problems(join(path, "lifetime_days"), rule.get("lifetime_days"), allowed)
    remind = rule.get("remind_days_before")
    if isinstance(remind, int) and not isinstance(remind, bool) and not _positive(remind):
        yield join(path, "remind_days_before"), f"must be a positive number of days, not {remind}"
    elif isinstance(remind, int) and _positive(remind) and remind > _MAX_REMIND_DAYS:
        yield join(path, "remind_days_before"), f"at most {_MAX_REMIND_DAYS} days before the end, not {remind}"
    elif _positive(remind) and not rule.get("lifetime_days"):
        yield join(path, "remind_days_before"), ("nothing here expires, so there is nothing to remind of; give a "
                                                 "basis a lifetime_days, or remove remind_days_before")


def _lifetime_problems(path: str, lifetimes: Any, allowed: list[str]) -> Iterator[Finding]:
    if not isinstance(lifetimes, dict):
        return
    for basis, days in lifetimes.items():
        where = join(path, basis)
        if basis not in allowed:
            known = f"{_did_you_mean(basis, LEGAL_BASES)}" if basis not in LEGAL_BASES else ""
            yield where, (f"a lifetime for '{basis}'{known}, which this rule does not allow (bases: "
                          f"{', '.join(allowed)}); add it to bases, or remove this lifetime")
        for reason_where, n in ([(join(where, r), v) for r, v in days.items()] if isinstance(days, dict)
                                else [(where, days)]):
            if isinstance(n, int) and not isinstance(n, bool) and not 1 <= n <= _MAX_LIFETIME_DAYS:
                yield reason_where, f"must be between 1 and {_MAX_LIFETIME_DAYS} days, not {n}"
        if isinstance(days, dict):
            for reason in days:
                problem = values.id_problem(reason)
                if problem:
                    yield join(where, reason), f"a reason is an id: {problem}"


def check_region_text(doc: Document) -> Iterator[Finding]:
    """A region's notice is shown in the widget in the visitor's language: in every locale of the
    center, and in no other."""
    locales = doc.locales
    if locales is None:
        return
    for path, code, region in doc.regions:
        wording = region.get("text")
        if not isinstance(wording, dict):
            continue
        for locale in wording:
            if locale not in locales:
                yield join(join(path, "text"), locale), (f"'{locale}' is not in center.locales "
                                                         f"({', '.join(locales)}); add it there, or remove it")
        for locale in locales:
            if locale not in wording:
                yield join(join(path, "text"), locale), (f"missing the '{locale}' notice; add "
                                                         f"[regions.{code}.text.{locale}] with notice = \"...\"")


def check_topic_consent(doc: Document) -> Iterator[Finding]:
    """A topic's double opt-in names channels the topic offers."""
    for path, topic in doc.topics:
        offered = [channel for _, channel in strings(topic, "channels")]
        for index, channel in strings(topic, "double_opt_in"):
            if channel not in offered:
                yield join(join(path, "double_opt_in"), index), (
                    f"this topic is not offered on '{channel}'{_did_you_mean(channel, offered)}; "
                    f"list some of: {', '.join(offered)}")
            elif channel not in CONFIRMABLE_CHANNELS:
                yield join(join(path, "double_opt_in"), index), _UNCONFIRMABLE.format(channel=channel)
        if text(topic, "kind") == "required" and strings(topic, "double_opt_in"):
            yield join(path, "double_opt_in"), "a required topic is never opted in to; remove double_opt_in"


def _file_order(path: str) -> tuple[int, int]:
    """Sort key: the section as the format lists them, then the entry index."""
    sections = list(DOCUMENT)
    head = re.match(r"([^.\[]+)(?:\[(\d+)\])?", path)
    section, index = (head.group(1), head.group(2)) if head else (path, None)
    rank = sections.index(section) if section in sections else len(sections)
    return rank, int(index) if index is not None else -1


CHECKS: tuple[Callable[[Document], Iterable[Finding]], ...] = (
    check_id_format,
    check_locale_list,
    check_locale_codes,
    check_default_locale,
    check_shipped_locales,
    check_origins,
    check_phone_region,
    check_kiosk,
    check_privacy_urls,
    check_missing_translations,
    check_extra_translations,
    check_theme,
    check_duplicate_topic_ids,
    check_topic_kinds,
    check_channels,
    check_frequencies,
    check_default_frequency,
    check_required_topic_frequencies,
    check_switchable_topic,
    check_duplicate_interest_ids,
    check_special_categories,
    check_topic_consent,
    check_consent,
    check_region_codes,
    check_region_channels,
    check_channel_rules,
    check_region_text,
)
