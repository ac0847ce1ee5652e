"""Contract tests: the `live` marker for runs against a real deployment."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "live: runs against the deployment named by SOMIA_CONTRACT_BASE_URL (paid agent turns)",
    )
