'''Read center files (TOML) into :class:`~.model.Center` objects.

One file describes one preference center. Full, working examples live in
``examples/centers/``; ``widget-server check-config PATH`` checks files without
starting anything. The format, every key shown::

    [center]
    id = "maison-lumiere"           # 1-63 of a-z 0-9 - _, starting with a letter or digit
    name = "Maison Lumière"          # the brand name, shown as is (not translated)
    default_locale = "fr"           # must be in locales; the fallback for every text
    locales = ["fr", "en"]          # BCP 47 codes ("en", "en-GB"); the interface must ship them
    notice_version = "2026-11-01"   # a string (quote dates); bump it when the wording changes
    allowed_origins = ["https://www.maison-lumiere.example", "http://127.0.0.1:8001"]
                                    # optional; scheme://host[:port], no path, no trailing slash
    phone_region = "FR"             # optional: where a phone number typed without +country is
                                    # read (kiosk, agent console); without it, only +33... reads

    [center.text.fr]                # one table per locale in locales
    title = "Vos préférences"       # required
    intro = "Choisissez ce que..."  # required
    privacy_url = "https://www.maison-lumiere.example/confidentialite"   # optional, http(s)

    [center.text.en]
    title = "Your preferences"
    intro = "Choose what..."

    [theme]                         # optional, and so is every key in it
    primary = "#8a5a2b"             # colours: #rgb or #rrggbb
    primary_text = "#ffffff"
    background = "#fbf8f3"
    text = "#2b2118"
    radius = "4px"                  # 0 to 32px, or 0 to 2rem
    spacing = "1rem"                # the gap between groups: 8 to 32px, or 0.5 to 2rem
    font = "Georgia, serif"         # font names, spaces, commas, quotes, hyphens only
    dark_primary = "#e0b385"        # the four colours again for dark mode (optional)
    dark_primary_text = "#2b1a0a"
    dark_background = "#1c1814"
    dark_text = "#f3ece4"           # every text/background pair must reach WCAG AA 4.5:1

    [[topics]]                      # at least one topic of kind marketing or informational
    id = "offers"
    kind = "marketing"              # marketing | informational | required (not switchable)
    channels = ["email", "sms", "push"]              # email sms push post phone whatsapp in_app
    frequencies = ["realtime", "weekly", "monthly"]  # optional: realtime daily weekly monthly;
                                                     # not allowed on required topics
    default_frequency = "weekly"    # required when frequencies are given; one of them
    special_category_reviewed = false                # optional, see below
    double_opt_in = ["email"]       # optional: channels whose opt-in waits for a confirmation
                                    # everywhere, whatever the region says (see [regions] below)
    shares_personal_data = false    # optional: the topic sells or shares personal data with
                                    # partners; Global Privacy Control (Sec-GPC: 1) opts out of it
    [topics.label]                  # required, one line per locale in locales
    fr = "Offres et promotions"
    en = "Offers and promotions"
    [topics.description]            # optional; when present, one line per locale
    fr = "Ventes privées et codes de réduction."
    en = "Private sales and discount codes."

    [kiosk]                         # optional: the shop tablet (/c/ID/kiosk)
    idle_seconds = 60               # back to the welcome screen after this long untouched (20-600)

    [call_center]                   # optional: what the agent console (/c/ID/agent) reads out
    script_version = "2026-11-01"   # recorded in every change an agent makes; bump it with the text
    allowed_origins = ["https://crm.maison-lumiere.example"]  # optional: who may frame the console
    [call_center.script]            # required in [call_center], one line per locale
    fr = "Acceptez-vous que nous enregistrions ces choix en votre nom ?"
    en = "Do you agree that we record these choices on your behalf?"

    [consent]                       # optional: the consent lifecycle
    pending_days = 7                # a double opt-in waits this long for its confirmation (1-90),
                                    # then expires
    ask_country = false             # true: the widget asks the person's country (it picks the rules)

    [regions.CA.email]              # optional: the law of a region, per channel. Region codes:
                                    # default (everyone else), EU, EEA, or an ISO 3166 country code;
                                    # a country's own region wins, then EU, then EEA, then default.
                                    # The channel must be one some topic offers.
    opt_in = "required"             # "required": only an opt-in allows a message (GDPR, CASL);
                                    # "opt_out": a subscription never answered may be used until the
                                    # person opts out (CAN-SPAM), on a basis that needs no opt-in
    double_opt_in = false           # an opt-in waits for a confirmation link (not with "opt_out")
    bases = ["consent", "soft_opt_in"]   # the legal bases allowed (default ["consent"]): consent,
                                    # soft_opt_in, contract, legitimate_interest; "opt_out" needs
                                    # legitimate_interest or soft_opt_in among them
    lifetime_days = { soft_opt_in = { purchase = 730, inquiry = 183 } }
                                    # optional: days a basis lasts (1-3650), for an allowed basis,
                                    # as basis = N or per reason; without one it lasts until withdrawn
    remind_days_before = 30         # optional: ask the person to renew this long before an expiry

    [regions.CA.text.en]            # optional: the wording the region's law asks the widget to
    notice = "You may withdraw your consent at any time."  # show near the save; every locale

    [[interests]]                   # optional list
    id = "garden"                   # may equal a topic id, not another interest's
    special_category_reviewed = false
    [interests.label]
    fr = "Jardin"
    en = "Garden"

Unknown keys are refused (with a "did you mean"), so a typo cannot silently
drop a setting. Topics and interests whose wording suggests a GDPR Art. 9
special category (health, religion, political opinions, ethnic origin, sex life
or sexual orientation, trade union membership, genetic or biometric data) are
refused until a person has reviewed them and set
``special_category_reviewed = true``; see :mod:`.special_categories`.

Problems are reported all at once, one per line, as ``file:key.path: message``:
``topics[2].label.de`` is the ``de`` label of the third ``[[topics]]`` (indexes
count from 0), and ``-`` stands for the whole file (a TOML syntax error).
'''

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..i18n import shipped_locales as shipped_interface_locales
from .model import (
    KIOSK_IDLE_SECONDS,
    PENDING_DAYS,
    CallCenter,
    Center,
    ChannelRule,
    Consent,
    Interest,
    Region,
    Theme,
    Topic,
)
from .validate import Problem, check_document

__all__ = ["CenterFileError", "Problem", "check_paths", "load_center", "load_centers"]

StrPath = str | os.PathLike[str]
#: tomllib's messages end with where: "Invalid value (at line 3, column 9)".
_TOML_ERROR = re.compile(r"^(?P<what>.*?) \(at (?P<where>line \d+, column \d+|end of document)\)$")


class CenterFileError(Exception):
    """One or more center files are wrong; ``problems`` lists every one found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


def _shipped(given: Iterable[str] | None) -> frozenset[str]:
    """The interface languages a center may use: as given, else those with a catalog."""
    return frozenset(given) if given is not None else shipped_interface_locales()


def load_center(path: StrPath, *, shipped_locales: Iterable[str] | None = None) -> Center:
    """The center described by one file, or :class:`CenterFileError` with all its problems."""
    center, problems = _read_center(Path(path), str(path), _shipped(shipped_locales))
    if problems or center is None:
        raise CenterFileError(problems)
    return center


def load_centers(
    path: StrPath, *, shipped_locales: Iterable[str] | None = None
) -> dict[str, Center]:
    """Centers by id from a file or a folder of ``*.toml`` files (not its subfolders).

    This is what ``serve --config PATH`` loads: it fails, listing every problem in
    every file, rather than start with some centers missing.
    """
    centers, problems = _read_path(path, _shipped(shipped_locales))
    if problems:
        raise CenterFileError(problems)
    return centers


def check_paths(
    paths: Iterable[StrPath], *, shipped_locales: Iterable[str] | None = None
) -> list[Problem]:
    """Every problem in the given files or folders, for ``widget-server check-config``.

    Each path is checked as ``serve --config`` would load it, so duplicate center
    ids are looked for within a path, not across two paths (a staging and a
    production folder may well share ids).
    """
    shipped = _shipped(shipped_locales)
    return [problem for path in paths for problem in _read_path(path, shipped)[1]]


def read_document(path: Path, file: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The parsed TOML, or None and the reason it could not be read."""
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream), []
    except tomllib.TOMLDecodeError as error:
        return None, [Problem(file, "-", _syntax_message(error))]
    except UnicodeDecodeError:
        return None, [Problem(file, "-", "is not UTF-8 text; save the file as UTF-8")]
    except FileNotFoundError:
        return None, [Problem(file, "-", "no such file; check the path")]
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"cannot read the file ({reason}); check the path and its permissions"
        return None, [Problem(file, "-", message)]


def build_center(document: Mapping[str, Any], source: str = "") -> Center:
    """The model for a document that :func:`~.validate.check_document` passed.

    No checking here: every key and type was checked before, so a KeyError means
    a gap in the checks, not a bad file.
    """
    center = document["center"]
    return Center(
        id=center["id"],
        name=center["name"],
        default_locale=center["default_locale"],
        locales=tuple(center["locales"]),
        notice_version=center["notice_version"],
        topics=tuple(_topic(topic) for topic in document["topics"]),
        interests=tuple(_interest(interest) for interest in document.get("interests", ())),
        allowed_origins=tuple(center.get("allowed_origins", ())),
        theme=Theme(**document.get("theme", {})),
        wording=MappingProxyType({locale: _wording(t) for locale, t in center["text"].items()}),
        source=source,
        phone_region=center.get("phone_region"),
        kiosk_idle_seconds=document.get("kiosk", {}).get("idle_seconds", KIOSK_IDLE_SECONDS),
        call_center=_call_center(document.get("call_center")),
        consent=_consent(document.get("consent", {}), document.get("regions", {})),
    )


def _consent(table: Mapping[str, Any], regions: Mapping[str, Any]) -> Consent:
    return Consent(
        pending_days=table.get("pending_days", PENDING_DAYS),
        ask_country=table.get("ask_country", False),
        regions=tuple(_region(code, region) for code, region in regions.items()),
    )


def _region(code: str, table: Mapping[str, Any]) -> Region:
    channels = {channel: _channel_rule(rule) for channel, rule in table.items() if channel != "text"}
    text = {locale: _wording(wording) for locale, wording in table.get("text", {}).items()}
    return Region(code, MappingProxyType(channels), MappingProxyType(text))


def _channel_rule(table: Mapping[str, Any]) -> ChannelRule:
    """One ``[regions.CODE.CHANNEL]``; ``lifetime_days`` flattened to ``basis`` and ``basis.reason``."""
    lifetimes: dict[str, int] = {}
    for basis, days in table.get("lifetime_days", {}).items():
        if isinstance(days, dict):
            lifetimes.update({f"{basis}.{reason}": n for reason, n in days.items()})
        else:
            lifetimes[basis] = days
    return ChannelRule(
        opt_in_required=table.get("opt_in", "required") == "required",
        double_opt_in=table.get("double_opt_in", False),
        bases=tuple(table.get("bases", ("consent",))),
        lifetime_days=MappingProxyType(lifetimes),
        remind_days_before=table.get("remind_days_before"),
    )


def _call_center(table: Mapping[str, Any] | None) -> CallCenter | None:
    if table is None:
        return None
    return CallCenter(table["script_version"], _wording(table["script"]), tuple(table.get("allowed_origins", ())))


def _read_center(
    path: Path, file: str, shipped_locales: frozenset[str]
) -> tuple[Center | None, list[Problem]]:
    document, problems = read_document(path, file)
    if document is None:
        return None, problems
    problems = check_document(document, file, shipped_locales)
    if problems:
        return None, problems
    return build_center(document, source=file), []


def _read_path(
    path: StrPath, shipped_locales: frozenset[str]
) -> tuple[dict[str, Center], list[Problem]]:
    """Centers from a file or folder, and every problem met, duplicates included."""
    files, problems = _center_files(path)
    centers: dict[str, Center] = {}
    for file in files:
        center, found = _read_center(Path(file), file, shipped_locales)
        problems += found
        if center is None:
            continue
        if center.id in centers:
            problems.append(Problem(file, "center.id", (
                f"center id '{center.id}' is already used by {centers[center.id].source}; "
                f"give each center its own id"
            )))
        else:
            centers[center.id] = center
    return centers, problems


def _center_files(path: StrPath) -> tuple[list[str], list[Problem]]:
    """The files a path stands for: itself, or the ``*.toml`` files of a folder, sorted."""
    folder = Path(path)
    if not folder.is_dir():
        return [str(path)], []
    files = sorted(str(child) for child in folder.glob("*.toml") if child.is_file())
    if not files:
        message = "no center files (*.toml) in this folder; add one, or point to a file"
        return [], [Problem(str(path), "-", message)]
    return files, []


def _syntax_message(error: tomllib.TOMLDecodeError) -> str:
    """``Invalid value (at line 3, column 9)`` -> ``TOML syntax error at line 3, column 9: ...``."""
    found = _TOML_ERROR.match(str(error))
    if found is None:
        return f"TOML syntax error: {error}; fix the syntax (see examples/centers/)"
    return (
        f"TOML syntax error at {found['where']}: {found['what']}; fix the syntax there "
        f"(text needs \"quotes\", lists [brackets], tables a [header] of their own)"
    )


def _topic(topic: Mapping[str, Any]) -> Topic:
    return Topic(
        id=topic["id"],
        kind=topic["kind"],
        channels=tuple(topic["channels"]),
        label=_wording(topic["label"]),
        description=_wording(topic.get("description", {})),
        frequencies=tuple(topic.get("frequencies", ())),
        default_frequency=topic.get("default_frequency"),
        special_category_reviewed=topic.get("special_category_reviewed", False),
        double_opt_in=tuple(topic.get("double_opt_in", ())),
        shares_personal_data=topic.get("shares_personal_data", False),
    )


def _interest(interest: Mapping[str, Any]) -> Interest:
    return Interest(
        id=interest["id"],
        label=_wording(interest["label"]),
        special_category_reviewed=interest.get("special_category_reviewed", False),
    )


def _wording(texts: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(texts))
