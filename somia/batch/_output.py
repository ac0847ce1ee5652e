"""The output of a batch run: one JSON line per row, appended and flushed as each row ends.

Read back on a resume through a small index of the rows already there (one byte per input
line, and a 4-byte hash of each row's id while the input is checked against it); a torn
last line (a crash while writing it) is cut off first.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from somia.batch._state import StateError

__all__ = [
    "Done",
    "Writer",
    "drop_failed",
    "drop_repeats",
    "encode",
    "id_hash",
    "read_done",
    "sort_output",
]

OK, FAILED = 1, 2  # the marks of the index
_REPEATS_HINT = (
    "two runs wrote this output at once? --drop-repeats (drop_repeats=True) keeps one line "
    "per row, an ok one where there is one"
)


def id_hash(id_json: str) -> int:
    """The 4-byte hash of a row id (as JSON) that the index keeps."""
    return hash(id_json) & 0xFFFFFFFF


@attrs.define
class Done:
    """The rows an output already holds: `marks[line]` is OK, FAILED or 0 (not there), and
    `ids[line]` the `id_hash` of the id its line gives (until the input is checked)."""

    marks: bytearray
    ids: array[int] | None = None
    ok: int = 0
    failed: int = 0
    torn: int = 0  # torn last lines cut off (0 or 1)


def encode(record: dict[str, Any]) -> bytes:
    """One output line."""
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode()
    except UnicodeEncodeError:  # a lone surrogate: valid as a JSON escape, not as UTF-8
        return (json.dumps(record) + "\n").encode()


def _row(raw: bytes) -> dict[str, Any] | None:
    """The output record on one line, or None when it is no row of somia batch."""
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    line, row_id = record.get("line"), record.get("id")
    if isinstance(line, bool) or not isinstance(line, int):
        return None
    if isinstance(row_id, bool) or not isinstance(row_id, str | int):
        return None
    return record if record.get("status") in ("ok", "failed") else None


def _records(path: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(offset, number, record) of each line of a repaired output."""
    offset = 0
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            record = _row(raw)
            if record is None:
                raise StateError(f"{path}, line {number}: not a row of somia batch")
            yield offset, number, record
            offset += len(raw)


def _repair(path: Path) -> int:
    """Mend the last line when a crash left it without its line end: a complete row gets
    its newline, a torn one is cut off. Return how many torn lines went (0 or 1)."""
    with path.open("r+b") as file:
        size = file.seek(0, os.SEEK_END)
        end = size
        while end > 0:
            step = min(end, 1 << 16)
            file.seek(end - step)
            block = file.read(step)
            found = block.rfind(b"\n")
            if found >= 0:
                end = end - step + found + 1
                break
            end -= step
        if end == size:
            return 0
        file.seek(end)
        if _row(file.read(size - end)) is not None:  # all there but its newline
            file.write(b"\n")
            return 0
        file.truncate(end)
        return 1


def read_done(path: Path, lines: int) -> Done:
    """The index of the rows `path` holds (repaired first); StateError when it holds a line
    that is no row of an input of `lines` lines, or a row twice."""
    done = Done(bytearray(lines + 1), array("I", bytes(4 * (lines + 1))))
    if not path.exists():
        return done
    done.torn = _repair(path)
    marks, ids = done.marks, done.ids
    assert ids is not None
    for _, number, record in _records(path):
        line = record["line"]
        if not 1 <= line <= lines:
            raise StateError(f"{path}, line {number}: no input line {line}")
        if marks[line]:
            raise StateError(
                f"{path}, line {number}: input line {line} is there twice ({_REPEATS_HINT})"
            )
        ids[line] = id_hash(json.dumps(record["id"], ensure_ascii=False))
        if record["status"] == "ok":
            marks[line] = OK
            done.ok += 1
        else:
            marks[line] = FAILED
            done.failed += 1
    return done


def _rewrite(path: Path, keep: Callable[[IO[bytes], IO[bytes]], None]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with path.open("rb") as source, temporary.open("wb") as target:
        keep(source, target)
        target.flush()
        os.fsync(target.fileno())
    os.replace(temporary, path)


def drop_failed(path: Path, done: Done) -> None:
    """Rewrite `path` without its failed rows (so that they run again) and unmark them."""

    def keep(source: IO[bytes], target: IO[bytes]) -> None:
        for raw in source:
            if json.loads(raw).get("status") == "ok":
                target.write(raw)

    _rewrite(path, keep)
    for line, mark in enumerate(done.marks):
        if mark == FAILED:
            done.marks[line] = 0
    done.failed = 0


def _grow(index: bytearray, line: int) -> None:
    if line >= len(index):
        index.extend(bytes(line + 1 - len(index)))


def drop_repeats(path: Path) -> int:
    """Rewrite `path` with one line per input line (the first ok one, else the first) and
    return how many lines went. Memory: 2 bytes per input line."""
    if not path.exists():
        return 0
    _repair(path)
    best = bytearray()  # OK when some line of the row is ok, else FAILED
    lines = 0
    for _, _, record in _records(path):
        line = record["line"]
        _grow(best, line)
        lines += 1
        if best[line] != OK:
            best[line] = OK if record["status"] == "ok" else FAILED
    kept = bytearray(len(best))
    count = [0]

    def keep(source: IO[bytes], target: IO[bytes]) -> None:
        for raw in source:
            record = json.loads(raw)
            line = record["line"]
            if kept[line] or (best[line] == OK and record["status"] != "ok"):
                continue
            kept[line] = 1
            count[0] += 1
            target.write(raw)

    if lines > sum(1 for mark in best if mark):
        _rewrite(path, keep)
        return lines - count[0]
    return 0


def sort_output(output: str | os.PathLike[str]) -> None:
    """Rewrite a batch output in input order (a torn last line is cut off first).

    Memory: 8 bytes per input line (where each input line's row is in the output).
    """
    path = Path(output)
    _repair(path)
    where = array("q")
    for offset, number, record in _records(path):
        line = record["line"]
        if line >= len(where):
            where.extend([-1] * (line + 1 - len(where)))
        if where[line] >= 0:
            raise StateError(
                f"{path}, line {number}: input line {line} is there twice ({_REPEATS_HINT})"
            )
        where[line] = offset

    def keep(source: IO[bytes], target: IO[bytes]) -> None:
        for offset in where:
            if offset >= 0:
                source.seek(offset)
                target.write(source.readline())

    _rewrite(path, keep)


class Writer:
    """Appends rows to the output, each flushed as it is written (`tail -f` shows it)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("ab")

    def write(self, record: dict[str, Any]) -> None:
        """Append one row's line."""
        self._file.write(encode(record))
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()
