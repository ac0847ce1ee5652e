"""The clients: `request` for operations the SDK does not curate, copies made by
`with_options` and `from_env` keeping the caller's class, and the context managers."""

from __future__ import annotations

from typing import Any, assert_type

from somia import AsyncSomiaClient, AsyncStream, SomiaClient, Stream, StreamEvent


class MyClient(SomiaClient):
    """A user's subclass: copies of it stay of its class."""


class MyAsyncClient(AsyncSomiaClient):
    pass


def request_answers_json_or_a_stream(client: SomiaClient) -> None:
    assert_type(client.request("GET", "/api/v1/agents"), Any)
    assert_type(client.request("POST", "/api/v1/x", json={"a": 1}, stream=False), Any)
    assert_type(client.request("POST", "/api/v1/x", stream=True), Stream[StreamEvent])
    client.request("GET", "/api/v1/x", timeout=2.0, extra_headers={"X-A": "b"})
    client.request("GET", "/api/v1/x", input_data="hi")  # type: ignore[call-overload]


async def async_request_answers_json_or_a_stream(client: AsyncSomiaClient) -> None:
    assert_type(await client.request("GET", "/api/v1/agents"), Any)
    assert_type(await client.request("POST", "/api/v1/x", stream=False), Any)
    assert_type(await client.request("POST", "/api/v1/x", stream=True), AsyncStream[StreamEvent])


def copies_keep_the_callers_class(client: SomiaClient, mine: MyClient) -> None:
    assert_type(client.with_options(timeout=5.0, retries=1), SomiaClient)
    assert_type(mine.with_options(base_url=None), MyClient)
    assert_type(SomiaClient.from_env(), SomiaClient)
    assert_type(MyClient.from_env(timeout=1.0), MyClient)
    client.with_options(no_such_option=1)  # type: ignore[call-arg]
    client.with_options(retries="3")  # type: ignore[arg-type]


def async_copies_keep_the_callers_class(client: AsyncSomiaClient, mine: MyAsyncClient) -> None:
    assert_type(client.with_options(default_headers={"X-A": "b"}), AsyncSomiaClient)
    assert_type(mine.with_options(api_key_header="X-Key"), MyAsyncClient)
    assert_type(AsyncSomiaClient.from_env(), AsyncSomiaClient)


def context_managers_give_the_client() -> None:
    with SomiaClient() as client:
        assert_type(client, SomiaClient)
    SomiaClient(api_key=1)  # type: ignore[arg-type]
    SomiaClient("sk-positional")  # type: ignore[call-arg]


async def async_context_managers_give_the_client() -> None:
    async with AsyncSomiaClient() as client:
        assert_type(client, AsyncSomiaClient)
