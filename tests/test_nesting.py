"""The SDK's nesting limit for the JSON it sends (`somia._nesting`): the fake server's, the
same whatever the interpreter's recursion limit, checked before any request for every body
(`input_data`, `metadata`, `extra_body`, `client.request(json=)`)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from somia.testing import FakeServer
from tests.harness import Driver, Reply, ScriptedServer, Sdk

LIMIT = 256  # the body itself is level 1: a field's value may nest 255 levels


def _nested(depth: int) -> Any:
    """A value nesting `depth` levels of arrays."""
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def _field(name: str, depth: int) -> dict[str, Any]:
    """The call's options that put a value nesting `depth` levels into the body field."""
    if name == "metadata":  # an object: its own level, then the rest
        return {"metadata": {"deep": _nested(depth - 1)}}
    if name == "extra_body":
        return {"extra_body": {"x_trace": _nested(depth)}}
    return {name: _nested(depth)}


@pytest.fixture
def high_recursion_limit() -> Iterator[None]:
    """A recursion limit far above the SDK's nesting limit (as some applications set)."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


@pytest.mark.parametrize("name", ["input_data", "metadata", "extra_body"])
def test_a_field_nested_as_deep_as_the_fake_accepts_is_sent_one_level_more_is_refused(
    driver: Driver, somia_server: FakeServer, name: str
) -> None:
    assert driver.call("create_session", 1, **_field(name, LIMIT - 1)).session_id
    label = "extra_body['x_trace']" if name == "extra_body" else name
    pattern = rf"^{re.escape(label)} is nested too deeply to send: .* at most 256"
    with pytest.raises(TypeError, match=pattern):
        driver.call("create_session", 1, **_field(name, LIMIT))
    assert len(somia_server.requests) == 1


def test_the_fake_refuses_what_the_sdk_refuses(somia_server: FakeServer) -> None:
    # One level more than the SDK sends, sent around it: the fake's limit is the same.
    body = '{"input_data": ' + "[" * LIMIT + "]" * LIMIT + "}"
    answer = httpx.post(
        f"{somia_server.base_url}/api/v1/external/agent/1/session",
        content=body,
        headers={**somia_server.headers, "content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert "nested more than 256 levels deep" in answer.text


def test_a_raw_request_body_may_nest_as_deep_as_a_session_body(
    server: ScriptedServer, sdk: Sdk
) -> None:
    server.script(Reply(200, {"ok": True}))
    with sdk.connect(server.base_url) as driver:
        driver.request("POST", "/api/v1/other", json=_nested(LIMIT))
        with pytest.raises(TypeError, match=r"^json is nested too deeply to send"):
            driver.request("POST", "/api/v1/other", json=_nested(LIMIT + 1))
    assert len(server.received) == 1


@pytest.mark.usefixtures("high_recursion_limit")
@pytest.mark.parametrize("name", ["input_data", "metadata"])
def test_the_limit_is_the_sdks_whatever_the_recursion_limit(
    server: ScriptedServer, sdk: Sdk, name: str
) -> None:
    with pytest.raises(TypeError, match=f"^{name} is nested too deeply to send"):
        sdk.call(server.base_url, "create_session", 1, **_field(name, 5000))
    assert server.received == []


def test_a_value_that_contains_itself_is_refused_naming_it(
    server: ScriptedServer, sdk: Sdk
) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(TypeError, match=r"^input_data is nested too deeply .* contains itself"):
        sdk.call(server.base_url, "create_session", 1, input_data=loop)
    assert server.received == []
