"""A fake Somia Agent API server, true to openapi/somia.yaml, for tests and demos.

Needs the `testing` extra (starlette and uvicorn)::

    from somia.testing import FakeServer

    with FakeServer() as server:
        ...  # point a client at server.base_url with server.api_key

`FakeSomia` holds the state (agents, sessions, faults, received requests) and its ASGI app;
`FakeServer` serves one over HTTP on loopback. The pytest plugin's `somia_server` fixture
yields a running `FakeServer`. `python -m somia.testing` runs one from the command line.
"""

from __future__ import annotations

from somia.testing._agents import Agent, Answer, Turn, echo_agent
from somia.testing._fake import FakeSomia, ReceivedRequest
from somia.testing._faults import Faults
from somia.testing._server import FakeServer

__all__ = [
    "Agent",
    "Answer",
    "FakeServer",
    "FakeSomia",
    "Faults",
    "ReceivedRequest",
    "Turn",
    "echo_agent",
]
