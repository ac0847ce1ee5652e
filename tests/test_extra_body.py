"""extra_body: JSON fields the SDK does not know yet, merged into a session call's body."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from somia import AsyncSomiaClient, SomiaClient


def _client(sent: list[dict[str, Any]]) -> SomiaClient:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"session_id": "s"}, headers={"X-Somia-Session-Id": "s"})

    transport = httpx.MockTransport(handler)
    return SomiaClient(
        base_url="https://somia.test", api_key="k", http_client=httpx.Client(transport=transport)
    )


def test_extra_body_fields_are_sent_beside_the_options() -> None:
    sent: list[dict[str, Any]] = []
    _client(sent).sessions.run(1, input_data="hi", extra_body={"beta_feature": {"on": True}})
    assert sent == [{"input_data": "hi", "stream": False, "beta_feature": {"on": True}}]


@pytest.mark.parametrize("key", ["pipeline_version", "input_data", "stream"])
def test_a_documented_field_in_extra_body_is_refused_before_sending(key: str) -> None:
    sent: list[dict[str, Any]] = []
    with pytest.raises(ValueError, match=f"extra_body sets '{key}'"):
        _client(sent).sessions.run(1, extra_body={key: 1})
    assert sent == []


@pytest.mark.parametrize(
    ("extra_body", "message"),
    [([("k", 1)], "extra_body must be a mapping"), ({1: "v"}, "extra_body keys must be str")],
)
def test_extra_body_that_is_not_a_mapping_of_names_is_a_type_error(
    extra_body: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        _client([]).sessions.run(1, extra_body=extra_body)


def test_extra_body_that_is_not_json_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="beta"):
        _client([]).sessions.run(1, extra_body={"beta": {1, 2}})


def test_the_async_client_sends_extra_body_too() -> None:
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(200, json={"session_id": "s"}, headers={"X-Somia-Session-Id": "s"})

    async def call() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncSomiaClient(
            base_url="https://somia.test", api_key="k", http_client=http
        ) as client:
            await client.sessions.create_session(1, extra_body={"x": 1})

    asyncio.run(call())
    assert json.loads(sent[0]) == {"stream": False, "x": 1}
