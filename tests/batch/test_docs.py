"""Every Python example of docs/batch.md runs as a reader would paste it: against the fake
server, with SOMIA_BASE_URL and SOMIA_API_KEY exported, in a folder of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from somia.testing import FakeServer, FakeSomia, echo_agent

PAGE = Path(__file__).resolve().parents[2] / "docs" / "batch.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", PAGE.read_text(encoding="utf-8"), re.M | re.S)
RUNNABLE = [code for code in BLOCKS if not code.startswith("# not runnable: ")]


def test_the_page_has_runnable_examples() -> None:
    assert len(RUNNABLE) >= 4
    assert len(BLOCKS) - len(RUNNABLE) <= 2  # a block that cannot run alone stays rare


@pytest.mark.parametrize("code", RUNNABLE)
def test_each_python_example_runs_against_the_fake_server(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with FakeServer(FakeSomia(default_agent=echo_agent)) as server:
        monkeypatch.setenv("SOMIA_BASE_URL", server.base_url)
        monkeypatch.setenv("SOMIA_API_KEY", server.api_key)
        exec(compile(code, str(PAGE), "exec"), {"__name__": "__docs__"})
