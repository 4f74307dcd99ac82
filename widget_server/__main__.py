"""``python -m widget_server`` is ``widget-server``."""

from .cli import main

main()
