"""Fixtures of the batch runner's tests; plain helpers are in batch_helpers.py."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from somia.testing._fake import DEFAULT_API_KEY
from tests.batch.batch_helpers import one_turn_rows, write_rows

# Ray reads it when it is imported: set before any test imports ray, every Ray listener of
# the session's local Ray binds 127.0.0.1 (otherwise it listens on every interface).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


@pytest.fixture
def rows_file(tmp_path: Path) -> Path:
    """An input of 20 one-turn rows."""
    return write_rows(tmp_path / "rows.jsonl", one_turn_rows(20))


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """Where a test's run writes (not there yet)."""
    return tmp_path / "out.jsonl"


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    """One local Ray for the whole session: 2 CPUs, no dashboard, listening on loopback
    only, its files in a temporary folder removed afterwards. Its workers inherit the fake
    server's key from the environment, as a local Ray inherits the driver's."""
    import ray

    assert ray._private.ray_constants.ENABLE_RAY_CLUSTER is False  # read at import: see above
    quiet = {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
        "SOMIA_API_KEY": DEFAULT_API_KEY,
    }
    saved = {name: os.environ.get(name) for name in quiet}
    folder = tempfile.mkdtemp(prefix="ray-")
    os.environ.update(quiet)
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            object_store_memory=157286400,
            _temp_dir=folder,
        )
    finally:  # the raylet has its environment: the tests' goes back as it was
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        nodes = ray.nodes()  # type: ignore[no-untyped-call]
        assert {node["NodeManagerAddress"] for node in nodes} == {"127.0.0.1"}
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
