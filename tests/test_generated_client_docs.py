"""docs/generated-client.md: each Python block runs as is against the fake server.

As a reader would run it: on its own, in a fresh interpreter, with `SOMIA_BASE_URL` and
`SOMIA_API_KEY` exported for a fake server that answers every agent id.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from somia.testing import FakeServer, FakeSomia, echo_agent

PAGE = Path(__file__).resolve().parent.parent / "docs" / "generated-client.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.M | re.S)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer(FakeSomia(default_agent=echo_agent)) as server:
        yield server


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_each_python_block_runs_against_the_fake_server(server: FakeServer, code: str) -> None:
    env = {**os.environ, "SOMIA_BASE_URL": server.base_url, "SOMIA_API_KEY": server.api_key}
    before = len(server.fake.requests)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    sent = server.fake.requests[before:]
    assert sent, "the block sent nothing"
    assert [request.status for request in sent] == [200] * len(sent)
    assert "You said: Hello" in result.stdout
