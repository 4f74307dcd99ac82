"""What a person types to be found: an e-mail address, a phone number, a loyalty number.

The kiosk and the agent console look customers up by what they say, through the keyed
hash of ``store/contacts.py``, so the same person must always type into the same hash:
an e-mail address is read without case or surrounding spaces, a phone number is parsed
by ``phonenumbers`` in the center's region and written as E.164 (``+33612345678``,
whatever the spaces, dots or leading 0), a loyalty or CRM number is taken as printed
(spaces removed). Anything that is not one of these is :class:`~.errors.InvalidContact`.
"""

from __future__ import annotations

import re

import phonenumbers

from .errors import InvalidContact

#: What a kiosk customer may identify with; the agent console searches ``external_id`` too.
KIOSK_KINDS = ("email", "phone", "loyalty")
AGENT_KINDS = ("email", "phone", "external_id")

#: An address as a mail header reads it back whole: no comments, quotes, commas or other specials,
#: which would send the code elsewhere than to the address hashed (``a,b@x`` is two addresses).
_EMAIL = re.compile(r"^[\w!#$%&'*+/=?^`{|}~-]+(\.[\w!#$%&'*+/=?^`{|}~-]+)*"  # letters of any script too
                    r"@[^\W_](?:[\w-]{0,61}[^\W_])?(?:\.[^\W_](?:[\w-]{0,61}[^\W_])?)+$")
_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_CRM_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


def normalise(kind: str, value: str | None, region: str | None) -> str:
    """``value`` as the store hashes it, or :class:`InvalidContact` saying what to fix."""
    typed = (value or "").strip()
    if kind == "email":
        if len(typed) > 254 or len(typed.partition("@")[0]) > 64 or not _EMAIL.match(typed):
            raise InvalidContact(kind=kind)
        return typed.lower()
    if kind == "phone":
        return e164(typed, region)
    if kind == "loyalty":
        compact = "".join(typed.split())
        if not _NUMBER.match(compact):
            raise InvalidContact(kind=kind)
        return compact.upper()
    if kind == "external_id":
        if not _CRM_ID.match(typed):
            raise InvalidContact(kind=kind)
        return typed  # a CRM id is exact: "A 1" and "A1" may be two people
    raise InvalidContact(kind="unknown")


def e164(typed: str, region: str | None) -> str:
    """A phone number in E.164; without ``region``, only a number written with its +country."""
    try:
        number = phonenumbers.parse(typed, region)
    except phonenumbers.NumberParseException:
        raise InvalidContact(kind="phone", region=region) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact(kind="phone", region=region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(kind: str, value: str) -> str:
    """A contact point as a screen may show it to staff: enough to recognise, not to copy.

    ``c…e@example.com``, ``+33 6 •• •• •• 78``; a number keeps its last four characters.
    """
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}…{local[-1:] if len(local) > 1 else ''}@{domain}"
    if kind == "phone":
        return value[:3] + "•" * max(len(value) - 5, 0) + value[-2:]
    return "•" * max(len(value) - 4, 0) + value[-4:]
