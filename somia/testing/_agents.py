"""Agents of the fake server: plain functions that answer one turn of a session."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Agent", "Turn", "echo_agent"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a session, as an agent of the fake server sees it."""

    agent_id: int
    session_id: str
    new_session: bool
    """True on the turn that created the session."""
    input_data: Any
    """The request's `input_data`, or None when the request had none."""
    has_input: bool
    """Whether the request carried `input_data` (it may be JSON null)."""
    history: list[dict[str, Any]]
    """The session's history before this turn (a copy)."""
    stream: bool
    pipeline_version: int | str
    trace_enabled: bool
    test: bool
    source: str | None
    tags: list[str]
    environment: str | None
    end_user_id: str | None
    metadata: dict[str, Any]
    request: Mapping[str, Any] = field(repr=False)
    """The whole parsed request body."""
    headers: Mapping[str, str] = field(repr=False)
    """The request headers, names in lower case, without the API key."""


Agent = Callable[[Turn], "str | Iterable[str]"]
"""An agent answers a turn with its text, whole or as pieces that are streamed one by one."""


def echo_agent(turn: Turn) -> list[str]:
    """Answer "You said: <input>" in a few pieces (the default agent, id 1)."""
    if not turn.has_input:
        return ["Hello! ", "Send me something ", "and I will echo it."]
    data = turn.input_data
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return ["You said: ", *_split_words(text)]


def _split_words(text: str, pieces: int = 3) -> list[str]:
    # A few pieces, not one per word: long inputs stay a handful of stream events.
    words = text.split(" ")
    if len(words) <= 1:
        return [text]
    size = -(-len(words) // pieces)
    groups = [words[i : i + size] for i in range(0, len(words), size)]
    out = [" ".join(group) for group in groups]
    return [part + " " for part in out[:-1]] + [out[-1]]


def answer_pieces(result: str | Iterable[str]) -> list[str]:
    """Collect an agent's answer as a list of text pieces; raise TypeError for anything else."""
    if isinstance(result, str):
        return [result]
    if isinstance(result, bytes | Mapping) or not isinstance(result, Iterable):
        raise TypeError(f"an agent must return str or an iterable of str, not {type(result)!r}")
    pieces = list(result)
    for piece in pieces:
        if not isinstance(piece, str):
            raise TypeError(f"an agent yielded {type(piece)!r}, not str")
    return pieces
