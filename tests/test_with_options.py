"""`with_options(...)`: copies of a client with other options, sharing its connections.

Over real loopback, so that "sharing the pool" is what the server sees: the copy's requests
arrive on the original's connection (the same client port). What a copy sends runs on both
HTTP libraries (`both_stacks`: a caller's httpx2 client too); closing rules of the SDK's own
pool, on httpx.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

import httpx
import pytest

import somia
from somia import AsyncSomiaClient, SomiaClient
from tests.harness import OK, Reply, ScriptedServer, Stall, sync_client

pytestmark = pytest.mark.both_stacks


def _options(server: ScriptedServer, **options: Any) -> dict[str, Any]:
    return {
        "base_url": server.base_url,
        "api_key": "sk-original",
        "default_headers": {"X-Env": "prod", "X-Team": "a"},
        "timeout": 5.0,
        **options,
    }


def _client(server: ScriptedServer, **options: Any) -> SomiaClient:
    return SomiaClient(**_options(server, **options))


def _open(
    server: ScriptedServer, stack: ModuleType, **options: Any
) -> AbstractContextManager[SomiaClient]:
    return sync_client(stack, **_options(server, **options))


def test_a_copy_sends_its_own_key_and_headers_and_the_original_keeps_its_own(
    server: ScriptedServer, stack: ModuleType
) -> None:
    server.script(OK, OK, OK)
    with _open(server, stack) as client:
        copy: SomiaClient = client.with_options(
            api_key="sk-copy", default_headers={"x-team": "b", "X-Extra": "1"}
        )
        client.sessions.create_session(1)
        copy.sessions.create_session(1)
        client.sessions.create_session(1)
    first, copied, last = server.received
    for original in (first, last):
        assert original.headers["x-api-key"] == "sk-original"
        assert original.headers["x-team"] == "a"
        assert "x-extra" not in original.headers
    assert copied.headers["x-api-key"] == "sk-copy"
    assert copied.headers["x-team"] == "b"  # merged over the original's, by name
    assert copied.headers["x-env"] == "prod"  # kept from the original
    assert copied.headers["x-extra"] == "1"
    assert first.peer == copied.peer == last.peer  # one connection: the shared pool


def test_a_copy_with_another_key_header_sends_the_key_there_only(
    server: ScriptedServer, stack: ModuleType
) -> None:
    server.script(OK)
    with _open(server, stack) as client:
        client.with_options(api_key_header="apikey").sessions.create_session(1)
    (request,) = server.received
    assert request.headers["apikey"] == "sk-original"
    assert "x-api-key" not in request.headers


def test_a_copys_timeout_and_retries_apply_to_its_calls_only(
    server: ScriptedServer, stack: ModuleType
) -> None:
    server.script(Stall(1.0), Reply(503), OK)
    with _open(server, stack, retries=2, retry_backoff_seconds=0.001) as client:
        with pytest.raises(somia.RequestTimeoutError, match="read timeout"):
            client.with_options(timeout=0.2).sessions.create_session(1)
        with pytest.raises(somia.ServiceUnavailableError):
            client.with_options(retries=0).sessions.create_session(1)
        assert client.sessions.create_session(1).session_id == "s-1"


def test_closing_a_copy_leaves_the_pool_open_and_only_the_copy_closed(
    server: ScriptedServer,
) -> None:
    server.script(OK, OK)
    with _client(server) as client:
        copy = client.with_options(timeout=3.0)
        copy.sessions.create_session(1)
        copy.close()
        with pytest.raises(somia.ClientClosedError, match="this client was closed"):
            copy.sessions.create_session(1)
        client.sessions.create_session(1)
    first, second = server.received
    assert first.peer == second.peer  # the copy's close() left the connection open


def test_closing_the_original_closes_the_pool_and_a_copy_then_raises(
    server: ScriptedServer,
) -> None:
    server.script(OK)
    client = _client(server)
    copy = client.with_options(retries=0)
    copy.sessions.create_session(1)
    client.close()
    with pytest.raises(somia.ClientClosedError, match="the client this copy was made from"):
        copy.sessions.create_session(1)
    with pytest.raises(somia.ClientClosedError):
        client.with_options(retries=1)
    assert len(server.received) == 1


def test_a_copy_of_a_client_with_a_given_http_client_shares_it(
    server: ScriptedServer, stack: ModuleType
) -> None:
    server.script(OK, OK)
    with stack.Client() as http:
        with _client(server, http_client=http) as client:
            client.sessions.create_session(1)
            client.with_options(api_key="sk-copy").sessions.create_session(1)
        assert not http.is_closed  # the caller's own, as ever
    first, second = server.received
    assert second.headers["x-api-key"] == "sk-copy"
    assert first.peer == second.peer


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"colour": "red"}, TypeError, "unexpected keyword argument 'colour'"),
        ({"http_client": None}, TypeError, "unexpected keyword argument 'http_client'"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"total_timeout": -1}, ValueError, "total_timeout"),
        ({"retries": 1.5}, TypeError, "retries"),
        ({"default_headers": {"X-A": "1\r\nX-B: 2"}}, ValueError, "default_headers"),
        ({"base_url": "ftp://example.com"}, ValueError, "base_url"),
    ],
)
def test_bad_options_are_refused_naming_them(
    server: ScriptedServer, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with _client(server) as client, pytest.raises(error, match=match):
        client.with_options(**options)


def test_a_copy_keeps_the_originals_options_and_repr_hides_its_key() -> None:
    client = SomiaClient(base_url="https://gw.example", api_key="sk-a", timeout=7)
    copy = client.with_options(api_key="sk-secret-copy")
    assert copy.base_url == "https://gw.example"
    assert copy._config.timeout == httpx.Timeout(7.0)
    assert "sk-secret-copy" not in repr(copy)
    assert copy.sessions is not client.sessions
    client.close()


def test_async_copies_share_the_pool_and_the_closed_rules(server: ScriptedServer) -> None:
    server.script(OK, OK)

    async def run() -> None:
        client = AsyncSomiaClient(base_url=server.base_url, api_key="sk-original")
        copy: AsyncSomiaClient = client.with_options(api_key="sk-copy")
        await client.sessions.create_session(1)
        await copy.sessions.create_session(1)
        await copy.aclose()
        with pytest.raises(somia.ClientClosedError, match="this client was closed"):
            await copy.sessions.create_session(1)
        other = client.with_options(retries=0)
        await client.aclose()
        with pytest.raises(somia.ClientClosedError, match="the client this copy was made from"):
            await other.sessions.create_session(1)

    asyncio.run(run())
    first, second = server.received
    assert first.headers["x-api-key"] == "sk-original"
    assert second.headers["x-api-key"] == "sk-copy"
    assert first.peer == second.peer


def test_a_copy_may_replace_the_sdks_own_headers_and_the_original_keeps_them(
    server: ScriptedServer, stack: ModuleType
) -> None:
    server.script(OK, OK)
    with _open(server, stack) as client:
        client.with_options(default_headers={"user-agent": "my-app/1"}).sessions.create_session(1)
        client.sessions.create_session(1)
    copied, original = server.received
    assert copied.headers["user-agent"] == "my-app/1"
    assert original.headers["user-agent"] == f"somia-python/{somia.__version__}"
    assert original.headers["accept"] == copied.headers["accept"] == "application/json"
