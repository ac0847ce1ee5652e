"""Python SDK for the Somia Agent API."""

from __future__ import annotations

from somia._version import __version__

__all__ = ["__version__"]
