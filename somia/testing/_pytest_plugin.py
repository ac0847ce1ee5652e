"""pytest plugin of somia.testing: the `somia_fake` and `somia_server` fixtures.

Loaded through the `pytest11` entry point, so it imports only pytest here; the server and
its dependencies (the `testing` extra) are imported when a test asks for a fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from somia.testing import FakeServer, FakeSomia


@pytest.fixture
def somia_fake() -> FakeSomia:
    """The fake Somia API that `somia_server` serves; override it to configure the fake."""
    from somia.testing import FakeSomia

    return FakeSomia()


@pytest.fixture
def somia_server(somia_fake: FakeSomia) -> Iterator[FakeServer]:
    """A fake Somia server running on loopback for one test.

    It has `base_url`, `api_key`, `api_key_header`, `headers`, `faults` and `requests`.
    """
    from somia.testing import FakeServer

    with FakeServer(somia_fake) as server:
        yield server
