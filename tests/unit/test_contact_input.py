"""What customers type to be found reads into one form, so one person is one keyed hash."""

from __future__ import annotations

import pytest

from widget_server.contact_input import masked, normalise
from widget_server.errors import InvalidContact


@pytest.mark.parametrize(("kind", "typed", "region", "read"), [
    ("email", "  Claire.Dupont@Example.FR ", None, "claire.dupont@example.fr"),
    ("email", "claire+news@example.co.uk", None, "claire+news@example.co.uk"),
    ("email", "josé@müller.de", None, "josé@müller.de"),  # letters of any script
    ("phone", "06 12 34 56 78", "FR", "+33612345678"),
    ("phone", "06.12.34.56.78", "FR", "+33612345678"),
    ("phone", "+33 6 12 34 56 78", None, "+33612345678"),
    ("phone", "+44 7911 123456", "FR", "+447911123456"),  # a foreign number with its country code
    ("loyalty", " ml-0042 7781 ", None, "ML-00427781"),
    ("external_id", "CRM 42", None, "CRM 42"),  # exact: "CRM 42" and "CRM42" may be two people
])
def test_what_is_typed_reads_as_the_store_hashes_it(kind: str, typed: str, region: str | None, read: str) -> None:
    assert normalise(kind, typed, region) == read


@pytest.mark.parametrize(("kind", "typed", "region"), [
    ("email", "claire", None),
    ("email", "claire@", None),
    ("email", "a b@example.com", None),
    ("email", "claire@example", None),
    ("email", "x" * 65 + "@example.com", None),
    # What a mail header would read as another address, or as two: the code would go elsewhere.
    ("email", "a,victim@example.org", None),
    ("email", "(comment)victim@example.org", None),
    ("email", '"quoted"@example.org', None),
    ("email", "a<victim@example.org>", None),
    ("email", "a;b@example.org", None),
    ("phone", "06 12 34 56 78", None),  # national, and no region to read it in
    ("phone", "12", "FR"),
    ("phone", "not a number", "FR"),
    ("loyalty", "", None),
    ("loyalty", "ML/42", None),
    ("external_id", "", None),
    ("external_id", "a\x00b", None),
    ("postcode", "75001", None),
])
def test_anything_else_is_an_invalid_contact_saying_what_to_fix(kind: str, typed: str, region: str | None) -> None:
    with pytest.raises(InvalidContact) as refused:
        normalise(kind, typed, region)
    assert refused.value.status == 422
    assert refused.value.detail  # a msgid telling the person what to type


def test_screens_show_enough_to_recognise_not_to_copy() -> None:
    assert masked("email", "claire@example.com") == "c…e@example.com"
    assert masked("phone", "+33612345678") == "+33•••••••78"
    assert masked("loyalty", "ML-00427781") == "•••••••7781"
