"""`http_client` and `timeout` take either HTTP library's objects; what users get back is httpx's
(`ResponseInfo.headers`, an error's `headers`), whichever library answered."""

from __future__ import annotations

from typing import assert_type

import httpx
import httpx2

from somia import ApiError, AsyncSomiaClient, SomiaClient


def sync_client_takes_either_librarys_client() -> None:
    assert_type(SomiaClient(http_client=httpx.Client()), SomiaClient)
    assert_type(SomiaClient(http_client=httpx2.Client()), SomiaClient)
    assert_type(SomiaClient(http_client=None), SomiaClient)
    SomiaClient(http_client=httpx2.AsyncClient())  # type: ignore[arg-type]
    SomiaClient(http_client=httpx.AsyncClient())  # type: ignore[arg-type]


async def async_client_takes_either_librarys_async_client() -> None:
    assert_type(AsyncSomiaClient(http_client=httpx.AsyncClient()), AsyncSomiaClient)
    assert_type(AsyncSomiaClient(http_client=httpx2.AsyncClient()), AsyncSomiaClient)
    AsyncSomiaClient(http_client=httpx2.Client())  # type: ignore[arg-type]
    AsyncSomiaClient(http_client=httpx.Client())  # type: ignore[arg-type]


def either_librarys_timeout_is_taken(client: SomiaClient) -> None:
    SomiaClient(timeout=httpx2.Timeout(5.0, connect=1.0))
    client.with_options(timeout=httpx2.Timeout(5.0))
    client.sessions.create_session(1, timeout=httpx2.Timeout(5.0))
    client.request("GET", "/api/v1/x", timeout=httpx2.Timeout(5.0))
    SomiaClient(timeout=httpx2.Limits())  # type: ignore[arg-type]


def users_hold_httpx_headers(client: SomiaClient, error: ApiError) -> None:
    assert_type(client.sessions.create_session(1).http.headers, httpx.Headers)
    assert_type(client.sessions.create_session(1, stream=True).http.headers, httpx.Headers)
    assert_type(error.headers, httpx.Headers)


async def async_users_hold_httpx_headers(client: AsyncSomiaClient) -> None:
    assert_type((await client.sessions.create_session(1)).http.headers, httpx.Headers)
    stream = await client.sessions.create_session(1, stream=True)
    assert_type(stream.http.headers, httpx.Headers)
