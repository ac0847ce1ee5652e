"""The pytest plugin of somia.testing, and what importing the package costs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from somia.testing import FakeServer
from tests.testing.fake_helpers import create_url, post

USER_TESTS = """
import httpx
import pytest
from somia.testing import FakeSomia


def test_plain():
    assert True


@pytest.fixture
def somia_fake():
    return FakeSomia(api_key="user-key")


def test_with_server(somia_server):
    url = somia_server.base_url + "/api/v1/external/agent/1/session"
    response = httpx.post(url, json={"input_data": "hi"}, headers=somia_server.headers)
    assert response.json()["message"] == "You said: hi"
    assert somia_server.api_key == "user-key"
"""

# Runs pytest as a user without the `testing` extra would: starlette and uvicorn unimportable.
WITHOUT_EXTRA = """
import sys
sys.modules["starlette"] = None
sys.modules["uvicorn"] = None
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""

# Other plugins of this environment, slow to load and beside the point here.
QUIET_PLUGINS = ["-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest"]


def run_pytest(tmp_path: Path, *, without_extra: bool = False) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    runner = ["-c", WITHOUT_EXTRA] if without_extra else ["-m", "pytest"]
    return subprocess.run(
        [sys.executable, *runner, "-q", *QUIET_PLUGINS, "."],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )


def test_the_fixture_serves_a_fresh_fake_per_test(somia_server: FakeServer) -> None:
    response = post(create_url(somia_server), json={}, headers=somia_server.headers)

    assert response.status_code == 200
    assert len(somia_server.requests) == 1


@pytest.mark.slow
def test_users_get_the_fixture_from_the_installed_plugin(tmp_path: Path) -> None:
    result = run_pytest(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.slow
def test_pytest_still_runs_without_the_testing_extra(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, without_extra=True)

    assert "1 passed" in result.stdout, result.stdout + result.stderr
    assert "1 error" in result.stdout or "1 failed" in result.stdout
    assert "pip install 'somia[testing]'" in result.stdout


@pytest.mark.slow
def test_importing_the_plugin_or_somia_loads_no_server_dependency() -> None:
    heavy = "('starlette', 'uvicorn', 'somia.testing._app')"
    code = (
        "import sys, somia, somia.testing._pytest_plugin; "
        f"print(sorted(m for m in {heavy} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_import_somia_does_not_import_somia_testing() -> None:
    code = "import sys, somia; print('somia.testing' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "False"
