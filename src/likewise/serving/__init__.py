"""The recommendation service (``likewise serve``; needs the ``serve`` extra): see docs/serving.md."""

from likewise.exceptions import ConfigurationError, StoreError
from likewise.serving.app import create_app
from likewise.serving.settings import Settings
from likewise.serving.store import EventStore

__all__ = ["ConfigurationError", "EventStore", "Settings", "StoreError", "create_app"]
