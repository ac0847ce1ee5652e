"""Every code block of README.md runs, or is listed here with the reason it cannot.

Python blocks run against a fake server; the pytest example runs under pytest; shell blocks
run in bash with the installed `somia` command. The public URL, the placeholder keys and the
0.1.0a1 example's session id are replaced by the fake's, by plain string substitution.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from somia import SomiaClient
from somia.testing import FakeServer, FakeSomia, echo_agent

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
TIMEOUT = 60.0

PUBLIC_URL = "https://api.somia-platform.com"
EXAMPLE_SESSION = "550e8400-e29b-41d4-a716-446655440000"  # from the 0.1.0a1 example

# Blocks that cannot run in a test, each with the reason. A new or edited block that is
# neither runnable nor listed here fails test_every_block_is_run_or_listed.
NOT_RUN = {
    "make demo   # a streamed conversation with the fake server, through the somia command\n"
    "make test   # lint, type-check, generated-code drift check and the whole test suite\n": (
        "make test runs this suite itself; the demo script runs in tests/test_demo.py"
    ),
    'pip install somia               # the SDK\npip install "somia[testing]"    # plus the '
    "fake server and its pytest plugin\n": "installs from the package index",
    "somia chat 123                            # one session; /exit or Ctrl-D ends it\n"
    "somia fake-server --port 8765 --any-agent  # the fake server, until Ctrl-C\n": (
        "interactive, and serving until stopped: tests/test_cli.py drives both"
    ),
    "make generate          # regenerate generated/somia_api from openapi/somia.yaml\n"
    "make check-generated   # fail with a diff when generated/ is stale (make test runs it)\n": (
        "rewrites generated/; make test runs check-generated"
    ),
    "make api-diff BASE=v0.2.0a1\nmake api-diff BASE=main FAIL_ON=warning\n": (
        "needs a release tag; tests/test_api_diff.py runs make api-diff on a scratch repository"
    ),
    "SOMIA_CONTRACT_BASE_URL=https://api.somia-platform.com \\\nSOMIA_API_KEY=your_api_key \\\n"
    "SOMIA_AGENT_ID=123 \\\nmake contract\n": "needs a live deployment and runs paid turns",
    'pip install "somia[otel]" opentelemetry-sdk opentelemetry-distro\n': (
        "installs from the package index (the dev extra has them)"
    ),
}
# Python blocks that set process-wide state (a global tracer provider): each runs in a fresh
# interpreter in the test named here, not in this process.
RUN_ELSEWHERE = {"trace.set_tracer_provider(provider)": "tests/test_tracing.py"}

SECTIONS = [
    "Set up, on a fresh machine",
    "Install",
    "Quickstart",
    "Continuing sessions, and `run`",
    "Streaming",
    "Async",
    "Configuration and environment variables",
    "Errors and the retry policy",
    "Tracing with OpenTelemetry",
    "Testing your code against the fake server",
    "The command line",
    "Regenerating the client when the API changes",
    "Contract-testing a live deployment",
    "Performance",
    "Moving from 0.1.0a1",
]


def _blocks() -> list[tuple[int, str, str]]:
    """(line, language, code) of every fenced block."""
    return [
        (README.count("\n", 0, m.start()) + 1, m.group(1).strip(), m.group(2))
        for m in FENCE.finditer(README)
    ]


def _runnable(kind: str) -> list[pytest.ParameterSet]:
    return [
        pytest.param(line, code, id=f"line{line}")
        for line, language, code in _blocks()
        if code not in NOT_RUN and _kind(language, code) == kind
    ]


# Shell blocks run only when made of these commands: anything else (pip, make, git) must be
# listed in NOT_RUN rather than run by accident.
SHELL_COMMANDS = {"export", "somia", "echo", "opentelemetry-instrument"}


def _kind(language: str, code: str) -> str:
    if language == "text":  # output shown: tests/test_api_diff.py checks the api-diff ones
        return "output"
    if language == "python" and any(marker in code for marker in RUN_ELSEWHERE):
        return "run elsewhere"
    if language == "python":
        return "pytest" if re.search(r"^def test_", code, re.MULTILINE) else "python"
    if language != "sh":
        return f"unknown language {language!r}"
    commands = {line.split()[0] for line in code.splitlines() if line.strip()}
    return "shell" if commands <= SHELL_COMMANDS else "unknown shell commands"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    # The README's examples use agent 123; the fake's default agent 1 stays too.
    with FakeServer(FakeSomia(agents={1: echo_agent, 123: echo_agent})) as running:
        yield running


@pytest.fixture(scope="module")
def session_id(server: FakeServer) -> str:
    with SomiaClient(base_url=server.base_url, api_key=server.api_key) as client:
        return client.sessions.create_session(agent_id=123, input_data="Hello").session_id


def _localise(code: str, server: FakeServer, session_id: str) -> str:
    return (
        code.replace(PUBLIC_URL, server.base_url)
        .replace("your_api_key", server.api_key)
        .replace('"..."', f'"{server.api_key}"')
        .replace(EXAMPLE_SESSION, session_id)
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMIA_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_every_block_is_run_or_listed() -> None:
    blocks = _blocks()
    unknown = [
        (line, language)
        for line, language, code in blocks
        if code not in NOT_RUN and _kind(language, code).startswith("unknown")
    ]
    assert unknown == [], "cover these README blocks in tests/test_readme.py"
    listed = {code for _, _, code in blocks}
    assert set(NOT_RUN) <= listed, "NOT_RUN lists blocks the README no longer has"
    assert README.count("```") == 2 * len(blocks), "a fence the parser did not pair"


def test_sections_come_in_the_order_a_new_user_needs() -> None:
    headings = re.findall(r"^## (.+)$", README, re.MULTILINE)
    assert headings == SECTIONS
    assert "make demo" in README
    assert "make test" in README
    assert "\n<!-- bench-table -->\n" in README


@pytest.mark.parametrize(("line", "code"), _runnable("python"))
def test_python_block_runs(
    line: int, code: str, server: FakeServer, session_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOMIA_BASE_URL", server.base_url)
    monkeypatch.setenv("SOMIA_API_KEY", server.api_key)
    # Leading newlines make a traceback point at the README's own line numbers.
    source = "\n" * line + _localise(code, server, session_id)
    exec(compile(source, str(ROOT / "README.md"), "exec"), {"__name__": "readme_example"})


@pytest.mark.slow
@pytest.mark.parametrize(("line", "code"), _runnable("pytest"))
def test_pytest_example_passes(line: int, code: str, tmp_path: Path) -> None:
    (tmp_path / "test_readme_example.py").write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_readme_example.py"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b\d+ passed\b", result.stdout)
    assert "failed" not in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("line", "code"), _runnable("shell"))
def test_shell_block_runs(
    line: int, code: str, server: FakeServer, session_id: str, tmp_path: Path
) -> None:
    assert (Path(sys.executable).parent / "somia").exists(), "the somia script is not installed"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _localise(code, server, session_id)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "You said:" in result.stdout
