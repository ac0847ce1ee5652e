"""Every code block of the README, CONTRIBUTING.md and the docs pages runs as a reader would
run it: pasted on its own into a file, with `somia fake-server --any-agent` serving and the
two variables the docs tell readers to export.

Python blocks run in a fresh interpreter each (`-W error`); a block defining `test_`
functions runs under pytest; shell blocks made of `somia`, `export` and `echo` run in bash.
The 0.1.0a1 examples, kept verbatim on the migration page, name the hosted platform: they run
with the fake's URL, key and a session of its own in place of theirs. Sybil finds the blocks.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sybil import Example, Sybil
from sybil.parsers.markdown import CodeBlockParser

from scripts import _server_process as server_process
from somia import SomiaClient
from somia.testing.__main__ import DEFAULT_PORT
from somia.testing._fake import DEFAULT_API_KEY

pytestmark = pytest.mark.slow  # each block runs in a process of its own

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    *sorted((ROOT / "docs").rglob("*.md")),
]
TIMEOUT = 60.0
NOT_RUNNABLE = "# not runnable: "

# What the docs tell a reader to export, in the README's Quickstart and on the docs' home page.
EXPORT = f"export SOMIA_BASE_URL=http://127.0.0.1:{DEFAULT_PORT} SOMIA_API_KEY={DEFAULT_API_KEY}"
DOCS_URL = f"http://127.0.0.1:{DEFAULT_PORT}"

# The 0.1.0a1 examples' own URL, keys and session, replaced by the fake's.
HOSTED_URL = "https://api.somia-platform.com"
EXAMPLE_SESSION = "550e8400-e29b-41d4-a716-446655440000"

# A shell block runs when it is made of these commands and neither serves nor waits for input.
SHELL_COMMANDS = {"export", "somia", "echo", "opentelemetry-instrument"}
NOT_RUN_SHELL = ("somia fake-server", "somia chat")


def _language(example: Example) -> str:
    return str(example.region.lexemes["arguments"]).strip()


SYBIL = Sybil(parsers=[CodeBlockParser(language) for language in ("python", "sh")])


def _blocks() -> Iterator[Example]:
    for path in DOCUMENTS:
        yield from SYBIL.parse(path)


def _command(line: str) -> str:
    """The command a shell line runs, after any `NAME=value` assignments for it."""
    words = line.split()
    while len(words) > 1 and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words.pop(0)
    return words[0]


def _kind(example: Example) -> str:
    code = str(example.parsed)
    if _language(example) == "sh":
        commands = {_command(line) for line in code.splitlines() if line.strip()}
        if commands <= SHELL_COMMANDS and not any(cmd in code for cmd in NOT_RUN_SHELL):
            return "shell"
        return "not run"  # pip, make, git, a server: other tests cover what they name
    if code.startswith(NOT_RUNNABLE):
        return "not runnable"
    if re.search(r"^def test_", code, re.MULTILINE):
        return "pytest"
    return "python"


def _param(example: Example) -> pytest.ParameterSet:
    where = f"{Path(example.path).relative_to(ROOT)}:{example.line}"
    return pytest.param(example, id=where)


BLOCKS = list(_blocks())


def _of(*kinds: str) -> list[pytest.ParameterSet]:
    return [_param(example) for example in BLOCKS if _kind(example) in kinds]


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    """`somia fake-server --any-agent`, as the docs start it, on a free port: its base URL."""
    command = [str(Path(sys.executable).parent / "somia"), "fake-server", "--any-agent"]
    process = subprocess.Popen(
        [*command, "--port", "0", "--log-level", "WARNING"], stdout=subprocess.PIPE
    )
    try:
        line = server_process.first_line(process, TIMEOUT) or ""
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url is not None, f"somia fake-server did not start: {line!r}"
        # The line the quickstart quotes, on the default port.
        quickstart = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
        assert f"`{line.replace(url.group(0), DOCS_URL)}`" in quickstart
        yield url.group(0)
    finally:
        server_process.stop(process)


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOMIA_", "OTEL_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(SOMIA_BASE_URL=url, SOMIA_API_KEY=DEFAULT_API_KEY)
    return env


def _localise(code: str, url: str) -> str:
    """A verbatim 0.1.0a1 example, pointed at the fake with a session that exists there."""
    with SomiaClient(base_url=url, api_key=DEFAULT_API_KEY) as client:
        session = client.sessions.create_session(agent_id=123, input_data="Hello").session_id
    return (
        code.replace(HOSTED_URL, url)
        .replace("your_api_key", DEFAULT_API_KEY)
        .replace('"..."', f'"{DEFAULT_API_KEY}"')
        .replace(EXAMPLE_SESSION, session)
    )


def _run(command: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=_env(url), capture_output=True, text=True, timeout=TIMEOUT
    )


def _failure(example: Example, done: subprocess.CompletedProcess[str]) -> str:
    return f"{example.path}:{example.line} exited {done.returncode}\n{done.stdout}{done.stderr}"


def test_the_docs_tell_where_a_reader_starts() -> None:
    for page in ("README.md", "docs/index.md", "docs/quickstart.md"):
        text = (ROOT / page).read_text(encoding="utf-8")
        assert "somia fake-server --any-agent\n" in text, page
        assert EXPORT + "\n" in text, page


def test_only_the_0_1_0a1_examples_name_the_hosted_platform() -> None:
    naming = {
        str(Path(example.path).relative_to(ROOT))
        for example in BLOCKS
        if _language(example) == "python" and f'base_url="{HOSTED_URL}"' in str(example.parsed)
    }
    assert naming == {"docs/migration.md"}


def test_blocks_that_cannot_run_are_rare_and_say_why() -> None:
    reasons = [str(e.parsed).splitlines()[0] for e in BLOCKS if _kind(e) == "not runnable"]
    assert all(len(reason) > len(NOT_RUNNABLE) + 10 for reason in reasons), reasons
    assert len(reasons) <= 3, reasons
    assert len(_of("python")) >= 40  # the blocks were found


@pytest.mark.parametrize("example", _of("python"))
def test_python_block_runs(example: Example, fake_server: str, tmp_path: Path) -> None:
    code = str(example.parsed)
    if HOSTED_URL in code:
        code = _localise(code, fake_server)
    # Leading newlines make a traceback point at the page's own line numbers.
    (tmp_path / "example.py").write_text("\n" * example.line + code, encoding="utf-8")
    done = _run([sys.executable, "-W", "error", "example.py"], fake_server, tmp_path)
    assert done.returncode == 0, _failure(example, done)


@pytest.mark.parametrize("example", _of("pytest"))
def test_pytest_block_passes(example: Example, fake_server: str, tmp_path: Path) -> None:
    (tmp_path / "test_docs_example.py").write_text(str(example.parsed), encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    done = _run([*command, "test_docs_example.py"], fake_server, tmp_path)
    assert done.returncode == 0, _failure(example, done)
    assert re.search(r"\b\d+ passed\b", done.stdout)
    assert "failed" not in done.stdout


@pytest.mark.parametrize("example", _of("shell"))
def test_shell_block_runs(example: Example, fake_server: str, tmp_path: Path) -> None:
    code = str(example.parsed).replace(DOCS_URL, fake_server)
    done = _run(["bash", "-euo", "pipefail", "-c", code], fake_server, tmp_path)
    assert done.returncode == 0, _failure(example, done)
    assert "Traceback" not in done.stderr
