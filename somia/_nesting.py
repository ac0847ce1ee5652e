"""How deeply the JSON the SDK sends may nest: a limit of the SDK's own, the same on every
Python (the interpreter's recursion limit, which json's encoder follows, differs by version
and can be raised). The fake server (`somia.testing`) refuses deeper bodies by the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from somia._bridge import BODY_FIELDS

MAX_JSON_DEPTH = 256
"""The deepest nesting of arrays and objects in a request body (the body itself is level 1)."""

_CONTAINERS = (dict, list, tuple)  # what json encodes as objects and arrays


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests arrays and objects more than `limit` levels deep (`value` itself
    is level 1). A value that contains itself nests without end."""
    if not isinstance(value, _CONTAINERS):
        return False
    # Depth first and without recursion: a cycle is found within `limit` steps, and any
    # depth can be measured.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, _CONTAINERS))
    return False


def check_nesting(value: Any, name: str, limit: int = MAX_JSON_DEPTH) -> None:
    """TypeError naming `name` when `value` nests more than `limit` levels deep."""
    if isinstance(value, _CONTAINERS) and nested_deeper_than(value, limit):
        raise TypeError(
            f"{name} is nested too deeply to send: a request body may nest arrays and objects "
            f"at most {MAX_JSON_DEPTH} levels deep, the body itself being the first (or the "
            "value contains itself)"
        )


_KEYWORD_OF = {wire: keyword for keyword, wire in BODY_FIELDS.items()}


def check_body_nesting(body: Mapping[str, Any]) -> None:
    """TypeError naming the field of a session call's body (by its keyword) whose value nests
    deeper than a request body may."""
    for wire, value in body.items():
        if isinstance(value, _CONTAINERS):  # a flat body costs this test per field
            check_nesting(value, _KEYWORD_OF.get(wire, wire), MAX_JSON_DEPTH - 1)
