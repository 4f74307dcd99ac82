"""Checks of single values that leave the center file for a URL, a header or CSS.

Each function takes one string and answers ``None`` when it is fine, or a message
saying what is wrong and what to write instead. They know nothing of files or key
paths, so the embed route (Content-Security-Policy ``frame-ancestors``) or an
admin form can use them as they are.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .special_categories import fold

#: Ids end up in URLs, event paths (``offers.email``), form field names and CSS.
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: BCP 47, the subset that makes sense here: ``fr``, ``fr-CA``, ``zh-Hant``, ``es-419``.
LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?$")
_HOST = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
#: What a browser sends in the Origin header: lower case, no path, no default port.
ORIGIN_PATTERN = re.compile(rf"^(https?)://({_HOST}|\[[0-9a-f:.]+\])(?::([0-9]{{1,5}}))?$")
DEFAULT_PORTS = {"http": 80, "https": 443}
COLOUR_PATTERN = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
RADIUS_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)(px|rem)$")
RADIUS_LIMITS = {"px": 32, "rem": 2}
#: The gap between groups: tighter than this crowds touch targets, looser wastes a phone.
SPACING_LIMITS = {"px": (8, 32), "rem": (0.5, 2)}
#: Letters, digits, spaces, commas, quotes, hyphens: nothing that can end a CSS value.
FONT_PATTERN = re.compile(r"^(?:[^\W_]|[ ,'\"-])+$")
FONT_MAX_LENGTH = 200
_FONT_EXAMPLE = "\"'Source Sans 3', Arial, sans-serif\""


def id_problem(value: str) -> str | None:
    if ID_PATTERN.match(value):
        return None
    advice = "use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit"
    suggestion = re.sub(r"[^a-z0-9_-]+", "-", fold(value)).strip("-_")[:63]
    if ID_PATTERN.match(suggestion):
        advice += f", e.g. '{suggestion}'"
    return f"'{value}' is not a valid id; {advice}"


def locale_problem(code: str) -> str | None:
    """Locale codes are compared with Accept-Language and gettext catalogs: one spelling."""
    if LOCALE_PATTERN.match(code):
        return None
    parts = re.split(r"[-_]", code.strip())
    fixed = [parts[0].lower()] + [p.title() if len(p) == 4 else p.upper() for p in parts[1:]]
    suggestion = "-".join(fixed)
    if LOCALE_PATTERN.match(suggestion):
        return f"'{code}' is not a locale code; write '{suggestion}'"
    advice = "write a language code like 'en', or 'en-GB' with a region"
    return f"'{code}' is not a locale code; {advice}"


def locale_key(code: str) -> str:
    """``pt_BR``, ``pt-br`` and ``pt-BR`` name the same locale: compare this form."""
    return code.replace("_", "-").lower()


def origin_problem(origin: str) -> str | None:
    """Origins are compared byte for byte with the browser's Origin header.

    Anything but the exact form the browser sends would never match, and
    embedding would fail without a word.
    """
    if origin.strip() == "*":
        return "'*' would let any site embed the center; list each origin instead"
    match = ORIGIN_PATTERN.match(origin)
    if match is None:
        advice = "write scheme://host[:port] with no path and no trailing slash"
        suggestion = suggest_origin(origin)
        example = f", e.g. '{suggestion}'" if suggestion else ""
        return f"'{origin}' is not an origin; {advice}{example}"
    scheme, host, port = match.groups()
    if port is not None and not 0 < int(port) < 65536:
        return f"port {port} is out of range in '{origin}'; use a port from 1 to 65535"
    if port is not None and int(port) == DEFAULT_PORTS[scheme]:
        return (
            f"'{origin}' names the default port, which browsers leave out of the "
            f"Origin header; write '{scheme}://{host}'"
        )
    return None


def suggest_origin(value: str) -> str | None:
    """The origin a browser would send for something that looks like a URL, if any."""
    value = value.strip()
    if "://" not in value:
        value = "https://" + value  # "shop.example": the scheme was forgotten
    try:
        parts = urlsplit(value)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    elif not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")  # browsers send the punycode form
        except UnicodeError:
            return None
    keep_port = port is not None and port != DEFAULT_PORTS[scheme]
    suggestion = f"{scheme}://{host}" + (f":{port}" if keep_port else "")
    return suggestion if ORIGIN_PATTERN.match(suggestion) else None


def url_problem(url: str) -> str | None:
    """Links shown to visitors must be full web addresses, not paths or mailto:."""
    try:
        parts = urlsplit(url)
        fine = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        fine = False
    if fine and not re.search(r"\s", url):
        return None
    return (
        f"'{url}' is not a web address; write a full address starting with https://, "
        f"e.g. 'https://www.example.com/privacy'"
    )


def colour_problem(value: str) -> str | None:
    if COLOUR_PATTERN.match(value):
        return None
    return f"'{value}' is not a colour; write #rgb or #rrggbb, e.g. '#1f4fbf'"


def radius_problem(value: str) -> str | None:
    """Corners rounder than this make form controls look like pills, then blobs."""
    match = RADIUS_PATTERN.match(value)
    if value == "0" or (match and float(match.group(1)) <= RADIUS_LIMITS[match.group(2)]):
        return None
    if match:
        return f"'{value}' is too large; keep it within 0 to 32px, or 0 to 2rem"
    return f"'{value}' is not a radius; write a length in px (0 to 32) or rem (0 to 2), e.g. '8px'"


def spacing_problem(value: str) -> str | None:
    match = RADIUS_PATTERN.match(value)
    if match:
        low, high = SPACING_LIMITS[match.group(2)]
        if low <= float(match.group(1)) <= high:
            return None
        return f"'{value}' is out of bounds; keep it within 8 to 32px, or 0.5 to 2rem"
    return f"'{value}' is not a spacing; write a length in px (8 to 32) or rem (0.5 to 2), e.g. '1rem'"


def font_problem(value: str) -> str | None:
    """The font list goes into a CSS custom property: it must not be able to end it."""
    if len(value) > FONT_MAX_LENGTH:
        return f"is longer than {FONT_MAX_LENGTH} characters; shorten the font list"
    if not FONT_PATTERN.match(value):
        bad = next(char for char in value if not FONT_PATTERN.match(char))
        return (
            f"contains {bad!r}, which a font list may not; use only font names, spaces, "
            f"commas, quotes and hyphens, e.g. {_FONT_EXAMPLE}"
        )
    if value.count("'") % 2 or value.count('"') % 2:
        return f"has a quote that is never closed; close it, e.g. {_FONT_EXAMPLE}"
    return None


def phone_region_known(region: str) -> bool:
    """A region the phone number library can read numbers in (``FR``, ``GB``, ``US``...)."""
    import phonenumbers

    return region in phonenumbers.SUPPORTED_REGIONS
