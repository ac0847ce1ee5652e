"""The input of a batch run: one JSON row per line, read as a stream and checked before any
request is sent.

A row is `{"id": ..., "input_data": ...}` (one turn) or `{"id": ..., "turns": [...]}`
(several turns of one session); it may name its own `agent_id` and any documented request
option. Checking keeps no row: only a hash of each id (to find repeats) and the file's
digest.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from somia._bridge import BODY_FIELDS, check_body, encode_json
from somia._validation import check_agent_id
from somia.batch._output import Done, id_hash

__all__ = [
    "InputError",
    "Row",
    "Scan",
    "check_row",
    "read_rows",
    "row_options",
    "scan_input",
]

# The row's own keys; every other key must be a documented request option.
_ROW_KEYS = frozenset({"id", "input_data", "turns", "agent_id"})
_NOT_OPTIONS = {
    "stream": "the runner chooses how answers travel",
    "idempotency_key": "the runner derives each turn's key from the run, the row and the turn",
}
OPTION_NAMES = frozenset(BODY_FIELDS) - {"input_data", "stream"}
_MAX_REPORTED = 20  # problems listed in an InputError; the count says how many there were
_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


class InputError(ValueError):
    """The input cannot be run as it is: each problem names its line. Nothing was sent."""

    def __init__(self, path: Path, problems: list[str], total: int) -> None:
        more = f"\n(and {total - len(problems)} more)" if total > len(problems) else ""
        super().__init__(f"{path}: " + "\n".join(problems) + more)
        self.problems = problems


@attrs.frozen
class Row:
    """One checked row: its id, input line, turns' inputs, agent and request options."""

    id: str | int
    line: int
    turns: tuple[Any, ...]
    agent_id: int
    options: Mapping[str, Any]

    @property
    def id_json(self) -> str:
        """The id as JSON: `1` and `"1"` are two ids."""
        return json.dumps(self.id, ensure_ascii=False)


@attrs.frozen
class Scan:
    """What checking the whole input found: its rows, lines, bytes and their digest, and
    the output lines whose id is not the id of their input line."""

    rows: int
    lines: int
    size: int
    sha256: str
    strangers: tuple[str, ...] = ()  # the first few
    stranger_count: int = 0


def row_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Run-wide request options, checked like a row's (ValueError or TypeError)."""
    options = dict(options or {})
    problem = _option_problem(options)
    if problem:
        raise ValueError(problem)
    check_body(options)
    for name, value in options.items():  # NaN and the infinities are not JSON
        encode_json(value, name)
    return options


def _option_problem(names: Mapping[str, Any]) -> str | None:
    for name in names:
        if name in _NOT_OPTIONS:
            return f"{name!r} cannot be set: {_NOT_OPTIONS[name]}"
        if name not in OPTION_NAMES:
            return f"unknown option {name!r} (options: {', '.join(sorted(OPTION_NAMES))})"
    return None


def parse_row(
    raw: bytes, line: int, agent_id: int | None, options: Mapping[str, Any]
) -> Row | None:
    """The row on input line `line` (None for a blank line); ValueError says what is wrong."""
    if not raw.strip():
        return None
    return check_row(_json(raw), line, agent_id, options)


def check_row(data: Any, line: int, agent_id: int | None, options: Mapping[str, Any]) -> Row:
    """The row `data` (a decoded input line, or a Ray Data row) is; ValueError says what
    is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"a row must be a JSON object, not {_JSON_TYPES[type(data)]}")
    if "id" not in data:
        raise ValueError('no "id"')
    row_id = data["id"]
    if isinstance(row_id, bool) or not isinstance(row_id, str | int):
        raise ValueError(f'"id" must be a string or an integer, not {json.dumps(row_id)}')
    if "input_data" not in data and "turns" not in data:
        raise ValueError('a row needs "input_data" (one turn) or "turns" (several): it has neither')
    if "input_data" in data and "turns" in data:
        raise ValueError('a row has either "input_data" (one turn) or "turns", not both')
    if "turns" in data:
        turns = data["turns"]
        if not isinstance(turns, list) or not turns:
            raise ValueError('"turns" must be a non-empty array of inputs')
    else:
        turns = [data["input_data"]]
    own = {k: v for k, v in data.items() if k not in _ROW_KEYS}
    problem = _option_problem(own)
    if problem:
        raise ValueError(problem)
    agent = data.get("agent_id")  # null, like no key: the run's agent
    if agent is None:
        agent = agent_id
    if agent is None:
        raise ValueError('no agent: give the run an agent id, or the row an "agent_id"')
    try:
        agent = check_agent_id(agent)
        merged = {**options, **own}
        for value in turns:
            check_body({**merged, "input_data": value, "stream": True})
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    return Row(row_id, line, tuple(turns), agent, merged)


def not_json(constant: str) -> Any:
    """Refuse what Python's json reads but JSON lacks (NaN, Infinity, -Infinity)."""
    raise ValueError(f"not JSON ({constant} is not a JSON value)")


def _json(raw: bytes) -> Any:
    """The JSON value of one input line; ValueError says where it is not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start + 1})") from None
    try:
        return json.loads(text, parse_constant=not_json)
    except json.JSONDecodeError as exc:  # its line and column count within the JSON text
        if exc.pos >= len(text.rstrip("\r\n")):
            where = "at the end of the line (a row is one whole line of JSON)"
        else:
            where = f"at column {exc.pos + 1}"
        raise ValueError(f"not JSON ({exc.msg} {where})") from None
    except RecursionError:
        raise ValueError("not JSON (nested too deeply)") from None


def _lines(path: Path, digest: Any = None, size: int | None = None) -> Iterator[tuple[int, bytes]]:
    """The numbered lines of `path`; only its first `size` bytes when given (what the
    scan checked: lines added to the input since are not this run's)."""
    left = size
    with path.open("rb") as file:
        for number, raw in enumerate(file, 1):
            if left is not None:
                if left <= 0:
                    return
                raw = raw[:left]
                left -= len(raw)
            if digest is not None:
                digest.update(raw)
            yield number, raw


INDEX_BYTES_PER_ROW = 9
"""What a run keeps per input row: an 8-byte hash of its id while the input is checked,
then one byte (whether the output has the row) while the rows run."""

_BUCKETS = 256  # the id hashes are kept in this many arrays, checked one at a time


def scan_input(
    path: Path, agent_id: int | None, options: Mapping[str, Any], done: Done | None = None
) -> Scan:
    """Check every row of `path` (InputError listing the bad lines) and return its count,
    line count, size and SHA-256; with the index of an output, also the output's rows
    whose id is not their input line's. Memory: 8 bytes per row, the hash of its id."""
    digest = hashlib.sha256()
    problems: list[str] = []
    strangers: list[str] = []
    total = rows = lines = size = stranger_count = 0
    buckets = [array("q") for _ in range(_BUCKETS)]
    for lines, raw in _lines(path, digest):
        size += len(raw)
        try:
            row = parse_row(raw, lines, agent_id, options)
        except ValueError as exc:
            total += 1
            if len(problems) < _MAX_REPORTED:
                problems.append(f"line {lines}: {exc}")
            continue
        if done is not None and lines < len(done.marks) and done.marks[lines]:
            assert done.ids is not None
            if row is None or id_hash(row.id_json) != done.ids[lines]:
                stranger_count += 1
                if len(strangers) < _MAX_REPORTED:
                    strangers.append(
                        f"its row of input line {lines} does not have that line's id"
                        + ("" if row is None else f" ({row.id_json})")
                    )
        if row is None:
            continue
        rows += 1
        key = hash(row.id_json)
        buckets[key % _BUCKETS].append(key)
    repeats: set[int] = set()  # hashes seen twice: checked exactly afterwards
    while buckets:
        bucket = buckets.pop()
        distinct = set(bucket)
        if len(distinct) < len(bucket):
            for key in bucket:
                if key in distinct:
                    distinct.discard(key)
                else:  # met once already
                    repeats.add(key)
    if repeats:
        found = _repeated_ids(path, repeats, size)
        total += len(found)
        problems += found[: max(0, _MAX_REPORTED - len(problems))]
    if total:
        raise InputError(path, sorted(problems, key=_line_of), total)
    return Scan(rows, lines, size, digest.hexdigest(), tuple(strangers), stranger_count)


def _line_of(problem: str) -> int:
    return int(problem.split(":", 1)[0].removeprefix("line "))


def _repeated_ids(path: Path, hashes: set[int], size: int) -> list[str]:
    first: dict[str, int] = {}
    found = []
    for number, raw in _lines(path, size=size):
        if not raw.strip():
            continue
        try:
            id_json = json.dumps(json.loads(raw)["id"], ensure_ascii=False)
        except (ValueError, KeyError, TypeError, RecursionError):
            continue  # reported already
        if hash(id_json) not in hashes:
            continue
        if id_json in first:
            found.append(f"line {number}: id {id_json} repeats line {first[id_json]}'s")
        else:
            first[id_json] = number
    return found


def read_rows(
    path: Path, agent_id: int | None, options: Mapping[str, Any], skip: bytearray, size: int
) -> Iterator[Row]:
    """The rows of the first `size` bytes of a checked input, in order, but those whose
    line is marked in `skip`."""
    for number, raw in _lines(path, size=size):
        if number < len(skip) and skip[number]:
            continue
        try:
            row = parse_row(raw, number, agent_id, options)
        except ValueError as exc:  # the file changed since it was checked
            raise InputError(path, [f"line {number}: {exc}"], 1) from None
        if row is not None:
            yield row
