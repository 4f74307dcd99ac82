"""The SDK is typed for its users: it ships ``py.typed`` (PEP 561), and its clients' methods are real defs.

Nothing is built here: the marker is looked for in the package directory, and the wheel's
build config is read to see that it names it. (``mypy --config-file sdk/pyproject.toml
sdk/preference_sdk`` checks the annotations themselves, strictly.)
"""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import preference_sdk
import pytest
from preference_sdk._calls import Calls
from preference_sdk._client import AsyncClient, Client

SDK_PYPROJECT = Path(__file__).resolve().parents[2] / "sdk" / "pyproject.toml"
API_METHODS = sorted(name[1:] for name in vars(Calls) if name.startswith("_") and not name.startswith("__"))


def test_the_package_directory_holds_py_typed() -> None:
    marker = Path(preference_sdk.__file__).parent / "py.typed"
    assert marker.is_file()


def test_the_wheel_config_includes_py_typed() -> None:
    config = tomllib.loads(SDK_PYPROJECT.read_text(encoding="utf-8"))
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "preference_sdk" in wheel["packages"]
    assert wheel["force-include"]["preference_sdk/py.typed"] == "preference_sdk/py.typed"


def test_mypy_is_configured_strict_in_the_sdks_pyproject() -> None:
    config = tomllib.loads(SDK_PYPROJECT.read_text(encoding="utf-8"))
    assert config["tool"]["mypy"]["strict"] is True


def test_every_api_call_has_a_client_method() -> None:
    assert len(API_METHODS) == 23
    for name in API_METHODS:
        assert callable(getattr(Client, name)) and callable(getattr(AsyncClient, name)), name


@pytest.mark.parametrize("name", API_METHODS)
@pytest.mark.parametrize("client", [Client, AsyncClient])
def test_each_method_is_written_in_the_class_body(client: type, name: str) -> None:
    """A plain def in the class (what "go to definition" and a type checker see), not one made at import."""
    method = vars(client)[name]
    assert inspect.isfunction(method) and method.__qualname__ == f"{client.__name__}.{name}"
    assert not hasattr(method, "__signature__") and not hasattr(method, "__wrapped__")
    source, _ = inspect.getsourcelines(method)
    assert source[0].lstrip().startswith(("async def " if client is AsyncClient else "def ") + name + "(")


@pytest.mark.parametrize("name", API_METHODS)
def test_each_method_mirrors_its_builder(name: str) -> None:
    """Same parameters as ``Calls._<name>`` (so the call is described once), answering what the call parses to."""
    build = inspect.signature(getattr(Calls, "_" + name))
    answer = build.return_annotation.removeprefix("_Call[").removesuffix("]")
    for client in (Client, AsyncClient):
        signature = inspect.signature(getattr(client, name))
        assert signature.parameters == build.parameters, f"{client.__name__}.{name}"
        assert signature.return_annotation == answer, f"{client.__name__}.{name}"


@pytest.mark.parametrize("name", [*API_METHODS, "iter_events"])
def test_both_clients_document_each_method_alike(name: str) -> None:
    sync_doc, async_doc = getattr(Client, name).__doc__, getattr(AsyncClient, name).__doc__
    assert sync_doc and sync_doc == async_doc
