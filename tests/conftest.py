"""Fixtures shared by the whole suite; their implementation is in tests/harness.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness import ScriptedServer, Sdk, scripted_server


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted loopback server, stopped (at once) after the test."""
    with scripted_server() as srv:
        yield srv


@pytest.fixture(params=["sync", "async"])
def sdk(request: pytest.FixtureRequest) -> Sdk:
    """SomiaClient, then AsyncSomiaClient: each test using it runs once for each."""
    return Sdk(request.param)
