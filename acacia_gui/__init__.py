"""Acacia: a desktop job manager with a durable SQLite queue and handler plugins."""

__version__ = "0.1.0"
