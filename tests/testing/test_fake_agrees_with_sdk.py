"""The SDK's compiled checks and the fake's validator agree on every request field's values.

Both come from the same document: whatever one accepts the other accepts, whatever one
refuses the other refuses (None aside: to the SDK it means "not sent").
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from somia._bridge import BODY_FIELDS, check_body
from somia.testing._validation import request_problems

SAMPLES: list[Any] = [
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    2**63,
    -(2**70),
    1e300,
    "",
    " ",
    "\t\n",
    "x",
    "production",
    "é",
    [],
    ["a"],
    ["a", 1],
    [None],
    [["a"]],
    {},
    {"k": 1},
    {"k": {"deep": [1, None]}},
]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


def sdk_accepts(keyword: str, value: Any) -> bool:
    try:
        check_body({keyword: value})
    except (TypeError, ValueError):
        return False
    return True


def fake_accepts(wire: str, value: Any) -> bool:
    return request_problems("createSession", {wire: value}) == []


@pytest.mark.parametrize(("keyword", "wire"), sorted(BODY_FIELDS.items()))
@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_the_sdk_and_the_fake_agree_on_sample_values(keyword: str, wire: str, value: Any) -> None:
    assert sdk_accepts(keyword, value) == fake_accepts(wire, value)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(field=st.sampled_from(sorted(BODY_FIELDS.items())), value=JSON_VALUES)
def test_the_sdk_and_the_fake_agree_on_any_json_value(field: tuple[str, str], value: Any) -> None:
    keyword, wire = field
    if value is None:  # to the SDK, None means "not sent"
        return
    assert sdk_accepts(keyword, value) == fake_accepts(wire, value)
