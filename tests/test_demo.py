"""`make demo`'s script: a streamed two-turn conversation and an error, nothing left running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # drives subprocesses

ROOT = Path(__file__).resolve().parent.parent


def test_demo_streams_two_turns_in_one_session_shows_an_error_and_stops_the_server() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMIA_")}
    result = subprocess.run(
        [sys.executable, "-m", "scripts.demo"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    out = result.stdout

    assert result.returncode == 0, out + result.stderr
    assert "You said: Hello, Somia! What can you do?\n" in out
    assert "You said: Tell me more, please.\n" in out
    sessions = re.findall(r"^\[stderr\] session: (\S+)$", out, re.MULTILINE)
    assert len(sessions) == 2
    assert sessions[0] == sessions[1]
    assert re.search(r"^\[stderr\] somia: error: 404 Not Found: Agent not found", out, re.M)
    assert "(exit status 1)" in out

    pid = int(re.findall(r"pid (\d+)", out)[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the fake server (pid {pid}) is still running")
