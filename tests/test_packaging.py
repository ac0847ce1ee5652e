"""A wheel built from the tree installs into an empty virtualenv and imports."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

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
    } <= names
    assert not any(n.startswith(("tests/", "generated/")) for n in names)

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
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
