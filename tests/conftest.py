"""Fixtures shared by the whole suite; their implementation is in tests/harness.py."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest

from somia.testing import FakeServer
from tests.harness import STACKS, Driver, ScriptedServer, Sdk, scripted_server


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test marked `both_stacks` that sends (through `stack` or `sdk`) runs on each library.
    if "stack" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stacks"):
        ids = [stack.__name__ for stack in STACKS]
        metafunc.parametrize("stack", STACKS, indirect=True, ids=ids)


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> ModuleType:
    """The HTTP library a test's clients send through: httpx (the SDK's own client), or in a
    `both_stacks` test each of `STACKS` in turn (httpx2: a caller's client)."""
    library: ModuleType = getattr(request, "param", httpx)
    return library


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted loopback server, stopped (at once) after the test."""
    with scripted_server() as srv:
        yield srv


@pytest.fixture(params=["sync", "async"])
def sdk(request: pytest.FixtureRequest, stack: ModuleType) -> Sdk:
    """SomiaClient, then AsyncSomiaClient, sending through `stack`: each test using it runs
    once for each."""
    return Sdk(request.param, stack)


@pytest.fixture
def driver(sdk: Sdk, somia_server: FakeServer) -> Iterator[Driver]:
    """An open client of either kind (the `sdk` fixture) on the fake server (`somia_server`)."""
    with sdk.connect(somia_server.base_url, api_key=somia_server.api_key) as open_client:
        yield open_client
