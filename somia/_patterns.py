"""JSON Schema patterns (ECMA-262 regular expressions) with their ECMA-262 meaning, in Python.

Python's `re` reads the same text differently: its `\\s` takes U+001C-U+001F and U+0085 and
leaves out U+FEFF, its `\\d` and `\\w` take any script's digits and letters, and its `$` also
matches before a final newline. The SDK's compiled checks and the fake server's validation
both compile a document's patterns here, so they give one verdict.

Supported, with ECMA-262 meaning: literal characters and escaped syntax characters;
`\\s \\S \\d \\D \\w \\W`; `\\t \\n \\v \\f \\r` and `\\uXXXX`; classes `[...]` and `[^...]`
with ranges (the negated escapes `\\S \\D \\W` only outside a class); the anchors `^` and `$`;
the greedy quantifiers `* + ? {n} {n,} {n,m}`. Any other construct raises `PatternError`,
so `make generate` refuses a document that uses one instead of checking it some other way.
Patterns are searched for (not anchored unless they say so), on code points (the `u` flag).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["WHITE_SPACE", "PatternError", "compile_pattern", "translate", "witnesses"]

Ranges = tuple[tuple[int, int], ...]

# ECMA-262 WhiteSpace and LineTerminator: what `\s` matches.
WHITE_SPACE: Ranges = (
    (0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
    (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF),
)  # fmt: skip
_DIGITS: Ranges = ((0x30, 0x39),)
_WORD: Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_CLASSES = {"s": WHITE_SPACE, "d": _DIGITS, "w": _WORD}
_CONTROLS = {"t": 0x09, "n": 0x0A, "v": 0x0B, "f": 0x0C, "r": 0x0D}
_SYNTAX = "^$\\.*+?()[]{}|/-"
_LAST = 0x10FFFF


class PatternError(ValueError):
    """A pattern uses a construct the SDK does not give its ECMA-262 meaning."""


class _Atom(NamedTuple):
    ranges: Ranges  # the characters it matches
    negated: bool
    low: int = 1  # how many times (its quantifier)
    high: int | None = 1


class _Parsed(NamedTuple):
    start: bool  # anchored with ^
    atoms: tuple[_Atom, ...]
    end: bool  # anchored with $


def _refuse(pattern: str, what: str) -> PatternError:
    return PatternError(f"pattern {pattern!r}: {what} is not supported (see somia/_patterns.py)")


def _escape(pattern: str, text: str, i: int, in_class: bool) -> tuple[_Atom, int]:
    """The atom of the escape at text[i] (after its backslash), and the index after it."""
    if i >= len(text):
        raise _refuse(pattern, "a trailing backslash")
    ch = text[i]
    if ch.lower() in _CLASSES:
        if ch.isupper() and in_class:
            raise _refuse(pattern, f"\\{ch} inside a class")
        return _Atom(_CLASSES[ch.lower()], ch.isupper()), i + 1
    if ch in _CONTROLS:
        code = _CONTROLS[ch]
    elif ch == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 1 : i + 5]):
        code = int(text[i + 1 : i + 5], 16)
        return _Atom(((code, code),), False), i + 5
    elif ch in _SYNTAX:
        code = ord(ch)
    else:
        raise _refuse(pattern, f"the escape \\{ch}")
    return _Atom(((code, code),), False), i + 1


def _class(pattern: str, text: str, i: int) -> tuple[_Atom, int]:
    """The atom of the class opening at text[i] ('['), and the index after its ']'."""
    i += 1
    negated = text.startswith("^", i)
    i += negated
    ranges: list[tuple[int, int]] = []
    while i < len(text) and text[i] != "]":
        if text[i] == "\\":
            atom, i = _escape(pattern, text, i + 1, in_class=True)
        elif text[i] == "[":
            raise _refuse(pattern, "'[' inside a class (write \\[)")
        else:
            atom, i = _Atom(((ord(text[i]), ord(text[i])),), False), i + 1
        single = len(atom.ranges) == 1 and atom.ranges[0][0] == atom.ranges[0][1]
        if single and text.startswith("-", i) and i + 1 < len(text) and text[i + 1] != "]":
            if text[i + 1] == "\\":
                end, i = _escape(pattern, text, i + 2, in_class=True)
            else:
                end, i = _Atom(((ord(text[i + 1]), ord(text[i + 1])),), False), i + 2
            if len(end.ranges) != 1 or end.ranges[0][0] != end.ranges[0][1]:
                raise _refuse(pattern, "a range ending in a class escape")
            if end.ranges[0][0] < atom.ranges[0][0]:
                raise PatternError(f"pattern {pattern!r}: a range out of order")
            ranges.append((atom.ranges[0][0], end.ranges[0][0]))
        else:
            ranges += atom.ranges
    if i >= len(text):
        raise PatternError(f"pattern {pattern!r}: a class is not closed")
    if not ranges:
        raise _refuse(pattern, "an empty class")
    return _Atom(tuple(ranges), negated), i + 1


_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")


def _parse(pattern: str) -> _Parsed:
    text = pattern
    start = text.startswith("^")
    i = int(start)
    end = False
    atoms: list[_Atom] = []
    while i < len(text):
        ch = text[i]
        if ch == "$" and i == len(text) - 1:
            end, i = True, i + 1
            continue
        if ch in "*+?{":
            found = _QUANTIFIER.match(text, i)
            if not atoms or atoms[-1].high != 1 or atoms[-1].low != 1:
                raise _refuse(pattern, f"a quantifier {ch!r} not after one character or class")
            if ch == "{" and found is None:
                raise _refuse(pattern, "a '{' that is not a quantifier")
            if found is not None:
                low = int(found.group(1))
                high = low if found.group(2) is None else int(found.group(3) or -1)
                if -1 < high < low:
                    raise PatternError(
                        f"pattern {pattern!r}: a quantifier {found.group()} out of order"
                    )
                i = found.end()
            else:
                low, high = {"*": (0, -1), "+": (1, -1), "?": (0, 1)}[ch]
                i += 1
            if text.startswith("?", i):
                raise _refuse(pattern, "a lazy quantifier")
            atoms[-1] = atoms[-1]._replace(low=low, high=None if high == -1 else high)
            continue
        if ch == "\\":
            atom, i = _escape(pattern, text, i + 1, in_class=False)
        elif ch == "[":
            atom, i = _class(pattern, text, i)
        elif ch in "^$.()|]}":
            raise _refuse(
                pattern,
                {".": "'.'", "(": "a group", ")": "a group", "|": "'|'"}.get(ch, f"{ch!r} here"),
            )
        else:
            atom, i = _Atom(((ord(ch), ord(ch)),), False), i + 1
        atoms.append(atom)
    return _Parsed(start, tuple(atoms), end)


def _char(code: int) -> str:
    return f"\\U{code:08x}" if code > 0xFFFF else f"\\u{code:04x}"


def _python(atom: _Atom) -> str:
    ranges = "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in atom.ranges)
    text = f"[{'^' if atom.negated else ''}{ranges}]"
    if not atom.negated and len(atom.ranges) == 1 and atom.ranges[0][0] == atom.ranges[0][1]:
        text = re.escape(chr(atom.ranges[0][0])) if chr(atom.ranges[0][0]).isprintable() else text
    low, high = atom.low, atom.high
    if (low, high) == (1, 1):
        return text
    return f"{text}{{{low},{'' if high is None else high}}}"


def translate(pattern: str) -> str:
    """The Python `re` source that means what `pattern` means in ECMA-262."""
    parsed = _parse(pattern)
    body = "".join(_python(atom) for atom in parsed.atoms)
    return ("^" if parsed.start else "") + body + ("\\Z" if parsed.end else "")


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled with its ECMA-262 meaning (use `.search`, as JSON Schema does)."""
    return re.compile(translate(pattern))


# Characters where engines disagree, or next to a class's edges: the ECMA-262 white space,
# what Python or Unicode call white space and ECMA-262 does not, other scripts' digits and
# letters, and the Kelvin sign (a `\w` under case folding).
_EDGES = (
    *(chr(a) for a, b in WHITE_SPACE for a in range(a, b + 1)),
    "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u180e", "\u200b",
    "0", "9", "a", "Z", "_", "é", "\u0663", "\u212a", "\x00", "\x7f", "\U0001f600",
)  # fmt: skip


def _inside(atom: _Atom) -> str:
    """A character the atom matches: a printable ASCII one where there is one."""
    for code in [*range(0x21, 0x7F), *(a for a, _ in atom.ranges), *range(0xA1, 0x1000)]:
        if any(a <= code <= b for a, b in atom.ranges) != atom.negated:
            return chr(code)
    raise PatternError("a class that matches nothing")  # pragma: no cover - refused by _class


def _near(atom: _Atom) -> Iterator[str]:
    for a, b in atom.ranges:
        for code in (a - 1, a, b, b + 1):
            if 0 <= code <= _LAST and not 0xD800 <= code <= 0xDFFF:
                yield chr(code)


def witnesses(pattern: str) -> list[tuple[str, bool]]:
    """Strings at the edges of `pattern`, each with whether it matches (ECMA-262's verdict).

    For each position of a shortest match: every edge character (range ends and their
    neighbours, white space of either reading, other scripts); the shortest match with a
    trailing newline; each quantifier one below its minimum and one above its maximum.
    """
    parsed = _parse(pattern)
    regex = compile_pattern(pattern)
    base = [_inside(atom) * atom.low if atom.low else "" for atom in parsed.atoms]
    shortest = "".join(base)
    texts = {shortest, shortest + "\n", "\n" + shortest, ""}
    for index, atom in enumerate(parsed.atoms):
        inside, count = _inside(atom), max(atom.low, 1)

        def at(text: str, index: int = index) -> str:  # base with this atom's text replaced
            return "".join([*base[:index], text, *base[index + 1 :]])

        for edge in dict.fromkeys([*_near(atom), *_EDGES]):
            texts.add(at(edge + inside * (count - 1)))
        if atom.low:
            texts.add(at(inside * (atom.low - 1)))
        if atom.high is not None:
            texts.add(at(inside * (atom.high + 1)))
    return [(text, regex.search(text) is not None) for text in sorted(texts)]
