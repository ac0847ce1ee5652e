"""Fixtures of the fake server's tests; plain helpers are in fake_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from somia.testing import FakeServer
from tests.testing.fake_helpers import http_client


@pytest.fixture
def client(somia_server: FakeServer) -> Iterator[httpx.Client]:
    """An HTTP client that sends the fake server's key."""
    with http_client(somia_server) as client:
        yield client
