"""The public types where httpx2 is not installed: tests/typing/ checks them with httpx2 (the
dev group has it); here mypy --strict checks a user's module against a Python that has the
SDK and httpx but no httpx2, as most users' environments are: the same types, no error, and a
client of the wrong kind or a wrong timeout still refused (an unused ignore would fail)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a venv and a cold mypy run

ROOT = Path(__file__).resolve().parent.parent
# What a user's module and the SDK's annotations name, linked from this venv: not httpx2.
PACKAGES = ("httpx", "httpcore", "h11", "anyio", "idna", "certifi", "attr", "attrs")

USER_MODULE = """
from typing import assert_type

import httpx

from somia import AsyncSomiaClient, SomiaClient

client = SomiaClient(http_client=httpx.Client(), timeout=httpx.Timeout(5.0))
assert_type(client.sessions.create_session(1).http.headers, httpx.Headers)
assert_type(client.with_options(timeout=2.0), SomiaClient)
assert_type(AsyncSomiaClient(http_client=httpx.AsyncClient()), AsyncSomiaClient)
SomiaClient(http_client=httpx.AsyncClient())  # type: ignore[arg-type]
AsyncSomiaClient(http_client=httpx.Client())  # type: ignore[arg-type]
SomiaClient(timeout=httpx.Limits())  # type: ignore[arg-type]
"""


def test_a_user_without_httpx2_type_checks_the_sdk_cleanly(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for name in PACKAGES:
        package = Path(importlib.import_module(name).__file__ or "").parent
        (Path(site) / name).symlink_to(package)
    (Path(site) / "somia-dev.pth").write_text(f"{ROOT}\n{ROOT / 'generated'}\n")
    absent = subprocess.run([python, "-c", "import httpx2"], capture_output=True, check=False)
    assert absent.returncode != 0  # the user's Python has no httpx2
    (tmp_path / "app.py").write_text(USER_MODULE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-executable",
            str(python),
            "--cache-dir",
            str(tmp_path / "cache"),
            "app.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
