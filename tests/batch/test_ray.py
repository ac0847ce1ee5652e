"""The Ray engine on a real local Ray: workers that build their own clients, one limit for
the cluster, and a worker killed in the middle of its rows."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from somia.batch import run_batch
from somia.testing import FakeServer
from tests.batch.batch_helpers import (
    CountingAgent,
    HoldingAgent,
    assert_exactly_once,
    one_turn_rows,
    read_output,
    write_rows,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_ray")]


def _on_ray(server: FakeServer, source: Path, output: Path, **options: object) -> object:
    # No key here: the workers read SOMIA_API_KEY from their environment.
    return run_batch(
        source,
        output,
        agent_id=1,
        client_options={"base_url": server.base_url, "timeout": 20.0},
        engine="ray",
        **options,  # type: ignore[arg-type]
    )


def test_rows_run_on_ray_workers_within_one_limit_for_the_cluster(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    agent = CountingAgent(0.02)
    somia_server.fake.register_agent(1, agent)
    somia_server.faults.fail_next(1, status=429, retry_after="0.5")
    rows = [*one_turn_rows(30), {"id": "multi", "turns": ["a", "b", "c"]}]
    source = write_rows(tmp_path / "in.jsonl", rows)

    summary = _on_ray(somia_server, source, output, concurrency=(1, 3))

    assert summary.exit_code == 0  # type: ignore[attr-defined]
    assert summary.throttled == 1  # type: ignore[attr-defined]
    assert 1 < agent.most <= 3
    assert_exactly_once(somia_server, output, rows=31, turns=33)


def test_a_worker_killed_mid_row_is_restarted_and_no_turn_runs_twice(
    somia_server: FakeServer, tmp_path: Path, output: Path
) -> None:
    import ray

    agent = HoldingAgent("victim")
    somia_server.fake.register_agent(1, agent)
    rows = [*one_turn_rows(10), {"id": "victim", "input_data": "victim"}, *one_turn_rows(10, 10)]
    source = write_rows(tmp_path / "in.jsonl", rows)

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(_on_ray, somia_server, source, output)
        assert agent.started.wait(60)  # the victim's turn runs at the server; its worker waits
        names = [n for n in ray.util.list_named_actors() if n.startswith("somia-batch-")]
        pids: list[int] = ray.get([ray.get_actor(name).pid.remote() for name in names])
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        agent.release.set()
        summary = running.result(timeout=120)

    assert len(pids) == 2
    assert summary.exit_code == 0  # type: ignore[attr-defined]
    assert_exactly_once(somia_server, output, rows=21, turns=21)
    victim = next(r for r in read_output(output) if r["id"] == "victim")
    assert victim["message"] == "You said: victim"


@pytest.mark.parametrize(
    ("option", "error"),
    [
        ({"api_key": "sk-secret"}, "read SOMIA_API_KEY from their own environment"),
        ({"http_client": httpx.AsyncClient}, "make their own http clients"),
    ],
)
def test_neither_the_key_nor_a_client_is_given_to_ray(
    somia_server: FakeServer, rows_file: Path, output: Path, option: dict[str, Any], error: str
) -> None:
    made = {name: value() if callable(value) else value for name, value in option.items()}
    options = {"base_url": somia_server.base_url, **made}
    with pytest.raises(ValueError, match=error):
        run_batch(rows_file, output, agent_id=1, client_options=options, engine="ray")
    assert not output.exists()
