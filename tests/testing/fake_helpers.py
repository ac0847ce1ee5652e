"""Helpers of the fake server's tests: URLs and reading Server-Sent Events off the wire."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from somia.testing import FakeServer

# httpx builds an SSL context per client (about 60 ms); these tests speak plain HTTP.
_TLS = ssl.create_default_context()


def http_client(server: FakeServer | None = None, **options: Any) -> httpx.Client:
    """An HTTP client, with the server's key header when `server` is given."""
    if server is not None:
        options["headers"] = {**server.headers, **options.get("headers", {})}
    options.setdefault("timeout", 5)
    return httpx.Client(verify=_TLS, **options)


def post(url: str, **options: Any) -> httpx.Response:
    """One POST without a key unless `headers` has one."""
    with http_client() as client:
        return client.post(url, **options)


def create_url(server: FakeServer, agent_id: int | str = 1) -> str:
    """The createSession URL of `agent_id`."""
    return f"{server.base_url}/api/v1/external/agent/{agent_id}/session"


def continue_url(server: FakeServer, session_id: str, agent_id: int | str = 1) -> str:
    """The interactSession URL of a session."""
    return f"{create_url(server, agent_id)}/{session_id}"


@dataclass(frozen=True)
class Event:
    """One event read off a stream, with when it arrived."""

    data: str
    name: str | None
    arrived: float

    def json(self) -> Any:
        return json.loads(self.data)


def iter_events(response: httpx.Response) -> Iterator[Event]:
    """The events of a streamed response, yielded as each arrives."""
    buffer = ""
    for text in response.iter_text():
        buffer += text
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            data = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
            names = [line[7:] for line in block.split("\n") if line.startswith("event: ")]
            yield Event("\n".join(data), names[0] if names else None, time.monotonic())


def read_events(client: httpx.Client, url: str, headers: dict[str, str], body: Any) -> list[Event]:
    """POST `body` and read every event of the streamed answer."""
    with client.stream("POST", url, json=body, headers=headers) as response:
        assert response.status_code == 200, response.read()
        return list(iter_events(response))
