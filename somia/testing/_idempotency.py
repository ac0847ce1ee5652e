"""Idempotency-Key handling: run a keyed request once, replay its answer to repeats.

The store is a window of the most recent keys, bounded by their count (`max_keys`,
`DEFAULT_MAX_KEYS` unless the fake says otherwise): once full, the key used least recently
(claimed or replayed) is forgotten first, never a key whose turn is still running. A repeat
of a forgotten key runs the turn again, so exactly-once holds within the window, which is
far larger than any realistic number of calls in flight.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

__all__ = ["DEFAULT_MAX_KEYS", "IdempotencyStore", "scope_of"]

DEFAULT_MAX_KEYS = 10_000

T = TypeVar("T")


def scope_of(method: str, path: str, key: str) -> tuple[Hashable, str]:
    """Where an Idempotency-Key is unique, and what a repeat must match besides its body.

    A key names one request across the API (the document's `x-somia-idempotency`): the
    same key with another operation or path (another agent or session) is a different
    request, answered 409.
    """
    return key, f"{method} {path} "


@dataclass(slots=True)
class _Entry(Generic[T]):
    fingerprint: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    answer: T | None = None


class IdempotencyStore(Generic[T]):
    """Answers stored by key; a repeat waits for the first request to finish."""

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be 1 or more")
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()

    async def claim(
        self, key: Hashable, fingerprint: str
    ) -> tuple[Literal["run", "replay", "conflict"], T | None]:
        """Decide a keyed request: run it, replay a stored answer, or refuse it (conflict)."""
        waited: _Entry[T] | None = None
        while True:
            # The entry waited on, not a new look-up: it may be forgotten meanwhile.
            if waited is not None and waited.answer is not None:
                return "replay", waited.answer
            with self._lock:
                entry = self._entries.get(key)
                if entry is None:
                    self._entries[key] = _Entry(fingerprint)
                    self._forget_oldest()
                    return "run", None
                if entry.fingerprint != fingerprint:
                    return "conflict", None
                if entry.answer is not None:
                    self._entries.move_to_end(key)
                    return "replay", entry.answer
            waited = entry
            await entry.done.wait()

    def finish(self, key: Hashable, answer: T | None) -> None:
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

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _forget_oldest(self) -> None:
        excess = len(self._entries) - self.max_keys
        if excess <= 0:
            return
        # Oldest first; a running turn's key stays (they are at most the calls in flight).
        victims = []
        for key, entry in self._entries.items():
            if entry.answer is not None:
                victims.append(key)
                if len(victims) == excess:
                    break
        for key in victims:
            del self._entries[key]
