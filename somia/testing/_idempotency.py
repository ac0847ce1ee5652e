"""Idempotency-Key handling: run a keyed request once, replay its answer to repeats."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["IdempotencyStore", "StoredAnswer"]

ScopeKey = tuple[str, str, str]
"""(method, path, Idempotency-Key): a key is scoped to one operation on one path."""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """A 200 answer kept for replay: a JSON body or the data of each stream event."""

    session_id: str
    json_body: bytes | None = None
    events: tuple[bytes, ...] | None = None


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    answer: StoredAnswer | None = None


Claim = tuple[Literal["run", "replay", "conflict"], StoredAnswer | None]


class IdempotencyStore:
    """Answers stored by Idempotency-Key; a repeat waits for the first request to finish."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[ScopeKey, _Entry] = {}

    async def claim(self, key: ScopeKey, fingerprint: str) -> Claim:
        """Decide a keyed request: run it, replay a stored answer, or refuse it (conflict)."""
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is None:
                    self._entries[key] = _Entry(fingerprint)
                    return "run", None
                if entry.fingerprint != fingerprint:
                    return "conflict", None
                if entry.answer is not None:
                    return "replay", entry.answer
                waiter = entry.done
            await waiter.wait()

    def finish(self, key: ScopeKey, answer: StoredAnswer | None) -> None:
        """Store the answer of a claimed key, or release the key when nothing ran."""
        with self._lock:
            entry = self._entries[key]
            if answer is None:
                del self._entries[key]
            else:
                entry.answer = answer
        entry.done.set()

    def clear(self) -> None:
        """Forget every stored answer."""
        with self._lock:
            self._entries.clear()
