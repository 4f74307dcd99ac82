"""Where the shipped files are, in a source checkout and in an installed wheel alike.

A wheel carries ``static/``, ``locales/`` and ``examples/`` under ``widget_server/_data``;
a checkout (and an editable install) has them beside the package.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """The folder ``name`` (``static``, ``locales``, ``examples``) as shipped."""
    installed = PACKAGE / "_data" / name
    return installed if installed.is_dir() else PACKAGE.parent / name


TEMPLATES = PACKAGE / "web" / "templates"
STATIC = shipped("static")
LOCALES = shipped("locales")
EXAMPLES = shipped("examples")
