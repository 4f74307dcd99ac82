"""One root for every error the SDK raises, and the tree in ``_exceptions``'s docstring drawn from the classes.

The tree cannot drift: every exception class a public module exports must be in it, under
its real parent, naming any builtin it also is (``ImportMappingError`` is a ``ValueError``),
and every class the tree names must exist.
"""

from __future__ import annotations

import re
from types import ModuleType

import preference_sdk
import preference_sdk.sinks
import preference_sdk.sinks.mappings
import pytest
from preference_sdk import _exceptions
from preference_sdk._exceptions import PreferenceSDKError

PUBLIC_MODULES: tuple[ModuleType, ...] = (preference_sdk, preference_sdk.sinks, preference_sdk.sinks.mappings)
# A tree line: the drawing (spaces, │, then ├── or └──) and the class name, then what it means.
TREE_LINE = re.compile(r"^(?P<drawing>[ │]*(?:[├└]── )?)(?P<name>[A-Z][A-Za-z]+)\b(?P<rest>.*)$")


def exported_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, BaseException):
                found[name] = value
    return found


def drawn_tree() -> dict[str, tuple[str | None, str]]:
    """``{class name: (parent name or None for the root, the rest of its line)}`` from the docstring."""
    doc = _exceptions.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    tree: dict[str, tuple[str | None, str]] = {}
    stack: list[tuple[int, str]] = []  # (column of the name, name) of the open ancestors
    for line in block.splitlines():
        match = TREE_LINE.match(line)
        if match is None:  # a continuation of the line above (│ then more words)
            continue
        column, name = len(match["drawing"]), match["name"]
        while stack and stack[-1][0] >= column:
            stack.pop()
        assert name not in tree, f"{name} is drawn twice"
        tree[name] = (stack[-1][1] if stack else None, match["rest"])
        stack.append((column, name))
    return tree


def test_the_public_modules_export_the_errors_users_catch() -> None:
    names = set(exported_exceptions())
    assert {"PreferenceSDKError", "APIError", "TransportError", "TokenError", "TokenInvalid", "TokenExpired",
            "WebhookVerificationError", "SinkError", "ImportMappingError", "Unplaceable"} <= names


@pytest.mark.parametrize("name", sorted(exported_exceptions()))
def test_every_exported_error_descends_from_the_one_root(name: str) -> None:
    assert issubclass(exported_exceptions()[name], PreferenceSDKError)


def test_the_tree_has_one_root_the_sdks() -> None:
    roots = [name for name, (parent, _) in drawn_tree().items() if parent is None]
    assert roots == ["PreferenceSDKError"]


@pytest.mark.parametrize("name", sorted(exported_exceptions()))
def test_every_exported_error_is_drawn_under_its_parent(name: str) -> None:
    cls = exported_exceptions()[name]
    tree = drawn_tree()
    assert name in tree, f"{name} is missing from the tree in preference_sdk/_exceptions.py"
    parent, rest = tree[name]
    first, *others = cls.__bases__
    assert parent == (None if cls is PreferenceSDKError else first.__name__), f"{name} is drawn under {parent}"
    for other in others:  # a builtin kept as a second base, for code that caught it before
        assert other.__name__ in rest, f"{name}'s line should say it is also a {other.__name__}"


def test_every_drawn_class_exists() -> None:
    ghosts = set(drawn_tree()) - set(exported_exceptions())
    assert not ghosts, f"drawn in the tree but exported by no public module: {sorted(ghosts)}"


def test_each_drawn_class_says_what_it_means() -> None:
    for name, (_, rest) in drawn_tree().items():
        assert rest.strip(), f"{name} has no description in the tree"


def test_builtins_kept_for_compatibility() -> None:
    assert issubclass(preference_sdk.ImportMappingError, ValueError)
    # Token, webhook and sink errors were (and stay) plain exceptions otherwise: not ValueErrors that a
    # broad `except ValueError` around argument checks would swallow.
    for cls in (preference_sdk.TokenError, preference_sdk.WebhookVerificationError, preference_sdk.SinkError):
        assert not issubclass(cls, ValueError), cls


def test_the_old_import_paths_still_work() -> None:
    from preference_sdk._sync import SinkError
    from preference_sdk._tokens import TokenError, TokenExpired, TokenInvalid
    from preference_sdk._webhooks import WebhookVerificationError

    assert TokenExpired.__mro__[1:3] == (TokenError, PreferenceSDKError)
    assert TokenInvalid.__mro__[1:3] == (TokenError, PreferenceSDKError)
    assert WebhookVerificationError is preference_sdk.WebhookVerificationError
    assert SinkError is preference_sdk.SinkError


def test_one_except_catches_token_and_webhook_errors() -> None:
    signer = preference_sdk.TokenSigner(["a-secret"])
    with pytest.raises(PreferenceSDKError):
        signer.read("not-a-token", "manage")
    with pytest.raises(PreferenceSDKError):
        preference_sdk.verify_webhook({}, b"{}", preference_sdk.new_webhook_secret())
