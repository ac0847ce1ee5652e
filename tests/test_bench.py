"""`make bench` keeps working: its smoke run measures every row and writes the table, and
docs/performance.md reports exactly those rows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("1a", "1b", "1c", "3a", "3b", "5", "6", "8a", "8b", "9a", "9b")


@pytest.mark.slow  # drives subprocesses
def test_the_smoke_run_prints_and_writes_every_row(tmp_path: Path) -> None:
    output = tmp_path / "bench.md"
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench", "--smoke", "--output", str(output)],
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
    assert "smoke run" in written


def test_the_performance_page_reports_exactly_the_rows_the_bench_makes() -> None:
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| (\w+) \| ", page, flags=re.MULTILINE)
    assert table[1:] == list(ROWS)  # after the header row
    named = set(re.findall(r"\brows? (\d+[a-z]?)\b", page))
    named |= set(re.findall(r"\brows? \d+[a-z]? and (\d+[a-z]?)\b", page))
    assert named <= {*ROWS, *(key.rstrip("abc") for key in ROWS)}, "the page names rows it has not"
