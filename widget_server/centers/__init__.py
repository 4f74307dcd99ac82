"""Preference centers: their model, and the TOML files that describe them.

``load_centers(path)`` is what the server calls at start; ``check_paths(paths)`` is
what ``widget-server check-config`` prints. The file format is documented in
:mod:`widget_server.centers.loader`.
"""

from .loader import CenterFileError, check_paths, load_center, load_centers
from .model import CHANNELS, FREQUENCIES, TOPIC_KINDS, Center, Interest, Theme, Topic
from .validate import Problem

__all__ = [
    "CHANNELS",
    "Center",
    "CenterFileError",
    "FREQUENCIES",
    "Interest",
    "Problem",
    "TOPIC_KINDS",
    "Theme",
    "Topic",
    "check_paths",
    "load_center",
    "load_centers",
]
