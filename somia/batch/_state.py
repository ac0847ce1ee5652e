"""A run's identity: the state file beside its output, the lock a run holds on its output,
and the idempotency keys derived from the state.

The state file holds a random run id and fingerprints of the input and of the options that
shape requests. The key of turn k of row r is derived from (run id, r's id, k): the same
command run again sends every turn with the key it had before, and a server that honours
keys replays what already ran; a new output is a new run, with new keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import attrs

__all__ = [
    "RunLock",
    "RunState",
    "StateError",
    "lock_path",
    "request_fingerprint",
    "state_path",
    "turn_key",
]

_VERSION = 1
_HEX = {"run_id": 32, "input_sha256": 64, "request_sha256": 64}


class StateError(ValueError):
    """An existing output cannot be continued by this run (the message says why)."""


def state_path(output: Path) -> Path:
    """The state file of an output: `OUT.jsonl` has `OUT.jsonl.state.json`."""
    return output.with_name(output.name + ".state.json")


def lock_path(output: Path) -> Path:
    """The lock file a run holds while it writes `OUT.jsonl`: `OUT.jsonl.lock`."""
    return output.with_name(output.name + ".lock")


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


def _problem(data: Any) -> str | None:
    """What makes `data` no state of this version, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if data.get("version") != _VERSION:
        return None if "version" in data else "no version"
    expected = {"version", "rows", "lines", *_HEX}
    if set(data) != expected:
        wrong = sorted(set(data) ^ expected)
        return f"unexpected or missing fields: {', '.join(wrong)}"
    for name, length in _HEX.items():
        value = data[name]
        if not (isinstance(value, str) and re.fullmatch(f"[0-9a-f]{{{length}}}", value)):
            return f"{name} is not {length} hexadecimal digits"
    for name in ("rows", "lines"):
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{name} is not a count"
    return None


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
        """The state saved at `path`; StateError when it is not a state this version wrote
        (a run id taken from a damaged file would send rows under other keys)."""
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError) as exc:
            raise StateError(f"{path}: not a somia batch state file ({exc})") from None
        problem = _problem(data)
        if problem is not None:
            raise StateError(
                f"{path}: not a somia batch state file ({problem}): restore it, or give a "
                "new --output"
            )
        if data["version"] != _VERSION:
            raise StateError(f"{path}: written by another version of somia batch")
        del data["version"]
        return cls(**data)

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


class RunLock:
    """The lock a run holds on its output from its first look at it to its end, so that a
    second run on the same output is refused instead of writing every row again.

    An exclusive `flock` on `OUT.jsonl.lock` (which names the holder's process id); the
    file is removed when the run ends, and a run killed leaves it unlocked, so the next run
    takes it. Where `fcntl` is missing (Windows) the lock is `msvcrt.locking` on its first
    byte.
    """

    def __init__(self, output: Path) -> None:
        self.path = lock_path(output)
        self._file: IO[bytes] | None = None
        while self._file is None:
            file = self.path.open("a+b")
            try:
                if not _try_lock(file):
                    holder = _holder(file)
                    raise StateError(
                        f"{output}: another run is writing this output"
                        + (f" (process {holder})" if holder.isdigit() else "")
                        + ": wait for it to end, or stop it (a second run would write "
                        "its rows again)"
                    )
                if _same_file(file, self.path):  # not removed by a run that just ended
                    file.truncate(0)
                    file.write(f"{os.getpid()}\n".encode())
                    file.flush()
                    self._file = file
            finally:
                if self._file is None:
                    file.close()

    def release(self) -> None:
        """Remove the lock file and let go of the lock."""
        if self._file is None:
            return
        try:
            if sys.platform != "win32":  # Windows cannot remove an open file: it stays
                self.path.unlink(missing_ok=True)
        finally:
            self._file.close()
            self._file = None


if sys.platform == "win32":  # pragma: no cover - not run by the tests
    import msvcrt

    def _try_lock(file: IO[bytes]) -> bool:
        file.seek(0)
        try:
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(file: IO[bytes]) -> bool:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _holder(file: IO[bytes]) -> str:
    """The process id the lock's holder wrote, or ""."""
    try:
        file.seek(0)
        return file.read(32).decode("ascii", "replace").strip()
    except OSError:  # Windows: a locked byte cannot be read
        return ""


def _same_file(file: IO[bytes], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(file.fileno()), path.stat())
    except FileNotFoundError:
        return False
