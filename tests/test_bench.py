"""scripts/bench.py keeps working: its smoke run measures every row and writes the table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # drives subprocesses

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("1a", "1b", "1c", "2", "3a", "3b", "4", "5", "6", "7", "8a", "8b", "9a", "9b")


def test_the_smoke_run_prints_and_writes_every_row(tmp_path: Path) -> None:
    output = tmp_path / "bench.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--smoke", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    written = output.read_text()
    assert written.strip() in done.stdout
    assert written.startswith("Machine: ")
    assert (
        "| row | measure | ours | baseline | ratio median [min, max] | target | met? |" in written
    )
    for key in ROWS:
        (line,) = [line for line in written.splitlines() if line.startswith(f"| {key} | ")]
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == 7, line
        assert all(cells), line
        assert cells[6] in {"(smoke)", "n/a"}, line  # a smoke run asserts no target
    assert "20/20 ok" in written  # every concurrent stream of the smoke run completed
    assert "smoke run" in written
