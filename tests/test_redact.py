"""somia._redact: the key taken out of server text, data, headers and exception chains. Where
the SDK applies it (errors, streams, logs, spans) is tested end to end in test_redaction.py."""

from __future__ import annotations

import sys

import httpx
import pytest

from somia._nesting import MAX_JSON_DEPTH
from somia._redact import NO_KEY, Redactor

KEY = "sk-redact-UNIT-77"
redact = Redactor(KEY)


def test_text_data_and_headers_lose_every_copy_of_the_key() -> None:
    assert redact.text(f"bad key {KEY}, again {KEY}") == "bad key <redacted>, again <redacted>"
    data = {KEY: [f"x{KEY}", {"k": KEY}, 3, None]}
    assert redact.data(data) == {"<redacted>": ["x<redacted>", {"k": "<redacted>"}, 3, None]}
    headers = httpx.Headers([("x-echo", KEY), ("x-echo", "fine")])
    assert redact.headers(headers).get_list("x-echo") == ["<redacted>", "fine"]


@pytest.mark.parametrize("limit", [None, 50_000])
def test_decoded_data_nested_deeper_than_a_request_may_becomes_redacted_text(
    limit: int | None,
) -> None:
    # The SDK's nesting limit, not the interpreter's recursion limit, decides.
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(limit or before)
    try:
        deep: object = KEY
        for _ in range(MAX_JSON_DEPTH + 1):
            deep = [deep]
        shown, kept = redact.data(deep), redact.data([[KEY]])
    finally:
        sys.setrecursionlimit(before)
    assert isinstance(shown, str)
    assert KEY not in shown
    assert "<redacted>" in shown
    assert kept == [["<redacted>"]]


def test_what_holds_no_key_is_returned_as_it_is() -> None:
    headers = httpx.Headers({"x-request-id": "r-1"})
    assert redact.headers(headers) is headers
    data = {"a": ["b"]}
    assert NO_KEY.data(data) is data
    assert NO_KEY.text(KEY) == KEY
    assert not NO_KEY
    assert redact


def test_an_exception_chain_is_redacted_in_place_through_causes_and_contexts() -> None:
    root = ValueError(f"sent {KEY}")
    middle = RuntimeError("no key here", 7)
    middle.__context__ = root
    top = OSError(f"echo: {KEY}")
    top.__cause__ = middle
    root.__context__ = top  # a cycle: walked once
    redact.chain(top)
    assert top.args == ("echo: <redacted>",)
    assert middle.args == ("no key here", 7)
    assert root.args == ("sent <redacted>",)


def test_the_key_is_not_in_the_redactors_repr() -> None:
    assert KEY not in repr(redact)
    assert repr(NO_KEY) == "Redactor(api_key=None)"
