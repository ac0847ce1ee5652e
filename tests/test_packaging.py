"""A wheel built from the tree installs into an empty virtualenv and imports."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # drives subprocesses

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_both_packages_and_installs_into_an_empty_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("somia-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "somia/__init__.py",
        "somia/py.typed",
        "somia_api/__init__.py",
        "somia_api/py.typed",
        "somia_api/facts.py",  # what the curated layer reads, compiled from the document
        "somia_api/openapi.json",  # the document the fake server validates with
    } <= names
    assert not any(n.startswith(("tests/", "generated/")) for n in names)
    # One console script, inside the package: no top-level module of its own.
    assert {n.split("/")[0] for n in names if n.endswith(".py")} == {"somia", "somia_api"}
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[console_scripts]\nsomia = somia._cli:main\n" in scripts

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    subprocess.run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"somia[testing] @ {wheel.as_uri()}",
        ],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [str(py), "-c", "import somia, somia_api; print(somia.__version__, somia_api.__name__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout.split()
    assert out[1] == "somia_api"
    version = re.search(r'__version__ = "([^"]+)"', (ROOT / "somia/_version.py").read_text())
    assert version
    assert out[0] == version.group(1)

    # A call against the fake server, both running from the installed wheel alone.
    call = subprocess.run(
        [str(py), "-c", _CALL_THE_FAKE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert call.returncode == 0, call.stderr
    assert call.stdout.split() == ["answered", "refused-by-sdk", "refused-by-fake"]


_CALL_THE_FAKE = """
import httpx, somia
from somia.testing import FakeServer

assert "site-packages" in somia.__file__
with FakeServer() as server, somia.SomiaClient(
    base_url=server.base_url, api_key=server.api_key
) as client:
    answer = client.sessions.create_session(1, input_data="hello")
    assert answer.session_id and answer.pending is False
    print("answered")
    try:
        client.sessions.create_session(1, pipeline_version=1.5)
    except TypeError:
        print("refused-by-sdk")
    reply = httpx.post(
        server.base_url + "/api/v1/external/agent/1/session",
        headers=server.headers,
        json={"trace_enabled": "yes"},
    )
    if reply.status_code == 422:
        print("refused-by-fake")
"""
