"""widget-server: an embeddable preference center (see README.md and ARCHITECTURE.md)."""

__version__ = "0.2.0"
