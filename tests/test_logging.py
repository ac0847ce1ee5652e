"""`SOMIA_LOG`: the `somia` logger's output on stderr without code, read when a client is
made; nothing printed without it. Each case runs in a fresh interpreter (the switch is
process-wide)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from somia.testing import FakeServer

pytestmark = pytest.mark.slow  # starts interpreters

# A call that is retried once (the fake answers 503 first), on a client made from the
# environment; the script prints nothing itself.
CALL = """
from somia import SomiaClient
with SomiaClient(retry_backoff_seconds=0.001) as client:
    client.sessions.create_session(1, input_data="hi")
"""


def _run(server: FakeServer, code: str = CALL, **env: str) -> str:
    """The stderr of `code`, run against `server` (whose next answer is a 503) with `env`
    added."""
    server.faults.fail_next(1, status=503)
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOMIA_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "SOMIA_BASE_URL": server.base_url, "SOMIA_API_KEY": server.api_key, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert server.api_key not in result.stderr
    return result.stderr


def test_debug_prints_a_line_per_request_and_each_retry(somia_server: FakeServer) -> None:
    lines = _run(somia_server, SOMIA_LOG="debug").splitlines()
    path = "POST /api/v1/external/agent/1/session"
    assert len(lines) == 3, lines
    assert re.fullmatch(
        rf".* somia DEBUG {path} -> 503 \(attempt 1, [\d.]+ ms, request id req_\w+\)", lines[0]
    )
    assert re.fullmatch(rf".* somia INFO {path} failed \(status 503\); retry 1 in .*", lines[1])
    assert re.fullmatch(rf".* somia DEBUG {path} -> 200 \(attempt 2, [\d.]+ ms, .*\)", lines[2])


def test_info_prints_only_the_retries(somia_server: FakeServer) -> None:
    lines = _run(somia_server, SOMIA_LOG="INFO").splitlines()
    assert len(lines) == 1
    assert "retry 1 in" in lines[0]


def test_nothing_is_printed_without_it(somia_server: FakeServer) -> None:
    assert _run(somia_server) == ""


def test_an_unknown_value_warns_once_and_prints_nothing_else(somia_server: FakeServer) -> None:
    twice = CALL + CALL.replace('input_data="hi"', 'input_data="again"')
    stderr = _run(somia_server, twice, SOMIA_LOG="verbose")
    assert stderr.count("UserWarning: SOMIA_LOG='verbose' is ignored: use debug or info") == 1
    assert "retry" not in stderr


def test_a_request_id_echoing_the_key_is_redacted(somia_server: FakeServer) -> None:
    code = f"""
import httpx
from somia import SomiaClient

def answer(request):
    echoed = {{"x-request-id": "{somia_server.api_key}"}}
    return httpx.Response(200, json={{"session_id": "s"}}, headers=echoed)

with SomiaClient(http_client=httpx.Client(transport=httpx.MockTransport(answer))) as client:
    client.sessions.create_session(1)
"""
    stderr = _run(somia_server, code, SOMIA_LOG="debug")
    assert "request id <redacted>)" in stderr


def test_the_docs_logging_example_prints_only_the_sdks_lines(somia_server: FakeServer) -> None:
    page = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    (example,) = [
        block
        for block in re.findall(r"```python\n(.*?)```", page, re.DOTALL)
        if "logging.basicConfig" in block
    ]

    lines = _run(somia_server, example).splitlines()

    assert any(" DEBUG POST " in line for line in lines)
    assert [line for line in lines if not line.startswith("somia ")] == []
