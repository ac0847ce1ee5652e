"""A run's identity: the state file beside its output, and the idempotency keys derived from
it.

The state file holds a random run id and fingerprints of the input and of the options that
shape requests. The key of turn k of row r is derived from (run id, r's id, k): the same
command run again sends every turn with the key it had before, and a server that honours
keys replays what already ran; a new output is a new run, with new keys.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = ["RunState", "StateError", "request_fingerprint", "state_path", "turn_key"]

_VERSION = 1


class StateError(ValueError):
    """An existing output cannot be continued by this run (the message says why)."""


def state_path(output: Path) -> Path:
    """The state file of an output: `OUT.jsonl` has `OUT.jsonl.state.json`."""
    return output.with_name(output.name + ".state.json")


def request_fingerprint(agent_id: int | None, options: Mapping[str, Any]) -> str:
    """A digest of what shapes the run's requests besides the input (not its pace)."""
    shape = {"agent_id": agent_id, "options": dict(options)}
    text = json.dumps(shape, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def turn_key(run_id: str, id_json: str, turn: int) -> str:
    """The Idempotency-Key of turn `turn` (from 0) of the row whose id is `id_json`."""
    digest = hashlib.blake2b(
        f"{id_json}\n{turn}".encode("utf-8", "surrogatepass"),
        key=run_id.encode(),
        digest_size=16,
    )
    return f"batch-{run_id[:16]}-{digest.hexdigest()}"


@attrs.frozen
class RunState:
    """The identity of one run, as its state file holds it."""

    run_id: str
    input_sha256: str
    request_sha256: str
    rows: int
    lines: int

    @classmethod
    def new(cls, input_sha256: str, request_sha256: str, rows: int, lines: int) -> RunState:
        """A new run, with a random id."""
        return cls(os.urandom(16).hex(), input_sha256, request_sha256, rows, lines)

    @classmethod
    def load(cls, path: Path) -> RunState:
        """The state saved at `path`; StateError when it cannot be read."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.pop("version") != _VERSION:
                raise StateError(f"{path}: written by another version of somia batch")
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            if isinstance(exc, StateError):
                raise
            raise StateError(f"{path}: not a somia batch state file ({exc})") from None

    def save(self, path: Path) -> None:
        """Write the state atomically (a crash leaves the old file or the new one)."""
        temporary = path.with_name(path.name + ".tmp")
        data = {"version": _VERSION, **attrs.asdict(self)}
        temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)

    def check(self, path: Path, other: RunState) -> None:
        """Refuse to continue this run with another input or other request options."""
        if other.input_sha256 != self.input_sha256:
            raise StateError(
                f"the input is not the one this output was made from ({path} records "
                "another digest): give a new --output, or the original input"
            )
        if other.request_sha256 != self.request_sha256:
            raise StateError(
                "the agent id or request options differ from the run this output belongs "
                f"to ({path}): give a new --output, or the original options"
            )
