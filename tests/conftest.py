"""Fixtures shared by the whole suite; their implementation is in tests/harness.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from somia.testing import FakeServer
from tests.harness import Driver, ScriptedServer, Sdk, scripted_server


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted loopback server, stopped (at once) after the test."""
    with scripted_server() as srv:
        yield srv


@pytest.fixture(params=["sync", "async"])
def sdk(request: pytest.FixtureRequest) -> Sdk:
    """SomiaClient, then AsyncSomiaClient: each test using it runs once for each."""
    return Sdk(request.param)


@pytest.fixture
def driver(sdk: Sdk, somia_server: FakeServer) -> Iterator[Driver]:
    """An open client of either kind (the `sdk` fixture) on the fake server (`somia_server`)."""
    with sdk.connect(somia_server.base_url, api_key=somia_server.api_key) as open_client:
        yield open_client
