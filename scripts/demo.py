"""`make demo`: a streamed two-turn conversation through `somia run`, against the fake server.

Starts the fake Somia server on a free loopback port, runs two streamed turns (the second
continues the session whose id the first printed on stderr), shows an error handled, then
stops the server. Exits 0 only if every step did what it shows; leaves nothing running.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from scripts._server_process import first_line, stop

SOMIA = [sys.executable, "-m", "somia"]
FAKE_KEY = "sk-fake-somia"  # the fake server's default key
STEP_TIMEOUT = 30.0  # seconds; no step needs more than a few


class DemoError(Exception):
    """A step did not do what the demo shows."""


def say(text: str) -> None:
    print(text, flush=True)


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    """Start `somia fake-server` on a free port; return it and its base URL."""
    # A small pause between events makes the streaming visible.
    args = ["fake-server", "--port", "0", "--event-delay", "0.15", "--log-level", "WARNING"]
    say(f"$ {shlex.join(['somia', *args])} &")
    server = subprocess.Popen([*SOMIA, *args], stdout=subprocess.PIPE)
    line = first_line(server, STEP_TIMEOUT)
    if line is None or " on " not in line:
        stop(server)
        raise DemoError("the fake server did not start")
    say(f"{line}; pid {server.pid}")
    return server, line.split(" on ", 1)[1].split()[0]


def somia(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `somia ARGS`, its answer streaming to our stdout; return its status and stderr."""
    say(f"$ {shlex.join(['somia', *args])}")
    done = subprocess.run(
        [*SOMIA, *args], env=env, stderr=subprocess.PIPE, text=True, timeout=STEP_TIMEOUT
    )
    for line in done.stderr.splitlines():  # shown in order with the answer, marked
        say(f"[stderr] {line}")
    return done.returncode, done.stderr


def session_of(stderr: str) -> str:
    for line in stderr.splitlines():
        if line.startswith("session: "):
            return line.removeprefix("session: ")
    raise DemoError("somia run printed no session id")


def conversation(env: dict[str, str]) -> None:
    say("\n# 1. A streamed turn: the answer arrives piece by piece; the session id on stderr.")
    status, stderr = somia(["run", "1", "Hello, Somia! What can you do?"], env)
    if status != 0:
        raise DemoError(f"the first turn failed with exit status {status}")
    session = session_of(stderr)

    say("\n# 2. The next turn continues that session with --session.")
    status, stderr = somia(["run", "1", "Tell me more, please.", "--session", session], env)
    if status != 0:
        raise DemoError(f"the second turn failed with exit status {status}")
    if session_of(stderr) != session:
        raise DemoError("the second turn did not continue the first session")
    say(f"(both turns ran in session {session})")

    say("\n# 3. An error, handled: agent 999 does not exist -> one line, exit status 1.")
    status, _ = somia(["run", "999", "Anyone there?"], env)
    if status != 1:
        raise DemoError(f"expected exit status 1 for an unknown agent, got {status}")
    say(f"(exit status {status})")


def main() -> int:
    """Run the demo; 0 when every step did what it shows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMIA_")}
    say("# Starting the fake Somia server (the real API's twin, for tests and demos).")
    try:
        server, base_url = start_server()
    except DemoError as exc:
        say(f"demo failed: {exc}")
        return 1
    env.update(SOMIA_BASE_URL=base_url, SOMIA_API_KEY=FAKE_KEY)
    say(f"$ export SOMIA_BASE_URL={base_url} SOMIA_API_KEY={FAKE_KEY}")
    try:
        conversation(env)
    except (DemoError, subprocess.TimeoutExpired) as exc:
        say(f"demo failed: {exc}")
        return 1
    finally:
        stop(server)
        say(f"\n# Fake server (pid {server.pid}) stopped.")
    say("Demo done: see README.md for the SDK, the command line and `make test`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
