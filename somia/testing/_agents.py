"""Agents of the fake server: plain functions that answer one turn of a session."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Agent", "Answer", "Turn", "echo_agent"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a session, as an agent of the fake server sees it.

    Every field of the document's request body reads as an attribute (`turn.input_data`,
    `turn.stream`, `turn.tags`, ...): the value sent, else the field's documented `default`,
    else None. A name the document does not define raises AttributeError.
    """

    agent_id: int
    session_id: str
    new_session: bool
    """True on the turn that created the session."""
    history: list[dict[str, Any]]
    """The session's history before this turn (a copy)."""
    request: Mapping[str, Any] = field(repr=False)
    """The whole parsed request body."""
    headers: Mapping[str, str] = field(repr=False)
    """The request headers, names in lower case, without the API key."""
    documented: Mapping[str, Any] = field(repr=False, default_factory=dict)
    """The request body's documented fields, each with its default (None when it has none)."""

    @property
    def has_input(self) -> bool:
        """Whether the request carried `input_data` (it may be JSON null)."""
        return "input_data" in self.request

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not attributes: the request body's fields.
        if name != "documented" and not name.startswith("_"):
            documented = self.documented
            if name in documented:
                if name in self.request:
                    return self.request[name]
                return copy.deepcopy(documented[name])  # a default is the document's own
        raise AttributeError(f"a Turn has no attribute {name!r} (not a documented request field)")


@dataclass(frozen=True, slots=True)
class Answer:
    """An agent's answer with documented answer fields set or left out.

    `text` is the answer's text, whole or in pieces that are streamed one by one. `fields`
    sets documented answer fields (the JSON answer and the stream's last chunk), such as
    `{"finished": True}`; `omit` leaves documented optional fields out of every answer of the
    turn, to test how an absent field reads. A name the document does not define, or
    `session_id`, is refused (the turn answers 500 and the reason is logged).
    """

    text: str | Iterable[str] = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    omit: Collection[str] = ()


Agent = Callable[[Turn], "str | Iterable[str] | Answer"]
"""An agent answers a turn with its text, whole or as pieces that are streamed one by one,
or with an `Answer` that also sets or leaves out answer fields."""


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


def read_answer(result: str | Iterable[str] | Answer) -> tuple[list[str], Answer]:
    """An agent's answer as its text pieces and its fields; TypeError for anything else."""
    answer = result if isinstance(result, Answer) else Answer(result)
    text = answer.text
    if isinstance(text, str):
        return [text], answer
    if isinstance(text, bytes | Mapping) or not isinstance(text, Iterable):
        raise TypeError(
            f"an agent must return str, an iterable of str or an Answer, not {type(text)!r}"
        )
    pieces = list(text)
    for piece in pieces:
        if not isinstance(piece, str):
            raise TypeError(f"an agent yielded {type(piece)!r}, not str")
    if isinstance(answer.omit, str):
        raise TypeError("Answer.omit is a collection of field names, not one str")
    return pieces, answer
