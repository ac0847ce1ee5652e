"""Fixtures of the batch runner's tests; plain helpers are in batch_helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.batch.batch_helpers import one_turn_rows, write_rows


@pytest.fixture
def rows_file(tmp_path: Path) -> Path:
    """An input of 20 one-turn rows."""
    return write_rows(tmp_path / "rows.jsonl", one_turn_rows(20))


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """Where a test's run writes (not there yet)."""
    return tmp_path / "out.jsonl"
