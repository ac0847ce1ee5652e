"""`somia.batch` and `somia.testing`: what their functions and servers give back."""

from __future__ import annotations

from typing import assert_type

from somia.batch import BatchSummary, arun_batch, run_batch, sort_output
from somia.testing import FakeServer, FakeSomia


def a_batch_run_returns_its_summary() -> None:
    summary = run_batch("in.jsonl", "out.jsonl", agent_id=1, concurrency=(2, 16))
    assert_type(summary, BatchSummary)
    assert_type(summary.exit_code, int)
    assert_type(sort_output("out.jsonl"), None)
    run_batch("in.jsonl", "out.jsonl", engine="spark")  # type: ignore[arg-type]


async def an_async_batch_run_returns_its_summary() -> None:
    assert_type(await arun_batch("in.jsonl", "out.jsonl", options={"tags": ["x"]}), BatchSummary)


class MyServer(FakeServer):
    """A user's subclass: starting it gives it back as itself."""


def a_fake_server_starts_as_itself() -> None:
    with FakeServer(FakeSomia()) as server:
        assert_type(server, FakeServer)
        assert_type(server.base_url, str)
    assert_type(MyServer().start(), MyServer)
    with MyServer() as mine:
        assert_type(mine, MyServer)
