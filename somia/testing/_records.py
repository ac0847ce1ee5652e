"""What the fake server keeps: the requests it received and its sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ReceivedRequest", "SavedTurn", "Session"]


@dataclass(slots=True)
class ReceivedRequest:
    """A request the fake server received, as it arrived."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    """Header names in lower case; repeated headers joined with ", "."""
    body: bytes = field(repr=False)
    """The raw body; empty when the request was refused before its body was read (no API
    key, a wrong one, or a body over the size limit)."""
    json: Any
    """The parsed JSON body, or None when the body was not JSON."""
    time: float
    """When it arrived (`time.time()`)."""
    request_id: str
    status: int | None = None
    """The status it was answered with, once known."""


@dataclass(slots=True)
class Session:
    """One in-memory session."""

    id: str
    agent_id: int
    history: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SavedTurn:
    """A session as one turn left it, without a copy of its history: `history` is the
    session's own list, which only grows, so its first `length` entries are the history
    after this turn for as long as the turn is kept."""

    session_id: str
    history: list[dict[str, Any]] = field(repr=False)
    length: int
    metadata: dict[str, Any] = field(repr=False)
    """A copy of the session's metadata after this turn."""

    def entries(self, count: int | None = None) -> list[dict[str, Any]]:
        """The history's first `count` entries (all of this turn's by default); not copies."""
        return self.history[: self.length if count is None else count]
