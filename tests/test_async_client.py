"""AsyncSomiaClient: its own lifecycle; the shared retry rules run in test_client.py."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from scripted_server import Reply, scripted_server

from somia import AsyncAgentSessionsClient, AsyncSomiaClient

OK = Reply(200, {"session_id": "s-1", "message": "hi"})


def test_async_with_closes_the_clients_own_connections() -> None:
    async def run() -> AsyncSomiaClient:
        with scripted_server() as server:
            server.script(OK)
            async with AsyncSomiaClient(base_url=server.base_url, api_key="k") as client:
                answer = await client.sessions.create_session(1, input_data="x")
                assert answer.message == "hi"
            return client

    client = asyncio.run(run())
    assert client._pool.http.is_closed


def test_calls_run_concurrently_on_one_client() -> None:
    async def run() -> list[str]:
        with scripted_server() as server:
            server.script(*[OK] * 20)
            async with AsyncSomiaClient(base_url=server.base_url, api_key="k") as client:
                answers = await asyncio.gather(
                    *(client.sessions.create_session(1, input_data=i) for i in range(20))
                )
                inputs = sorted(r.json()["input_data"] for r in server.received)
                assert inputs == list(range(20))
                return [a.session_id for a in answers]

    assert asyncio.run(run()) == ["s-1"] * 20


def test_a_sync_http_client_is_refused() -> None:
    with pytest.raises(TypeError, match=r"http_client must be an httpx\.AsyncClient"):
        AsyncSomiaClient(api_key="k", http_client=httpx.Client())  # type: ignore[arg-type]


def test_agents_is_the_async_sessions_client_and_repr_hides_the_key() -> None:
    client = AsyncSomiaClient(api_key="sk-very-secret", base_url="https://x.example")
    assert isinstance(client.agents, AsyncAgentSessionsClient)
    assert client.agents is client.sessions
    assert "sk-very-secret" not in repr(client)
    assert "https://x.example" in repr(client)
    asyncio.run(client.aclose())


def test_from_env_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", "https://env.example")
    monkeypatch.setenv("SOMIA_API_KEY", "from-env")
    client = AsyncSomiaClient.from_env(timeout=3)
    assert client.base_url == "https://env.example"
    assert client._config.timeout.read == 3
    asyncio.run(client.aclose())
