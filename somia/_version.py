"""The version of the somia distribution."""

__version__ = "0.2.0a1"
