"""The output of a batch run: one JSON line per row, appended and flushed as each row ends.

Read back on a resume through a one-byte-per-input-line index of the rows already there; a
torn last line (a crash while writing it) is cut off first.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from somia.batch._state import StateError

__all__ = ["Done", "Writer", "drop_failed", "encode", "read_done", "sort_output"]

OK, FAILED = 1, 2  # the marks of the index


@attrs.define
class Done:
    """The rows an output already holds: `marks[line]` is OK, FAILED or 0 (not there)."""

    marks: bytearray
    ok: int = 0
    failed: int = 0
    repaired: int = 0  # bytes of a torn last line that were cut off


def encode(record: dict[str, Any]) -> bytes:
    """One output line."""
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode()
    except UnicodeEncodeError:  # a lone surrogate: valid as a JSON escape, not as UTF-8
        return (json.dumps(record) + "\n").encode()


def _records(path: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(offset, number, record) of each line of a repaired output."""
    offset = 0
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            try:
                record = json.loads(raw)
                if not isinstance(record, dict) or not isinstance(record.get("line"), int):
                    raise ValueError("not a row of somia batch")
            except (ValueError, RecursionError) as exc:
                raise StateError(f"{path}, line {number}: cannot be read ({exc})") from None
            yield offset, number, record
            offset += len(raw)


def _repair(path: Path) -> int:
    """Cut a torn last line off (one with no line end); return how many bytes went."""
    with path.open("r+b") as file:
        size = file.seek(0, os.SEEK_END)
        if size == 0:
            return 0
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
        if end < size:
            file.truncate(end)
        return size - end


def read_done(path: Path, lines: int) -> Done:
    """The index of the rows `path` holds (repaired first); StateError when it holds a line
    that is no row of an input of `lines` lines, or a row twice."""
    done = Done(bytearray(lines + 1))
    if not path.exists():
        return done
    done.repaired = _repair(path)
    marks = done.marks
    for _, number, record in _records(path):
        line = record["line"]
        if not 1 <= line <= lines:
            raise StateError(f"{path}, line {number}: no input line {line}")
        if marks[line]:
            raise StateError(f"{path}, line {number}: input line {line} is there twice")
        if record.get("status") == "ok":
            marks[line] = OK
            done.ok += 1
        else:
            marks[line] = FAILED
            done.failed += 1
    return done


def _rewrite(path: Path, keep: Any) -> None:
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
            raise StateError(f"{path}, line {number}: input line {line} is there twice")
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
