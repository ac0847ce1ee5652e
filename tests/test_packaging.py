"""The artifacts a release ships: built from the tree, checked as `make release-check` checks
them, and a wheel that installs into an empty virtualenv and runs."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from scripts import release_check

pytestmark = pytest.mark.slow  # drives subprocesses

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel (built from the sdist), through twine check --strict,
    check-wheel-contents and validate-pyproject."""
    out = tmp_path_factory.mktemp("dist")
    assert release_check.artifacts(ROOT, out) == []
    return out


def test_both_artifacts_carry_the_license_and_the_wheel_no_developer_extra(dist: Path) -> None:
    (wheel,) = dist.glob("somia-*.whl")
    (sdist,) = dist.glob("somia-*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    with tarfile.open(sdist) as archive:
        assert any(n.endswith("/LICENSE") for n in archive.getnames())
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("Provides-Extra") == [
        "batch",
        "httpx2",
        "otel",
        "ray",
        "ray-data",
        "testing",
    ]
    urls = {url.split(",")[0] for url in metadata.get_all("Project-URL") or []}
    assert urls == {"Source", "Documentation", "Changelog", "Issues"}


def test_check_wheel_contents_expects_what_the_wheel_ships() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    renamed = wheel.get("sources", {})
    shipped = {renamed.get(path, path).rsplit("/", 1)[-1] for path in wheel["only-include"]}
    assert set(pyproject["tool"]["check-wheel-contents"]["toplevel"]) == shipped


def test_the_classifiers_name_the_python_versions_ci_runs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    versions = {
        c.rsplit(" :: ", 1)[1]
        for c in pyproject["project"]["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    }
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in versions


def test_wheel_ships_both_packages_and_installs_into_an_empty_venv(
    dist: Path, tmp_path: Path
) -> None:
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
    # Nothing that does not ship (tests, scripts and their templates, docs) and no top-level
    # module beside the two packages (one console script, inside the package).
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    dist_info = entry_points.split("/")[0]
    assert {n.split("/")[0] for n in names} == {"somia", "somia_api", dist_info}
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
