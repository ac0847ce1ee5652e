"""`make contract` (scripts/contract.py): what a user sees with and without its variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from broken_servers import Answer, Breakage, Request, reply, serving

from somia.testing import FakeSomia

pytestmark = pytest.mark.slow  # drives subprocesses

ROOT = Path(__file__).resolve().parents[2]


def run_script(**variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMIA_")}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "contract.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, **variables},
        check=False,
    )


def test_without_the_variables_it_fails_with_one_line_naming_them() -> None:
    done = run_script(SOMIA_AGENT_ID="3")

    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        "make contract: the live contract run needs SOMIA_CONTRACT_BASE_URL, SOMIA_API_KEY: set "
    )


def test_against_the_fake_it_passes_and_states_the_cost() -> None:
    with serving() as server:
        done = run_script(
            SOMIA_CONTRACT_BASE_URL=server.base_url,
            SOMIA_API_KEY=server.api_key,
            SOMIA_AGENT_ID="1",
            SOMIA_OTHER_AGENT_ID="2",
        )

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Somia contract run against http://127.0.0.1:")
    assert lines[0].endswith(": budget 15 paid turns, deadline 600 s")
    assert lines[1].startswith("passed: auth, agent-id, invalid-body, unknown-session, paid-turns")
    assert " of 15 paid turns spent, " in lines[-1]
    assert " requests sent, " in lines[-1]


def test_a_broken_promise_fails_with_its_line_first_and_never_shows_the_key() -> None:
    def forbid_or_echo(request: Request, fake: FakeSomia) -> Answer | None:
        key = request.headers.get(fake.api_key_header)
        if key != fake.api_key:
            return reply(403, {"detail": "Forbidden"})
        if "Grüße" in request.body.decode():  # the non-ASCII turn: a 500 that echoes the key
            return reply(500, {"detail": f"failed for key {key}"})
        return None

    with serving(Breakage(before=forbid_or_echo)) as server:
        done = run_script(
            SOMIA_CONTRACT_BASE_URL=server.base_url,
            SOMIA_API_KEY=server.api_key,
            SOMIA_AGENT_ID="1",
            SOMIA_OTHER_AGENT_ID="2",
        )

    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("FAIL [auth-wrong-key] a wrong API key is answered 401: POST ")
    assert lines[2].startswith("FAIL [auth-no-key] a request without the API key is answered 401")
    assert lines[3].startswith("FAIL [paid-turns] a valid turn (create, JSON, non-ASCII input)")
    assert server.api_key not in done.stdout + done.stderr
    assert "failed for key $SOMIA_API_KEY" in done.stdout
